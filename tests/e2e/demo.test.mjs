// The demo page end to end: real server, real Chromium, a digit drawn with the mouse.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser } from './harness.mjs';

/** @type {{ url: string, stop: () => void }} */
let server;
before(async () => { server = await startServer(); });
after(() => server?.stop());

/**
 * Draws strokes (lists of [x, y] in canvas pixels) on the pad with the mouse.
 * @param {import('playwright-core').Page} page
 * @param {number[][][]} strokes
 */
async function draw(page, strokes) {
  const box = await page.locator('#pad').boundingBox();
  assert.ok(box);
  for (const stroke of strokes) {
    await page.mouse.move(box.x + stroke[0][0], box.y + stroke[0][1]);
    await page.mouse.down();
    for (const [x, y] of stroke.slice(1)) await page.mouse.move(box.x + x, box.y + y, { steps: 8 });
    await page.mouse.up();
  }
}

const ONE = [[[140, 40], [140, 240]]];
const SEVEN = [[[70, 50], [210, 50], [120, 240]]];
const ZERO = [[[140, 40], [200, 80], [215, 140], [200, 200], [140, 240], [80, 200], [65, 140], [80, 80], [140, 40]]];

for (const webgpu of [false, true]) {
  test(`drawn digits are classified (${webgpu ? 'WebGPU adapter' : 'no WebGPU'})`, async () => {
    const browser = await launchBrowser({ webgpu });
    try {
      const page = await browser.newPage();
      const wasmFetched = [];
      page.on('request', (r) => { if (r.url().endsWith('.wasm')) wasmFetched.push(new URL(r.url()).pathname); });
      await page.goto(server.url);
      await page.waitForSelector('body[data-ready]', { timeout: 120_000 });
      const backend = await page.getAttribute('body', 'data-ready');
      assert.equal(backend, webgpu ? 'webgpu' : 'cpu');
      // A page without WebGPU never downloads the larger build, and Chromium (relaxed SIMD)
      // gets the CPU build's relaxed-SIMD module.
      assert.deepEqual(wasmFetched, [webgpu ? '/pkg/webgpu/burn_edge_bg.wasm' : '/pkg/cpu/burn_edge_relaxed_bg.wasm']);
      if (!webgpu) assert.match(await page.textContent('#st-skipped') ?? '', /webgpu: /);

      for (const [digit, strokes] of [['1', ONE], ['7', SEVEN], ['0', ZERO]]) {
        await page.click('#clear');
        await draw(page, /** @type {number[][][]} */ (strokes));
        await page.waitForFunction((d) => document.body.dataset.prediction === d, digit, { timeout: 60_000 })
          .catch(async () => assert.fail(`drew ${digit}, page shows ${await page.textContent('#prediction')}`));
      }
      assert.match(await page.textContent('#st-latency') ?? '', /ms/);
      assert.equal(await page.isHidden('#error'), true);
    } finally {
      await browser.close();
    }
  });
}

test('a missing weights file is reported on the page, not swallowed', async () => {
  const browser = await launchBrowser({ webgpu: false });
  try {
    const page = await browser.newPage();
    await page.route('**/models/mnist/model.bpk', (route) => route.fulfill({ status: 404, body: 'gone' }));
    await page.goto(server.url);
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    assert.match(await page.textContent('#error') ?? '', /fetching weights .*model\.bpk failed: HTTP 404/);
  } finally {
    await browser.close();
  }
});

test('corrupt weights get the runtime\'s decoding error', async () => {
  const browser = await launchBrowser({ webgpu: false });
  try {
    const page = await browser.newPage();
    await page.route('**/models/mnist/model.bpk', (route) => route.fulfill({ status: 200, body: 'not a burnpack file' }));
    await page.goto(server.url);
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    assert.match(await page.textContent('#error') ?? '', /weights are not a valid Burnpack file/);
  } finally {
    await browser.close();
  }
});
