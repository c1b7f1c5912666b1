// Hybrid routing end to end against the real server (its /v1/predict endpoint and its CDN) in
// Chromium: with the weights' download held back, `route: 'auto'` returns and answers the first
// prediction from the cloud before the weights arrive, then the edge takes over (no more
// requests to the server), with outputs equal to the cloud's; with the server's endpoint
// unreachable `auto` serves from the edge; a warm-up over `cloudBudgetMs` keeps the cloud; a
// `route: 'cloud'` batch goes to the server in chunks; every inference is tagged with its route.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, LOOPBACK_CONNECT } from './harness.mjs';
import { freePort } from './cdn-harness.mjs';

const TIMEOUT = { timeout: 180_000 };
const HOLD_MS = 4000;
const env = serverAndBrowser({ args: LOOPBACK_CONNECT });

/**
 * A fresh page of the server's origin whose weight downloads are held `holdMs`; counts predict requests.
 * @param {number} holdMs
 */
async function openPage(holdMs) {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  /** @type {{ t: number }[]} */
  const weights = [];
  const predicts = { n: 0 };
  await context.route('**/*.bpk', async (route) => {
    await new Promise((r) => setTimeout(r, holdMs));
    weights.push({ t: Date.now() });
    await route.continue();
  });
  context.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin === new URL(env.server.url).origin && u.pathname.startsWith('/v1/predict/')) predicts.n += 1;
  });
  await page.goto(`${env.server.url}dev-key.json`);
  return { context, page, weights, predicts };
}

/**
 * Loads MNIST with `options` in the page and predicts an input once right away; the times are
 * from the loadModel call (ms). The events recorded go to `window.events`.
 * @param {import('playwright-core').Page} page
 * @param {Record<string, unknown>} options
 */
function loadAndPredict(page, options) {
  return page.evaluate(async (opts) => {
    const w = /** @type {any} */ (window);
    const { loadModel } = await import('/lib/index.js');
    const publicKey = (await (await fetch('/dev-key.json')).json()).publicKey;
    w.events = [];
    const telemetry = { enabled: true, installId: null, record: (/** @type {string} */ name, /** @type {any} */ a) => w.events.push({ name, ...a }),
      flush: async () => {}, feedback() {}, setModel() {}, shutdown: async () => {} };
    let seed = 5;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    w.input = Float32Array.from({ length: 784 }, rand);
    const t0 = performance.now();
    w.model = await loadModel({ channelUrl: '/models/mnist/channel.json', publicKey, backend: 'cpu', telemetry,
      cloud: { url: location.origin, key: 'demo-key' }, ...opts });
    const loadedMs = performance.now() - t0;
    const routeAtLoad = w.model.info().route;
    // Image preparation needs the runtime only, not the weights.
    const rgba = new Uint8ClampedArray(56 * 56 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 7) % 256));
    const preparedLength = (await w.model.prepareDigit(rgba, 56, 56)).length;
    const first = await w.model.predict(w.input);
    return { loadedMs, firstMs: performance.now() - t0, routeAtLoad, preparedLength, first: [...first] };
  }, options);
}

/** Waits until the page's model serves from the edge, then predicts the same input there. */
async function onEdge(/** @type {import('playwright-core').Page} */ page) {
  await page.waitForFunction(() => /** @type {any} */ (window).model.info().route.current === 'edge', null, { timeout: 60_000 });
  return page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    const out = [...await w.model.predict(w.input)];
    return { out, info: w.model.info() };
  });
}

