// @module bench/pwa: the demo app's time from opening the page to its first prediction, per
// model (MNIST: a sample digit classified once the page is ready; SqueezeNet: the default
// sample photo the page classifies by itself), CPU build: a first visit (fresh browser context:
// nothing cached, the service worker not installed yet), an online reload (the shell from the
// service worker, runtime and weights from the loader's verified caches) and an offline reload
// (the network off). First visits on loopback and on an emulated 40 Mbit/s, 20 ms link
// (Chromium's network emulation). The page's own clock (performance.now() at its first
// prediction, from navigation start). Median of 3 runs per cell. Prints a table and writes
// bench/results/pwa.md and pwa.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { launchBrowser, startServer } from '../tests/e2e/harness.mjs';

const RUNS = 3;
const models = [
  { name: 'mnist', query: 'backend=cpu&updateCheck=0', digit: true },
  { name: 'squeezenet', query: 'model=squeezenet&backend=cpu&updateCheck=0', digit: false },
];
const networks = [
  { name: 'loopback', conditions: null },
  { name: '40 Mbit/s, 20 ms', conditions: { offline: false, latency: 20, downloadThroughput: 40e6 / 8, uploadThroughput: 20e6 / 8 } },
];

/**
 * Waits for the page's first prediction and returns its time from navigation start (ms).
 * @param {import('playwright-core').Page} page
 * @param {boolean} digit
 */
async function firstPrediction(page, digit) {
  await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 240_000 });
  const error = await page.getAttribute('body', 'data-error');
  if (error) throw new Error(`the page failed: ${error}: ${await page.textContent('#error')}`);
  if (digit) await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.classifySample('7'));
  else await page.waitForSelector('body[data-top]', { timeout: 240_000 });
  return page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.firstPredictionAt);
}

const median = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const server = await startServer();
const browser = await launchBrowser({ webgpu: false });
/** @type {any[]} */
const rows = [];
try {
  for (const model of models) {
    for (const network of networks) {
      /** @type {{ first: number[], online: number[], offline: number[] }} */
      const t = { first: [], online: [], offline: [] };
      for (let run = 0; run < RUNS; run++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        const cdp = await context.newCDPSession(page);
        if (network.conditions) {
          await cdp.send('Network.enable');
          await cdp.send('Network.emulateNetworkConditions', network.conditions);
        }
        await page.goto(`${server.url}?${model.query}`);
        t.first.push(await firstPrediction(page, model.digit));
        await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
        await page.reload();
        t.online.push(await firstPrediction(page, model.digit));
        await context.setOffline(true);
        await page.reload();
        t.offline.push(await firstPrediction(page, model.digit));
        await context.close();
      }
      const row = { model: model.name, network: network.name, runs: RUNS,
        firstVisitMs: median(t.first), onlineReloadMs: median(t.online), offlineReloadMs: median(t.offline), samples: t };
      rows.push(row);
      console.error(`done: ${model.name} ${network.name}: first ${row.firstVisitMs.toFixed(0)} ms, offline reload ${row.offlineReloadMs.toFixed(0)} ms`);
    }
  }
} finally {
  await browser.close();
  server.stop();
}

const ms = (/** @type {number} */ v) => `${v.toFixed(0)} ms`;
const md = [
  '# The demo app: page open to first prediction (CPU build)',
  '',
  `Median of ${RUNS} runs per cell, ${new Date().toISOString().slice(0, 10)}, \`npm run bench:pwa\` (bench/pwa.mjs): headless Chromium, ` +
    'the dev server (`burn-edge serve`) on loopback; the first visit also on Chromium\'s emulated link (reloads then use the ' +
    'same link, the offline one none). Time from navigation start to the first prediction by the page\'s own clock. ' +
    'First visit: nothing cached. Online reload: the shell from the service worker, the runtime and weights from the ' +
    'loader\'s verified caches, the channel from the HTTP cache while fresh (max-age 60 s). Offline reload: the network off.',
  '',
  '| model | network | first visit | online reload | offline reload | offline / first |',
  '|---|---|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.model} | ${r.network} | ${ms(r.firstVisitMs)} | ${ms(r.onlineReloadMs)} | ${ms(r.offlineReloadMs)} | ` +
    `${(r.offlineReloadMs / r.firstVisitMs).toFixed(2)} |`),
  '',
].join('\n');
console.log(md);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/pwa.md', md);
writeFileSync('bench/results/pwa.json', JSON.stringify(rows, null, 2));
