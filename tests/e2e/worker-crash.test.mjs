// The inference worker crashing under a page that keeps predicting, in real Chromium against
// the real server: an uncaught error thrown inside the worker (Playwright's worker.evaluate)
// makes the page restart it, re-create the session from the bytes it kept and retry what the
// worker held; no prediction fails and every answer equals the one before the crash. Too many
// crashes in a minute and predictions reject with code WORKER_CRASHED.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser } from './harness.mjs';

const TIMEOUT = { timeout: 90_000 };
const DIGITS = ['1', '7', '0'];

const env = serverAndBrowser();

/** Opens the demo app (worker on, no service worker) and waits for the model. */
async function openDemo() {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  await page.goto(`${env.server.url}index.html?sw=0`);
  await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
  assert.equal(await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.error), null);
  return { context, page };
}

/** @param {import('playwright-core').Page} page */
const restarts = (page) => page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info().workerRestarts);

/**
 * The newest live worker of the page.
 * @param {import('playwright-core').Page} page
 */
function liveWorker(page) {
  const workers = page.workers();
  assert.ok(workers.length > 0, 'the page runs a worker');
  return workers[workers.length - 1];
}

/**
 * Throws an uncaught error inside the page's current worker and waits for its replacement.
 * @param {import('playwright-core').Page} page
 */
async function crashWorker(page) {
  const replaced = page.waitForEvent('worker', { timeout: 20_000 });
  await liveWorker(page).evaluate(() => { setTimeout(() => { throw new Error('boom'); }); });
  return replaced;
}

test('the worker crashing while predictions run in a loop: none fails, results equal', TIMEOUT, async () => {
  const { context, page } = await openDemo();
  try {
    const reference = await page.evaluate(async (ds) => {
      const demo = /** @type {any} */ (window).burnEdgeDemo;
      const out = [];
      for (const d of ds) out.push((await demo.classifySample(d)).probs);
      return out;
    }, DIGITS);
    // The loop runs in the page until told to stop; the crashes come from outside meanwhile.
    await page.evaluate((ds) => {
      const w = /** @type {any} */ (window);
      w.crashLoop = { results: [], errors: [], stop: false };
      w.crashLoop.done = (async () => {
        for (let i = 0; !w.crashLoop.stop || i < 30; i++) {
          const digit = ds[i % ds.length];
          try {
            w.crashLoop.results.push({ digit, probs: (await w.burnEdgeDemo.classifySample(digit)).probs });
          } catch (err) {
            w.crashLoop.errors.push({ code: /** @type {any} */ (err).code, message: String(/** @type {any} */ (err).message) });
          }
        }
      })();
    }, DIGITS);
    for (let crash = 0; crash < 2; crash++) {
      await new Promise((r) => setTimeout(r, 150));
      await crashWorker(page);
    }
    const loop = await page.evaluate(async () => {
      const w = /** @type {any} */ (window);
      w.crashLoop.stop = true;
      await w.crashLoop.done;
      return { results: w.crashLoop.results, errors: w.crashLoop.errors };
    });
    assert.deepEqual(loop.errors, [], 'no prediction failed');
    assert.ok(loop.results.length >= 30, `${loop.results.length} predictions`);
    for (const { digit, probs } of loop.results) assert.deepEqual(probs, reference[DIGITS.indexOf(digit)], `digit ${digit}`);
    assert.equal(await restarts(page), 2, 'info() counts the restarts');
  } finally {
    await context.close();
  }
});

test('a crash while the worker holds a prediction: that prediction is retried and answered', TIMEOUT, async () => {
  const { context, page } = await openDemo();
  try {
    const before = await page.evaluate(async () => (await /** @type {any} */ (window).burnEdgeDemo.classifySample('7')).probs);
    // The next predict message makes the worker throw while it is handling that very request.
    await liveWorker(page).evaluate(() => {
      let armed = true;
      self.addEventListener('message', (event) => {
        if (armed && event.data?.type === 'predict') {
          armed = false;
          throw new Error('boom mid-prediction');
        }
      });
    });
    const replaced = page.waitForEvent('worker', { timeout: 20_000 });
    const after = await page.evaluate(async () => (await /** @type {any} */ (window).burnEdgeDemo.classifySample('7')).probs);
    await replaced;
    assert.deepEqual(after, before);
    assert.equal(await restarts(page), 1);
  } finally {
    await context.close();
  }
});

test('more than 3 crashes within a minute: predictions reject with WORKER_CRASHED', TIMEOUT, async () => {
  const { context, page } = await openDemo();
  try {
    for (let crash = 0; crash < 3; crash++) {
      await crashWorker(page);
      // Let the replacement get its session back before the next crash.
      const digit = await page.evaluate(async () => (await /** @type {any} */ (window).burnEdgeDemo.classifySample('1')).digit);
      assert.equal(digit, 1);
    }
    await liveWorker(page).evaluate(() => { setTimeout(() => { throw new Error('boom'); }); });
    const failure = await page.waitForFunction(async () => {
      try {
        await /** @type {any} */ (window).burnEdgeDemo.classifySample('1');
        return null;
      } catch (err) {
        return { code: /** @type {any} */ (err).code, message: String(/** @type {any} */ (err).message) };
      }
    }, null, { timeout: 20_000, polling: 100 });
    const { code, message } = await failure.jsonValue();
    assert.equal(code, 'WORKER_CRASHED');
    assert.match(message, /4 times within 60 s/);
  } finally {
    await context.close();
  }
});
