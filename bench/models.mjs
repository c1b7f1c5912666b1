// @module bench/models: `npm run bench:models` — the benchmark models of scripts/bench-models.py
// (MobileNetV2-style, ResNet-style, tabular MLP; seeded random weights) and SqueezeNet 1.1, in
// one headless Chromium run per system (a fresh browser each, so nothing is cached): ONNX
// Runtime Web 1.30's wasm EP on 1 thread against burn-edge's CPU build (relaxed and baseline
// SIMD) and WebGPU build, on the same seeded input. Per model and system: ready (runtime JS +
// wasm fetch and compile + session creation + first inference, the same span for every system),
// p50/p95, wasm memory after the first inference and at the end (peak), max |diff| from ORT
// Web's output. Writes bench/results/models.{json,md} (bench/bench.mjs puts the md into
// BENCHMARKS.md). WebGPU here is SwiftShader, a *software* adapter.
//
// Needs target/bench-models/ (run `python3 scripts/bench-models.py`; done here when missing) and,
// for the burn-edge rows, a runtime containing the architectures and their weights published
// under models/<name>/ (scripts/add-model.sh does both; here a missing publication is made with
// the CLI). A burn-edge row that cannot run (e.g. a runtime built without the model) is reported
// as not run, with the reason, and the others go on.
// BENCH_MODELS=regex and BENCH_SYSTEMS=regex pick rows; BENCH_RUNS, BENCH_WEBGPU_RUNS set runs.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { startServer } from '../tests/e2e/harness.mjs';
import { publishBenchModel } from '../tests/e2e/bench-models.mjs';
import { runBenchPage } from './page.mjs';
import { vendorOrt } from './ort.mjs';

const runs = Number(process.env.BENCH_RUNS || 100);
const gpuRuns = Number(process.env.BENCH_WEBGPU_RUNS || 10);
const cores = availableParallelism();
// Other work on the machine skews the timings: the load average is printed with them.
const loadBefore = loadavg()[0];
const generated = 'target/bench-models';
const vendor = 'pkg/vendor/bench-models';

/** The models, with their ONNX file, seeded input and (bench models) native ORT reference. */
const models = [
  { name: 'mobilenet-bench', title: 'MobileNetV2-style (depthwise separable, ReLU6, residual adds), 224x224' },
  { name: 'resnet-bench', title: 'ResNet-style (ResNet-18 layout at half width), 224x224' },
  { name: 'mlp-bench', title: 'MLP on tabular input, 32 features' },
  { name: 'squeezenet', title: 'SqueezeNet 1.1 (pretrained), 224x224', onnx: '../shared/datasets/squeezenet/squeezenet1.1_fp32_opset16.onnx', inputShape: [3, 224, 224] },
].filter((m) => !process.env.BENCH_MODELS || new RegExp(process.env.BENCH_MODELS).test(m.name));

const systems = [
  { name: 'ONNX Runtime Web, wasm EP, 1 thread', query: 'system=ort&threads=1', webgpu: false, runs },
  { name: 'burn-edge, CPU build, relaxed SIMD', query: 'system=burn-edge&backend=cpu', webgpu: false, runs },
  { name: 'burn-edge, CPU build, baseline SIMD', query: 'system=burn-edge&backend=cpu&simd=baseline', webgpu: false, runs },
  { name: 'burn-edge, WebGPU build', query: 'system=burn-edge&backend=webgpu', webgpu: true, runs: gpuRuns },
].filter((s, i) => i === 0 || !process.env.BENCH_SYSTEMS || new RegExp(process.env.BENCH_SYSTEMS).test(s.name));

