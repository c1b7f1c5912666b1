// Server-side inference end to end: the sample digits (MNIST) and the sample photos
// (SqueezeNet) prepared in Chromium by the package's loadModel on the CPU build, predicted
// there, and sent as the same prepared inputs to `burn-edge serve`'s POST /v1/predict from the
// page (binary batch and JSON): the server's outputs, from the same compiled plan run natively,
// are within 1e-5 of the browser's. Then OTLP inferences tagged with burn_edge.route show as
// an edge / cloud split on the dashboard.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { startServer, launchBrowser } from './harness.mjs';

/** @type {{ url: string, stop: () => void }} */
let server;
before(async () => { server = await startServer(); });
after(() => server?.stop());

const DIGITS = new URL('../../../shared/datasets/digits/', import.meta.url);
const PHOTOS = ['fish.png', 'kitten_224.png', 'cat.jpg', 'bridge.jpg', 'coyote.jpg', 'flamingo.jpg'];

/**
 * In the page: loads `name` on the CPU build, prepares each sample (`digits`: PNG bytes as
 * base64, through prepareDigit; else photo URLs, through prepareImage), predicts each in the
 * browser, then asks the server for all of them in one binary batch and for the first as JSON.
 * @param {import('playwright-core').Page} page
 * @param {string} name
 * @param {{ digits?: string[], photos?: string[] }} samples
 */
const compare = (page, name, samples) => page.evaluate(async ({ name, samples }) => {
  const { loadModel } = await import('/lib/index.js');
  const model = await loadModel({ channelUrl: `/models/${name}/channel.json`, backend: 'cpu' });
  /** @type {Float32Array[]} */
  const inputs = [];
  for (const b64 of samples.digits ?? []) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d'));
    ctx.drawImage(bitmap, 0, 0);
    inputs.push(await model.prepareDigit(ctx.getImageData(0, 0, bitmap.width, bitmap.height).data, bitmap.width, bitmap.height));
  }
  for (const url of samples.photos ?? []) inputs.push(await model.prepareImage(await (await fetch(url)).blob()));
  /** @type {number[][]} */
  const browser = [];
  for (const x of inputs) browser.push([...await model.predict(x)]);
  const info = model.info();
  model.dispose();
  const batch = new Float32Array(inputs.reduce((n, x) => n + x.length, 0));
  inputs.reduce((at, x) => { batch.set(x, at); return at + x.length; }, 0);
  const post = async (/** @type {string} */ type, /** @type {BodyInit} */ body) => {
    const res = await fetch(`/v1/predict/${name}`, { method: 'POST', headers: { 'content-type': type, 'x-burn-edge-key': 'demo-key' }, body });
    return { status: res.status, body: await res.json() };
  };
  const binary = await post('application/octet-stream', batch);
  const json = await post('application/json', JSON.stringify({ input: [...inputs[0]] }));
  return { browser, binary, json, info, inputLength: inputs[0].length };
}, { name, samples });

/**
 * Largest |browser - server| over every output.
 * @param {number[][]} browser
 * @param {number[][]} server
 */
function maxDiff(browser, server) {
  assert.equal(server.length, browser.length);
  let max = 0;
  browser.forEach((row, i) => {
    assert.equal(server[i].length, row.length);
    row.forEach((v, j) => { max = Math.max(max, Math.abs(v - server[i][j])); });
  });
  return max;
}

