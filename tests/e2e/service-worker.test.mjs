// The service worker (www/sw.js) in real Chromium against the real server: it keeps the app
// shell for offline use and nothing else. The telemetry summary, ingest URLs, anything with a
// query string (keys ride there) and the models stay out of Cache Storage, and a page opened
// with ?key= is stored under its path alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser } from './harness.mjs';

const TIMEOUT = { timeout: 90_000 };
const KEY = 'demo-key';

const env = serverAndBrowser();

/** Every URL in the page origin's Cache Storage, by cache name. @param {import('playwright-core').Page} page */
function cachedUrls(page) {
  return page.evaluate(async () => {
    /** @type {Record<string, string[]>} */
    const out = {};
    for (const name of await caches.keys()) out[name] = (await (await caches.open(name)).keys()).map((r) => r.url);
    return out;
  });
}

test('the service worker stores the shell only: no summary, no ingest URL, no key, no model file', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    const query = `collector=./&key=${KEY}&flushMs=100`;
    await page.goto(`${env.server.url}loader-demo.html?${query}`);
    await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
    // Controlled now: this load and everything after it passes through the worker.
    await page.reload();
    await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
    const statuses = await page.evaluate(async (key) => {
      const demo = /** @type {any} */ (window).burnEdgeDemo;
      await demo.classifySample('1');
      await demo.telemetry.flush();
      const get = async (/** @type {string} */ url, /** @type {RequestInit} */ init = {}) => (await fetch(url, init)).status;
      return {
        // As the dashboard asks for it: with the (loopback demo) read key.
        summary: await get('/api/telemetry/summary', { headers: { 'x-burn-edge-read-key': 'demo-read-key' } }),
        summaryKeyed: await get(`/api/telemetry/summary?key=${key}`),
        keyedScript: await get(`/lib/index.js?key=${key}`),
        ingest: await get(`/v1/logs?key=${key}`),
        channel: await get('/models/mnist/channel.json'),
      };
    }, KEY);
    assert.equal(statuses.summary, 200, 'the summary answered (so a careless worker would have stored it)');
    assert.equal(statuses.keyedScript, 200);
    // Cache writes happen in waitUntil after the answer: give them a moment.
    await new Promise((r) => setTimeout(r, 500));

    const caches = await cachedUrls(page);
    const shell = Object.entries(caches).filter(([name]) => name.startsWith('burn-edge-shell-')).flatMap(([, urls]) => urls);
    const all = Object.values(caches).flat();
    assert.ok(shell.some((u) => u.endsWith('/lib/index.js')), `the shell is kept: ${shell.join(' ')}`);
    assert.ok(shell.some((u) => u === `${env.server.url}loader-demo.html`), 'the page, under its path alone');
    for (const url of all) {
      const { pathname, search } = new URL(url);
      assert.doesNotMatch(pathname, /^\/(api|v1|models)\//, `not stored: ${url}`);
      // The loader's own runtime cache keeps pkg/ files; nothing stored anywhere carries a key.
      assert.equal(search, '', `no query string is stored: ${url}`);
      assert.ok(!url.includes(KEY), url);
    }

    // With the server gone, the shell still comes from the cache; the summary does not.
    env.server.stop();
    await new Promise((r) => setTimeout(r, 300));
    const offline = await page.evaluate(async () => {
      const status = async (/** @type {string} */ url) => fetch(url).then((r) => r.status, () => 'failed');
      return { script: await status('/lib/index.js'), summary: await status('/api/telemetry/summary') };
    });
    assert.deepEqual(offline, { script: 200, summary: 'failed' }, 'a stale summary is never served from a cache');
  } finally {
    await context.close();
  }
});
