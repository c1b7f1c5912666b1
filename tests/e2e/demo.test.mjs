// The demo app (www/index.html) end to end: the real server, real Chromium without and with a
// WebGPU adapter. Digits drawn with the mouse and with the keyboard are classified through the
// package's verified loader; the live panel says which backend serves and why; the model
// switcher lists the server's models and gives each the input its schema calls for (a photo for
// SqueezeNet, numbers for a model without image preprocessing); a missing or corrupt weights
// file is reported; a missing WebGPU runtime (first start builds it after serving) falls back
// to the CPU and says so. Every page state passes axe-core's WCAG 2 A/AA checks with no CSP
// violation, and is screenshotted per backend into target/screenshots/ for people to look at.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { startServer, launchBrowser, guardCsp } from './harness.mjs';
import { accessibilityViolations, draw, modelsWithRawModel, screenshot } from './app-pages.mjs';

/** @type {{ url: string, stop: () => void }} */
let server;
const models = modelsWithRawModel();
before(async () => { server = await startServer(['--models', models]); });
after(() => {
  server?.stop();
  rmSync(models, { recursive: true, force: true });
});

const ONE = [[[140, 40], [140, 240]]];
const SEVEN = [[[70, 50], [210, 50], [120, 240]]];
const ZERO = [[[140, 40], [200, 80], [215, 140], [200, 200], [140, 240], [80, 200], [65, 140], [80, 80], [140, 40]]];

/** @param {import('playwright-core').Page} page @param {string} digit */
const shows = (page, digit) => page.waitForFunction((d) => document.body.dataset.prediction === d, digit, { timeout: 60_000 })
  .catch(async () => assert.fail(`expected ${digit}, the page shows ${await page.textContent('#prediction')}`));

/** @param {import('playwright-core').Page} page @param {string} what */
async function accessible(page, what) {
  const violations = await accessibilityViolations(page);
  assert.deepEqual(violations, [], `${what}: ${violations.join('\n')}`);
}

