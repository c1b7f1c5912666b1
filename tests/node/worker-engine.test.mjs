// The supervised worker (www/lib/worker-engine.js) against a stand-in Worker that speaks the
// host's protocol and crashes on demand: a crash mid-request restarts the worker, replays init
// and load with the bytes kept on the page's side, and retries the request once; a request
// that crashes it twice fails alone; too many crashes give up with WORKER_CRASHED. (The real
// worker in Chromium: tests/e2e/worker-crash.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker } from '../../www/lib/worker-engine.js';
import { FakeWorkerBase, installFakeWorker } from './fake-worker.mjs';

/** Every fake worker started, in order. @type {FakeWorker[]} */
let spawned = [];
/**
 * How a worker treats a predict: 'answer', 'error' (uncaught error event, no reply), 'trap'
 * (replies with the host's WASM_TRAP code). A queue shared by all workers, then 'answer'.
 * @type {string[]}
 */
let script = [];

class FakeWorker extends FakeWorkerBase {
  constructor() {
    super();
    this.session = false;
    spawned.push(this);
  }

  /** @param {any} message */
  handle({ id, type, ...rest }) {
    if (this.terminated) return;
    /** @param {any} value */
    const reply = (value) => this.emit('message', { data: { id, ok: true, value } });
    if (type === 'init') return reply({ runtimeVersion: 'fake', wasmBytes: rest.wasm.byteLength });
    if (type === 'load') {
      this.session = true;
      return reply({ backend: 'cpu', weightsBytes: rest.weights.byteLength });
    }
    if (type === 'dispose') return reply(null);
    if (type === 'predict') {
      const what = script.shift() ?? 'answer';
      if (what === 'error') return this.emit('error', { message: 'Uncaught Error: boom' });
      if (what === 'trap') return this.emit('message', { data: { id, ok: false, error: { code: 'WASM_TRAP', message: 'unreachable' } } });
      if (!this.session) return this.emit('message', { data: { id, ok: false, error: { code: 'DISPOSED', message: 'no session' } } });
      return reply(Float32Array.from(rest.input, (v) => v * 2));
    }
  }

}

installFakeWorker(FakeWorker, () => {
  spawned = [];
  script = [];
});

/** A started engine with a runtime and a session, as loadModel leaves it. */
async function loaded(/** @type {import('../../www/lib/worker-engine.js').SupervisorOptions} */ options = {}) {
  /** @type {{ reason: string, restarts: number }[]} */
  const restarts = [];
  const engine = startWorker({ onRestart: (r) => restarts.push(r), ...options });
  const wasm = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]).buffer;
  const weights = new Uint8Array(1000).fill(7).buffer;
  await engine.call({ type: 'init', glueUrl: 'x', wasm }, [wasm]);
  await engine.call({ type: 'load', weights, backend: 'cpu', architecture: 'mnist-cnn' }, [weights]);
  return { engine, restarts, wasm, weights };
}

const predict = (/** @type {any} */ engine, /** @type {number[]} */ values) =>
  engine.call({ type: 'predict', input: Float32Array.from(values) }).then((/** @type {Float32Array} */ p) => Array.from(p));

test('a crash mid-prediction restarts the worker, replays init and load, and the prediction still answers', async () => {
  const { engine, restarts, wasm, weights } = await loaded();
  assert.equal(wasm.byteLength, 8, 'what the caller handed over is kept, not detached');
  script = ['error'];
  assert.deepEqual(await predict(engine, [1, 2, 3]), [2, 4, 6]);
  assert.equal(spawned.length, 2);
  assert.equal(spawned[0].terminated, true, 'the crashed worker is terminated');
  const replay = spawned[1].received.map((m) => m.type);
  assert.deepEqual(replay, ['init', 'load', 'predict'], 'state first, then the retried request');
  assert.equal(spawned[1].received[0].wasm.byteLength, 8, 'the same runtime bytes');
  assert.equal(spawned[1].received[1].weights.byteLength, 1000, 'the same weights');
  assert.equal(weights.byteLength, 1000);
  assert.equal(engine.restarts, 1);
  assert.equal(restarts.length, 1);
  assert.match(restarts[0].reason, /uncaught error.*boom/);
  // And it keeps working.
  assert.deepEqual(await predict(engine, [5]), [10]);
});

test('a wasm trap reply is a crash too: restarted, retried, answered', async () => {
  const { engine } = await loaded();
  script = ['trap'];
  assert.deepEqual(await predict(engine, [4]), [8]);
  assert.equal(engine.restarts, 1);
});

test('concurrent requests during a crash are each answered once', async () => {
  const { engine } = await loaded();
  script = ['answer', 'error'];
  const results = await Promise.all([1, 2, 3, 4].map((v) => predict(engine, [v])));
  assert.deepEqual(results, [[2], [4], [6], [8]]);
  const sent = spawned.flatMap((w) => w.received).filter((m) => m.type === 'predict').length;
  assert.ok(sent <= 4 + 3, `no request sent more than twice (${sent} sends)`);
  assert.equal(engine.restarts, 1);
});

test('a request that crashes the worker twice fails with WORKER_CRASHED; the next one works', async () => {
  const { engine } = await loaded();
  script = ['error', 'error'];
  await assert.rejects(predict(engine, [1]), (/** @type {any} */ err) => err.code === 'WORKER_CRASHED' && /twice/.test(err.message));
  assert.deepEqual(await predict(engine, [3]), [6]);
  assert.equal(engine.restarts, 2);
});

test('more crashes than maxRestarts within the window: it gives up, every call rejects WORKER_CRASHED', async () => {
  const { engine, restarts } = await loaded({ maxRestarts: 2, windowMs: 60_000 });
  script = ['error', 'answer', 'error', 'answer', 'error'];
  assert.deepEqual(await predict(engine, [1]), [2]);
  assert.deepEqual(await predict(engine, [1]), [2]);
  await assert.rejects(predict(engine, [1]), (/** @type {any} */ err) => err.code === 'WORKER_CRASHED' && /gave up/.test(err.message));
  await assert.rejects(predict(engine, [2]), (/** @type {any} */ err) => err.code === 'WORKER_CRASHED');
  assert.equal(restarts.length, 2);
  assert.ok(spawned.every((w) => w.terminated));
});

test('a worker that fails before the runtime started is a WORKER error, not a restart', async () => {
  const engine = startWorker();
  const wasm = new ArrayBuffer(8);
  const init = engine.call({ type: 'init', glueUrl: 'x', wasm }, [wasm]);
  spawned[0].terminated = true; // never answers
  spawned[0].emit('error', { message: 'SyntaxError: bad script' });
  await assert.rejects(init, (/** @type {any} */ err) => err.code === 'WORKER');
  assert.equal(spawned.length, 1);
  assert.equal(engine.restarts, 0);
});
