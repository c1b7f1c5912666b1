/**
 * @module app
 * The demo app (installable, offline once visited): any published model through the package's
 * verified loader (`loadModel`: signed channel and manifest, hashed weights and runtime, in a
 * Web Worker). The model's input schema picks the input: a drawing pad for MNIST-style digits,
 * photos for image classifiers, numbers for anything else. A live panel shows what serves and
 * why, and a latency histogram; new releases and new app shells are offered, never forced.
 *
 * Query parameters (tests drive the page with them): `model` (a published model's name),
 * `channel`, `manifest`, `alias`, `mirror` (repeatable), `backend`, `retries`, `retryDelay`,
 * `stallTimeout`, `keepVersions`, `worker=0`, `sw=0`, `publicKey` (see pinned-key.js), `id`,
 * `recheck` (ms: the loader re-checks and swaps by itself; without it the page offers new
 * releases, checking every `updateCheck` ms, default 60000, 0: never), `shadow=0`, `burn-edge-pin`;
 * telemetry: `collector` (endpoint URL), `key`, `sampleRate`, `optOut=1`, `flushMs`.
 * `window.burnEdgeDemo` exposes the handle and helpers for tests.
 */
import { attachDrawing, blank, drawStrokes, SAMPLES } from './draw-pad.js';
import { attachPhoto, renderTop } from './app-photo.js';
import { recordLatency, showInfo, showLoading } from './app-panel.js';
import { registerShell, watchChannel, withdraw } from './app-update.js';
import { chooseBuild } from './lib/choose-build.js';
import { createTelemetry, loadModel } from './lib/index.js';
import { pinnedKey } from './pinned-key.js';

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const params = new URLSearchParams(location.search);
const number = (/** @type {string} */ name) => (params.has(name) ? Number(params.get(name)) : undefined);
const pad = /** @type {HTMLCanvasElement} */ ($('pad'));
const ctx = /** @type {CanvasRenderingContext2D} */ (pad.getContext('2d', { willReadFrequently: true }));
const modelSelect = /** @type {HTMLSelectElement} */ ($('model-select'));
const backendSelect = /** @type {HTMLSelectElement} */ ($('backend'));
const genericInput = /** @type {HTMLTextAreaElement} */ ($('generic-input'));

/** Published models the server lists; these two ship with the demo. */
const DEFAULT_MODELS = ['mnist', 'squeezenet'];
const CATALOG_KEY = 'burn-edge-demo.models';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** @typedef {'digit' | 'photo' | 'generic'} Mode */
/** @typedef {import('./lib/index.js').ModelInfo['input']} InputSchema */

/** @type {import('./lib/index.js').Model | null} */
let handle = null;
/** @type {Mode | null} */
let mode = null;
/** @type {number[]} */
let inputShape = [];
/** @type {(() => void) | null} */
let stopWatching = null;
/** @type {string | null} */
let note = null;
/** Loads started; a load that finishes after a newer one started is dropped. */
let loads = 0;

/** @param {unknown} err */
/**
 * @param {unknown} err
 * @param {boolean} [keepResult] the shown input and its result are unchanged (the new input was
 *   refused before either moved), so they may stay
 */
