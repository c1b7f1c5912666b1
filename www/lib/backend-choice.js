/**
 * @module backend-choice
 * `backend: 'auto'` where WebGPU exists: the backend is chosen by measurement, not assumed. On
 * small models WebGPU is often slower than wasm (dispatch and readback dominate), so both builds
 * prepare the version, each in its own engine (WebGPU first: it downloads the weights, the CPU
 * build then reads them from the cache), a few warm runs are timed on each within a budget, the
 * faster one serves and the other is closed. The choice is remembered per device (the adapter's
 * info and the user agent) and model version in localStorage, so the next load prepares only
 * the chosen build (`cached: true`).
 */
import { ChannelError, errorMessage, IntegrityError, NetworkError } from './errors.js';
import { prepareVersion } from './prepare.js';

/**
 * @typedef {import('./prepare.js').Prepared} Prepared
 * @typedef {import('./prepare.js').StartedEngine} StartedEngine
 * @typedef {import('./prepare.js').PrepareContext} PrepareContext
 * @typedef {import('./locate.js').Located} Located
 * @typedef {{ chosen: 'webgpu' | 'cpu', reason: string, timings: { cpu: number | null, webgpu: number | null }, cached: boolean }} BackendChoice
 * @typedef {{ runs?: number, budgetMs?: number }} MeasureOptions
 */

const KEY_PREFIX = 'burn-edge.backend-choice';

/**
 * What identifies this device for the remembered choice: the WebGPU adapter's info and the
 * user agent (a new GPU, driver or browser measures again).
 * @returns {Promise<string>}
 */
export async function deviceKey() {
  let adapter = 'none';
  try {
    const a = await /** @type {any} */ (navigator).gpu?.requestAdapter();
    const info = a?.info ?? {};
    adapter = [info.vendor, info.architecture, info.device, info.description, info.isFallbackAdapter ? 'fallback' : '']
      .map((x) => String(x ?? '')).join('/');
  } catch { /* no adapter: the key still holds the user agent */ }
  return `${adapter}|${navigator.userAgent}`;
}

/**
 * @param {string} model
 * @param {string} version
 * @param {string} device
 */
const storageKey = (model, version, device) => `${KEY_PREFIX}:${model}@${version}:${device}`;

/**
 * The remembered choice, if any and well-formed.
 * @param {string} key
 * @returns {BackendChoice | null}
 */
function recall(key) {
  try {
    const v = JSON.parse(globalThis.localStorage?.getItem(key) ?? 'null');
    if ((v?.chosen === 'cpu' || v?.chosen === 'webgpu') && typeof v.reason === 'string' && typeof v.timings === 'object') {
      return { chosen: v.chosen, reason: v.reason, timings: { cpu: v.timings.cpu ?? null, webgpu: v.timings.webgpu ?? null }, cached: true };
    }
  } catch { /* storage blocked or garbled: measure again */ }
  return null;
}

/** @param {string} key @param {BackendChoice} choice */
function remember(key, choice) {
  try {
    globalThis.localStorage?.setItem(key, JSON.stringify({ chosen: choice.chosen, reason: choice.reason, timings: choice.timings }));
  } catch { /* not remembered: the next load measures again */ }
}

/**
 * Median time of up to `runs` predictions of `input` on `engine`, stopping once `budgetMs` is spent.
 * @param {import('./engine.js').Engine} engine
 * @param {Float32Array} input
 * @param {Required<MeasureOptions>} o
 */
