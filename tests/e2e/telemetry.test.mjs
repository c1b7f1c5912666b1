// Telemetry end to end: the demo app (www/index.html with ?collector=...) in real
// Chromium sends OTLP/HTTP JSON logs to a capture server standing in for the collector. Each
// test gets a fresh browser context (its own localStorage and IndexedDB) and its own capture.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startServer, launchBrowser, LOOPBACK_CONNECT } from './harness.mjs';
import { freePort } from './cdn-harness.mjs';

const TIMEOUT = { timeout: 60_000 };
const KEY = 'test-ingest-key';

/** @type {{ url: string, stop: () => void }} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
before(async () => {
  [server, browser] = await Promise.all([startServer(LOOPBACK_CONNECT), launchBrowser({ webgpu: false })]);
});
after(async () => {
  await browser?.close();
  server?.stop();
});

/**
 * @typedef {{ at: number, path: string, query: URLSearchParams, headers: import('node:http').IncomingHttpHeaders,
 *             body: any, status: number }} Capture
 */

/**
 * A stand-in collector on 127.0.0.1 (a given port, or a free one): CORS and CORP for the
 * cross-origin-isolated page, records every POST; `answers` is a list of statuses to give, in
 * order, before it answers 200 `{}`.
 * @param {number} [port]
 */
function startCollector(port = 0) {
  /** @type {Capture[]} */
  const posts = [];
  /** @type {{ status: number, headers?: Record<string, string> }[]} */
  const answers = [];
  const cors = {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'POST, OPTIONS',
    'access-control-allow-headers': 'content-type, x-burn-edge-key',
    'access-control-max-age': '600',
    'access-control-expose-headers': 'retry-after',
    'cross-origin-resource-policy': 'cross-origin',
  };
  const http = createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors);
      res.end();
      return;
    }
    let text = '';
    req.on('data', (c) => { text += c; });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const answer = answers.shift() ?? { status: 200 };
      let body = null;
      try { body = JSON.parse(text); } catch { /* recorded as null */ }
      posts.push({ at: Date.now(), path: url.pathname, query: url.searchParams, headers: req.headers, body, status: answer.status });
      res.writeHead(answer.status, { ...cors, 'content-type': 'application/json', ...answer.headers });
      res.end(answer.status === 200 ? '{}' : JSON.stringify({ error: `answered ${answer.status}` }));
    });
  });
  return new Promise((resolve) => {
    http.listen(port, '127.0.0.1', () => {
      const { port: bound } = /** @type {import('node:net').AddressInfo} */ (http.address());
      resolve({
        url: `http://127.0.0.1:${bound}`, posts, answers,
        /** Every log record received in a 200 answer, in arrival order. */
        delivered: () => posts.filter((p) => p.status === 200).flatMap(records),
        stop: () => new Promise((done) => { http.closeAllConnections(); http.close(() => done(undefined)); }),
      });
    });
  });
}

/** @param {Capture} post */
const records = (post) => post.body?.resourceLogs?.flatMap((/** @type {any} */ r) =>
  r.scopeLogs.flatMap((/** @type {any} */ s) => s.logRecords)) ?? [];
/** @param {any} record @param {string} key */
const attr = (record, key) => record.attributes.find((/** @type {any} */ a) => a.key === key)?.value;
/** @param {any} record */
const eventId = (record) => attr(record, 'event.id')?.stringValue;

/**
 * Waits until `check()` is truthy.
 * @param {() => unknown} check
 * @param {string} what
 * @param {number} [ms]
 */
async function until(check, what, ms = 20_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Opens the demo app with telemetry to `collector` and waits for the model.
 * @param {import('playwright-core').Page} page
 * @param {string} collector
 * @param {string} [extra] more query parameters
 */
async function openDemo(page, collector, extra = '') {
  const query = `sw=0&collector=${encodeURIComponent(collector)}&key=${KEY}${extra}`;
  await page.goto(`${server.url}index.html?${query}`);
  await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 40_000 });
  const error = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.error);
  assert.equal(error, null);
}

/**
 * Classifies samples; returns the digits and the prediction ids the model handed out.
 * @param {import('playwright-core').Page} page
 * @param {string[]} digits
 */
