// backend: 'auto' chooses by measurement, in Chromium with SwiftShader WebGPU (a software
// adapter, where the CPU build wins on MNIST): the first load prepares both builds, times warm
// runs on each, keeps the CPU and says why; a reload on the same device remembers the choice
// and prepares the CPU build only (one worker, no WebGPU runtime fetched).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser } from './harness.mjs';

const TIMEOUT = { timeout: 180_000 };
const env = serverAndBrowser({ webgpu: true });

/**
 * Loads the demo with backend auto; counts workers started and WebGPU runtime requests.
 * @param {import('playwright-core').Page} page
 */
async function load(page) {
  let workers = 0;
  const gpuRuntime = [];
  const onWorker = () => { workers += 1; };
  const onRequest = (/** @type {import('playwright-core').Request} */ r) => {
    if (/\/pkg\/webgpu\/.*\.wasm$/.test(new URL(r.url()).pathname)) gpuRuntime.push(r.url());
  };
  page.on('worker', onWorker);
  page.context().on('request', onRequest);
  await page.goto(`${env.server.url}index.html?sw=0`);
  await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 120_000 });
  page.off('worker', onWorker);
  page.context().off('request', onRequest);
  const r = await page.evaluate(async () => {
    const demo = /** @type {any} */ (window).burnEdgeDemo;
    const info = demo.handle?.info();
    return { error: demo.error, choice: info?.backendChoice, backend: info?.backend, build: info?.runtime.build,
      digit: demo.handle ? (await demo.classifySample('7')).digit : null };
  });
  return { ...r, workers, gpuRuntime };
}

test('auto measures both builds, keeps the faster (the CPU on SwiftShader) and remembers it', TIMEOUT, async () => {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    const first = await load(page);
    assert.equal(first.error, null);
    const { choice } = first;
    console.log(`first load: chose ${choice.chosen}: ${choice.reason}; timings cpu ${choice.timings.cpu} ms, webgpu ${choice.timings.webgpu} ms`);
    assert.equal(choice.cached, false);
    assert.equal(choice.chosen, 'cpu');
    assert.ok(choice.timings.cpu > 0 && choice.timings.webgpu > 0, 'both builds were timed');
    assert.ok(choice.timings.cpu < choice.timings.webgpu);
    assert.match(choice.reason, /cpu was faster: [\d.]+ ms vs [\d.]+ ms/);
    assert.equal(first.backend, 'cpu');
    assert.equal(first.build, 'cpu');
    assert.equal(first.workers, 2, 'one engine per build');
    assert.ok(first.gpuRuntime.length >= 1, 'the WebGPU build was fetched to be measured');
    assert.equal(first.digit, 7);

    const second = await load(page);
    assert.equal(second.error, null);
    console.log(`second load: ${JSON.stringify(second.choice)}, ${second.workers} worker(s), ${second.gpuRuntime.length} WebGPU runtime request(s)`);
    assert.equal(second.choice.cached, true);
    assert.equal(second.choice.chosen, 'cpu');
    assert.deepEqual(second.choice.timings, choice.timings, 'the remembered timings');
    assert.equal(second.backend, 'cpu');
    assert.equal(second.workers, 1, 'nothing measured: only the chosen build started');
    assert.deepEqual(second.gpuRuntime, [], 'the WebGPU build was not even fetched');
    assert.equal(second.digit, 7);
  } finally {
    await context.close();
  }
});

test('backend: \'webgpu\' given explicitly is not measured', TIMEOUT, async () => {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    await page.goto(`${env.server.url}index.html?sw=0&backend=webgpu`);
    await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 120_000 });
    const info = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
    assert.equal(info.backend, 'webgpu');
    assert.equal(info.backendChoice, null);
  } finally {
    await context.close();
  }
});

test('auto with a WebGPU adapter but no WebGPU runtime (not built yet, or not deployed) runs on the CPU and says why', TIMEOUT, async () => {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    await page.route('**/pkg/webgpu/**', (route) => route.fulfill({ status: 404, body: 'not built' }));
    await page.goto(`${env.server.url}index.html?sw=0&backend=cpu`);
    await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 120_000 });
    const r = await page.evaluate(async () => {
      const { loadModel } = await import('/lib/index.js');
      const model = await loadModel({ channelUrl: '/models/mnist/channel.json', backend: 'auto' });
      const info = model.info();
      const out = await model.predict(new Float32Array(784));
      return { backend: info.backend, build: info.runtime.build, choice: info.backendChoice, outputs: out.length };
    });
    assert.equal(r.backend, 'cpu');
    assert.equal(r.build, 'cpu');
    assert.equal(r.choice.chosen, 'cpu');
    assert.match(r.choice.reason, /the WebGPU runtime is unavailable: /);
    assert.equal(r.outputs, 10);
  } finally {
    await context.close();
  }
});