export async function timeRuns(engine, input, { runs, budgetMs }) {
  /** @type {number[]} */
  const times = [];
  const begun = performance.now();
  while (times.length < runs && (times.length === 0 || performance.now() - begun < budgetMs)) {
    const t = performance.now();
    await engine.call({ type: 'predict', input: input.slice() });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { ms: Math.round(times[Math.floor(times.length / 2)] * 100) / 100, runs: times.length };
}

/**
 * The faster build and why.
 * @param {{ cpu: number | null, webgpu: number | null }} timings
 * @param {number} runs
 * @param {string | null} gpuError
 * @returns {Omit<BackendChoice, 'cached'>}
 */
export function decide(timings, runs, gpuError) {
  const f = (/** @type {number} */ ms) => `${ms.toFixed(2)} ms`;
  if (timings.webgpu === null) return { chosen: 'cpu', reason: `WebGPU could not run the model (${gpuError ?? 'no timing'})`, timings };
  if (timings.cpu === null) return { chosen: 'webgpu', reason: 'the CPU build could not run the model', timings };
  const chosen = timings.cpu <= timings.webgpu ? 'cpu' : 'webgpu';
  const [win, lose] = chosen === 'cpu' ? [timings.cpu, timings.webgpu] : [timings.webgpu, timings.cpu];
  return { chosen, reason: `${chosen} was faster: ${f(win)} vs ${f(lose)} per prediction (median of ${runs} warm runs each)`, timings };
}

/** Whether `started`'s runtime files loaded and its runtime started. @param {import('./prepare.js').StartedEngine} started */
const runtimeStarted = (started) => started.runtime.then(() => true, () => false);

/** @param {unknown} err */
const fatal = (err) => err instanceof IntegrityError || err instanceof NetworkError || err instanceof ChannelError;

/**
 * Prepares `located` on the remembered or the measured-faster build.
 * @param {Located} located
 * @param {PrepareContext} ctx
 * @param {(build: 'webgpu' | 'cpu') => StartedEngine} engineFor starts an engine on a build's runtime
 * @param {string} device from `deviceKey()`
 * @param {MeasureOptions} [options] default 3 runs within 2000 ms per build
 * @returns {Promise<{ prepared: Prepared, started: StartedEngine, choice: BackendChoice }>}
 */
export async function prepareByMeasurement(located, ctx, engineFor, device, { runs = 3, budgetMs = 2000 } = {}) {
  const manifest = JSON.parse(located.manifest);
  const key = storageKey(String(manifest.name), String(manifest.version), device);
  const known = recall(key);
  if (known) {
    const started = engineFor(known.chosen);
    try {
      return { prepared: await prepareVersion(located, started, { ...ctx, backend: known.chosen }), started, choice: known };
    } catch (err) {
      started.engine.close('preparing the version failed');
      // The remembered WebGPU runtime is gone (not built, not deployed): measure again.
      if (known.chosen !== 'webgpu' || await runtimeStarted(started)) throw err;
    }
  }
  const input = zeros(manifest);
  const gpu = engineFor('webgpu');
  /** @type {Prepared | null} */
  let onGpu = null;
  /** @type {string | null} */
  let gpuError = null;
  try {
    onGpu = await prepareVersion(located, gpu, { ...ctx, backend: 'webgpu' });
    if (onGpu.session.backend !== 'webgpu') {
      const why = onGpu.session.skipped?.find((/** @type {any} */ s) => s.backend === 'webgpu')?.reason;
      onGpu = null;
      throw new Error(why ?? 'the WebGPU build fell back to its CPU backend');
    }
  } catch (err) {
    gpu.engine.close('WebGPU could not run the model');
    // A refused model fails on every build; a WebGPU runtime that cannot be had (missing,
    // unverifiable) leaves the CPU build, with the reason.
    const runtimeOk = await runtimeStarted(gpu);
    if (fatal(err) && runtimeOk) throw err;
    const why = errorMessage(err);
    gpuError = runtimeOk ? why : `the WebGPU runtime is unavailable: ${why}`;
  }
  const o = { runs, budgetMs };
  const webgpu = onGpu && input ? await timeRuns(gpu.engine, input, o).catch(() => null) : null;
  const cpu = engineFor('cpu');
  /** @type {Prepared} */
  let onCpu;
  try {
    onCpu = await prepareVersion(located, cpu, { ...ctx, backend: 'cpu', onProgress: onGpu ? undefined : ctx.onProgress });
  } catch (err) {
    cpu.engine.close('preparing the version failed');
    if (!onGpu) throw err;
    const choice = { ...decide({ cpu: null, webgpu: webgpu?.ms ?? 0 }, webgpu?.runs ?? 0, null), cached: false };
    return { prepared: onGpu, started: gpu, choice };
  }
  const timed = input ? await timeRuns(cpu.engine, input, o).catch(() => null) : null;
  const choice = { ...decide({ cpu: timed?.ms ?? null, webgpu: webgpu?.ms ?? null }, Math.min(timed?.runs ?? 0, webgpu?.runs ?? runs), gpuError),
    cached: false };
  if (choice.timings.cpu !== null || choice.timings.webgpu !== null) remember(key, choice);
  const [winner, loser] = choice.chosen === 'webgpu' && onGpu ? [{ prepared: onGpu, started: gpu }, { prepared: onCpu, started: cpu }]
    : [{ prepared: onCpu, started: cpu }, onGpu ? { prepared: onGpu, started: gpu } : null];
  loser?.started.engine.close(`the ${choice.chosen} build was faster`);
  // The download happened on the first build prepared: the winner reports it.
  if (onGpu && winner.prepared === onCpu) {
    winner.prepared = { ...onCpu, files: onGpu.files, phases: { ...onCpu.phases, downloadMs: onGpu.phases.downloadMs } };
  }
  return { ...winner, choice };
}

/**
 * Zeros of the manifest's input shape (one sample), or null when it declares none.
 * @param {any} manifest
 */
function zeros(manifest) {
  const shape = manifest?.input?.shape;
  if (!Array.isArray(shape) || !shape.length || !shape.every((d) => Number.isInteger(d) && d > 0)) return null;
  const n = shape.reduce((a, b) => a * b, 1);
  return n <= 1 << 26 ? new Float32Array(n) : null;
}
