/**
 * @module bench
 * In-page benchmark of one wasm build and backend, driven by bench/bench.mjs:
 * `bench.html?build=cpu&backend=cpu&kernels=auto|burn&runs=100`, or the same model exported to ONNX
 * (`burn-edge export-onnx`) in ONNX Runtime Web: `bench.html?system=ort&threads=1` (files in
 * /pkg/vendor/, put there by the driver). Results land in `window.benchResult`.
 */
import { loadBuild } from './runtime.js';

const params = new URLSearchParams(location.search);
const build = /** @type {'cpu' | 'webgpu'} */ (params.get('build') || 'cpu');
const backend = params.get('backend') || 'cpu';
const runs = Number(params.get('runs') || 100);

/** @param {number[]} xs @param {number} q */
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** Deterministic pseudo-digits, so every run and backend sees the same inputs. */
function inputs(/** @type {number} */ batch) {
  const x = new Float32Array(batch * 784);
  let seed = 12345;
  for (let i = 0; i < x.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; x[i] = (seed >>> 16) / 65536; }
  return x;
}

/**
 * Batch 1 and batch 32 latency of `predict`, after 5 warm-up runs each.
 * @param {(x: Float32Array, batch: number) => Promise<Float32Array>} predict
 */
async function latencies(predict) {
  /** @type {Record<string, {p50: number, p95: number, mean: number}>} */
  const latency = {};
  for (const batch of [1, 32]) {
    const x = inputs(batch);
    for (let i = 0; i < 5; i++) await predict(x, batch);
    const times = [];
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      await predict(x, batch);
      times.push(performance.now() - s);
    }
    latency[`batch${batch}`] = { p50: quantile(times, 0.5), p95: quantile(times, 0.95), mean: times.reduce((a, b) => a + b, 0) / runs };
  }
  return { latency, output: [...(await predict(inputs(1), 1))] };
}

async function burnEdge() {
  const t0 = performance.now();
  const mod = await loadBuild(build, params.get('base') || '/pkg');
  const t1 = performance.now();
  const weights = new Uint8Array(await (await fetch('/models/mnist/model.bpk')).arrayBuffer());
  const t2 = performance.now();
  const session = await mod.createSession(weights, backend, undefined, params.get('kernels') || 'auto');
  const t3 = performance.now();
  await session.predict(inputs(1));
  const t4 = performance.now();
  const measured = await latencies((x) => session.predict(x));
  const info = session.info();
  session.free();
  return {
    build, backend: info.backend, cpuKernels: info.cpuKernels, cpuSimd: info.cpuSimd, adapter: info.adapter, runs,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    loadWasmMs: t1 - t0, fetchWeightsMs: t2 - t1, createSessionMs: t3 - t2, firstPredictionMs: t4 - t3, ...measured,
  };
}

async function ort() {
  const t0 = performance.now();
  // A computed specifier: ORT is copied into pkg/vendor by the driver, not installed for the page.
  const bundle = 'ort.wasm.min.mjs';
  const ortModule = await import(`/pkg/vendor/ort/${bundle}`);
  ortModule.env.wasm.wasmPaths = new URL('/pkg/vendor/ort/', location.href).href;
  ortModule.env.wasm.numThreads = Number(params.get('threads') || 1);
  const t1 = performance.now();
  const model = await (await fetch('/pkg/vendor/mnist.onnx')).arrayBuffer();
  const t2 = performance.now();
  // The first session also fetches and compiles ORT's wasm.
  const session = await ortModule.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const t3 = performance.now();
  /** @param {Float32Array} x @param {number} batch */
  const predict = async (x, batch) => {
    const feeds = { [session.inputNames[0]]: new ortModule.Tensor('float32', x, [batch, 1, 28, 28]) };
    return /** @type {Float32Array} */ ((await session.run(feeds))[session.outputNames[0]].data);
  };
  await predict(inputs(1), 1);
  const t4 = performance.now();
  const measured = await latencies(predict);
  await session.release();
  return {
    build: 'onnxruntime-web', backend: 'wasm', threads: ortModule.env.wasm.numThreads, runs,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    loadWasmMs: t1 - t0, fetchWeightsMs: t2 - t1, createSessionMs: t3 - t2, firstPredictionMs: t4 - t3, ...measured,
  };
}

(params.get('system') === 'ort' ? ort() : burnEdge()).then(
  (r) => { /** @type {any} */ (window).benchResult = r; },
  (e) => { /** @type {any} */ (window).benchResult = { error: String(e?.message ?? e) }; },
);