/** Seeded uniform values in [lo, hi) (mulberry32), for the models the script does not make. */
function seeded(/** @type {number} */ n, /** @type {number} */ seed, lo = 0, hi = 1) {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

/** Copies each model's ONNX file, first input example and description where the page reads them. */
function prepare() {
  if (models.some((m) => !m.onnx && !existsSync(`${generated}/${m.name}.reference.json`))) {
    execFileSync('python3', ['scripts/bench-models.py', '--out', generated], { stdio: 'inherit' });
  }
  vendorOrt();
  mkdirSync(vendor, { recursive: true });
  return models.map((m) => {
    let x, reference = null, size = null, inputShape = m.inputShape;
    if (m.onnx) {
      copyFileSync(m.onnx, `${vendor}/${m.name}.onnx`);
      // SqueezeNet reads BGR pixel values in 0..255.
      x = seeded(inputShape.reduce((a, b) => a * b, 1), 12, 0, 255);
    } else {
      copyFileSync(`${generated}/${m.name}.onnx`, `${vendor}/${m.name}.onnx`);
      const r = JSON.parse(readFileSync(`${generated}/${m.name}.reference.json`, 'utf8'));
      inputShape = r.input_shape.slice(1);
      const per = inputShape.reduce((/** @type {number} */ a, /** @type {number} */ b) => a * b, 1);
      const classes = r.output_shape[1];
      x = Float32Array.from(r.input.slice(0, per)); // the first example of the reference batch
      reference = r.output.slice(0, classes);
      size = { params: r.params, onnxBytes: r.onnx_bytes, flops: r.flops };
    }
    writeFileSync(`${vendor}/${m.name}.input.bin`, new Uint8Array(x.buffer));
    writeFileSync(`${vendor}/${m.name}.json`, JSON.stringify({ inputShape }) + '\n');
    return { ...m, inputShape, reference, size };
  });
}

/**
 * Publishes a bench model (tests/e2e/bench-models.mjs) unless published.
 * @returns {string | null} why burn-edge cannot run it, or null
 */
function publish(/** @type {{ name: string, onnx?: string }} */ m) {
  if (existsSync(`models/${m.name}/channel.json`)) return null;
  if (m.onnx) return `models/${m.name} is not published (scripts/import-models.sh publishes it)`;
  try {
    publishBenchModel(m.name);
    return null;
  } catch (e) {
    return String(/** @type {any} */ (e).message);
  }
}

const prepared = prepare();
const server = await startServer();
/** @type {any[]} */
const results = [];
try {
  for (const m of prepared) {
    const unpublished = publish(m);
    for (const s of systems) {
      const row = { model: m.name, name: s.name };
      if (s.query.includes('burn-edge') && unpublished) {
        results.push({ ...row, error: unpublished });
        continue;
      }
      try {
        const r = await runBenchPage(`${server.url}bench-models.html?model=${m.name}&${s.query}&runs=${s.runs}`, { webgpu: s.webgpu, label: `${m.name}: ${s.name}`, timeout: 1_200_000 });
        results.push({ ...row, ...r });
        console.error(`done: ${m.name}: ${s.name}: p50 ${r.p50.toFixed(1)} ms`);
      } catch (e) {
        const label = `${m.name}: ${s.name}: `; // runBenchPage's prefix, said once here
        const message = String(/** @type {any} */ (e).message ?? e).split('\n')[0];
        results.push({ ...row, error: message.startsWith(label) ? message.slice(label.length) : message });
        console.error(`not run: ${m.name}: ${s.name}: ${results.at(-1).error}`);
      }
    }
  }
} finally {
  server.stop();
}

const maxDiff = (/** @type {number[]} */ a, /** @type {number[]} */ b) => a.length === b.length ? Math.max(...a.map((v, i) => Math.abs(v - b[i]))) : Infinity;
const ms = (/** @type {number} */ x) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(3));
const mib = (/** @type {number | null} */ n) => (n == null ? 'n/a' : (n / 1048576).toFixed(1));

