/**
 * @module bench
 * In-page benchmark of one wasm build and backend, driven by bench/bench.mjs:
 * `bench.html?build=cpu&backend=cpu&runs=100`. Results land in `window.benchResult`.
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

async function main() {
  const t0 = performance.now();
  const mod = await loadBuild(build, params.get('base') || '/pkg');
  const t1 = performance.now();
  const weights = new Uint8Array(await (await fetch('/models/mnist/model.bpk')).arrayBuffer());
  const t2 = performance.now();
  const session = await mod.createSession(weights, backend);
  const t3 = performance.now();
  const one = inputs(1);
  await session.predict(one);
  const t4 = performance.now();
  /** @type {Record<string, {p50: number, p95: number, mean: number}>} */
  const latency = {};
  for (const batch of [1, 32]) {
    const x = inputs(batch);
    for (let i = 0; i < 5; i++) await session.predict(x);
    const times = [];
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      await session.predict(x);
      times.push(performance.now() - s);
    }
    latency[`batch${batch}`] = { p50: quantile(times, 0.5), p95: quantile(times, 0.95), mean: times.reduce((a, b) => a + b, 0) / runs };
  }
  const info = session.info();
  session.free();
  return {
    build, backend: info.backend, cpuKernels: info.cpuKernels, adapter: info.adapter, runs,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    loadWasmMs: t1 - t0, fetchWeightsMs: t2 - t1, createSessionMs: t3 - t2, firstPredictionMs: t4 - t3, latency,
  };
}

main().then(
  (r) => { /** @type {any} */ (window).benchResult = r; },
  (e) => { /** @type {any} */ (window).benchResult = { error: String(e?.message ?? e) }; },
);
