/**
 * @module app-panel
 * The demo's live panel: what serves (model, version, where it came from), the backend and
 * why, the rollout assignment, and a latency histogram of this page's predictions drawn as
 * SVG (log-spaced buckets, so 0.2 ms and 2 s fit one chart).
 */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const SVG = 'http://www.w3.org/2000/svg';

/** Bucket upper bounds in ms: 0.25 ms doubling up to 8 s (one more bucket for slower). */
const BOUNDS = Array.from({ length: 16 }, (_, i) => 0.25 * 2 ** i);

/** Latencies of this page's predictions, per histogram bucket. */
const counts = new Array(BOUNDS.length + 1).fill(0);
/** @type {number[]} */
const recent = [];

/** @param {number} ms */
const fmt = (ms) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(0));

/** Adds one prediction's latency and redraws. @param {number} ms */
export function recordLatency(ms) {
  const i = BOUNDS.findIndex((b) => ms <= b);
  counts[i === -1 ? BOUNDS.length : i]++;
  recent.push(ms);
  if (recent.length > 500) recent.shift();
  drawHistogram();
}

/** The median of the recent latencies (ms), or null before the first. */
export function medianLatency() {
  if (!recent.length) return null;
  const s = [...recent].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function drawHistogram() {
  const svg = $('histogram');
  const first = counts.findIndex((c) => c > 0);
  const last = counts.length - 1 - [...counts].reverse().findIndex((c) => c > 0);
  // Show the occupied range, at least 6 buckets wide.
  const from = Math.max(0, Math.min(first, last - 5));
  const to = Math.min(counts.length - 1, Math.max(last, from + 5));
  const shown = counts.slice(from, to + 1);
  const max = Math.max(...shown);
  const total = counts.reduce((a, b) => a + b, 0);
  const w = 300 / shown.length;
  const label = (/** @type {number} */ i) => (i >= BOUNDS.length ? `>${fmt(BOUNDS[BOUNDS.length - 1])}` : `≤${fmt(BOUNDS[i])}`);
  const children = shown.flatMap((c, k) => {
    const h = max ? (c / max) * 90 : 0;
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('x', String(k * w + 2));
    rect.setAttribute('y', String(96 - h));
    rect.setAttribute('width', String(Math.max(1, w - 4)));
    rect.setAttribute('height', String(h));
    rect.setAttribute('class', 'bar');
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `${label(from + k)} ms: ${c}`;
    rect.append(title);
    const text = document.createElementNS(SVG, 'text');
    text.setAttribute('x', String(k * w + w / 2));
    text.setAttribute('y', '114');
    text.setAttribute('text-anchor', 'middle');
    text.textContent = label(from + k).replace('≤', '');
    return [rect, text];
  });
  const median = medianLatency();
  const desc = document.createElementNS(SVG, 'desc');
  desc.id = 'histogram-desc';
  desc.textContent = `${total} predictions, median ${median === null ? '–' : fmt(median)} ms; ` +
    shown.map((c, k) => `${label(from + k)} ms: ${c}`).join(', ');
  svg.replaceChildren(desc, ...children);
  svg.dataset.count = String(total);
}

/**
 * Why this backend serves, in words: the measured choice, a skipped backend, a lost device,
 * or the page's own note (the WebGPU runtime still building).
 * @param {import('./lib/index.js').ModelInfo} info
 * @param {string | null} note
 */
export function backendReason(info, note) {
  const parts = [];
  if (note) parts.push(note);
  if (info.deviceLost) parts.push(`the WebGPU device was lost (${info.deviceLost.reason}); moved to the CPU`);
  if (info.backendChoice) parts.push(info.backendChoice.reason + (info.backendChoice.cached ? ' (remembered for this device)' : ''));
  // A measured choice ran both builds: the serving session's own "skipped" (it was created for
  // one backend) would contradict it.
  if (!info.backendChoice) for (const s of info.skipped ?? []) parts.push(`${s.backend} skipped: ${s.reason}`);
  if (!parts.length) parts.push(info.backend === 'cpu' ? 'asked for the CPU' : `asked for ${info.backend}`);
  return parts.join('; ');
}

/**
 * Fills the panel from a loaded model's info.
 * @param {import('./lib/index.js').ModelInfo} info
 * @param {string | null} note
 */
export function showInfo(info, note) {
  $('st-model').textContent = `${info.model} ${info.version} (${info.architecture})`;
  $('st-source').textContent = info.source + (info.offline ? ', offline: last verified version' : '') +
    (info.fallback ? `, kept ${info.version}: ${info.fallback.wanted} failed (${info.fallback.reason})` : '') +
    (info.signed ? ', signature verified' : ', unsigned');
  $('st-backend').textContent = info.backend === 'cpu' ? `cpu (${info.cpuKernels} kernels, ${info.cpuSimd} wasm SIMD)` : String(info.backend);
  $('st-why').textContent = backendReason(info, note);
  $('st-thread').textContent = info.worker ? `Web Worker (${info.thread})` : `page (${info.thread})`;
  $('st-runtime').textContent = `${info.runtime.build} build ${info.runtimeVersion}, from ${info.runtime.source}`;
  const a = info.assignment;
  $('st-assignment').textContent = a ? `${a.version} · ${a.kind}${a.rule ? ` · rule ${a.rule}` : ''}${a.arm ? ` · arm ${a.arm}` : ''}` : 'none (loaded by manifest)';
  $('st-shadow').textContent = info.shadow ? `${info.shadow.version} on ${Math.round(info.shadow.sampleRate * 100)}% of predictions` : 'none';
  $('st-rollout-error').textContent = info.rolloutError ? info.rolloutError.message : '';
}

/** Clears the panel for a model being loaded. @param {string} what */
export function showLoading(what) {
  for (const id of ['st-source', 'st-backend', 'st-why', 'st-thread', 'st-runtime', 'st-assignment', 'st-shadow']) $(id).textContent = '–';
  $('st-model').textContent = `loading ${what}…`;
  $('st-swaps').replaceChildren();
  $('st-rollout-error').textContent = '';
}