function classify(page, digits) {
  return page.evaluate(async (ds) => {
    const demo = /** @type {any} */ (window).burnEdgeDemo;
    const out = [];
    for (const d of ds) out.push({ digit: (await demo.classifySample(d)).digit, id: demo.handle.lastPredictionId });
    return out;
  }, digits);
}

/** @param {import('playwright-core').Page} page */
const flush = (page) => page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.telemetry.flush());

/** Batches waiting in the page's IndexedDB queue: their record ids. @param {import('playwright-core').Page} page */
function queuedIds(page) {
  return page.evaluate(() => new Promise((resolve) => {
    const open = indexedDB.open('burn-edge-telemetry');
    open.onerror = () => resolve([]);
    open.onsuccess = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains('batches')) { db.close(); resolve([]); return; }
      const get = db.transaction('batches').objectStore('batches').getAll();
      get.onsuccess = () => {
        db.close();
        const logs = get.result.flatMap((b) => b.body.resourceLogs).flatMap((/** @type {any} */ r) => r.scopeLogs)
          .flatMap((/** @type {any} */ s) => s.logRecords);
        resolve(logs.map((/** @type {any} */ l) => l.attributes.find((/** @type {any} */ a) => a.key === 'event.id').value.stringValue));
      };
    };
  }));
}

/** What a disabled page left behind: install id, telemetry databases. @param {import('playwright-core').Page} page */
function traces(page) {
  return page.evaluate(async () => ({
    installId: localStorage.getItem('burn-edge.install-id'),
    databases: (await indexedDB.databases()).map((d) => d.name).filter((n) => n === 'burn-edge-telemetry'),
    enabled: /** @type {any} */ (window).burnEdgeDemo.telemetry.enabled,
  }));
}

test('predictions arrive as OTLP logs with the vocabulary, unique ids, the model context, and no raw input', TIMEOUT, async () => {
  const collector = await startCollector();
  const context = await browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    await openDemo(page, collector.url, '&flushMs=60000');
    const predictions = await classify(page, ['1', '7', '0']);
    const info = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
    await page.evaluate((id) => /** @type {any} */ (window).burnEdgeDemo.handle.feedback(id, 7), predictions[1].id);
    await flush(page);
    await until(() => collector.delivered().filter((r) => r.eventName === 'burn_edge.inference').length === 3, '3 inferences');

    for (const post of collector.posts) {
      assert.equal(post.path, '/v1/logs');
      // The key goes in the header; only a beacon (which cannot set one) puts it in the URL.
      assert.equal(post.query.get('key'), null);
      assert.equal(post.headers['x-burn-edge-key'], KEY);
      assert.match(String(post.headers['content-type']), /^application\/json/);
      const res = new Map(post.body.resourceLogs[0].resource.attributes.map((/** @type {any} */ a) => [a.key, a.value]));
      assert.deepEqual(res.get('service.name'), { stringValue: 'burn-edge-web' });
      assert.deepEqual(res.get('burn_edge.app'), { stringValue: 'demo' });
      assert.deepEqual(res.get('burn_edge.runtime.version'), { stringValue: info.runtimeVersion });
      // A coarse browser (name and major version) and OS family, never the user-agent string.
      assert.match(res.get('user_agent.original').stringValue, /^(HeadlessChrome|Chromium|Chrome) \d+$/);
      assert.deepEqual(res.get('browser.platform'), { stringValue: 'Linux' });
      const installId = await page.evaluate(() => localStorage.getItem('burn-edge.install-id'));
      assert.deepEqual(res.get('burn_edge.install_id'), { stringValue: installId });
      assert.equal(post.body.resourceLogs[0].scopeLogs[0].scope.name, 'burn-edge');
      // The raw input is 784 floats per digit: nothing that large, and no array values, leave the page.
      assert.ok(JSON.stringify(post.body).length < 16_000, 'small batches');
      for (const r of records(post)) {
        for (const a of r.attributes) assert.ok(!('arrayValue' in a.value) && !('bytesValue' in a.value), a.key);
      }
    }
    const all = collector.delivered();
    const ids = all.map(eventId);
    assert.equal(new Set(ids).size, ids.length, 'every event id is unique');
    const names = all.map((r) => r.eventName);
    assert.equal(names.filter((n) => n === 'burn_edge.model.load').length, 1);
    assert.equal(names.filter((n) => n === 'burn_edge.feedback').length, 1);
    assert.equal(names.filter((n) => n === 'burn_edge.backend.fallback').length, info.skipped.length,
      'one fallback event per backend that auto skipped');

    const load = all.find((r) => r.eventName === 'burn_edge.model.load');
    assert.deepEqual(attr(load, 'burn_edge.model.name'), { stringValue: info.model });
    assert.deepEqual(attr(load, 'burn_edge.model.version'), { stringValue: info.version });
    assert.deepEqual(attr(load, 'burn_edge.backend'), { stringValue: 'cpu' });
    assert.deepEqual(attr(load, 'burn_edge.load.source'), { stringValue: 'network' });
    assert.match(attr(load, 'burn_edge.load.bytes').intValue, /^[1-9]\d*$/);
    assert.ok(attr(load, 'burn_edge.load.time_to_first_prediction_ms').doubleValue > 0);

    const inferences = all.filter((r) => r.eventName === 'burn_edge.inference');
    assert.deepEqual(inferences.map((r) => attr(r, 'burn_edge.predicted_class').intValue), predictions.map((p) => String(p.digit)));
    assert.deepEqual(inferences.map((r) => attr(r, 'burn_edge.prediction_id').stringValue), predictions.map((p) => p.id));
    for (const r of inferences) {
      assert.equal(r.severityText, 'INFO');
      assert.deepEqual(attr(r, 'burn_edge.batch_size'), { intValue: '1' });
      assert.ok(attr(r, 'burn_edge.latency_ms').doubleValue > 0);
      const confidence = attr(r, 'burn_edge.confidence').doubleValue;
      assert.ok(confidence > 0 && confidence <= 1);
    }
    const feedback = all.find((r) => r.eventName === 'burn_edge.feedback');
    assert.deepEqual(attr(feedback, 'burn_edge.prediction_id'), { stringValue: predictions[1].id });
    assert.deepEqual(attr(feedback, 'burn_edge.true_label'), { intValue: '7' });
    for (const r of all.filter((x) => x.eventName === 'burn_edge.backend.fallback')) assert.equal(r.severityNumber, 13);
  } finally {
    await context.close();
    await collector.stop();
  }
});

