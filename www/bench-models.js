/**
 * @module bench-models
 * One system on one model of the model benchmark, driven by bench/models.mjs:
 * `bench-models.html?model=mobilenet-bench&system=ort&runs=100` (ONNX Runtime Web 1.30's wasm EP
 * on one thread, from /pkg/vendor/ort/) or
 * `?model=...&system=burn-edge&backend=cpu|webgpu&simd=auto|baseline&kernels=auto|burn&runs=100`
 * (the weights the stable alias of /models/<model>/ points at). The driver copies each model's
 * ONNX file, its seeded input (one example, f32 little-endian) and a description to
 * /pkg/vendor/bench-models/<model>.{onnx,input.bin,json}; both systems get those same values.
 *
 * "ready" is the same span for every system: from importing the runtime's JS through fetching
 * and compiling its wasm and creating the session to the end of the first inference. Model
 * bytes are fetched before it starts (network time is not the runtime's). Memory is the page's
 * wasm memories (see bench-memory.js) after the first inference and after every run, plus, where
 * the page is cross-origin isolated, `performance.measureUserAgentSpecificMemory()` at the end.
 * Results land in `window.benchResult`.
 */
import { loadBuild } from './runtime.js';

const params = new URLSearchParams(location.search);
const model = params.get('model') || 'mobilenet-bench';
const system = params.get('system') || 'burn-edge';
const runs = Number(params.get('runs') || 100);
const simd = params.get('simd') === 'baseline' ? 'baseline' : 'auto';
const vendor = '/pkg/vendor/bench-models';

/** @param {number[]} xs @param {number} q */
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** Sum of the page's wasm memories, in bytes (bench-memory.js). */
const wasmMemory = () => /** @type {any} */ (window).wasmMemoryBytes?.() ?? null;

/** The browser's measurement of the whole page, or null where unavailable or too slow. */
async function pageMemory() {
  const measure = /** @type {any} */ (performance).measureUserAgentSpecificMemory;
  if (!globalThis.crossOriginIsolated || typeof measure !== 'function') return null;
  // Chromium answers at its next garbage collection, which may take a while.
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 30_000));
  try {
    const result = /** @type {any} */ (await Promise.race([measure.call(performance), timeout]));
    return result ? result.bytes : null;
  } catch {
    return null;
  }
}

/** The model's description and its seeded input. */
async function inputs() {
  const meta = await (await fetch(`${vendor}/${model}.json`)).json();
  const bytes = await (await fetch(`${vendor}/${model}.input.bin`)).arrayBuffer();
  return { meta, x: new Float32Array(bytes) };
}

/**
 * Times `run` `runs` times after `first` (the first inference, already timed as part of ready),
 * reading the wasm memory after each.
 * @param {() => Promise<Float32Array>} run
 */
async function time(run) {
  const times = [];
  let out = await run(); // one more warm-up, untimed
  let peak = wasmMemory();
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    out = await run();
    times.push(performance.now() - t);
    peak = Math.max(peak ?? 0, wasmMemory() ?? 0);
  }
  return { p50: quantile(times, 0.5), p95: quantile(times, 0.95), mean: times.reduce((a, b) => a + b, 0) / times.length, output: [...out], wasmMemoryPeak: peak };
}

async function burnEdge() {
  const backend = params.get('backend') || 'cpu';
  const build = backend === 'webgpu' ? 'webgpu' : 'cpu';
  const { x } = await inputs();
  const channel = await (await fetch(`/models/${model}/channel.json`)).json();
  const url = new URL(`/models/${model}/${channel.aliases.stable}/manifest.json`, location.href);
  const m = await (await fetch(url)).json();
  const weights = new Uint8Array(await (await fetch(new URL(m.files[0].path, url))).arrayBuffer());
  const t0 = performance.now();
  const mod = await loadBuild(build, '/pkg', simd);
  const t1 = performance.now();
  // Session creation includes one warm-up inference (it proves the backend works).
  const session = await mod.createSession(weights, backend, m.architecture, params.get('kernels') || 'auto');
  const t2 = performance.now();
  const first = await session.predict(x);
  const t3 = performance.now();
  const wasmMemoryReady = wasmMemory();
  const timed = await time(() => session.predict(x));
  const info = session.info();
  const pageMemoryBytes = await pageMemory();
  session.free();
  return {
    system: 'burn-edge', backend: info.backend, cpuKernels: info.cpuKernels, cpuSimd: info.cpuSimd, adapter: info.adapter, build,
    runtimeMemory: info.memory ?? null, plan: info.plan ?? null, weightsBytes: weights.byteLength, loadRuntimeMs: t1 - t0, createSessionMs: t2 - t1, firstMs: t3 - t2, readyMs: t3 - t0,
    firstOutputLength: first.length, wasmMemoryReady, pageMemoryBytes, ...timed,
  };
}

async function ort() {
  const threads = Number(params.get('threads') || 1);
  const { meta, x } = await inputs();
  const bytes = await (await fetch(`${vendor}/${model}.onnx`)).arrayBuffer();
  const t0 = performance.now();
  const bundle = 'ort.wasm.min.mjs';
  const ortModule = await import(`/pkg/vendor/ort/${bundle}`);
  ortModule.env.wasm.wasmPaths = new URL('/pkg/vendor/ort/', location.href).href;
  ortModule.env.wasm.numThreads = threads;
  const t1 = performance.now();
  // The first session also fetches and compiles ORT's wasm (and starts its threads, if any).
  const session = await ortModule.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const t2 = performance.now();
  const feeds = { [session.inputNames[0]]: new ortModule.Tensor('float32', x, [1, ...meta.inputShape]) };
  const run = async () => /** @type {Float32Array} */ ((await session.run(feeds))[session.outputNames[0]].data);
  await run();
  const t3 = performance.now();
  const wasmMemoryReady = wasmMemory();
  const timed = await time(run);
  const pageMemoryBytes = await pageMemory();
  await session.release();
  return {
    system: 'onnxruntime-web', backend: 'wasm', threads: ortModule.env.wasm.numThreads,
    loadRuntimeMs: t1 - t0, createSessionMs: t2 - t1, firstMs: t3 - t2, readyMs: t3 - t0, wasmMemoryReady, pageMemoryBytes, ...timed,
  };
}

(system === 'ort' ? ort() : burnEdge()).then(
  (r) => { /** @type {any} */ (window).benchResult = { ...r, model, runs, crossOriginIsolated: globalThis.crossOriginIsolated }; },
  (e) => { /** @type {any} */ (window).benchResult = { error: String(e?.message ?? e) }; },
);
