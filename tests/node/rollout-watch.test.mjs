// The re-check watch (www/lib/rollout-watch.js) against a stand-in `document`: an interval
// re-checks on a timer and when the page becomes visible again; `recheckInterval: 0` disables
// both, leaving only explicit re-checks (`now()`, the handle's `recheck()`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { watch } from '../../www/lib/rollout-watch.js';

/** A `document` that can become visible, installed for one test. */
function fakeDocument(/** @type {import('node:test').TestContext} */ t) {
  const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  const had = Object.hasOwn(globalThis, 'document');
  const before = /** @type {any} */ (globalThis).document;
  /** @type {any} */ (globalThis).document = doc;
  t.after(() => {
    if (had) /** @type {any} */ (globalThis).document = before;
    else delete (/** @type {any} */ (globalThis).document);
  });
  return { becomeVisible: () => doc.dispatchEvent(new Event('visibilitychange')) };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

test('with an interval, becoming visible re-checks', async (t) => {
  const page = fakeDocument(t);
  let checks = 0;
  const w = watch({ interval: 3_600_000, check: async () => { checks += 1; } });
  page.becomeVisible();
  await settle();
  assert.equal(checks, 1);
  w.stop();
  page.becomeVisible();
  await settle();
  assert.equal(checks, 1, 'a stopped watch never checks');
});

test('interval 0 disables re-checks entirely: becoming visible checks nothing, now() still does', async (t) => {
  const page = fakeDocument(t);
  let checks = 0;
  const w = watch({ interval: 0, check: async () => { checks += 1; } });
  page.becomeVisible();
  await settle();
  assert.equal(checks, 0, 'visibilitychange re-checked with recheckInterval 0');
  await w.now();
  assert.equal(checks, 1);
  w.stop();
});
