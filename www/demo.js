/**
 * @module demo
 * The demo page: draw a digit, see class probabilities, the backend and the latency.
 */
import { attachDrawing } from './draw-pad.js';
import { createSession } from './runtime.js';

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const pad = /** @type {HTMLCanvasElement} */ ($('pad'));
const ctx = /** @type {CanvasRenderingContext2D} */ (pad.getContext('2d', { willReadFrequently: true }));
const backendSelect = /** @type {HTMLSelectElement} */ ($('backend'));

/** @type {{ session: any, prepareDigit: (rgba: Uint8Array, w: number, h: number) => Float32Array } | null} */
let current = null;

function clearPad() {
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, pad.width, pad.height);
  $('prediction').textContent = '–';
  renderBars(null);
}

/** @param {Float32Array | null} probs */
function renderBars(probs) {
  const bars = $('bars');
  bars.replaceChildren();
  const best = probs ? probs.indexOf(Math.max(...probs)) : -1;
  for (let digit = 0; digit < 10; digit++) {
    const p = probs ? probs[digit] : 0;
    const li = document.createElement('li');
    li.className = digit === best ? 'top' : '';
    li.innerHTML = `<span>${digit}</span><span class="bar"><span style="width:${(p * 100).toFixed(1)}%"></span></span><span>${(p * 100).toFixed(1)}%</span>`;
    bars.append(li);
  }
}

/** @param {unknown} err */
function showError(err) {
  const el = $('error');
  el.hidden = false;
  el.textContent = err instanceof Error ? err.message : String(err);
}

async function load() {
  $('error').hidden = true;
  $('st-backend').textContent = 'loading…';
  const started = performance.now();
  try {
    current = await createSession({ weightsUrl: '/models/mnist/model.bpk', backend: /** @type {any} */ (backendSelect.value) });
  } catch (err) {
    current = null;
    $('st-backend').textContent = 'none';
    showError(err);
    return;
  }
  const info = current.session.info();
  $('st-backend').textContent = `${info.backend}${info.backend === 'cpu' ? ` (${info.cpuKernels} kernels, ${info.cpuSimd} wasm SIMD)` : ''}`;
  const a = info.adapter;
  $('st-adapter').textContent = a ? [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' · ') + (a.isFallbackAdapter ? ' (software fallback adapter)' : '') || 'unnamed adapter' : '–';
  $('st-skipped').textContent = info.skipped.map((/** @type {any} */ s) => `${s.backend}: ${s.reason}`).join('; ') || 'none';
  $('st-load').textContent = `ready in ${(performance.now() - started).toFixed(0)} ms, ${info.parameters.toLocaleString()} parameters`;
  document.body.dataset.ready = info.backend;
  if (drawn) classify();
}

let drawn = false;
async function classify() {
  if (!current) return;
  const image = ctx.getImageData(0, 0, pad.width, pad.height);
  try {
    const t0 = performance.now();
    const input = current.prepareDigit(new Uint8Array(image.data.buffer), image.width, image.height);
    const probs = await current.session.predict(input);
    const ms = performance.now() - t0;
    const best = probs.indexOf(Math.max(...probs));
    $('prediction').textContent = String(best);
    $('st-latency').textContent = `${ms.toFixed(1)} ms (prepare + predict)`;
    renderBars(probs);
    document.body.dataset.prediction = String(best);
  } catch (err) {
    showError(err);
  }
}

// Drawing: classified when the stroke ends.
attachDrawing(pad, ctx, { onStroke: () => { drawn = true; }, onStrokeEnd: classify });
$('clear').addEventListener('click', () => { drawn = false; clearPad(); });
backendSelect.addEventListener('change', load);

clearPad();
load();
