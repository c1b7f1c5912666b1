// @module bench/batch: batch prediction throughput (examples/s) for batch sizes 1/8/32/128, for
// MNIST and SqueezeNet: in headless Chromium through `model.predictBatch` (chunkSize = batch
// size) on the CPU build and on the WebGPU build (SwiftShader here: a *software* adapter, so its
// numbers say nothing about a real GPU), and natively through `burn-edge predict --batch
// --summary-json` (the server's code path). One run each, after one warm-up chunk. Prints a
// table and writes bench/results/batch.md and batch.json.
//
// Env: BENCH_BATCH_MODELS=mnist,squeezenet; BENCH_BATCH_SIZES=1,8,32,128; BURN_EDGE_BIN (the CLI;
// default the dev build, whose own crates are unoptimised: native numbers are then a floor).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { cliPath, launchBrowser, startServer } from '../tests/e2e/harness.mjs';

const sizes = (process.env.BENCH_BATCH_SIZES || '1,8,32,128').split(',').map(Number);
const models = (process.env.BENCH_BATCH_MODELS || 'mnist,squeezenet').split(',');
/** Examples per measurement (at least one chunk), and the longest a cell may take before larger sizes are skipped. */
const PLAN = {
  mnist: { examples: 512, gpuExamples: 128, manifest: 'models/mnist/1.0.0/manifest.json' },
  // SwiftShader takes seconds per SqueezeNet photo: a few there.
  squeezenet: { examples: 128, gpuExamples: 8, manifest: 'models/squeezenet/1.0.0/manifest.json' },
};
const CELL_BUDGET_MS = 90_000;

/**
 * One browser measurement: loads `model` on `backend` and times predictBatch per batch size.
 * @param {string} url server URL
 * @param {'mnist' | 'squeezenet'} model
 * @param {'cpu' | 'webgpu'} backend
 */
async function browserRun(url, model, backend) {
  const browser = await launchBrowser({ webgpu: backend === 'webgpu' });
  try {
    const page = await browser.newPage();
    await page.goto(`${url}dev-key.json`); // any page of the origin: the package is imported below
    return await page.evaluate(async ({ manifestUrl, backend, sizes, examples, budget }) => {
      const { loadModel } = await import('/lib/index.js');
      const publicKey = (await (await fetch('/dev-key.json')).json()).publicKey;
      const m = await loadModel({ manifestUrl, backend, publicKey });
      const info = m.info();
      const manifest = await (await fetch(manifestUrl)).json();
      const len = manifest.input.shape.reduce((/** @type {number} */ a, /** @type {number} */ b) => a * b, 1);
      /** @type {Record<number, { perSecond: number | null, seconds: number | null, examples: number, note?: string }>} */
      const out = {};
      let seed = 1;
      const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
      const pool = Array.from({ length: Math.max(...sizes) }, () => Float32Array.from({ length: len }, rand));
      let lastPerSecond = null;
      for (const size of sizes) {
        // Skip what would run past the budget at the last size's speed.
        const n = Math.max(size, Math.min(examples, lastPerSecond ? Math.floor((lastPerSecond * budget) / 1000 / size) * size : examples));
        if (lastPerSecond && (size / lastPerSecond) * 1000 > budget) {
          out[size] = { perSecond: null, seconds: null, examples: 0, note: 'skipped: one chunk would exceed the time budget' };
          continue;
        }
        const inputs = Array.from({ length: n }, (_, i) => pool[i % pool.length]);
        try {
          await m.predictBatch(inputs.slice(0, size), { chunkSize: size }); // warm-up: shaders, plan buffers
          const t = performance.now();
          await m.predictBatch(inputs, { chunkSize: size });
          const seconds = (performance.now() - t) / 1000;
          lastPerSecond = n / seconds;
          out[size] = { perSecond: lastPerSecond, seconds, examples: n };
        } catch (err) {
          out[size] = { perSecond: null, seconds: null, examples: n, note: `failed: ${err instanceof Error ? err.message : err}`.slice(0, 120) };
        }
      }
      m.dispose();
      return { backend: info.backend, cpuKernels: info.cpuKernels, adapter: info.adapter, out };
    }, { manifestUrl: `/${PLAN[model].manifest}`, backend, sizes, examples: backend === 'webgpu' ? PLAN[model].gpuExamples : PLAN[model].examples,
      budget: CELL_BUDGET_MS });
  } finally {
    await browser.close();
  }
}

/**
 * Native inputs: an idx file (gzipped, like the dataset's) of the first MNIST test images, or a folder of SqueezeNet's
 * sample photos repeated to `count` files.
 * @param {'mnist' | 'squeezenet'} model
 * @param {string} dir
 * @param {number} count
 */
