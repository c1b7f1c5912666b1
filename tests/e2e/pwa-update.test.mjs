// The demo app's update flows in real Chromium against the real server on temporary folders:
// nothing new replaces what a page runs until its user accepts the offer, and nothing breaks
// mid-use.
// - A new model release (the channel's stable alias moved, signed with the dev key the page
//   pins): the page offers it; predictions running while the user accepts all resolve; the new
//   version then serves and predicts.
// - A new app shell (a changed file of the shell, then a changed sw.js): the running snapshot
//   keeps serving until the user accepts; then the page reloads once on the new shell.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { guardCsp, launchBrowser, startServer } from './harness.mjs';
import { signer } from './cdn-harness.mjs';

const TIMEOUT = { timeout: 240_000 };
// www/ copied (the shell test edits it), pkg/ linked, models/ copied (the release test edits it).
const root = mkdtempSync(join(tmpdir(), 'burn-edge-pwa-update-'));
cpSync('www', join(root, 'www'), { recursive: true });
symlinkSync(resolve('pkg'), join(root, 'pkg'));
cpSync('models', join(root, 'models'), { recursive: true });

/** @type {{ url: string, stop: () => void }} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
before(async () => { [server, browser] = await Promise.all([startServer(['--root', root]), launchBrowser({ webgpu: false })]); });
after(async () => {
  await browser?.close();
  server?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** @param {import('playwright-core').Page} page */
const ready = (page) => page.waitForSelector('body[data-ready], body[data-error]', { timeout: 120_000 });
/** @param {import('playwright-core').Page} page */
const version = (page) => page.getAttribute('body', 'data-version');
/** @param {import('playwright-core').Page} page */
const sample7 = (page) => page.evaluate(async () => (await /** @type {any} */ (window).burnEdgeDemo.classifySample('7')).digit);

test('a new model release is offered; accepting it swaps with predictions in flight, and the new version predicts', TIMEOUT, async () => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    const violations = await guardCsp(page);
    await page.goto(`${server.url}?backend=cpu&updateCheck=300`);
    await ready(page);
    assert.equal(await version(page), '1.0.0');

    const text = JSON.stringify({ schemaVersion: 1, name: 'mnist', aliases: { stable: '1.1.0', canary: '1.1.0' },
      versions: ['1.0.0', '1.1.0'], updatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }, null, 2);
    writeFileSync(join(root, 'models/mnist/channel.json'), text);
    writeFileSync(join(root, 'models/mnist/channel.json.sig'), signer().sign('channel', text));
    await page.waitForSelector('body[data-offer="Switch"]', { timeout: 30_000 });
    assert.match(await page.textContent('#update-text') ?? '', /new release of mnist/);
    assert.equal(await version(page), '1.0.0', 'nothing swapped before the user said so');

    await page.evaluate(() => {
      const w = /** @type {any} */ (window);
      w.inFlight = Promise.allSettled(Array.from({ length: 20 }, () => w.burnEdgeDemo.classifySample('7')));
    });
    await page.click('#update-accept');
    await page.waitForFunction(() => document.body.dataset.version === '1.1.0', null, { timeout: 60_000 });
    const settled = await page.evaluate(async () => (await /** @type {any} */ (window).inFlight).map((/** @type {any} */ r) => r.status));
    assert.deepEqual(settled, new Array(20).fill('fulfilled'), 'no prediction failed during the swap');
    assert.equal(await sample7(page), 7);
    await page.waitForFunction(() => /Now serving mnist 1\.1\.0 \(was 1\.0\.0\)/.test(document.getElementById('notice')?.textContent ?? ''));
    assert.equal(await page.locator('#st-swaps li').count(), 1);
    assert.deepEqual(await violations(), []);
  } finally {
    await context.close();
  }
});

test('a new app shell is offered, not swapped under the page; accepting reloads onto it', TIMEOUT, async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const violations = await guardCsp(page);
    await page.goto(`${server.url}?backend=cpu`);
    await ready(page);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
    await page.reload();
    await ready(page);
    const css = () => page.evaluate(async () => (await fetch('/app.css')).text());
    assert.doesNotMatch(await css(), /deployed again/);
    assert.equal(await page.isHidden('#update'), true, 'nothing to offer yet');

    // A new deployment of one shell file: found when a page loads, staged, offered.
    appendFileSync(join(root, 'www/app.css'), '\n/* deployed again */\n');
    await page.reload();
    await ready(page);
    await page.waitForSelector('body[data-offer="Reload"]', { timeout: 30_000 });
    assert.match(await page.textContent('#update-text') ?? '', /new version of the app/);
    assert.doesNotMatch(await css(), /deployed again/, 'the running snapshot still serves');
    assert.equal(await sample7(page), 7);
    await Promise.all([page.waitForEvent('load', { timeout: 30_000 }), page.click('#update-accept')]);
    await ready(page);
    assert.match(await css(), /deployed again/, 'the new shell serves after the reload');
    assert.equal(await page.isHidden('#update'), true);
    assert.equal(await sample7(page), 7);

    // A new sw.js: the browser installs it beside the running one; it waits for consent.
    const script = readFileSync(join(root, 'www/sw.js'), 'utf8');
    writeFileSync(join(root, 'www/sw.js'), `${script}\n// deployed again\n`);
    await page.reload();
    await ready(page);
    await page.waitForSelector('body[data-offer="Reload"]', { timeout: 30_000 });
    assert.equal(await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.waiting !== null), true);
    await Promise.all([page.waitForEvent('load', { timeout: 30_000 }), page.click('#update-accept')]);
    await ready(page);
    assert.equal(await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.waiting ?? null), null);
    assert.equal(await sample7(page), 7);
    assert.deepEqual(await violations(), []);
  } finally {
    await context.close();
  }
});