function showError(err, keepResult = false) {
  // Otherwise a result left from an earlier input must not sit beside this error as if it were its answer.
  if (!keepResult) {
    renderBars(null);
    $('top5').replaceChildren();
    $('generic-top').replaceChildren();
    delete document.body.dataset.top;
  }
  const el = $('error');
  el.hidden = false;
  el.textContent = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** @param {string} text */
function announce(text) {
  const el = $('notice');
  el.hidden = false;
  el.textContent = text;
}

/** The models to offer: the server's list, else the last one seen, else the two that ship. */
async function catalog() {
  try {
    const res = await fetch('/api/models', { cache: 'no-cache' });
    if (res.ok) {
      const body = await res.json();
      const names = (Array.isArray(body?.models) ? body.models : []).map((/** @type {any} */ m) => m?.name)
        .filter((/** @type {unknown} */ n) => typeof n === 'string' && NAME.test(n));
      if (names.length) {
        try { localStorage.setItem(CATALOG_KEY, JSON.stringify(names)); } catch { /* not remembered */ }
        return /** @type {string[]} */ (names);
      }
    }
  } catch { /* offline: the last list */ }
  try {
    const kept = JSON.parse(localStorage.getItem(CATALOG_KEY) ?? 'null');
    if (Array.isArray(kept) && kept.every((n) => typeof n === 'string' && NAME.test(n)) && kept.length) return kept;
  } catch { /* garbled: the defaults */ }
  return DEFAULT_MODELS;
}

/** @param {InputSchema} schema @returns {Mode} */
function modeFor(schema) {
  const fit = schema?.preprocessing?.fit;
  if (fit === 'mnist-digit') return 'digit';
  if (fit) return 'photo';
  return 'generic';
}

/** @param {Mode | null} m */
function showMode(m) {
  for (const name of ['digit', 'photo', 'generic']) $(`${name}-mode`).hidden = name !== m;
  if (m) document.body.dataset.mode = m;
}

/** Whether the WebGPU runtime is missing from the server (first start builds it after serving). */
async function webgpuMissing() {
  try {
    const res = await fetch(new URL('./pkg/webgpu/integrity.json', import.meta.url), { method: 'HEAD', cache: 'no-cache' });
    return res.status === 404;
  } catch {
    return false; // offline: whatever the loader has cached decides
  }
}

/** @param {Float32Array} probs @param {string[]} labels @param {number} k */
function topK(probs, labels, k) {
  return [...probs].map((probability, index) => ({ index, label: labels[index] ?? String(index), probability }))
    .sort((a, b) => b.probability - a.probability).slice(0, k);
}

/**
 * Runs one prediction with timing; the first one of the page is remembered for the tests.
 * @param {() => Promise<Float32Array>} run
 */
async function timed(run) {
  const t0 = performance.now();
  const probs = await run();
  const ms = performance.now() - t0;
  demo.firstPredictionAt ??= performance.now();
  recordLatency(ms);
  $('st-latency').textContent = `${ms.toFixed(1)} ms (prepare + predict${handle?.info().worker ? ', in the worker' : ''})`;
  return { probs, ms };
}

/** @param {Uint8ClampedArray} rgba @param {number} width @param {number} height */
async function classifyDigit(rgba, width, height) {
  const h = handle;
  if (!h) throw new Error('no model loaded');
  const { probs, ms } = await timed(async () => h.predict(await h.prepareDigit(rgba, width, height)));
  const digit = probs.indexOf(Math.max(...probs));
  return { digit, probs: Array.from(probs), ms };
}

/**
 * Draws a sample digit off screen and classifies it (the test hook).
 * @param {string} digit one of the SAMPLES keys
 */
async function classifySample(digit) {
  const canvas = new OffscreenCanvas(280, 280);
  const g = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d'));
  blank(g, 280, 280);
  drawStrokes(g, SAMPLES[digit]);
  return classifyDigit(g.getImageData(0, 0, 280, 280).data, 280, 280);
}

/** @param {Float32Array | null} probs */
function renderBars(probs) {
  const best = probs ? probs.indexOf(Math.max(...probs)) : -1;
  $('bars').replaceChildren(...Array.from({ length: 10 }, (_, digit) => {
    const p = probs ? probs[digit] : 0;
    const li = document.createElement('li');
    if (digit === best) li.className = 'top';
    const name = document.createElement('span');
    name.textContent = String(digit);
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.setAttribute('aria-hidden', 'true');
    const fill = document.createElement('span');
    fill.style.width = `${(p * 100).toFixed(1)}%`;
    bar.append(fill);
    const pct = document.createElement('span');
    pct.textContent = `${(p * 100).toFixed(1)}%`;
    li.append(name, bar, pct);
    return li;
  }));
}

async function classifyPad() {
  try {
    const { digit, probs } = await classifyDigit(ctx.getImageData(0, 0, pad.width, pad.height).data, pad.width, pad.height);
    $('prediction').textContent = String(digit);
    renderBars(Float32Array.from(probs));
    document.body.dataset.prediction = String(digit);
  } catch (err) {
    showError(err);
  }
}

function clearPad() {
  blank(ctx, pad.width, pad.height);
  $('prediction').textContent = '–';
  renderBars(null);
  delete document.body.dataset.prediction;
}

/** @param {Blob} blob */
async function classifyBlob(blob) {
  const h = handle;
  if (!h) throw new Error('no model loaded');
  const { probs } = await timed(async () => h.predict(await h.prepareImage(blob)));
  return topK(probs, h.labels, 5);
}

const photo = attachPhoto(classifyBlob, showError);

function randomInput() {
  const n = inputShape.reduce((a, b) => a * b, 1);
  genericInput.value = Array.from({ length: n }, () => Math.random().toFixed(4)).join(', ');
}

async function predictGeneric() {
  $('error').hidden = true;
  const h = handle;
  if (!h) return;
  try {
    const values = genericInput.value.split(/[\s,]+/).filter(Boolean).map(Number);
    const n = inputShape.reduce((a, b) => a * b, 1);
    if (values.length !== n || values.some((v) => !Number.isFinite(v))) {
      throw new Error(`the model takes ${n} numbers (shape ${inputShape.join('×')}); got ${values.length}${values.some((v) => !Number.isFinite(v)) ? ', not all numbers' : ''}`);
    }
    const { probs } = await timed(() => h.predict(Float32Array.from(values)));
    const top = topK(probs, h.labels, 5);
    renderTop($('generic-top'), top);
    document.body.dataset.top = top[0]?.label ?? '';
  } catch (err) {
    showError(err);
  }
}

/** @type {{ file: string, loaded: number, total: number }[]} */
const progress = [];

/** @param {import('./lib/index.js').Progress} p */
function onProgress(p) {
  progress.push(p);
  const bar = /** @type {HTMLProgressElement} */ ($('progress'));
  bar.max = p.total;
  bar.value = p.loaded;
  $('st-progress').textContent = `${p.loaded.toLocaleString()} / ${p.total.toLocaleString()} bytes`;
}

/**
 * Loads `name` (or the model the query names) and shows its controls.
 * @param {string | null} name a published model's name; null: `channel`/`manifest` from the query
 */
async function load(name) {
  const token = ++loads;
  stopWatching?.();
  stopWatching = null;
  handle?.dispose();
  handle = demo.handle = null;
  for (const k of ['ready', 'error', 'top', 'prediction', 'version']) delete document.body.dataset[k];
  $('error').hidden = true;
  $('notice').hidden = true;
  progress.length = 0;
  /** @type {HTMLProgressElement} */ ($('progress')).value = 0;
  $('st-progress').textContent = '–';
  const manifestUrl = name ? undefined : params.get('manifest') ?? undefined;
  const channelUrl = manifestUrl ? undefined : name ? `/models/${encodeURIComponent(name)}/channel.json` : params.get('channel') ?? '/models/mnist/channel.json';
  showLoading(name ?? channelUrl ?? manifestUrl ?? '');
  let backend = /** @type {'auto' | 'webgpu' | 'cpu'} */ (backendSelect.value);
  note = null;
  // Only where the WebGPU build would be chosen: a device without WebGPU uses the CPU anyway.
  if (backend !== 'cpu' && await chooseBuild(backend) === 'webgpu' && await webgpuMissing()) {
    backend = 'cpu';
    note = 'WebGPU runtime is still building, using the CPU';
    announce(`${note}: reload once it is built to try WebGPU.`);
  }
  try {
    demo.publicKey ??= await pinnedKey(params);
    const recheck = number('recheck');
    const loaded = await loadModel({
      publicKey: demo.publicKey,
      id: params.get('id') ?? undefined,
      // The loader re-checks by itself (on the interval and when a hidden page becomes visible)
      // only when asked to (`recheck`); otherwise the page offers new releases and has it re-check
      // when it becomes visible again (app-update.js).
      recheckInterval: recheck ?? 0,
      shadow: params.get('shadow') !== '0',
      channelUrl,
      manifestUrl,
      alias: params.get('alias') ?? undefined,
      mirrors: params.getAll('mirror'),
      backend,
      retries: number('retries'),
      retryDelay: number('retryDelay'),
      stallTimeout: number('stallTimeout'),
      keepVersions: number('keepVersions'),
      // Where the runtime's wasm comes from (a CDN); its hashes stay the package's.
      runtimeBase: params.get('runtimeBase') ?? undefined,
      worker: params.get('worker') !== '0',
      telemetry: demo.telemetry ?? undefined,
      onProgress,
    });
    if (token !== loads) {
      loaded.dispose(); // another model was picked meanwhile
      return;
    }
    handle = loaded;
    // The channel as the loader got it (after any mirror failover); updateCheck=0: no watching.
    const served = handle.info().served.channel;
    const watched = served && /^https?:/.test(served) ? served : channelUrl;
    const every = number('updateCheck') ?? 60_000;
    if (watched && recheck === undefined && every > 0) stopWatching = watchChannel(watched, () => handle, every, announce);
  } catch (err) {
    if (token !== loads) return;
    showError(err);
    const e = /** @type {any} */ (err);
    demo.error = { name: e?.name, code: e?.code, message: e?.message };
    document.body.dataset.error = e?.code ?? 'ERROR';
    $('st-model').textContent = 'not loaded';
    return;
  }
  demo.handle = handle;
  demo.error = null;
  const info = handle.info();
  if (progress.length === 0) $('st-progress').textContent = 'nothing to download: all cached';
  const schema = info.input;
  inputShape = Array.isArray(schema?.shape) ? schema.shape.filter((d) => Number.isInteger(d) && d > 0) : [handle.labels.length];
  mode = modeFor(schema);
  $('generic-label').textContent = `Input values: ${inputShape.reduce((a, b) => a * b, 1)} numbers (shape ${inputShape.join('×')}), separated by commas or spaces`;
  showMode(mode);
  refresh();
  handle.addEventListener('swap', (event) => {
    const { from, to, reason, swapMs, at } = /** @type {CustomEvent<import('./lib/index.js').SwapDetail>} */ (event).detail;
    const li = document.createElement('li');
    li.textContent = `${new Date(at).toLocaleTimeString()}: ${from} → ${to} (${reason}), ${swapMs.toFixed(0)} ms`;
    $('st-swaps').append(li);
    withdraw('Switch');
    announce(`Now serving ${handle?.info().model} ${to} (was ${from}).`);
    refresh();
  });
  handle.addEventListener('swapfailed', (event) => {
    const { to, message } = /** @type {CustomEvent<import('./lib/index.js').SwapFailedDetail>} */ (event).detail;
    $('st-rollout-error').textContent = `kept ${handle?.info().version}${to ? `, ${to} failed` : ''}: ${message}`;
  });
  document.body.dataset.model = info.model;
  document.body.dataset.ready = info.source;
  if (mode === 'photo') photo.first().catch(showError);
  if (mode === 'generic') randomInput();
}

/** Re-reads the handle's info into the panel (after a load or a swap). */
function refresh() {
  if (!handle) return;
  const info = handle.info();
  showInfo(info, note);
  document.body.dataset.version = info.version;
}

/** Test hooks: the handle once loaded, the progress events, the error if loading failed. */
const demo = /** @type {{ handle: import('./lib/index.js').Model | null, progress: typeof progress, error: unknown,
  classifySample: typeof classifySample, classifyPhoto: (url: string) => Promise<{ label: string, probability: number }[]>,
  switchModel: (name: string) => Promise<void>, loadModel: typeof loadModel, telemetry: import('./lib/index.js').Telemetry | null,
  publicKey: string | undefined, firstPredictionAt: number | undefined, mode: () => Mode | null }} */ ({
  handle: null, progress, error: null, classifySample, classifyPhoto: photo.showUrl, loadModel, telemetry: null,
  publicKey: undefined, firstPredictionAt: undefined, mode: () => mode,
  switchModel: async (name) => {
    modelSelect.value = name;
    await switchTo(name);
  },
});
/** @type {any} */ (window).burnEdgeDemo = demo;

/** @param {string} name */
async function switchTo(name) {
  params.delete('channel');
  params.delete('manifest');
  params.set('model', name);
  history.replaceState(null, '', `?${params}`);
  await load(name);
}

// Drawing: classified when the stroke ends (or Enter on the focused pad).
attachDrawing(pad, ctx, { onStrokeEnd: classifyPad, onClear: clearPad, pen: $('pen') });
$('clear').addEventListener('click', clearPad);
for (const button of document.querySelectorAll('button.sample')) {
  button.addEventListener('click', () => {
    clearPad();
    drawStrokes(ctx, SAMPLES[/** @type {HTMLElement} */ (button).dataset.digit ?? '7']);
    classifyPad();
  });
}
$('generic-random').addEventListener('click', randomInput);
$('generic-run').addEventListener('click', predictGeneric);
modelSelect.addEventListener('change', () => switchTo(modelSelect.value));
backendSelect.addEventListener('change', () => load(params.get('model')));

const collector = params.get('collector');
demo.telemetry = collector ? createTelemetry({ endpoint: new URL(collector, location.href).href, key: params.get('key') ?? undefined, app: 'demo',
  sampleRate: number('sampleRate'), optOut: params.get('optOut') === '1', flushIntervalMs: number('flushMs') }) : null;
const wanted = params.get('backend');
if (wanted === 'cpu' || wanted === 'webgpu' || wanted === 'auto') backendSelect.value = wanted;
if (params.get('sw') !== '0') registerShell();
clearPad();

const names = await catalog();
const custom = !params.has('model') && (params.has('channel') || params.has('manifest'));
const first = params.get('model') ?? (custom ? null : 'mnist');
const options = names.map((n) => new Option(n, n));
if (first && !names.includes(first)) options.push(new Option(first, first));
if (custom) options.unshift(new Option(params.get('channel') ?? params.get('manifest') ?? 'custom', ''));
modelSelect.replaceChildren(...options);
modelSelect.value = first ?? '';
load(first);
