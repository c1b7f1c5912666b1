// A lost WebGPU device loses no prediction: in Chromium with SwiftShader WebGPU, the MNIST
// session runs on WebGPU, the test destroys its GPUDevice while predictions are in flight
// (captured in the page by wrapping GPUAdapter.prototype.requestDevice with `worker: false`,
// and in the worker through the host module's watched devices), and every prediction resolves,
// re-run on the CPU build, with the CPU's outputs; info() and a burn_edge.device.lost event say
// what happened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser } from './harness.mjs';

const TIMEOUT = { timeout: 180_000 };
const N = 24;
const env = serverAndBrowser({ webgpu: true });

/**
 * Opens the demo app on WebGPU and waits for the model.
 * @param {boolean} worker
 */
async function openDemo(worker) {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  // The page's own capture of every device (before any module runs).
  await context.addInitScript(() => {
    const w = /** @type {any} */ (window);
    w.capturedDevices = [];
    const proto = w.GPUAdapter?.prototype;
    if (!proto) return;
    const original = proto.requestDevice;
    proto.requestDevice = async function (/** @type {any[]} */ ...args) {
      const device = await original.apply(this, args);
      w.capturedDevices.push(device);
      return device;
    };
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`page error: ${err.message}`));
  await page.goto(`${env.server.url}dev-key.json`); // any page of the origin: the package is imported below
  // The handle on window.burnEdgeDemo, as the demo pages keep it; telemetry records into window.events.
  const backend = await page.evaluate(async (inWorker) => {
    const w = /** @type {any} */ (window);
    const { loadModel } = await import('/lib/index.js');
    const publicKey = (await (await fetch('/dev-key.json')).json()).publicKey;
    w.events = [];
    const telemetry = { enabled: true, installId: null, record: (/** @type {string} */ name, /** @type {any} */ a) => w.events.push({ name, ...a }),
      flush: async () => {}, feedback() {}, setModel() {}, shutdown: async () => {} };
    const handle = await loadModel({ channelUrl: '/models/mnist/channel.json', publicKey, backend: 'webgpu', worker: inWorker, telemetry });
    w.burnEdgeDemo = { handle };
    return handle.info().backend;
  }, worker);
  assert.equal(backend, 'webgpu');
  return { context, page };
}

/** Starts N predictions of distinct inputs; they stay in flight on `window.inFlight`. */
function startPredictions(/** @type {import('playwright-core').Page} */ page) {
  return page.evaluate((n) => {
    const w = /** @type {any} */ (window);
    let seed = 3;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    w.inputs = Array.from({ length: n }, () => Float32Array.from({ length: 784 }, rand));
    w.inFlight = Promise.allSettled(w.inputs.map((/** @type {Float32Array} */ x) => w.burnEdgeDemo.handle.predict(x)));
  }, N);
}

/** Waits for every prediction, then compares each with the same input predicted again now (on the CPU). */
function settle(/** @type {import('playwright-core').Page} */ page) {
  return page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    const results = await w.inFlight;
    const failed = results.filter((/** @type {any} */ r) => r.status !== 'fulfilled').map((/** @type {any} */ r) => String(r.reason?.message ?? r.reason));
    let diff = 0;
    for (let i = 0; i < results.length; i++) {
      if (results[i].status !== 'fulfilled') continue;
      const cpu = await w.burnEdgeDemo.handle.predict(w.inputs[i]);
      for (let c = 0; c < cpu.length; c++) diff = Math.max(diff, Math.abs(cpu[c] - results[i].value[c]));
    }
    const info = w.burnEdgeDemo.handle.info();
    const lost = w.events.filter((/** @type {any} */ e) => e.name === 'burn_edge.device.lost');
    return { failed, n: results.length, diff, backend: info.backend, deviceLost: info.deviceLost, build: info.runtime.build, lost };
  });
}

/** @param {Awaited<ReturnType<typeof settle>>} r @param {string} where */
function check(r, where) {
  console.log(`${where}: ${r.n} predictions, ${r.deviceLost?.replayed} replayed on the CPU, max |diff vs CPU| = ${r.diff.toExponential(2)}`);
  assert.deepEqual(r.failed, [], 'no prediction failed');
  assert.equal(r.n, N);
  assert.equal(r.backend, 'cpu');
  assert.equal(r.build, 'cpu');
  assert.ok(r.deviceLost, 'info().deviceLost is set');
  assert.match(r.deviceLost.reason, /WebGPU device was lost|wasm trap/);
  assert.ok(!Number.isNaN(Date.parse(r.deviceLost.at)));
  assert.ok(r.deviceLost.replayed >= 1, `${r.deviceLost.replayed} predictions were in flight`);
  assert.ok(r.diff <= 1e-5, `outputs differ from the CPU's by ${r.diff}`);
  assert.equal(r.lost.length, 1, 'one burn_edge.device.lost event');
  assert.equal(r.lost[0]['burn_edge.device_lost.reason'], r.deviceLost.reason);
  assert.equal(r.lost[0]['burn_edge.device_lost.to'], 'cpu');
  assert.equal(r.lost[0]['burn_edge.device_lost.replayed'], r.deviceLost.replayed);
}

test('worker: false — the GPUDevice destroyed mid-run: every prediction resolves with the CPU\'s outputs', TIMEOUT, async () => {
  const { context, page } = await openDemo(false);
  try {
    await startPredictions(page);
    const destroyed = await page.evaluate(() => {
      const w = /** @type {any} */ (window);
      for (const d of w.capturedDevices) d.destroy();
      return w.capturedDevices.length;
    });
    assert.ok(destroyed >= 1, 'the page captured the runtime\'s device');
    check(await settle(page), 'inline');
  } finally {
    await context.close();
  }
});

test('in the worker — the GPUDevice destroyed mid-run: the worker restarts on the CPU build and replays', TIMEOUT, async () => {
  const { context, page } = await openDemo(true);
  try {
    const workers = page.workers();
    const gpuWorker = workers[workers.length - 1];
    const replaced = page.waitForEvent('worker', { timeout: 60_000 });
    await startPredictions(page);
    const destroyed = await gpuWorker.evaluate(async () => {
      // The same module instance the worker runs: its watched devices are the runtime's.
      const host = await import(new URL('./host.js', location.href).href);
      const devices = host.watchedDevices();
      for (const d of devices) d.destroy();
      return devices.length;
    });
    assert.ok(destroyed >= 1, 'the worker holds the runtime\'s device');
    await replaced;
    check(await settle(page), 'worker');
    assert.equal(await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info().workerRestarts), 1);
  } finally {
    await context.close();
  }
});
