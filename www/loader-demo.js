/**
 * @module loader-demo
 * The package's own demo: loads MNIST from the CDN layout with `loadModel`, shows where it came
 * from, and classifies what is drawn. Query parameters (`channel`, `manifest`, `alias`,
 * `mirror` (repeatable), `backend`, `retries`, `retryDelay`, `stallTimeout`, `keepVersions`, `worker=0`, `sw=0`, `publicKey`
 * (see pinned-key.js); telemetry:
 * `collector` (endpoint URL), `key`, `sampleRate`, `optOut=1`, `flushMs`; rollout: `id`, `recheck` (ms), `shadow=0`,
 * `burn-edge-pin`) let tests drive it; `window.burnEdgeDemo` exposes the handle and helpers for them. The rollout
 * rows show the version, rule and arm serving and each hot swap as it happens, without a reload.
 */
import { attachDrawing, drawStrokes } from './draw-pad.js';
import { createTelemetry, loadModel } from './lib/index.js';
import { pinnedKey } from './pinned-key.js';

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const pad = /** @type {HTMLCanvasElement} */ ($('pad'));
const ctx = /** @type {CanvasRenderingContext2D} */ (pad.getContext('2d', { willReadFrequently: true }));
const params = new URLSearchParams(location.search);

/** Strokes (canvas pixels on 280x280) of sample digits, for the button and for tests. */
const SAMPLES = /** @type {Record<string, number[][][]>} */ ({
  1: [[[140, 40], [140, 240]]],
  7: [[[70, 50], [210, 50], [120, 240]]],
  0: [[[140, 40], [200, 80], [215, 140], [200, 200], [140, 240], [80, 200], [65, 140], [80, 80], [140, 40]]],
});

/** @type {import('./lib/index.js').Model | null} */
let handle = null;

/**
 * Classifies RGBA pixels with the loaded model.
 * @param {Uint8ClampedArray} rgba
 * @param {number} width
 * @param {number} height
 */
async function classify(rgba, width, height) {
  if (!handle) throw new Error('no model loaded');
  const t0 = performance.now();
  const probs = await handle.predict(await handle.prepareDigit(rgba, width, height));
  const digit = probs.indexOf(Math.max(...probs));
  return { digit, probs: Array.from(probs), ms: performance.now() - t0 };
}

/**
 * Draws a sample digit off screen and classifies it (the test hook).
 * @param {string} digit one of the SAMPLES keys
 */
async function classifySample(digit) {
  const canvas = new OffscreenCanvas(280, 280);
  const g = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d'));
  g.fillStyle = '#000';
  g.fillRect(0, 0, 280, 280);
  drawStrokes(g, SAMPLES[digit]);
  return classify(g.getImageData(0, 0, 280, 280).data, 280, 280);
}

async function classifyPad() {
  try {
    const { digit, ms } = await classify(ctx.getImageData(0, 0, pad.width, pad.height).data, pad.width, pad.height);
    $('prediction').textContent = String(digit);
    $('st-latency').textContent = `${ms.toFixed(1)} ms (prepare + predict, in the worker)`;
    document.body.dataset.prediction = String(digit);
  } catch (err) {
    showError(err);
  }
}

/** @param {unknown} err */
function showError(err) {
  const el = $('error');
  el.hidden = false;
  el.textContent = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function clearPad() {
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, pad.width, pad.height);
  $('prediction').textContent = '–';
}

/** @type {{ file: string, loaded: number, total: number }[]} */
const progress = [];

