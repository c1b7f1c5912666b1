// @module bench/compression: writes COMPRESSION.md, one table per model with every weights
// variant's accuracy, bytes (raw and brotli) and latency on the CPU and WebGPU builds, all
// measured in this one run. A temporary copy of models/ gets each model's variants from
// `burn-edge compress` (MNIST 1.0.0; SqueezeNet 1.0.0 with its spec's photos and generated
// views), the real server serves it, and headless Chromium loads each variant by name through
// the package's loader (`variant`), timing the load (`info().loadMs`) and the median of
// repeated predictions on one input with the page's own clock. Ratios are what to read:
// absolute times swing with the machine's load, and WebGPU here is SwiftShader, a CPU
// emulation of a GPU. Also writes bench/results/compression.json.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';
import { cliPath, launchBrowser, projectCopy, startServer } from '../tests/e2e/harness.mjs';

const brotli = (/** @type {Buffer} */ b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const RUNS = Number(process.env.RUNS ?? 15);
const models = [
  { name: 'mnist', from: '1.0.0', to: '1.0.1', args: [] },
  { name: 'squeezenet', from: '1.0.0', to: '1.0.1', args: ['--spec', 'models/squeezenet.model.json'] },
];
const backends = ['cpu', ...(existsSync('pkg/webgpu/burn_edge_bg.wasm') ? ['webgpu'] : [])];

const copy = projectCopy('burn-edge-compression-');
const { root } = copy;

/** @type {any[]} */
const tables = [];
for (const m of models) {
  const manifest = join(root, 'models', m.name, m.from, 'manifest.json');
  if (!existsSync(manifest)) throw new Error(`${manifest} is missing: run npm start (or scripts/import-models.sh) first`);
  console.error(`compressing ${m.name}@${m.from} ...`);
  const out = execFileSync(cliPath(), ['compress', '--manifest', manifest, '--version', m.to, '--signing-key', '.burn-edge/keys/signing.key', ...m.args],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const published = JSON.parse(readFileSync(join(root, 'models', m.name, m.to, 'manifest.json'), 'utf8'));
  const brotliBytes = Object.fromEntries(published.files.map((/** @type {any} */ f) =>
    [f.variant, brotli(readFileSync(join(root, 'models', m.name, 'files', `${f.sha256}.bpk`)))]));
  tables.push({ model: m.name, version: m.to, manifest: published, brotli: brotliBytes, cli: out.trim(),
    latency: /** @type {Record<string, any>} */ ({}) });
}

const server = await startServer(['--root', root]);
const browser = await launchBrowser({ webgpu: backends.includes('webgpu') });
try {
  for (const t of tables) {
    for (const backend of backends) {
      for (const file of t.manifest.files) {
        const page = await browser.newPage();
        await page.goto(`${server.url}index.html?sw=0&backend=cpu&updateCheck=0`);
        await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 120_000 });
        const r = await page.evaluate(async ({ url, variant, backend, runs }) => {
          const demo = /** @type {any} */ (window).burnEdgeDemo;
          const model = await demo.loadModel({ manifestUrl: url, publicKey: demo.publicKey, backend, variant, recheckInterval: 0 });
          const info = model.info();
          const input = new Float32Array(info.input.shape.reduce((/** @type {number} */ a, /** @type {number} */ b) => a * b, 1)).fill(0.5);
          const times = [];
          for (let i = 0; i < runs; i++) {
            const t0 = performance.now();
            await model.predict(input);
            times.push(performance.now() - t0);
          }
          model.dispose();
          times.sort((a, b) => a - b);
          return { loadMs: info.loadMs, predictMs: times[Math.floor(times.length / 2)], backend: info.backend, variant: info.variant };
        }, { url: `/models/${t.model}/${t.version}/manifest.json`, variant: file.variant, backend, runs: RUNS });
        await page.close();
        if (r.variant !== file.variant || r.backend !== backend) throw new Error(`asked for ${file.variant} on ${backend}, got ${r.variant} on ${r.backend}`);
        (t.latency[file.variant] ??= {})[backend] = r;
        console.error(`${t.model} ${file.variant} ${backend}: load ${r.loadMs} ms, predict ${r.predictMs.toFixed(1)} ms`);
      }
    }
  }
} finally {
  await browser.close();
  server.stop();
  copy.remove();
}

const pct = (/** @type {number} */ v) => `${(100 * v).toFixed(2)}%`;
const md = [
  '# Compressed weights variants, measured',
  '',
  `Written by \`node bench/compression.mjs\` on ${new Date().toISOString().slice(0, 10)}: \`burn-edge compress\` made each model's`,
  'variants, and headless Chromium loaded each one by name through the package\'s loader in the same run. Latency:',
  `median of ${RUNS} predictions of one example after the load (the page's own clock), and the load itself`,
  '(`info().loadMs`: manifest, download, verification, session, warm-up). WebGPU is SwiftShader here (a CPU',
  'emulation): read ratios, not absolute times. Every variant computes in f32 today (int8 and f16 are widened',
  'as they load), so the latency columns show what the variants do *not* change yet.',
  '',
];
/** @type {any[]} */
const json = [];
for (const t of tables) {
  const reference = t.manifest.files[0];
  md.push(`## ${t.model} (${t.manifest.metrics.dataset}, ${t.manifest.metrics.samples} labelled examples)`, '');
  md.push(`| variant | bytes | of f32 | brotli -q 11 | accuracy | top-1 agreement with f32 | ${backends.map((b) => `${b}: load / predict`).join(' | ')} |`);
  md.push(`|---|---|---|---|---|---|${backends.map(() => '---|').join('')}`);
  for (const f of t.manifest.files) {
    const e = f.evaluation ?? { accuracy: t.manifest.metrics.accuracy, agreement: 1, samples: t.manifest.metrics.samples };
    const row = { model: t.model, variant: f.variant, bytes: f.size, brotli: t.brotli[f.variant], ofReference: f.size / reference.size, accuracy: e.accuracy,
      agreement: e.agreement, latency: t.latency[f.variant] };
    json.push(row);
    md.push(`| ${f.variant} | ${f.size} | ${pct(row.ofReference)} | ${row.brotli} | ${pct(e.accuracy)} | ${pct(e.agreement)} | ` +
      backends.map((b) => { const l = row.latency?.[b]; return l ? `${l.loadMs} ms / ${l.predictMs.toFixed(1)} ms` : '-'; }).join(' | ') + ' |');
  }
  md.push('', '```text', t.cli, '```', '');
}
writeFileSync('COMPRESSION.md', md.join('\n'));
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/compression.json', JSON.stringify({ date: new Date().toISOString(), runs: RUNS, backends, rows: json }, null, 2) + '\n');
console.log(md.join('\n'));
