// model.predictBatch end to end in Chromium against the real server (MNIST through the loader
// demo, in the worker): the chunked results equal per-item predict, progress is reported after
// each chunk, and an AbortSignal stops it with an AbortError and no further chunk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser } from './harness.mjs';

const TIMEOUT = { timeout: 120_000 };
const env = serverAndBrowser();

/** Opens the demo app (worker on, no service worker) and waits for the model. */
async function openDemo() {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  await page.goto(`${env.server.url}index.html?sw=0&backend=cpu`);
  await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
  assert.equal(await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.error), null);
  return { context, page };
}

test('predictBatch equals per-item predict, in chunks with progress, from an array or one Float32Array', TIMEOUT, async () => {
  const { context, page } = await openDemo();
  try {
    const r = await page.evaluate(async () => {
      const { handle } = /** @type {any} */ (window).burnEdgeDemo;
      // Seeded pseudo-random images: each example differs, so a mixed-up order would show.
      let seed = 7;
      const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
      const inputs = Array.from({ length: 70 }, () => Float32Array.from({ length: 784 }, rand));
      const single = [];
      for (const x of inputs) single.push(await handle.predict(x));
      const progress = [];
      const batched = await handle.predictBatch(inputs, { chunkSize: 32, onProgress: (/** @type {any} */ p) => progress.push({ ...p }) });
      const flat = new Float32Array(70 * 784);
      inputs.forEach((x, i) => flat.set(x, i * 784));
      const fromFlat = await handle.predictBatch(flat);
      let diff = 0;
      let diffFlat = 0;
      let argmaxSame = true;
      for (let i = 0; i < 70; i++) {
        for (let c = 0; c < 10; c++) {
          diff = Math.max(diff, Math.abs(batched[i][c] - single[i][c]));
          diffFlat = Math.max(diffFlat, Math.abs(fromFlat[i][c] - single[i][c]));
        }
        const top = (/** @type {Float32Array} */ p) => p.indexOf(Math.max(...p));
        argmaxSame &&= top(batched[i]) === top(single[i]);
      }
      const classes = new Set(single.map((p) => p.indexOf(Math.max(...p)))).size;
      return { n: batched.length, lengths: [...new Set(batched.map((/** @type {Float32Array} */ p) => p.length))], progress, diff, diffFlat,
        argmaxSame, classes, nFlat: fromFlat.length };
    });
    console.log(`predictBatch vs predict (70 MNIST inputs, chunks of 32): max |diff| = ${r.diff.toExponential(2)}, flat input ${r.diffFlat.toExponential(2)}`);
    assert.equal(r.n, 70);
    assert.equal(r.nFlat, 70);
    assert.deepEqual(r.lengths, [10]);
    assert.deepEqual(r.progress, [{ done: 32, total: 70 }, { done: 64, total: 70 }, { done: 70, total: 70 }]);
    assert.ok(r.diff <= 1e-5, `batched differs from single by ${r.diff}`);
    assert.ok(r.diffFlat <= 1e-5, `flat batch differs from single by ${r.diffFlat}`);
    assert.ok(r.argmaxSame);
  } finally {
    await context.close();
  }
});

test('an aborted predictBatch rejects with AbortError and sends no further chunk; bad inputs are refused', TIMEOUT, async () => {
  const { context, page } = await openDemo();
  try {
    const r = await page.evaluate(async () => {
      const { handle } = /** @type {any} */ (window).burnEdgeDemo;
      const inputs = Array.from({ length: 400 }, () => new Float32Array(784).fill(0.5));
      const controller = new AbortController();
      const progress = [];
      /** @type {any} */
      let error = null;
      try {
        await handle.predictBatch(inputs, { chunkSize: 2, signal: controller.signal, onProgress: (/** @type {any} */ p) => {
          progress.push(p.done);
          if (p.done === 4) controller.abort();
        } });
      } catch (err) {
        error = { name: /** @type {any} */ (err).name };
      }
      const atReject = progress.length;
      await new Promise((r) => setTimeout(r, 500));
      const already = await handle.predictBatch(inputs, { signal: AbortSignal.abort() }).then(() => null, (/** @type {any} */ e) => e.name);
      const wrongLength = await handle.predictBatch([new Float32Array(784), new Float32Array(10)]).then(() => null, (/** @type {any} */ e) => e.message);
      const notWhole = await handle.predictBatch(new Float32Array(1000)).then(() => null, (/** @type {any} */ e) => e.message);
      const empty = await handle.predictBatch([]);
      return { error, progress, atReject, later: progress.length, already, wrongLength, notWhole, empty: empty.length };
    });
    assert.deepEqual(r.error, { name: 'AbortError' });
    assert.deepEqual(r.progress, [2, 4], 'no chunk after the abort');
    assert.equal(r.later, r.atReject, 'nothing ran after the rejection');
    assert.equal(r.already, 'AbortError');
    assert.match(r.wrongLength, /input 1 has 10 values, expected 784/);
    assert.match(r.notWhole, /not a whole number of examples of 784/);
    assert.equal(r.empty, 0);
  } finally {
    await context.close();
  }
});
