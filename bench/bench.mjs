// @module bench: `npm run bench` — MNIST runtime benchmark in headless Chromium (after
// bench/squeezenet.mjs and bench/models.mjs, whose tables it includes).
// Per wasm build and backend: wasm load, session creation, first prediction, p50/p95 latency for
// batch 1 and 32, plus the wasm sizes; and the same model exported to ONNX (`burn-edge
// export-onnx`) in ONNX Runtime Web's wasm EP on one thread, with its max |difference| from ours. Prints a table and writes bench/results/mnist.json and
// BENCHMARKS.md. WebGPU here is Chromium's SwiftShader *software* adapter: a CPU emulating a GPU.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, existsSync, statSync } from 'node:fs';
import { startServer } from '../tests/e2e/harness.mjs';
import { runBenchPage } from './page.mjs';
import { vendorOrt } from './ort.mjs';

vendorOrt();
execFileSync('cargo', ['run', '--quiet', '--release', '-p', 'burn-edge-cli', '--', 'export-onnx', 'models/mnist/model.bpk', '--out', 'pkg/vendor/mnist.onnx'], { stdio: 'inherit' });

const runs = Number(process.env.BENCH_RUNS || 100);
const configs = [
  { build: 'cpu', backend: 'cpu', webgpu: false },
  { build: 'cpu', backend: 'cpu', webgpu: false, query: 'build=cpu&backend=cpu&kernels=burn' },
  { build: 'webgpu', backend: 'cpu', webgpu: false },
  { build: 'webgpu', backend: 'webgpu', webgpu: true },
  { build: 'onnxruntime-web', query: 'system=ort&threads=1', webgpu: false },
];

const server = await startServer();
const results = [];
try {
  for (const c of configs) {
    const url = `${server.url}bench.html?${c.query ?? `build=${c.build}&backend=${c.backend}`}&runs=${runs}`;
    const r = await runBenchPage(url, { webgpu: c.webgpu, label: `${c.build}/${c.backend}` });
    results.push(r);
    console.error(`done: ${c.build} / ${r.backend}`);
  }
} finally {
  server.stop();
}

const sizes = JSON.parse(readFileSync('pkg/sizes.json', 'utf8'));
const ms = (/** @type {number} */ x) => x.toFixed(2);
const mib = (/** @type {number} */ n) => (n / 1048576).toFixed(2);
const reference = results[0].output;
const maxDiff = (/** @type {number[]} */ out) => Math.max(...out.map((v, i) => Math.abs(v - reference[i]))).toExponential(1);
const label = (/** @type {any} */ r) => r.build === 'onnxruntime-web'
  ? `ONNX Runtime Web 1.30, wasm EP, ${r.threads} thread (exported ONNX, ${(statSync('pkg/vendor/mnist.onnx').size / 1024).toFixed(0)} KiB)`
  : r.backend === 'webgpu'
  ? `WebGPU (software: ${[r.adapter?.vendor, r.adapter?.architecture].filter(Boolean).join(' ') || 'SwiftShader'})`
  : `CPU (${r.cpuKernels}, ${r.cpuSimd} wasm SIMD)`;
const lines = [
  `| build | backend | wasm load | create session | first prediction | batch 1 p50 / p95 | batch 32 p50 / p95 | max diff vs first row |`,
  `|---|---|---|---|---|---|---|---|`,
  ...results.map((r) => `| ${r.build} | ${label(r)} | ${ms(r.loadWasmMs)} | ${ms(r.createSessionMs)} | ${ms(r.firstPredictionMs)} | ${ms(r.latency.batch1.p50)} / ${ms(r.latency.batch1.p95)} | ${ms(r.latency.batch32.p50)} / ${ms(r.latency.batch32.p95)} | ${maxDiff(r.output)} |`),
  '',
  `| build | raw MiB | gzip MiB | brotli MiB |`,
  `|---|---|---|---|`,
  ...sizes.map((/** @type {any} */ s) => `| ${s.build} | ${mib(s.raw)} | ${mib(s.gzip)} | ${mib(s.brotli)} |`),
];
const table = lines.join('\n');
console.log(table);

mkdirSync('bench/results', { recursive: true });
const when = new Date().toISOString();
writeFileSync('bench/results/mnist.json', JSON.stringify({ when, runs, results, sizes }, null, 2) + '\n');
writeFileSync('BENCHMARKS.md', `# Benchmarks

Written by \`npm run bench\` (bench/bench.mjs) on ${when}: headless Chromium on this
2-core machine, page cross-origin isolated (full-resolution \`performance.now()\`), one thread.
All times in milliseconds; latency over ${runs} runs after 5 warm-up runs. "WebGPU" here is
Chromium's SwiftShader **software** adapter (the GPU emulated on the CPU), not a real GPU.

## MNIST CNN (models/mnist)

The last row is the same weights exported with \`burn-edge export-onnx\` (burn-onnx's exporter,
softmax included) running in ONNX Runtime Web: its "wasm load" is importing ORT's JS, its wasm
is fetched and compiled inside "create session". Max diff is of the batch-1 probabilities.

${table}

${existsSync('bench/results/squeezenet.md') ? readFileSync('bench/results/squeezenet.md', 'utf8') : ''}
${existsSync('bench/results/models.md') ? readFileSync('bench/results/models.md', 'utf8') : ''}`);