const sections = prepared.map((m) => {
  const rows = results.filter((r) => r.model === m.name);
  const ort = rows[0];
  const lines = rows.map((r) => {
    if (r.error) return `| ${r.name} | not run: ${r.error.replaceAll('|', '/')} | | | | |`;
    const vs = ort.error ? 'n/a' : (r.p50 / ort.p50).toFixed(2);
    const diff = ort.error ? 'n/a' : maxDiff(r.output, ort.output).toExponential(1);
    return `| ${r.name} | ${ms(r.readyMs)} | ${ms(r.p50)} / ${ms(r.p95)} (${r.runs} runs) | ${vs} | ${diff} | ${mib(r.wasmMemoryReady)} / ${mib(r.wasmMemoryPeak)} |`;
  });
  const native = m.reference && !ort.error ? ` ORT Web's output is within ${maxDiff(ort.output, m.reference).toExponential(1)} of native ONNX Runtime's (scripts/bench-models.py's reference).` : '';
  // The memory goal of issue "Any model": after creation <= 1.5x the weights + the largest
  // activation, against the runtime's own wasm memory once the session exists.
  const goals = rows.filter((r) => !r.error && r.plan && r.runtimeMemory?.afterCreation).map((r) => {
    const goal = 1.5 * r.weightsBytes + r.plan.largestActivationBytes;
    const after = r.runtimeMemory.afterCreation;
    return `${r.name}: wasm memory after creation ${mib(after)} MiB for ${mib(r.weightsBytes)} MiB of weights ` +
      `(${(after / r.weightsBytes).toFixed(2)}x); goal 1.5x + largest activation (${mib(r.plan.largestActivationBytes)} MiB) = ` +
      `${mib(goal)} MiB: ${after <= goal ? 'met' : 'over'}.`;
  });
  const size = m.size ? ` ${(m.size.params / 1e6).toFixed(2)} M parameters, ONNX ${mib(m.size.onnxBytes)} MiB, ${(m.size.flops / 1e6).toFixed(m.size.flops < 1e7 ? 2 : 0)} MFLOPs per example.` : '';
  return `### ${m.name}: ${m.title}

Input [1, ${m.inputShape.join(', ')}].${size}${native}

| system | ready (ms) | p50 / p95 (ms) | p50 vs ORT | max diff vs ORT | wasm memory MiB ready / peak |
|---|---|---|---|---|---|
${lines.join('\n')}
${goals.length ? `\n${goals.map((g) => `- ${g}`).join('\n')}\n` : ''}`;
});

const md = `## Models: burn-edge and ONNX Runtime Web side by side

Written by \`bench/models.mjs\` on ${new Date().toISOString()}: headless Chromium on this ${cores}-core
machine (1-minute load average ${loadBefore.toFixed(1)} before the run, ${loadavg()[0].toFixed(1)} after it), a fresh
browser per row, cross-origin isolated page. The three bench models are made by
\`scripts/bench-models.py\` with seeded random weights (nobody tuned burn-edge for them); all systems
get the same seeded input (the script's, and for SqueezeNet seeded uniform 0..255 values).
"ready" = the runtime's JS import + its wasm fetched and compiled + session creation + the first
inference, the same span for every system (model bytes are fetched before it). p50/p95 over the
runs after that (plus one untimed warm-up). Max diff is against ONNX Runtime Web's output in the
same run. "wasm memory" is the sum of the page's WebAssembly memories (every one created in JS or
exported by an instance, so ORT's and burn-edge's are counted alike) after the first inference
and at the end (a wasm memory never shrinks: the peak). (bench/results/models.json also has
Chromium's \`performance.measureUserAgentSpecificMemory()\` of the page, \`pageMemoryBytes\`: it
counted ORT's shared wasm memory but not burn-edge's unshared one when this was written, so it
does not compare them.)
WebGPU is Chromium's **SwiftShader software adapter**, ${gpuRuns} runs.

${sections.join('\n')}`;
console.log(md);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/models.json', JSON.stringify({
  when: new Date().toISOString(), cores, loadAverage: { before: loadBefore, after: loadavg()[0] },
  models: prepared.map(({ name, inputShape, size }) => ({ name, inputShape, size })),
  results: results.map(({ output, ...r }) => ({ ...r, maxDiffFromOrt: output ? maxDiff(output, results.find((o) => o.model === r.model).output ?? []) : null })),
}, null, 2) + '\n');
writeFileSync('bench/results/models.md', md);
