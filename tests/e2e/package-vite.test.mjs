// The npm package as a web developer gets it: `npm pack`, installed from the tarball into a fresh
// Vite app (vite from the npm registry), built, previewed and predicting in Chromium; and the
// unpacked tarball imported through an import map by a plain page with no bundler. Both load
// MNIST from the repo's dev server (another origin) with the dev key pinned.
// Needs the npm registry (CI has it); fails with a clear message without it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompressSync } from 'node:zlib';
import { launchBrowser, startServer } from './harness.mjs';
import { freePort } from './cdn-harness.mjs';

const run = promisify(execFile);
/** Pinned, so the test sees the same bundler every run. */
const VITE = '8.4.0';
const TIMEOUT = { timeout: 180_000 };
const npm = (/** @type {string[]} */ args, /** @type {string} */ cwd) =>
  run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, maxBuffer: 64 << 20 });

/** The app: loads MNIST, draws a "1" and predicts it; the outcome lands on <body>. */
const MAIN = `import { loadModel } from 'burn-edge';

async function main() {
  const params = new URLSearchParams(location.search);
  const model = await loadModel({ channelUrl: params.get('channel'), publicKey: params.get('key'), backend: 'cpu',
    runtimeBase: params.get('runtimeBase') ?? undefined });
  const canvas = new OffscreenCanvas(280, 280);
  const g = canvas.getContext('2d');
  g.fillStyle = '#000';
  g.fillRect(0, 0, 280, 280);
  g.strokeStyle = '#fff';
  g.lineWidth = 28;
  g.lineCap = 'round';
  g.beginPath();
  g.moveTo(140, 50);
  g.lineTo(140, 230);
  g.stroke();
  const probs = await model.predict(await model.prepareDigit(g.getImageData(0, 0, 280, 280).data, 280, 280));
  document.body.dataset.backend = model.info().backend;
  document.body.dataset.digit = String(probs.indexOf(Math.max(...probs)));
}
main().catch((err) => { document.body.dataset.error = String(err?.stack ?? err); });
`;
const html = (/** @type {string} */ head) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>burn-edge app</title>${head}</head>` +
  '<body><script type="module" src="./main.js"></script></body></html>\n';

/** @type {string} */
let tmp;
/** @type {string} */
let tarball;
/** @type {{ url: string, stop: () => void }} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {(() => void)[]} */
const stops = [];

before(async () => {
  try {
    await run('npm', ['view', `vite@${VITE}`, 'version'], { timeout: 30_000 });
  } catch (err) {
    throw new Error(`the npm registry is unreachable (npm view vite@${VITE} failed): this test installs vite from it. ${err}`);
  }
  tmp = mkdtempSync(join(tmpdir(), 'burn-edge-package-'));
  const packed = JSON.parse((await npm(['pack', '--json', '--pack-destination', tmp], process.cwd())).stdout);
  tarball = join(tmp, packed[0].filename);
  [server, browser] = await Promise.all([startServer(), launchBrowser({ webgpu: false })]);
});
after(async () => {
  for (const stop of stops) stop();
  await browser?.close();
  server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/**
 * Opens `url` with the model's channel and the dev key and waits for the app's outcome.
 * @param {string} url
 * @param {Record<string, string>} [extra] more query parameters
 * @param {string[]} [wasmRequests] filled with the URLs of the wasm modules fetched
 */
async function predictAt(url, extra = {}, wasmRequests = []) {
  const key = JSON.parse(readFileSync('www/dev-key.json', 'utf8')).publicKey;
  const page = await browser.newPage();
  const errors = /** @type {string[]} */ ([]);
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => { if (r.url().endsWith('.wasm')) wasmRequests.push(r.url()); });
  const query = new URLSearchParams({ channel: `${server.url}models/mnist/channel.json`, key, ...extra });
  await page.goto(`${url}?${query}`);
  await page.waitForSelector('body[data-digit], body[data-error]', { state: 'attached', timeout: 60_000 });
  const result = await page.evaluate(() => ({ ...document.body.dataset }));
  await page.close();
  assert.equal(result.error, undefined, `the app failed: ${result.error}`);
  assert.deepEqual(errors, []);
  return result;
}

/**
 * Waits for a child's stdout to print its local URL.
 * @param {import('node:child_process').ChildProcess} child
 * @returns {Promise<string>}
 */
const urlOf = (child) => new Promise((resolve, reject) => {
  let out = '';
  child.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
  child.stdout?.on('data', (chunk) => {
    out += chunk;
    const match = out.replace(/\x1b\[[0-9;]*m/g, '').match(/http:\/\/127\.0\.0\.1:\d+\/?/);
    if (match) resolve(match[0].endsWith('/') ? match[0] : `${match[0]}/`);
  });
});

test('the tarball holds the JS shell, its types and both runtime builds with their pins, nothing else', async () => {
  const { stdout } = await run('tar', ['tzf', tarball]);
  const files = stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
  for (const f of ['www/lib/index.js', 'www/lib/index.d.ts', 'www/lib/worker.js', 'pkg/cpu/integrity.json',
    'pkg/cpu/burn_edge_relaxed_bg.wasm', 'pkg/webgpu/burn_edge.js', 'pkg/webgpu/integrity.json']) assert.ok(files.includes(f), f);
  const stray = files.filter((f) => !/^(www\/lib\/|pkg\/(cpu|webgpu)\/)/.test(f) && !['package.json', 'README.md'].includes(f));
  assert.deepEqual(stray, []);
});

test(`a fresh Vite ${VITE} app installs the tarball, builds, and its preview predicts in Chromium`, TIMEOUT, async (t) => {
  const app = join(tmp, 'vite-app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module',
    dependencies: { 'burn-edge': `file:${tarball}` }, devDependencies: { vite: VITE } }, null, 2));
  writeFileSync(join(app, 'index.html'), html(''));
  writeFileSync(join(app, 'main.js'), MAIN);
  await npm(['install'], app);
  const vite = join(app, 'node_modules/vite/bin/vite.js');
  await run(process.execPath, [vite, 'build'], { cwd: app });
  // The bundler found the worker and the runtime through their literal URLs and emitted them.
  const assets = readdirSync(join(app, 'dist/assets'));
  assert.ok(assets.some((f) => /^worker-.*\.js$/.test(f)), `no worker chunk in ${assets}`);
  assert.equal(assets.filter((f) => f.endsWith('.wasm')).length, 3, `the three wasm modules: ${assets}`);
  // The optional features are chunks of their own, loaded only when used (the quickstart uses
  // none). Telemetry is not: the package also exports createTelemetry statically, so a bundler
  // keeps telemetry.js in the entry chunk.
  const js = assets.filter((f) => f.endsWith('.js') && !f.startsWith('burn_edge'));
  for (const lazy of ['backend-choice', 'route', 'interleave', 'image', 'rollout-watch', 'pool', 'select-rules', 'offline', 'evict',
    'engine']) {
    assert.ok(js.some((f) => f.startsWith(`${lazy}-`)), `no ${lazy} chunk in ${js}`);
  }
  // What the shell weighs once bundled and minified: the quickstart's core (the app's chunk and
  // the worker's, less the glue) and the lazy chunks.
  const brotliOf = (/** @type {string[]} */ files) => brotliCompressSync(Buffer.concat(files.map((f) => readFileSync(join(app, 'dist/assets', f))))).length;
  const core = js.filter((f) => /^(index|worker)-/.test(f));
  t.diagnostic(`JS shell bundled by Vite, minified, brotli: core ${brotliOf(core)} bytes (${core.join(', ')}); ` +
    `lazy chunks ${brotliOf(js.filter((f) => !core.includes(f)))} bytes`);
  const port = await freePort();
  const preview = spawn(process.execPath, [vite, 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    { cwd: app, stdio: ['ignore', 'pipe', 'inherit'] });
  stops.push(() => preview.kill());
  const url = await urlOf(preview);
  const result = await predictAt(url);
  assert.equal(result.backend, 'cpu');
  assert.equal(result.digit, '1');
});

test('a plain page imports the unpacked tarball through an import map, no bundler, and predicts; runtimeBase still moves the runtime', TIMEOUT, async () => {
  const site = join(tmp, 'plain');
  mkdirSync(site);
  await run('tar', ['xzf', tarball, '-C', site]);
  writeFileSync(join(site, 'index.html'),
    html('<script type="importmap">{ "imports": { "burn-edge": "./package/www/lib/index.js" } }</script>'));
  writeFileSync(join(site, 'main.js'), MAIN);
  const types = /** @type {Record<string, string>} */ ({ '.html': 'text/html', '.js': 'text/javascript',
    '.json': 'application/json', '.wasm': 'application/wasm' });
  const http = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    try {
      const body = readFileSync(join(site, path.endsWith('/') ? `${path}index.html` : path));
      res.writeHead(200, { 'content-type': types[extname(path) || '.html'] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', () => resolve(null)));
  stops.push(() => http.close());
  const { port } = /** @type {import('node:net').AddressInfo} */ (http.address());
  const origin = `http://127.0.0.1:${port}/`;
  const own = /** @type {string[]} */ ([]);
  const result = await predictAt(origin, {}, own);
  assert.equal(result.backend, 'cpu');
  assert.equal(result.digit, '1');
  assert.equal(own.length, 1);
  assert.match(own[0], new RegExp(`^${origin}package/pkg/cpu/burn_edge(_relaxed)?_bg\\.wasm$`));
  // runtimeBase still moves the runtime elsewhere (here the dev server's pkg/); the pins stay the package's.
  const moved = /** @type {string[]} */ ([]);
  const elsewhere = await predictAt(origin, { runtimeBase: `${server.url}pkg/` }, moved);
  assert.equal(elsewhere.digit, '1');
  assert.deepEqual(moved.map((u) => u.replace(/_relaxed/, '')), [`${server.url}pkg/cpu/burn_edge_bg.wasm`]);
});
