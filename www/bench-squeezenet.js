/**
 * @module bench-squeezenet
 * One system of the SqueezeNet side-by-side benchmark, driven by bench/squeezenet.mjs:
 * `bench-squeezenet.html?system=burn-edge&backend=cpu|webgpu&kernels=auto|burn&simd=auto|baseline&runs=100`, or
 * `?system=ort&ep=wasm&threads=1|2` / `?system=ort&ep=webgpu` (ONNX Runtime Web 1.30 from
 * /pkg/vendor/ort/, the same ONNX weights from /pkg/vendor/squeezenet.onnx, both copied there by
 * the driver). Every system gets the same input, /pkg/vendor/squeezenet.input.bin: fish.png
 * prepared per the published manifest by burn-edge's `prepareImage`, in an earlier browser
 * (`?system=prep`), so no system's runtime is loaded before its timer starts. Every system's
 * "ready" is the same steps: runtime load (JS, wasm fetch and compile) + session creation +
 * first inference; the weights are fetched before, untimed, for all. Results land in
 * `window.benchResult`.
 */
import { loadBuild } from './runtime.js';

const params = new URLSearchParams(location.search);
const system = params.get('system') || 'burn-edge';
const runs = Number(params.get('runs') || 100);
const simd = params.get('simd') === 'baseline' ? 'baseline' : 'auto';

/** @param {number[]} xs @param {number} q */
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** The published stable manifest of squeezenet. */
async function manifest() {
  const channel = await (await fetch('/models/squeezenet/channel.json')).json();
  const url = new URL(`/models/squeezenet/${channel.aliases.stable}/manifest.json`, location.href);
  return { url, manifest: await (await fetch(url)).json() };
}

/** fish.png as model input, prepared by the CPU build's prepareImage (`?system=prep` only). */
async function prepare() {
  const { manifest: m } = await manifest();
  const cpu = await loadBuild('cpu', '/pkg');
  const bitmap = await createImageBitmap(await (await fetch('/samples/fish.png')).blob());
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d'));
  ctx.drawImage(bitmap, 0, 0);
  const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  const x = /** @type {Float32Array} */ (cpu.prepareImage(new Uint8Array(data.buffer), bitmap.width, bitmap.height, JSON.stringify(m.input)));
  return { input: [...x] };
}

/** The prepared input the driver wrote. */
async function input() {
  return new Float32Array(await (await fetch('/pkg/vendor/squeezenet.input.bin')).arrayBuffer());
}

/**
 * Times `run` `runs` times after the first call (timed by the caller, as part of ready).
 * @param {() => Promise<Float32Array>} run
 */
async function time(run) {
  let out;
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    out = await run();
    times.push(performance.now() - t);
  }
  return { p50: quantile(times, 0.5), p95: quantile(times, 0.95), mean: times.reduce((a, b) => a + b, 0) / times.length, output: [...(out ?? [])] };
}

async function burnEdge() {
  const backend = params.get('backend') || 'cpu';
  const build = backend === 'webgpu' ? 'webgpu' : 'cpu';
  const { url, manifest: m } = await manifest();
  const x = await input();
  const weights = new Uint8Array(await (await fetch(new URL(m.files[0].path, url))).arrayBuffer());
  const t0 = performance.now();
  const mod = await loadBuild(build, '/pkg', simd);
  const t1 = performance.now();
  // Session creation includes one warm-up inference (it proves the backend works).
  const session = await mod.createSession(weights, backend, m.architecture, params.get('kernels') || 'auto');
  const t2 = performance.now();
  await session.predict(x);
  const t3 = performance.now();
  const timed = await time(() => session.predict(x));
  const info = session.info();
  session.free();
  return { system: 'burn-edge', backend: info.backend, cpuKernels: info.cpuKernels, cpuSimd: info.cpuSimd, adapter: info.adapter, build,
    loadRuntimeMs: t1 - t0, createSessionMs: t2 - t1, firstMs: t3 - t2, readyMs: t3 - t0, ...timed };
}

async function ort() {
  const ep = params.get('ep') || 'wasm';
  const threads = Number(params.get('threads') || 1);
  const x = await input();
  const model = await (await fetch('/pkg/vendor/squeezenet.onnx')).arrayBuffer();
  const bundle = ep === 'webgpu' ? 'ort.webgpu.min.mjs' : 'ort.wasm.min.mjs';
  const t0 = performance.now();
  const ortModule = await import(`/pkg/vendor/ort/${bundle}`);
  const t1 = performance.now();
  ortModule.env.wasm.wasmPaths = new URL('/pkg/vendor/ort/', location.href).href;
  ortModule.env.wasm.numThreads = threads;
  // The first session also fetches and compiles ORT's wasm and starts its threads.
  const session = await ortModule.InferenceSession.create(model, { executionProviders: [ep], graphOptimizationLevel: 'all' });
  const t2 = performance.now();
  const feeds = { [session.inputNames[0]]: new ortModule.Tensor('float32', x, [1, 3, 224, 224]) };
  const run = async () => {
    const out = (await session.run(feeds))[session.outputNames[0]];
    return out.data instanceof Float32Array ? out.data : await out.getData();
  };
  await run();
  const t3 = performance.now();
  const timed = await time(run);
  await session.release();
  return { system: 'onnxruntime-web', backend: ep, threads: ortModule.env.wasm.numThreads,
    loadRuntimeMs: t1 - t0, createSessionMs: t2 - t1, firstMs: t3 - t2, readyMs: t3 - t0, ...timed };
}

(system === 'prep' ? prepare() : system === 'ort' ? ort() : burnEdge()).then(
  (r) => { /** @type {any} */ (window).benchResult = { ...r, runs, crossOriginIsolated: globalThis.crossOriginIsolated }; },
  (e) => { /** @type {any} */ (window).benchResult = { error: String(e?.message ?? e) }; },
);
