// The demo app as an installable offline PWA (www/sw.js, www/manifest.webmanifest) in real
// Chromium against the real server: Chromium reports it installable; after one visit, with the
// network off, a reload works and predicts (MNIST drawn digit, SqueezeNet sample photo); the
// worker keeps the app shell and nothing else: the telemetry summary, ingest URLs, anything
// with a query string (keys ride there), the models and the runtime (the loader's own verified
// caches hold those) stay out of its caches, and a page opened with ?key= is stored under its
// path alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumOptions, guardCsp, serverAndBrowser } from './harness.mjs';
import { firstPredictionMs } from './app-pages.mjs';

const TIMEOUT = { timeout: 240_000 };
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

/** @param {import('playwright-core').Page} page */
const settled = (page) => page.waitForSelector('body[data-ready], body[data-error]', { timeout: 120_000 });
/** @param {import('playwright-core').Page} page */
const controlled = (page) => page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });

test('Chromium reports the app installable: no installability errors', TIMEOUT, async () => {
  // Installability is not offered in an incognito-like context: a real profile.
  const profile = mkdtempSync(join(tmpdir(), 'burn-edge-pwa-profile-'));
  const context = await chromium.launchPersistentContext(profile, chromiumOptions({ webgpu: false }));
  try {
    const page = context.pages()[0] ?? await context.newPage();
    const violations = await guardCsp(page);
    await page.goto(`${env.server.url}?backend=cpu`);
    await settled(page);
    await controlled(page);
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    assert.deepEqual(installabilityErrors, [], JSON.stringify(installabilityErrors));
    const manifest = await cdp.send('Page.getAppManifest');
    assert.deepEqual(manifest.errors, []);
    assert.match(manifest.url, /\/manifest\.webmanifest$/);
    assert.deepEqual(await violations(), []);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

for (const [model, query, predict] of /** @type {const} */ ([
  ['mnist', 'backend=cpu', 'digit'],
  ['squeezenet', 'model=squeezenet&backend=cpu', 'photo'],
])) {
  test(`after one visit, with the network off, a reload works and predicts (${model})`, TIMEOUT, async () => {
    const context = await env.browser.newContext();
    try {
      const page = await context.newPage();
      const violations = await guardCsp(page);
      await page.goto(`${env.server.url}?${query}`);
      await settled(page);
      await controlled(page);
      /** @param {import('playwright-core').Page} p */
      const prediction = async (p) => (predict === 'digit'
        ? String((await p.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.classifySample('7'))).digit)
        : (await p.waitForSelector('body[data-top]', { timeout: 120_000 }), await p.getAttribute('body', 'data-top')));
      const want = predict === 'digit' ? '7' : 'tench, Tinca tinca';
      assert.equal(await prediction(page), want);
      const online = await firstPredictionMs(page);

      await context.setOffline(true);
      await page.reload();
      await settled(page);
      assert.equal(await page.getAttribute('body', 'data-error'), null, await page.textContent('#error') ?? '');
      assert.equal(await prediction(page), want);
      const info = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
      // The weights from the loader's verified cache; the channel from the HTTP cache while it is
      // fresh (max-age 60), else the last verified one (info.offline).
      assert.equal(info.source, 'cache');
      assert.deepEqual(info.files.map((/** @type {any} */ f) => f.source), ['cache']);
      console.log(`${model}: first visit ${online.toFixed(0)} ms to the first prediction, offline reload ${(await firstPredictionMs(page)).toFixed(0)} ms`);
      assert.deepEqual(await violations(), []);
    } finally {
      await context.close();
    }
  });
}

test('the service worker stores the shell only: no summary, no ingest URL, no key, no model or runtime file', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    const violations = await guardCsp(page);
    const query = `collector=./&key=${KEY}&flushMs=100&backend=cpu`;
    await page.goto(`${env.server.url}?${query}`);
    await settled(page);
    await controlled(page);
    // Controlled now: this load and everything after it passes through the worker.
    await page.reload();
    await settled(page);
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
        catalog: await get('/api/models'),
      };
    }, KEY);
    assert.equal(statuses.summary, 200, 'the summary answered (so a careless worker would have stored it)');
    assert.equal(statuses.keyedScript, 200);
    assert.equal(statuses.catalog, 200);
    // Cache writes happen in waitUntil after the answer: give them a moment.
    await new Promise((r) => setTimeout(r, 500));

    const caches = await cachedUrls(page);
    const shell = Object.entries(caches).filter(([name]) => name.startsWith('burn-edge-shell-')).flatMap(([, urls]) => urls);
    const all = Object.values(caches).flat();
    assert.ok(shell.some((u) => u.endsWith('/lib/index.js')), `the shell is kept: ${shell.join(' ')}`);
    assert.ok(shell.some((u) => u === env.server.url), 'the page, under its path alone');
    assert.ok(shell.some((u) => u.endsWith('/manifest.webmanifest')) && shell.some((u) => u.endsWith('/icons/icon-512.png')));
    // The runtime is stored once, by the loader after verifying it, not again by the worker.
    assert.deepEqual(shell.filter((u) => new URL(u).pathname.startsWith('/pkg/')), []);
    assert.ok(all.some((u) => u.endsWith('/pkg/cpu/burn_edge_relaxed_bg.wasm')), 'the loader keeps the runtime');
    for (const url of all) {
      const { pathname, search } = new URL(url);
      assert.doesNotMatch(pathname, /^\/(api|v1|models)\//, `not stored: ${url}`);
      // Nothing stored anywhere carries a query string or a key.
      assert.equal(search, '', `no query string is stored: ${url}`);
      assert.ok(!url.includes(KEY), url);
    }

    assert.deepEqual(await violations(), []);

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