test('hiding the page flushes what is buffered', TIMEOUT, async () => {
  const collector = await startCollector();
  const context = await browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    await openDemo(page, collector.url, '&flushMs=60000');
    await classify(page, ['1']);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(collector.posts.length, 0, 'nothing sent before the page is hidden (interval 60 s)');
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await until(() => collector.delivered().some((r) => r.eventName === 'burn_edge.inference'), 'the flush on hide');
    assert.deepEqual(collector.delivered().map((r) => r.eventName).filter((n) => n !== 'burn_edge.backend.fallback'),
      ['burn_edge.model.load', 'burn_edge.inference']);
  } finally {
    await context.close();
    await collector.stop();
  }
});

test('with the collector down events wait in IndexedDB and are all delivered, once each, when it is back', TIMEOUT, async () => {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const context = await browser.newContext({ serviceWorkers: 'block' });
  /** @type {any} */
  let collector;
  try {
    const page = await context.newPage();
    await openDemo(page, endpoint, '&flushMs=60000');
    await classify(page, ['1', '7']);
    await flush(page);
    /** @type {string[]} */
    let queued = [];
    const end = Date.now() + 10_000;
    while (Date.now() < end && (queued = /** @type {string[]} */ (await queuedIds(page))).length < 3) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(queued.length >= 3, `load and 2 inferences queued: ${queued.length}`);

    collector = await startCollector(port);
    // A new page load retries what earlier pages left in the queue.
    await page.reload();
    await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 40_000 });
    await until(() => {
      const got = new Set(collector.delivered().map(eventId));
      return queued.every((id) => got.has(id));
    }, 'every queued event delivered');
    const drained = /** @type {string[]} */ (await queuedIds(page));
    assert.deepEqual(drained, [], 'the queue is empty once delivered');
    // A little longer: no retry sends anything twice.
    await flush(page);
    await new Promise((r) => setTimeout(r, 500));
    const ids = collector.delivered().map(eventId);
    for (const id of queued) assert.equal(ids.filter((x) => x === id).length, 1, `${id} delivered once`);
    assert.equal(new Set(ids).size, ids.length, 'nothing delivered twice');
  } finally {
    await context.close();
    await collector?.stop();
  }
});

