// @module bench/squeezenet: SqueezeNet 1.1 side by side in one headless Chromium run, same
// photo (fish.png, prepared once per the manifest), same ONNX weights: ONNX Runtime Web 1.30
// (wasm EP on 1 thread and on all threads in a cross-origin-isolated page, and its WebGPU EP)
// against burn-edge (CPU build, WebGPU build). Per system: ready (runtime load + session
// creation + first inference, the same steps for every system, no runtime loaded before),
// first inference, p50/p95, max |difference| from ORT wasm's output, wasm bytes shipped (raw and
// brotli). Also the network's FLOPs and the fraction of this machine's peak each CPU path
// reaches. Writes bench/results/squeezenet.json and bench/results/squeezenet.md (which
// bench/bench.mjs puts into BENCHMARKS.md). WebGPU here is SwiftShader, a *software* adapter.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { brotliCompressSync, constants } from 'node:zlib';
import { startServer } from '../tests/e2e/harness.mjs';
import { runBenchPage } from './page.mjs';
import { ortFiles, vendorOrt } from './ort.mjs';

const runs = Number(process.env.BENCH_RUNS || 100);
// SwiftShader takes seconds per SqueezeNet inference: fewer runs there.
const gpuRuns = Number(process.env.BENCH_WEBGPU_RUNS || 10);
const cores = availableParallelism();

vendorOrt();
copyFileSync('../shared/datasets/squeezenet/squeezenet1.1_fp32_opset16.onnx', 'pkg/vendor/squeezenet.onnx');

const configs = [
  { name: 'ONNX Runtime Web, wasm EP, 1 thread', query: 'system=ort&ep=wasm&threads=1', webgpu: false, runs, ship: ortFiles.wasm.map((f) => `pkg/vendor/ort/${f}`) },
  { name: `ONNX Runtime Web, wasm EP, ${cores} threads`, query: `system=ort&ep=wasm&threads=${cores}`, webgpu: false, runs, ship: ortFiles.wasm.map((f) => `pkg/vendor/ort/${f}`) },
  { name: 'ONNX Runtime Web, WebGPU EP', query: 'system=ort&ep=webgpu', webgpu: true, runs: gpuRuns, ship: ortFiles.webgpu.map((f) => `pkg/vendor/ort/${f}`) },
  { name: "burn-edge, CPU build (1 thread), burn-edge's kernels, relaxed SIMD", query: 'system=burn-edge&backend=cpu', webgpu: false, runs, ship: ['pkg/cpu/burn_edge_relaxed.js', 'pkg/cpu/burn_edge_relaxed_bg.wasm'] },
  { name: "burn-edge, CPU build (1 thread), burn-edge's kernels, baseline SIMD", query: 'system=burn-edge&backend=cpu&simd=baseline', webgpu: false, runs, ship: ['pkg/cpu/burn_edge.js', 'pkg/cpu/burn_edge_bg.wasm'] },
  { name: "burn-edge, CPU build (1 thread), Burn's flex kernels", query: 'system=burn-edge&backend=cpu&kernels=burn&simd=baseline', webgpu: false, runs, ship: ['pkg/cpu/burn_edge.js', 'pkg/cpu/burn_edge_bg.wasm'] },
  { name: 'burn-edge, WebGPU build', query: 'system=burn-edge&backend=webgpu', webgpu: true, runs: gpuRuns, ship: ['pkg/webgpu/burn_edge.js', 'pkg/webgpu/burn_edge_bg.wasm'] },
];

// BENCH_SYSTEMS=regex runs only the matching rows (quick checks; the first row is the reference).
const only = process.env.BENCH_SYSTEMS ? new RegExp(process.env.BENCH_SYSTEMS) : null;
const selected = configs.filter((c, i) => i === 0 || !only || only.test(c.name));

