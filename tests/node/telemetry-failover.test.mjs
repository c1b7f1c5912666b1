// The telemetry client with several collectors (www/lib/telemetry-endpoints.js): a batch moves
// on from a collector that is down, slow or failing, the client stays with the one that took it
// and tries the first again later; a 429 is not a reason to move; a batch no collector takes
// waits in the queue and nothing is lost. Collectors here are small HTTP servers on loopback
// whose answers each case sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createTelemetry } from '../../www/lib/telemetry.js';
import { endpointPool } from '../../www/lib/telemetry-endpoints.js';

/**
 * A collector answering `status` (null: never answers); keeps the event ids it took (2xx).
 * @param {number | null} status
 */
async function collector(status) {
  const c = { status, hits: 0, /** @type {string[]} */ ids: [], url: '', close: async () => {} };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      c.hits += 1;
      if (c.status === null) return;
      if (c.status < 300) {
        for (const r of JSON.parse(body).resourceLogs[0].scopeLogs[0].logRecords) {
          c.ids.push(r.attributes.find((/** @type {any} */ a) => a.key === 'event.id').value.stringValue);
        }
      }
      res.writeHead(c.status, c.status === 429 ? { 'retry-after': '1' } : {});
      res.end('{}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(null)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  c.url = `http://127.0.0.1:${port}/`;
  c.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve(null)); });
  return c;
}

let sent = 0;
/** Records one inference with a known id and sends it at once; returns the id. @param {ReturnType<typeof createTelemetry>} t */
async function send(t) {
  const id = `e${sent++}`;
  t.record('burn_edge.inference', { 'event.id': id, 'burn_edge.model.name': 'm', 'burn_edge.model.version': '1.0.0',
    'burn_edge.backend': 'cpu', 'burn_edge.latency_ms': 1, 'burn_edge.batch_size': 1, 'burn_edge.predicted_class': 0,
    'burn_edge.confidence': 1 });
  await t.flush();
  return id;
}

// The client logs each failed attempt with console.debug: expected here, and noisy.
console.debug = () => {};

const options = { app: 'test', batchSize: 1, flushIntervalMs: 60_000, retryDelayMs: 1, honorGlobalPrivacyControl: false };

test('the pool tries the collector in use, then the others; the first again once its time has come', () => {
  let now = 0;
  const pool = endpointPool(3, { retryPrimaryMs: 100, now: () => now });
  assert.deepEqual(pool.order(), [0, 1, 2]);
  pool.failed(0);
  assert.equal(pool.active, 1);
  pool.succeeded(1);
  assert.deepEqual(pool.order(), [1, 2, 0], 'the first waits its turn');
  now = 100;
  assert.deepEqual(pool.order(), [0, 1, 2], 'then it is tried first');
  pool.failed(0);
  assert.equal(pool.active, 1, 'a failed retry of the first keeps the one in use');
  assert.deepEqual(pool.order(), [1, 2, 0]);
  pool.failed(1);
  pool.succeeded(2);
  assert.deepEqual(pool.order(), [2, 0, 1]);
});

test('a batch fails over from a collector that answers 503, is down or never answers; the client sticks to the one that took it', async () => {
  const [busy, silent, good] = await Promise.all([collector(503), collector(null), collector(200)]);
  const down = await collector(200);
  await down.close(); // its port now refuses connections
  try {
    const t = createTelemetry({ ...options, endpoint: [busy.url, down.url, silent.url], endpoints: [good.url], timeoutMs: 300 });
    const first = await send(t);
    assert.deepEqual(good.ids, [first]);
    assert.equal(busy.hits, 1);
    assert.equal(silent.hits, 1, 'the silent one was asked, then timed out');
    const second = await send(t);
    assert.deepEqual(good.ids, [first, second]);
    assert.deepEqual([busy.hits, silent.hits], [1, 1], 'the next batch went straight to the one in use');
    await t.shutdown();
  } finally {
    await Promise.all([busy.close(), silent.close(), good.close()]);
  }
});

test('the first collector is tried again after retryPrimaryMs and, once it takes batches, is used again', async () => {
  const [primary, secondary] = await Promise.all([collector(500), collector(200)]);
  try {
    const t = createTelemetry({ ...options, endpoint: [primary.url, secondary.url], retryPrimaryMs: 150 });
    const a = await send(t);
    assert.deepEqual([primary.hits, secondary.ids], [1, [a]]);
    primary.status = 200;
    const b = await send(t);
    assert.deepEqual([primary.hits, secondary.ids], [1, [a, b]], 'not before its time');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const c = await send(t);
    const d = await send(t);
    assert.deepEqual(primary.ids, [c, d], 'back on the first, and staying there');
    assert.deepEqual(secondary.ids, [a, b]);
    await t.shutdown();
  } finally {
    await Promise.all([primary.close(), secondary.close()]);
  }
});

test('a 429 waits instead of moving on; a batch no collector takes stays queued until one does', async () => {
  const [limited, other] = await Promise.all([collector(429), collector(503)]);
  try {
    const t = createTelemetry({ ...options, endpoint: [limited.url, other.url] });
    const a = await send(t);
    assert.deepEqual([limited.hits, other.hits], [1, 0], 'rate-limited: the same fleet would say the same');
    limited.status = 503;
    // After the Retry-After second, the 503 moves the batch on to the other one.
    for (let i = 0; i < 300 && other.hits === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      await t.flush();
    }
    assert.ok(limited.hits >= 2);
    assert.ok(other.hits >= 1, 'a 503 moves on');
    assert.deepEqual([limited.ids, other.ids], [[], []]);
    other.status = 200;
    for (let i = 0; i < 100 && other.ids.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      await t.flush();
    }
    assert.deepEqual(other.ids, [a], 'the queued batch arrived once a collector took it');
    await t.shutdown();
  } finally {
    await Promise.all([limited.close(), other.close()]);
  }
});

test('a single endpoint string still works, and no endpoint disables the client', async () => {
  const c = await collector(200);
  try {
    const t = createTelemetry({ ...options, endpoint: c.url });
    const id = await send(t);
    assert.deepEqual(c.ids, [id]);
    await t.shutdown();
    assert.equal(createTelemetry({ ...options }).enabled, false);
    assert.equal(createTelemetry({ ...options, endpoint: [] }).enabled, false);
  } finally {
    await c.close();
  }
});