test('auto: the first prediction comes from the cloud before the weights arrive, later ones from the edge', TIMEOUT, async () => {
  const { context, page, weights, predicts } = await openPage(HOLD_MS);
  try {
    const r = await loadAndPredict(page, { route: 'auto' });
    console.log(`route auto, weights held ${HOLD_MS} ms: loadModel returned after ${r.loadedMs.toFixed(0)} ms, ` +
      `first prediction (cloud) after ${r.firstMs.toFixed(0)} ms`);
    assert.equal(r.routeAtLoad.mode, 'auto');
    assert.equal(r.routeAtLoad.current, 'cloud');
    assert.match(r.routeAtLoad.reason, /not ready/);
    assert.ok(r.firstMs < HOLD_MS, `first prediction after ${r.firstMs} ms, before the weights (${HOLD_MS} ms)`);
    assert.equal(r.preparedLength, 784, 'prepareDigit ran before the weights arrived');
    assert.equal(weights.length, 0, 'the weights had not arrived when the cloud answered');
    const cloudRequests = predicts.n;
    assert.ok(cloudRequests >= 2, 'the probe and the first prediction went to the server');
    const edge = await onEdge(page);
    assert.equal(weights.length, 1);
    assert.deepEqual(edge.info.route, { mode: 'auto', current: 'edge', reason: 'the edge is ready' });
    assert.equal(edge.info.backend, 'cpu');
    assert.ok(edge.info.files.length >= 1, 'info() describes the edge session now');
    assert.equal(predicts.n, cloudRequests, 'the edge prediction did not go to the server');
    const diff = Math.max(...edge.out.map((v, i) => Math.abs(v - r.first[i])));
    console.log(`cloud vs edge on the same input: max |diff| = ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-5, `cloud and edge differ by ${diff}`);
    const events = await page.evaluate(() => /** @type {any} */ (window).events);
    const routes = events.filter((/** @type {any} */ e) => e.name === 'burn_edge.inference').map((/** @type {any} */ e) => e['burn_edge.route']);
    assert.deepEqual(routes, ['cloud', 'edge']);
    const loads = events.filter((/** @type {any} */ e) => e.name === 'burn_edge.model.load').map((/** @type {any} */ e) => e['burn_edge.route']);
    assert.deepEqual(loads, ['cloud', 'edge'], 'a load event for the cloud handle and one when the edge was ready');
  } finally {
    await context.close();
  }
});

test('auto with the server\'s endpoint unreachable: served from the edge', TIMEOUT, async () => {
  const { context, page, predicts } = await openPage(0);
  try {
    const port = await freePort();
    const r = await loadAndPredict(page, { route: 'auto', cloud: { url: `http://127.0.0.1:${port}/`, key: 'demo-key' } });
    assert.equal(r.routeAtLoad.current, 'edge');
    assert.match(r.routeAtLoad.reason, /cloud is unreachable/);
    assert.equal(r.first.length, 10);
    assert.equal(predicts.n, 0);
    const events = await page.evaluate(() => /** @type {any} */ (window).events);
    assert.deepEqual(events.filter((/** @type {any} */ e) => e.name === 'burn_edge.inference').map((/** @type {any} */ e) => e['burn_edge.route']), ['edge']);
  } finally {
    await context.close();
  }
});

test('auto with a warm-up over cloudBudgetMs keeps the cloud; route cloud sends a batch to the server in chunks', TIMEOUT, async () => {
  const { context, page, predicts } = await openPage(0);
  try {
    const r = await loadAndPredict(page, { route: 'auto', cloudBudgetMs: 0 });
    await page.waitForFunction(() => /** @type {any} */ (window).model.info().files.length > 0, null, { timeout: 60_000 });
    const route = await page.evaluate(() => /** @type {any} */ (window).model.info().route);
    assert.equal(route.current, 'cloud');
    assert.match(route.reason, /too slow: its warm-up prediction took \d+ ms, over cloudBudgetMs \(0 ms\)/);
    assert.equal(r.first.length, 10);

    const before = predicts.n;
    const batch = await page.evaluate(async () => {
      const w = /** @type {any} */ (window);
      const { loadModel } = await import('/lib/index.js');
      const publicKey = (await (await fetch('/dev-key.json')).json()).publicKey;
      const cloud = await loadModel({ channelUrl: '/models/mnist/channel.json', publicKey, route: 'cloud', cloud: { url: location.origin, key: 'demo-key' } });
      const inputs = Array.from({ length: 20 }, (_, i) => new Float32Array(784).fill(i / 20));
      const progress = [];
      const out = await cloud.predictBatch(inputs, { chunkSize: 8, onProgress: (/** @type {any} */ p) => progress.push(p.done) });
      const edge = await w.model.predictBatch(inputs); // the first handle, on the cloud too (budget 0)
      const info = cloud.info();
      return { n: out.length, progress, route: info.route, files: info.files.length, outs: out.map((/** @type {Float32Array} */ o) => [...o]),
        edge: edge.map((/** @type {Float32Array} */ o) => [...o]) };
    });
    assert.equal(batch.n, 20);
    assert.deepEqual(batch.progress, [8, 16, 20]);
    assert.deepEqual(batch.route, { mode: 'cloud', current: 'cloud', reason: 'route "cloud"' });
    assert.equal(batch.files, 0, 'route cloud downloads no weights');
    assert.ok(predicts.n - before >= 3 + 1, 'three chunks from the cloud handle, and the other handle\'s batch');
  } finally {
    await context.close();
  }
});