/** @param {string[]} files */
const shipped = (files) => ({
  raw: files.reduce((n, f) => n + statSync(f).size, 0),
  brotli: files.reduce((n, f) => n + brotliCompressSync(readFileSync(f), { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length, 0),
});

const server = await startServer();
const results = [];
try {
  // The input, prepared by burn-edge's prepareImage in a browser of its own: no measured page
  // has any runtime loaded (or compiled, or in its code cache) before its timer starts.
  const { input } = await runBenchPage(`${server.url}bench-squeezenet.html?system=prep`, { webgpu: false, label: 'input' });
  writeFileSync('pkg/vendor/squeezenet.input.bin', new Uint8Array(Float32Array.from(input).buffer));
  for (const c of selected) {
    const url = `${server.url}bench-squeezenet.html?${c.query}&runs=${c.runs}`;
    const r = await runBenchPage(url, { webgpu: c.webgpu, label: c.name, timeout: 1_200_000 });
    results.push({ ...r, name: c.name, bytes: shipped(c.ship) });
    console.error(`done: ${c.name}: p50 ${r.p50.toFixed(1)} ms`);
  }
} finally {
  server.stop();
}

// Multiply-accumulates of SqueezeNet 1.1 at 224x224, layer by layer: [in, out, kernel, output side].
const fire = (/** @type {number} */ cin, /** @type {number} */ s, /** @type {number} */ e, /** @type {number} */ side) =>
  [[cin, s, 1, side], [s, e, 1, side], [s, e, 3, side]];
const convs = [[3, 64, 3, 111], ...fire(64, 16, 64, 55), ...fire(128, 16, 64, 55), ...fire(128, 32, 128, 27), ...fire(256, 32, 128, 27),
  ...fire(256, 48, 192, 13), ...fire(384, 48, 192, 13), ...fire(384, 64, 256, 13), ...fire(512, 64, 256, 13), [512, 1000, 1, 13]];
const flops = 2 * convs.reduce((n, [cin, cout, k, side]) => n + cin * cout * k * k * side * side, 0);
// Peak of one core of this machine for f32 in wasm SIMD: 4 lanes x 4 operations per cycle (two
// 128-bit multiplies and two adds: the four FP pipes of an AMD Zen core; wasm SIMD has no FMA),
// at the clock from /proc/cpuinfo.
const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? NaN);
const simdPeakPerCore = (mhz * 1e6) * 4 * 4;

const reference = results[0].output;
const maxDiff = (/** @type {number[]} */ out) => Math.max(...out.map((v, i) => Math.abs(v - reference[i])));
const ort1 = results[0].p50;
const ms = (/** @type {number} */ x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const mib = (/** @type {number} */ n) => (n / 1048576).toFixed(2);
const rows = results.map((r) => {
  const gflops = flops / (r.p50 / 1000) / 1e9;
  const cpu = r.backend === 'cpu' || r.backend === 'wasm';
  const threads = r.system === 'burn-edge' ? 1 : r.threads;
  return `| ${r.name} | ${ms(r.readyMs)} | ${ms(r.firstMs)} | ${ms(r.p50)} / ${ms(r.p95)} (${r.runs} runs) | ${(r.p50 / ort1).toFixed(2)} | ${maxDiff(r.output).toExponential(1)} | ${mib(r.bytes.raw)} / ${mib(r.bytes.brotli)} | ${gflops.toFixed(1)}${cpu ? ` (${((gflops * 1e9) / (simdPeakPerCore * threads) * 100).toFixed(0)}% of ${threads}-core SIMD peak)` : ''} |`;
});
const md = `## SqueezeNet 1.1: burn-edge and ONNX Runtime Web side by side

Written by \`bench/squeezenet.mjs\` on ${new Date().toISOString()}: one headless Chromium run on this
${cores}-core machine (${mhz.toFixed(0)} MHz), same photo (fish.png, prepared once per the manifest), same
ONNX weights (burn-edge's are imported from the same file). "ready" = the same steps for every
system: runtime load (JS, wasm fetch and compile; ORT compiles its wasm and starts its threads in
its first session) + session creation (burn-edge's includes one warm-up inference) + first
inference, with no runtime loaded in the page before (the input is prepared in another browser);
the weights are fetched before the timer, for all. WebGPU is Chromium's **SwiftShader software adapter** (a CPU emulating a GPU),
with ${gpuRuns} runs. Max |diff| is against ONNX Runtime Web's wasm EP output. Bytes are the wasm and JS
glue each system ships (raw / brotli -q 11), without the 4.7 MiB of weights both need.
burn-edge's CPU build runs its own kernels by default (README "CPU kernels"), from its relaxed-SIMD
module (fused multiply-add) where the browser validates relaxed SIMD, as Chromium does; "baseline
SIMD" is the module every other browser gets; "Burn's flex kernels" is the baseline module with
\`cpuKernels: "burn"\`.
SqueezeNet 1.1 at 224x224 is ${(flops / 1e9).toFixed(2)} GFLOPs per image (2 x multiply-accumulates of its 26 convolutions);
the SIMD peak assumed per core is 4 f32 lanes x 4 operations per cycle (two multiplies and two adds: an AMD Zen
core's four FP pipes; baseline wasm SIMD has no FMA), ${(simdPeakPerCore / 1e9).toFixed(1)} GFLOP/s. The relaxed-SIMD
module's fused multiply-adds count as two operations, so its fraction is of the same peak.

| system | ready (ms) | first inference (ms) | p50 / p95 (ms) | p50 vs ORT wasm 1 thread | max diff | wasm + JS MiB raw / brotli | GFLOP/s at p50 |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
console.log(md);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/squeezenet.json', JSON.stringify({ when: new Date().toISOString(), cores, mhz, flops,
  results: results.map(({ output, ...r }) => ({ ...r, maxDiffFromOrtWasm: maxDiff(output) })) }, null, 2) + '\n');
writeFileSync('bench/results/squeezenet.md', md);