async function load() {
  const number = (/** @type {string} */ name) => (params.has(name) ? Number(params.get(name)) : undefined);
  const collector = params.get('collector');
  demo.telemetry = collector ? createTelemetry({ endpoint: new URL(collector, location.href).href, key: params.get('key') ?? undefined, app: 'loader-demo',
    sampleRate: number('sampleRate'), optOut: params.get('optOut') === '1', flushIntervalMs: number('flushMs') }) : null;
  const manifestUrl = params.get('manifest') ?? undefined;
  try {
    demo.publicKey = await pinnedKey(params);
    handle = await loadModel({
      publicKey: demo.publicKey,
      id: params.get('id') ?? undefined,
      recheckInterval: number('recheck'),
      shadow: params.get('shadow') !== '0',
      channelUrl: manifestUrl ? undefined : params.get('channel') ?? '/models/mnist/channel.json',
      manifestUrl,
      alias: params.get('alias') ?? undefined,
      mirrors: params.getAll('mirror'),
      backend: /** @type {any} */ (params.get('backend') ?? 'auto'),
      retries: number('retries'),
      retryDelay: number('retryDelay'),
      stallTimeout: number('stallTimeout'),
      keepVersions: number('keepVersions'),
      worker: params.get('worker') !== '0',
      telemetry: demo.telemetry ?? undefined,
      onProgress(p) {
        progress.push(p);
        const bar = /** @type {HTMLProgressElement} */ ($('progress'));
        bar.max = p.total;
        bar.value = p.loaded;
        $('st-progress').textContent = `${p.loaded.toLocaleString()} / ${p.total.toLocaleString()} bytes`;
      },
    });
  } catch (err) {
    showError(err);
    const e = /** @type {any} */ (err);
    demo.error = { name: e?.name, code: e?.code, message: e?.message };
    document.body.dataset.error = e?.code ?? 'ERROR';
    $('st-model').textContent = 'not loaded';
    return;
  }
  demo.handle = handle;
  const info = handle.info();
  $('st-model').textContent = `${info.model} ${info.version} (${info.architecture})`;
  $('st-source').textContent = info.source + (info.offline ? ', offline: last verified version' : '') +
    (info.fallback ? `, kept ${info.version}: ${info.fallback.wanted} failed (${info.fallback.reason})` : '');
  $('st-backend').textContent = info.backend;
  $('st-thread').textContent = info.worker ? `Web Worker (${info.thread})` : `page (${info.thread})`;
  $('st-runtime').textContent = `${info.runtime.build} build ${info.runtimeVersion}, from ${info.runtime.source}`;
  if (progress.length === 0) $('st-progress').textContent = 'nothing to download';
  showRollout();
  handle.addEventListener('swap', (event) => {
    const { from, to, reason, swapMs, at } = /** @type {CustomEvent<import('./lib/index.js').SwapDetail>} */ (event).detail;
    const li = document.createElement('li');
    li.textContent = `${new Date(at).toLocaleTimeString()}: ${from} → ${to} (${reason}), ${swapMs.toFixed(0)} ms`;
    $('st-swaps').append(li);
    showRollout();
  });
  handle.addEventListener('swapfailed', (event) => {
    const { to, message } = /** @type {CustomEvent<import('./lib/index.js').SwapFailedDetail>} */ (event).detail;
    $('st-rollout-error').textContent = `kept ${handle?.info().version}${to ? `, ${to} failed` : ''}: ${message}`;
  });
  document.body.dataset.ready = info.source;
}

/** The rollout rows: what serves now, under which rule and arm. */
function showRollout() {
  if (!handle) return;
  const info = handle.info();
  const a = info.assignment;
  $('st-model').textContent = `${info.model} ${info.version} (${info.architecture})`;
  $('st-assignment').textContent = a ? `${a.version} · ${a.kind}${a.rule ? ` · rule ${a.rule}` : ''}${a.arm ? ` · arm ${a.arm}` : ''}` : '–';
  $('st-shadow').textContent = info.shadow ? `${info.shadow.version} on ${Math.round(info.shadow.sampleRate * 100)}% of predictions` : 'none';
  $('st-rollout-error').textContent = info.rolloutError ? info.rolloutError.message : '';
  document.body.dataset.version = info.version;
}

/** Test hooks: the handle once loaded, the progress events, the error if loading failed. */
const demo = /** @type {{ handle: import('./lib/index.js').Model | null, progress: typeof progress, error: unknown,
  classifySample: typeof classifySample, loadModel: typeof loadModel, telemetry: import('./lib/index.js').Telemetry | null,
  publicKey: string | undefined }} */ ({
  handle: null, progress, error: null, classifySample, loadModel, telemetry: null, publicKey: undefined,
});
/** @type {any} */ (window).burnEdgeDemo = demo;

// Drawing: classified when the stroke ends.
attachDrawing(pad, ctx, { onStrokeEnd: classifyPad });
$('clear').addEventListener('click', clearPad);
$('sample').addEventListener('click', () => { clearPad(); drawStrokes(ctx, SAMPLES[7]); classifyPad(); });

if (params.get('sw') !== '0' && 'serviceWorker' in navigator) {
  // Refused (e.g. a test blocking service workers) only means no offline reload.
  navigator.serviceWorker.register('./sw.js').catch((err) => console.warn('service worker not registered:', err));
}
clearPad();
load();