for (const [name, samples] of /** @type {[string, () => { digits?: string[], photos?: string[] }][]} */ ([
  ['mnist', () => ({ digits: readdirSync(DIGITS).filter((f) => f.endsWith('.png')).sort().map((f) => readFileSync(new URL(f, DIGITS)).toString('base64')) })],
  ['squeezenet', () => ({ photos: PHOTOS.map((p) => `/samples/${p}`) })],
])) {
  test(`the server's ${name} outputs equal the browser's CPU outputs for the same inputs`, { timeout: 600_000 }, async () => {
    const browser = await launchBrowser({ webgpu: false });
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}index.html`);
      const given = samples();
      const r = await compare(page, name, given);
      const count = (given.digits ?? given.photos ?? []).length;
      assert.ok(count >= 6, `${count} samples`);
      assert.equal(r.info.backend, 'cpu');
      assert.equal(r.info.cpuKernels, 'burn-edge');
      assert.equal(r.binary.status, 200, JSON.stringify(r.binary.body));
      assert.equal(r.binary.body.model, name);
      assert.equal(r.binary.body.batch, count);
      assert.equal(r.binary.body.backend, 'cpu');
      assert.equal(r.binary.body.kernels, 'burn-edge');
      assert.equal(r.binary.body.labels.length, r.browser[0].length);
      const diff = maxDiff(r.browser, r.binary.body.outputs);
      const diffJson = maxDiff(r.browser.slice(0, 1), r.json.body.outputs);
      console.log(`${name}: ${count} samples (${r.inputLength} values each), max |browser cpu - server| = ${diff.toExponential(2)} (binary batch), ${diffJson.toExponential(2)} (JSON); server ${r.binary.body.ms.toFixed(1)} ms for the batch`);
      assert.ok(diff <= 1e-5, `${name}: the server differs from the browser by ${diff}`);
      assert.ok(diffJson <= 1e-5, `${name} (JSON): the server differs from the browser by ${diffJson}`);
      // The same top class for every sample, from either side.
      const top = (/** @type {number[]} */ p) => p.indexOf(Math.max(...p));
      assert.deepEqual(r.binary.body.outputs.map(top), r.browser.map(top));
    } finally {
      await browser.close();
    }
  });
}

/**
 * One OTLP inference record of mnist 1.0.0 on the CPU, on `route` (none: as sent before routing).
 * @param {string} id
 * @param {string | null} route
 */
const inference = (id, route) => ({
  timeUnixNano: String(Date.now() * 1e6),
  eventName: 'burn_edge.inference',
  attributes: [
    ['event.id', { stringValue: id }],
    ['burn_edge.model.name', { stringValue: 'mnist' }],
    ['burn_edge.model.version', { stringValue: '1.0.0' }],
    ['burn_edge.backend', { stringValue: 'cpu' }],
    ['burn_edge.latency_ms', { doubleValue: 3.5 }],
    ['burn_edge.batch_size', { intValue: '1' }],
    ['burn_edge.predicted_class', { intValue: '7' }],
    ['burn_edge.confidence', { doubleValue: 0.9 }],
    ...(route ? [['burn_edge.route', { stringValue: route }]] : []),
  ].map(([key, value]) => ({ key, value })),
});

test('inferences by route show as an edge / cloud split on the dashboard', async () => {
  const records = [inference('c1', 'cloud'), inference('c2', 'cloud'), inference('e1', 'edge'), inference('old', null)];
  const res = await fetch(`${server.url}v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-burn-edge-key': 'demo-key' },
    body: JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] }),
  });
  assert.equal(res.status, 200, await res.text());
  const summary = await (await fetch(`${server.url}api/telemetry/summary`, { headers: { 'x-burn-edge-read-key': 'demo-read-key' } })).json();
  assert.deepEqual(summary.routes, { cloud: 2, edge: 2 }, 'an inference without a route counts as edge');
  const browser = await launchBrowser({ webgpu: false });
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}dashboard.html#key=demo-read-key`);
    await page.waitForSelector('body[data-loaded="2"]', { timeout: 10_000 });
    assert.match(await page.textContent('#routes') ?? '', /cloud 2 \(50\.0%\) · edge 2 \(50\.0%\)/);
    assert.match(await page.textContent('section.group[data-route="cloud"] h2') ?? '', /mnist 1\.0\.0 · cpu · cloud/);
    assert.match(await page.textContent('section.group[data-route="cloud"] [data-kpi="predictions"]') ?? '', /2/);
    assert.match(await page.textContent('section.group[data-route="edge"] h2') ?? '', /mnist 1\.0\.0 · cpu · edge/);
  } finally {
    await browser.close();
  }
});