for (const webgpu of [false, true]) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  test(`the app classifies drawn digits and photos, by mouse and keyboard, accessibly (${webgpu ? 'WebGPU adapter' : 'no WebGPU'})`,
    { timeout: 600_000 }, async (t) => {
      if (webgpu && !existsSync('pkg/webgpu/burn_edge_bg.wasm')) return t.skip('pkg/webgpu is not built');
      const browser = await launchBrowser({ webgpu });
      try {
        const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
        const violations = await guardCsp(page);
        /** @type {string[]} */
        const wasmFetched = [];
        page.on('request', (r) => { if (r.url().endsWith('.wasm')) wasmFetched.push(new URL(r.url()).pathname); });
        await page.goto(`${server.url}?sw=0`);
        await page.waitForSelector('body[data-ready]', { timeout: 120_000 });
        assert.equal(await page.getAttribute('body', 'data-mode'), 'digit');
        const info = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
        assert.equal(info.model, 'mnist');
        if (webgpu) {
          // 'auto' measures both builds where an adapter exists and keeps the faster.
          assert.ok(info.backendChoice, 'the choice was measured');
          assert.ok(wasmFetched.includes('/pkg/webgpu/burn_edge_bg.wasm'), wasmFetched.join(' '));
          assert.match(await page.textContent('#st-why') ?? '', /faster/);
        } else {
          // A page without WebGPU never downloads the larger build; Chromium gets relaxed SIMD.
          assert.deepEqual(wasmFetched, ['/pkg/cpu/burn_edge_relaxed_bg.wasm']);
          assert.equal(info.backend, 'cpu');
        }
        assert.match(await page.textContent('#st-model') ?? '', /^mnist 1\.0\.0 \(mnist-cnn\)$/);
        assert.match(await page.textContent('#st-source') ?? '', /network, signature verified/);
        assert.match(await page.textContent('#st-progress') ?? '', /739,368 \/ 739,368 bytes/);

        for (const [digit, strokes] of /** @type {[string, number[][][]][]} */ ([['1', ONE], ['7', SEVEN], ['0', ZERO]])) {
          await page.click('#clear');
          await draw(page, strokes);
          await shows(page, digit);
        }
        // The keyboard: arrows draw from the pen (a vertical bar: a 1), Enter classifies.
        await page.click('#clear');
        await page.focus('#pad');
        await page.keyboard.press('Shift+ArrowUp');
        await page.keyboard.press('Shift+ArrowUp');
        await page.keyboard.press('Shift+ArrowUp');
        await page.keyboard.press('Shift+ArrowUp');
        for (let i = 0; i < 9; i++) await page.keyboard.press('ArrowDown');
        await page.keyboard.press('Enter');
        await shows(page, '1');
        await page.keyboard.press('Delete');
        assert.equal(await page.textContent('#prediction'), '–');
        // Tab reaches the sample buttons; Enter presses one.
        await page.keyboard.press('Tab');
        assert.equal(await page.evaluate(() => document.activeElement?.id), 'clear');
        await page.keyboard.press('Tab');
        await page.keyboard.press('Tab');
        await page.keyboard.press('Tab');
        assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Draw a sample 7');
        await page.keyboard.press('Enter');
        await shows(page, '7');
        assert.match(await page.textContent('#st-latency') ?? '', /ms/);
        assert.ok(Number(await page.getAttribute('#histogram', 'data-count')) >= 5, 'each prediction is in the histogram');
        assert.equal(await page.isHidden('#error'), true);
        await accessible(page, 'digit mode');
        console.log(`screenshot ${await screenshot(page, `app-digit-${backend}`)}`);

        // The switcher lists the server's models; SqueezeNet gets the photo input.
        const listed = await page.$$eval('#model-select option', (o) => o.map((x) => /** @type {HTMLOptionElement} */ (x).value));
        for (const name of ['digits-raw', 'mnist', 'squeezenet']) assert.ok(listed.includes(name), `${name} in ${listed}`);
        await page.selectOption('#model-select', 'squeezenet');
        await page.waitForSelector('body[data-mode="photo"][data-top]', { timeout: 240_000 });
        assert.equal(await page.getAttribute('body', 'data-top'), 'tench, Tinca tinca');
        assert.match(await page.textContent('#st-model') ?? '', /^squeezenet /);
        assert.equal(await page.isHidden('#digit-mode'), true);
        await accessible(page, 'photo mode');
        console.log(`screenshot ${await screenshot(page, `app-photo-${backend}`)}`);

        // A model without image preprocessing: numbers in, classes out.
        await page.selectOption('#model-select', 'digits-raw');
        await page.waitForSelector('body[data-mode="generic"][data-ready]', { timeout: 120_000 });
        assert.match(await page.textContent('#generic-label') ?? '', /784 numbers \(shape 1×28×28\)/);
        await page.click('#generic-run');
        await page.waitForSelector('#generic-top li', { timeout: 60_000 });
        assert.equal(await page.locator('#generic-top li').count(), 5);
        await page.fill('#generic-input', '1, 2, 3');
        await page.click('#generic-run');
        await page.waitForSelector('#error:not([hidden])');
        assert.match(await page.textContent('#error') ?? '', /takes 784 numbers .* got 3/);
        assert.equal(await page.locator('#generic-top li').count(), 0, 'no earlier answer beside the error');
        await accessible(page, 'generic mode');
        console.log(`screenshot ${await screenshot(page, `app-generic-${backend}`)}`);
        if (webgpu) {
          // 'auto' keeps the CPU build over a software adapter: the page asked for WebGPU by name
          // serves on it, and says so.
          await page.goto(`${server.url}?sw=0&backend=webgpu`);
          await page.waitForSelector('body[data-ready]', { timeout: 120_000 });
          const forced = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
          assert.equal(forced.backend, 'webgpu');
          assert.match(await page.textContent('#st-backend') ?? '', /webgpu/i);
          await draw(page, SEVEN);
          await shows(page, '7');
          await accessible(page, 'digit mode on WebGPU');
          console.log(`screenshot ${await screenshot(page, 'app-digit-webgpu-chosen')}`);
        }
        assert.deepEqual(await violations(), [], 'no CSP violation');
      } finally {
        await browser.close();
      }
    });
}

test('the WebGPU runtime still building: the app says so and serves on the CPU', { timeout: 180_000 }, async () => {
  const browser = await launchBrowser({ webgpu: true });
  try {
    const page = await browser.newPage();
    const violations = await guardCsp(page);
    await page.route('**/pkg/webgpu/**', (route) => route.fulfill({ status: 404, body: 'not built yet' }));
    await page.goto(`${server.url}?sw=0`);
    await page.waitForSelector('body[data-ready]', { timeout: 120_000 });
    assert.match(await page.textContent('#notice') ?? '', /WebGPU runtime is still building, using the CPU/);
    assert.match(await page.textContent('#st-why') ?? '', /WebGPU runtime is still building/);
    const info = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
    assert.equal(info.backend, 'cpu');
    assert.equal((await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.classifySample('7'))).digit, 7);
    assert.deepEqual(await violations(), []);
  } finally {
    await browser.close();
  }
});

test('a missing weights file and corrupt weights are reported on the page, not swallowed', { timeout: 120_000 }, async () => {
  const browser = await launchBrowser({ webgpu: false });
  try {
    for (const [answer, expected] of /** @type {const} */ ([
      [{ status: 404, body: 'gone' }, /NetworkError: .*\.bpk.*404/s],
      [{ status: 200, body: 'not a burnpack file' }, /IntegrityError/],
    ])) {
      const page = await browser.newPage();
      await page.route('**/models/mnist/files/*.bpk', (route) => route.fulfill(answer));
      await page.goto(`${server.url}?sw=0&retries=0`);
      await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
      assert.match(await page.textContent('#error') ?? '', expected);
      assert.equal(await page.getAttribute('body', 'data-error') !== null, true);
      await page.close();
    }
  } finally {
    await browser.close();
  }
});
