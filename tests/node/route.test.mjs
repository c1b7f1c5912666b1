// Hybrid routing (www/lib/route.js): the cloud client speaks the predict endpoint's wire format
// (binary little-endian f32 in, JSON outputs back; field names per
// crates/formats/src/predict.rs) against a stand-in HTTP server, tells an unreachable or failing
// cloud (network, 5xx, 429) from a refused request (4xx), and the router moves between cloud and
// edge as the spec says. (Against the real server in Chromium: tests/e2e/hybrid-route.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { CloudUnavailableError, cloudClient, createRouter } from '../../www/lib/route.js';

/**
 * A stand-in endpoint: answers each request with `respond(path, headers, floats)`.
 * @param {(path: string, headers: import('node:http').IncomingHttpHeaders, floats: Float32Array) => [number, unknown]} respond
 */
function stub(respond) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const floats = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
      const [status, json] = respond(req.url ?? '', req.headers, floats);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
    resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) });
  }));
}

test('the client posts binary f32 to /v1/predict/<model>@<version> with the key and reads the outputs', async () => {
  /** @type {any} */
  let seen = null;
  const s = /** @type {any} */ (await stub((path, headers, floats) => {
    seen = { path, key: headers['x-burn-edge-key'], type: headers['content-type'], floats: [...floats] };
    const outputs = [[floats[0], 1 - floats[0]], [floats[2], 1 - floats[2]]];
    return [200, { model: 'mnist', version: '1.0.0', architecture: 'mnist-cnn', backend: 'cpu', kernels: 'burn-edge', batch: 2, outputs,
      labels: ['a', 'b'], ms: 0.5 }];
  }));
  try {
    const predict = cloudClient({ url: s.url, key: 'k1' }, 'mnist', '1.0.0');
    const r = await predict(Float32Array.from([0.25, 0, 0.5, 0]), 2);
    assert.deepEqual(seen, { path: '/v1/predict/mnist@1.0.0', key: 'k1', type: 'application/octet-stream', floats: [0.25, 0, 0.5, 0] });
    assert.deepEqual([...r.probs], [0.25, 0.75, 0.5, 0.5]);
    assert.equal(r.version, '1.0.0');
  } finally {
    await s.close();
  }
});

test('5xx, 429 and no server are "unavailable" (the edge may serve); a 4xx is the caller\'s error with the server\'s code', async () => {
  let status = 500;
  const s = /** @type {any} */ (await stub(() => [status, { error: { code: status === 400 ? 'wrong_length' : 'internal', message: 'nope' } }]));
  const predict = cloudClient({ url: s.url }, 'mnist', '1.0.0');
  try {
    await assert.rejects(predict(new Float32Array(4), 1), (err) => err instanceof CloudUnavailableError && /internal: nope/.test(err.message));
    status = 429;
    await assert.rejects(predict(new Float32Array(4), 1), CloudUnavailableError);
    status = 400;
    await assert.rejects(predict(new Float32Array(4), 1), (err) => !(err instanceof CloudUnavailableError) &&
      /** @type {any} */ (err).code === 'CLOUD_WRONG_LENGTH' && /wrong_length: nope/.test(/** @type {any} */ (err).message));
  } finally {
    await s.close();
  }
  await assert.rejects(predict(new Float32Array(4), 1), (err) => err instanceof CloudUnavailableError && /unreachable/.test(err.message));
});

test('auto: cloud while the edge warms up, then the edge; the cloud again when the edge is slow or out of memory', async () => {
  const cloud = async () => ({ probs: new Float32Array(1), version: 'v', ms: 0 });
  const r = createRouter({ mode: 'auto', budgetMs: 100, cloud });
  assert.equal(r.pick(), 'cloud');
  assert.match(r.info().reason, /not ready/);
  const waiting = r.waitEdge();
  r.edgeReady(20);
  await waiting;
  assert.equal(r.pick(), 'edge');
  assert.deepEqual(r.info(), { mode: 'auto', current: 'edge', reason: 'the edge is ready' });
  assert.equal(r.edgeOutOfMemory(new Error('some other failure')), false);
  assert.equal(r.edgeOutOfMemory(new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded')), true);
  assert.equal(r.pick(), 'cloud');
  assert.match(r.info().reason, /ran out of memory/);

  const slow = createRouter({ mode: 'auto', budgetMs: 100, cloud });
  slow.edgeReady(250);
  assert.equal(slow.pick(), 'cloud');
  assert.match(slow.info().reason, /warm-up prediction took 250 ms, over cloudBudgetMs \(100 ms\)/);
});

test('auto: an unreachable cloud hands over to the edge (waited for when not ready); a failed edge leaves the cloud', async () => {
  const cloud = async () => ({ probs: new Float32Array(1), version: 'v', ms: 0 });
  const r = createRouter({ mode: 'auto', budgetMs: 100, cloud });
  r.cloudFailed(new CloudUnavailableError('down'));
  assert.equal(r.pick(), 'edge');
  assert.match(r.info().reason, /cloud is unreachable \(down\); waiting for the edge/);
  assert.equal(r.edgeIsReady, false);
  const wait = r.waitEdge();
  r.edgeReady(5000); // slow, but the cloud is down: the edge still serves
  await wait;
  assert.equal(r.pick(), 'edge');

  const broken = createRouter({ mode: 'auto', budgetMs: 100, cloud });
  broken.edgeFailed(new Error('QuotaExceededError: out of memory'));
  assert.equal(broken.pick(), 'cloud');
  assert.match(broken.info().reason, /ran out of memory/);
  await assert.rejects(broken.waitEdge(), /out of memory/);

  const edgeOnly = createRouter({ mode: 'edge', budgetMs: 100, cloud: null });
  assert.equal(edgeOnly.pick(), 'edge');
  assert.throws(() => edgeOnly.cloud, /no cloud configured/);
  const cloudOnly = createRouter({ mode: 'cloud', budgetMs: 100, cloud });
  cloudOnly.edgeReady(1);
  assert.equal(cloudOnly.pick(), 'cloud');
});