function nativeInput(model, dir, count) {
  if (model === 'mnist') {
    const idx = gunzipSync(readFileSync('../shared/datasets/mnist/t10k-images-idx3-ubyte.gz'));
    const header = Buffer.from(idx.subarray(0, 16));
    header.writeUInt32BE(count, 4);
    const file = join(dir, 'images-idx3-ubyte.gz');
    writeFileSync(file, gzipSync(Buffer.concat([header, idx.subarray(16, 16 + count * 784)])));
    return file;
  }
  const photos = ['fish.png', 'kitten_224.png', 'cat.jpg', 'bridge.jpg', 'coyote.jpg', 'flamingo.jpg', 'torch.jpg'];
  const folder = join(dir, 'photos');
  mkdirSync(folder);
  for (let i = 0; i < count; i++) {
    const name = photos[i % photos.length];
    symlinkSync(resolve('../shared/datasets/squeezenet/images', name), join(folder, `${String(i).padStart(4, '0')}-${name}`));
  }
  return folder;
}

/**
 * `burn-edge predict --batch` per batch size.
 * @param {'mnist' | 'squeezenet'} model
 */
function nativeRun(model) {
  const dir = mkdtempSync(join(tmpdir(), 'burn-edge-batch-'));
  /** @type {Record<number, { perSecond: number | null, seconds: number | null, examples: number, note?: string }>} */
  const out = {};
  try {
    const input = nativeInput(model, dir, PLAN[model].examples);
    for (const size of sizes) {
      const summary = join(dir, `summary-${size}.json`);
      const r = spawnSync(cliPath(), ['predict', '--batch', input, '--model', PLAN[model].manifest, '--batch-size', String(size),
        '--out', join(dir, `out-${size}.jsonl`), '--summary-json', summary], { encoding: 'utf8', timeout: 600_000 });
      if (r.status !== 0) {
        out[size] = { perSecond: null, seconds: null, examples: 0, note: `failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`.slice(0, 120) };
        continue;
      }
      const s = JSON.parse(readFileSync(summary, 'utf8'));
      out[size] = { perSecond: s.perSecond, seconds: s.seconds, examples: s.examples };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const server = await startServer();
/** @type {{ model: string, system: string, out: Record<number, any> }[]} */
const rows = [];
try {
  for (const model of /** @type {('mnist' | 'squeezenet')[]} */ (models)) {
    for (const backend of /** @type {const} */ (['cpu', 'webgpu'])) {
      const r = await browserRun(server.url, model, backend).catch((err) => ({ cpuKernels: '?', adapter: null,
        out: Object.fromEntries(sizes.map((size) => [size, { perSecond: null, note: `failed: ${String(err.message).split('\n')[0]}`.slice(0, 100) }])) }));
      const system = backend === 'cpu' ? `browser, CPU build (${r.cpuKernels} kernels)` : `browser, WebGPU build (${r.adapter?.description || 'SwiftShader'}, software)`;
      rows.push({ model, system, out: r.out });
      console.error(`done: ${model} ${system}`);
    }
    rows.push({ model, system: `native, burn-edge predict --batch (${process.env.BURN_EDGE_BIN ? 'given binary' : 'dev build'})`, out: nativeRun(model) });
    console.error(`done: ${model} native`);
  }
} finally {
  server.stop();
}

const cell = (/** @type {any} */ c) => (c?.perSecond ? c.perSecond.toFixed(c.perSecond >= 100 ? 0 : 1) : c?.note ? `– (${c.note})` : '–');
const lines = [
  '| model | where | ' + sizes.map((s) => `batch ${s}`).join(' | ') + ' |',
  '|---|---|' + sizes.map(() => '---:').join('|') + '|',
  ...rows.map((r) => `| ${r.model} | ${r.system} | ${sizes.map((s) => cell(r.out[s])).join(' | ')} |`),
];
const md = [
  '# Batch prediction throughput (examples per second)',
  '',
  `One run, ${new Date().toISOString().slice(0, 10)}, \`npm run bench:batch\` (bench/batch.mjs). Browser: headless Chromium, ` +
    '`model.predictBatch(inputs, { chunkSize: batch })` in the worker, after one warm-up chunk; WebGPU is SwiftShader, a software ' +
    'adapter on the CPU. Native: `burn-edge predict --batch --batch-size N --summary-json` (image decoding and preparation included ' +
    'for SqueezeNet\'s photos; the browser rows time prediction only). 2 shared cores.',
  '',
  ...lines,
  '',
].join('\n');
console.log(md);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/batch.md', md);
writeFileSync('bench/results/batch.json', JSON.stringify({ sizes, rows }, null, 2));
