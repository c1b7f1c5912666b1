// classifyImage on the published MNIST release (input schema `fit: "mnist-digit"`) in Chromium:
// the digit is framed as prepareDigit frames it, and a drawn digit gets its label.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drawDigit, serverAndBrowser } from './harness.mjs';

const env = serverAndBrowser();

test('classifyImage and prepareImage work on the MNIST manifest, framing the digit as prepareDigit does', { timeout: 120_000 }, async () => {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  await context.addInitScript(drawDigit);
  try {
    const page = await context.newPage();
    await page.goto(`${env.server.url}index.html?sw=0&backend=cpu`);
    await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
    const result = await page.evaluate(async () => {
      const model = /** @type {any} */ (window).burnEdgeDemo.handle;
      const drawn = /** @type {(points: number[][]) => OffscreenCanvas} */ (/** @type {any} */ (window).drawDigit);
      const one = drawn([[140, 40], [140, 240]]);
      const seven = drawn([[70, 50], [210, 50], [120, 240]]);
      const data = /** @type {OffscreenCanvasRenderingContext2D} */ (one.getContext('2d')).getImageData(0, 0, 280, 280);
      const viaImage = await model.prepareImage(data);
      const viaDigit = await model.prepareDigit(data.data, 280, 280);
      return {
        same: viaImage.length === viaDigit.length && viaImage.every((/** @type {number} */ v, /** @type {number} */ i) => v === viaDigit[i]),
        length: viaImage.length,
        one: (await model.classifyImage(one, { top: 3 })).map((/** @type {any} */ r) => r.label),
        seven: (await model.classifyImage(seven, { top: 1 }))[0].label,
      };
    });
    assert.equal(result.length, 784);
    assert.ok(result.same, 'prepareImage under fit "mnist-digit" equals prepareDigit');
    assert.equal(result.one.length, 3);
    assert.equal(result.one[0], '1');
    assert.equal(result.seven, '7');
  } finally {
    await context.close();
  }
});
