// A lost WebGPU device under the supervised worker (www/lib/worker-engine.js), against a
// stand-in Worker: the worker announcing the loss (or a wasm trap on the WebGPU session) makes
// the page start a fresh worker on the CPU build's runtime, load the same weights with backend
// 'cpu' and re-send the predictions in flight, so none fails; deviceLost and onDeviceLost say
// so. A CPU session's trap is a plain restart. (In Chromium: tests/e2e/device-lost.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker } from '../../www/lib/worker-engine.js';
import { FakeWorkerBase, installFakeWorker } from './fake-worker.mjs';

/** @type {FakeWorker[]} */
let spawned = [];

class FakeWorker extends FakeWorkerBase {
  constructor() {
    super();
    this.backend = '';
    this.glueUrl = '';
    /** Predictions on WebGPU hang (a destroyed device never answers) when set. */
    this.hang = false;
    spawned.push(this);
  }

  /** @param {any} message */
  handle({ id, type, ...rest }) {
    if (this.terminated) return;
    /** @param {any} value */
    const reply = (value) => this.emit('message', { data: { id, ok: true, value } });
    if (type === 'init') {
      this.glueUrl = rest.glueUrl;
      return reply({ runtimeVersion: 'fake' });
    }
    if (type === 'load') {
      this.backend = rest.backend === 'webgpu' && this.glueUrl === 'gpu.js' ? 'webgpu' : 'cpu';
      return reply({ backend: this.backend, adapter: this.backend === 'webgpu' ? { vendor: 'fake' } : null });
    }
    if (type === 'dispose') return reply(null);
    if (type === 'predict') {
      if (this.backend === 'webgpu' && this.hang) return undefined;
      return reply(Float32Array.from(rest.input, (v) => v + (this.backend === 'cpu' ? 1 : 1.0000001)));
    }
    return undefined;
  }

}

installFakeWorker(FakeWorker, () => {
  spawned = [];
});

/** A WebGPU engine as loadModel starts one, with the CPU build as its fallback. */
async function gpuEngine() {
  /** @type {any[]} */
  const lost = [];
  let fallbacks = 0;
  const engine = startWorker({
    fallback: async () => {
      fallbacks += 1;
      return { glueUrl: 'cpu.js', wasm: new ArrayBuffer(8) };
    },
    onDeviceLost: (l) => lost.push(l),
  });
  await engine.call({ type: 'init', glueUrl: 'gpu.js', wasm: new ArrayBuffer(16) });
  const session = await engine.call({ type: 'load', weights: new ArrayBuffer(4), backend: 'webgpu', architecture: 'mnist-cnn' });
  assert.equal(session.backend, 'webgpu');
  return { engine, lost, fallbacks: () => fallbacks };
}

test('a device-loss message with predictions in flight: restarted on the CPU build, every one answered', async () => {
  const { engine, lost, fallbacks } = await gpuEngine();
  spawned[0].hang = true;
  const inputs = [1, 2, 3, 4, 5].map((v) => Float32Array.of(v));
  const results = inputs.map((input) => engine.call({ type: 'predict', input }));
  await new Promise((r) => setTimeout(r, 10));
  spawned[0].emit('message', { data: { event: 'deviceLost', reason: 'destroyed', message: 'Device was destroyed.' } });
  const values = await Promise.all(results);
  assert.deepEqual(values.map((v) => v[0]), [2, 3, 4, 5, 6], 'all answered on the CPU');
  assert.equal(spawned.length, 2);
  assert.ok(spawned[0].terminated);
  const [init, load] = spawned[1].received;
  assert.equal(init.type, 'init');
  assert.equal(init.glueUrl, 'cpu.js', 'the CPU build was started');
  assert.equal(load.type, 'load');
  assert.equal(load.backend, 'cpu');
  assert.equal(fallbacks(), 1);
  assert.equal(lost.length, 1);
  assert.equal(engine.deviceLost, lost[0]);
  assert.equal(lost[0].replayed, 5);
  assert.match(lost[0].reason, /WebGPU device was lost \(destroyed: Device was destroyed.\)/);
  assert.equal(engine.session.backend, 'cpu');
  assert.equal(engine.restarts, 1);
  // A second report from the dead worker changes nothing.
  spawned[0].emit('message', { data: { event: 'deviceLost', reason: 'destroyed', message: 'again' } });
  assert.equal((await engine.call({ type: 'predict', input: Float32Array.of(9) }))[0], 10);
  assert.equal(spawned.length, 2);
  engine.close('done');
});

test('a wasm trap on the WebGPU session moves it to the CPU; a failed WebGPU prediction waits for the loss report', async () => {
  const { engine, lost } = await gpuEngine();
  const w = spawned[0];
  const original = w.handle.bind(w);
  let trapped = false;
  w.handle = (/** @type {any} */ m) => {
    if (m.type === 'predict' && !trapped) {
      trapped = true;
      w.emit('message', { data: { id: m.id, ok: false, error: { code: 'WASM_TRAP', message: 'unreachable' } } });
      return undefined;
    }
    return original(m);
  };
  assert.equal((await engine.call({ type: 'predict', input: Float32Array.of(1) }))[0], 2);
  assert.equal(lost.length, 1);
  assert.match(lost[0].reason, /wasm trap \(unreachable\)/);
  assert.equal(spawned[1].received[0].glueUrl, 'cpu.js');
  engine.close('done');

  // A plain error reply from the GPU session, followed by the loss report: re-run, not failed.
  spawned = [];
  const second = await gpuEngine();
  const g = spawned[0];
  g.handle = (/** @type {any} */ m) => {
    if (m.type !== 'predict') return FakeWorker.prototype.handle.call(g, m);
    g.emit('message', { data: { id: m.id, ok: false, error: { code: 'RUNTIME', message: 'mapAsync failed' } } });
    setTimeout(() => g.emit('message', { data: { event: 'deviceLost', reason: 'destroyed', message: 'gone' } }), 20);
    return undefined;
  };
  assert.equal((await second.engine.call({ type: 'predict', input: Float32Array.of(1) }))[0], 2);
  assert.equal(second.lost.length, 1);
  second.engine.close('done');
});

test('a CPU session\'s loss report is ignored and its trap restarts it as it was', async () => {
  const engine = startWorker({ fallback: async () => ({ glueUrl: 'cpu.js', wasm: new ArrayBuffer(8) }) });
  await engine.call({ type: 'init', glueUrl: 'cpu.js', wasm: new ArrayBuffer(8) });
  await engine.call({ type: 'load', weights: new ArrayBuffer(4), backend: 'cpu', architecture: 'mnist-cnn' });
  spawned[0].emit('message', { data: { event: 'deviceLost', reason: 'unknown', message: 'x' } });
  assert.equal((await engine.call({ type: 'predict', input: Float32Array.of(1) }))[0], 2);
  assert.equal(spawned.length, 1);
  assert.equal(engine.deviceLost, null);
  engine.close('done');
});
