// classifyImage on the published MNIST release (input schema `fit: "mnist-digit"`) in Chromium:
// the digit is framed as prepareDigit frames it, and a drawn digit gets its label.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser } from './harness.mjs';

const env = serverAndBrowser();

test('classifyImage and prepareImage work on the MNIST manifest, framing the digit as prepareDigit does', { timeout: 120_000 }, async () => {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    await page.goto(`${env.server.url}index.html?sw=0&backend=cpu`);
    await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
    const result = await page.evaluate(async () => {
      const model = /** @type {any} */ (window).burnEdgeDemo.handle;
      /** A digit drawn white on black, as on the demo's pad. @param {number[][]} points */
      const drawn = (points) => {
        const canvas = new OffscreenCanvas(280, 280);
        const g = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d'));
        g.fillStyle = '#000';
        g.fillRect(0, 0, 280, 280);
        g.strokeStyle = '#fff';
        g.lineWidth = 24;
        g.lineCap = 'round';
        g.beginPath();
        g.moveTo(points[0][0], points[0][1]);
        for (const [x, y] of points.slice(1)) g.lineTo(x, y);
        g.stroke();
        return canvas;
      };
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