test('429 with Retry-After is retried after it; 400 is dropped', TIMEOUT, async () => {
  const collector = await startCollector();
  const context = await browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    await openDemo(page, collector.url, '&flushMs=60000');
    await classify(page, ['1']);
    collector.answers.push({ status: 429, headers: { 'retry-after': '1' } });
    await flush(page);
    await until(() => collector.posts.length >= 2, 'the retry', 10_000);
    const [first, second] = collector.posts;
    assert.equal(first.status, 429);
    assert.equal(second.status, 200);
    assert.ok(second.at - first.at >= 1000, `retried after ${second.at - first.at} ms`);
    assert.deepEqual(records(second).map(eventId), records(first).map(eventId), 'the same batch, same ids');

    collector.answers.push({ status: 400 });
    await classify(page, ['7']);
    await flush(page);
    await until(() => collector.posts.length >= 3, 'the third post', 10_000);
    const rejected = collector.posts[2];
    assert.equal(rejected.status, 400);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(collector.posts.length, 3, 'a batch answered 400 is not sent again');
    assert.deepEqual(await queuedIds(page), [], 'nor kept');
  } finally {
    await context.close();
    await collector.stop();
  }
});

test('a failed load is recorded as burn_edge.error with the error code, its URLs without query', TIMEOUT, async () => {
  const collector = await startCollector();
  const context = await browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    const query = `sw=0&collector=${encodeURIComponent(collector.url)}&key=${KEY}&flushMs=100&retries=0&retryDelay=1` +
      `&manifest=${encodeURIComponent('/models/mnist/9.9.9/manifest.json?token=s3cret#frag')}`;
    await page.goto(`${server.url}index.html?${query}`);
    await page.waitForSelector('body[data-error]', { timeout: 40_000 });
    const code = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.error.code);
    await until(() => collector.delivered().some((r) => r.eventName === 'burn_edge.error'), 'the error event');
    const error = collector.delivered().find((r) => r.eventName === 'burn_edge.error');
    assert.equal(error.severityNumber, 17);
    assert.equal(error.severityText, 'ERROR');
    assert.deepEqual(attr(error, 'error.type'), { stringValue: code });
    const message = attr(error, 'error.message').stringValue;
    const shown = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.error.message);
    assert.match(shown, /s3cret/, 'the page itself gets the whole URL');
    assert.match(message, /\/models\/mnist\/9\.9\.9\/manifest\.json/, message);
    assert.doesNotMatch(message, /s3cret|token=|#frag/, message);
  } finally {
    await context.close();
    await collector.stop();
  }
});

for (const [name, extra, init] of /** @type {[string, string, string | null][]} */ ([
  ['opt-out', '&optOut=1', null],
  ['Global Privacy Control', '', "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true })"],
  ['sampleRate 0', '&sampleRate=0', null],
])) {
  test(`${name}: nothing is sent or stored`, TIMEOUT, async () => {
    const collector = await startCollector();
    const context = await browser.newContext({ serviceWorkers: 'block' });
    try {
      if (init) await context.addInitScript(init);
      const page = await context.newPage();
      await openDemo(page, collector.url, `${extra}&flushMs=100`);
      const predictions = await classify(page, ['1', '7']);
      assert.deepEqual(predictions.map((p) => p.digit), [1, 7], 'predictions work as usual');
      await page.evaluate((id) => /** @type {any} */ (window).burnEdgeDemo.handle.feedback(id, 7), predictions[1].id);
      await flush(page);
      await page.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
        document.dispatchEvent(new Event('visibilitychange'));
      });
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(collector.posts.length, 0);
      assert.deepEqual(await traces(page), { installId: null, databases: [], enabled: false });
    } finally {
      await context.close();
      await collector.stop();
    }
  });
}
