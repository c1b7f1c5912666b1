// @module bench/hybrid: time to first prediction on a cold load (fresh browser context: nothing
// cached) of SqueezeNet (5 MB of weights) with `route: 'auto'` (the server answers while the
// weights download) against `route: 'edge'` (the browser only), on loopback and on an emulated
// 40 Mbit/s link with 20 ms latency (Chromium's network emulation). Also when the edge took
// over under 'auto'. One run per cell, CPU build. Prints a table and writes
// bench/results/hybrid.md and hybrid.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { launchBrowser, startServer } from '../tests/e2e/harness.mjs';

const networks = [
  { name: 'loopback', conditions: null },
  { name: '40 Mbit/s, 20 ms', conditions: { offline: false, latency: 20, downloadThroughput: (40e6 / 8), uploadThroughput: (20e6 / 8) } },
];
const modes = /** @type {const} */ (['edge', 'auto']);

const server = await startServer();
// The server is a long-running service: a cold *page* meets a warm server (its session loaded).
await fetch(`${server.url}v1/predict/squeezenet`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-burn-edge-key': 'demo-key' },
  body: new Float32Array(3 * 224 * 224) }).then((r) => r.arrayBuffer());
const browser = await launchBrowser({ webgpu: false });
/** @type {any[]} */
const rows = [];
try {
  for (const network of networks) {
    for (const route of modes) {
      const context = await browser.newContext({ serviceWorkers: 'block' });
      const page = await context.newPage();
      if (network.conditions) {
        const cdp = await context.newCDPSession(page);
        await cdp.send('Network.enable');
        await cdp.send('Network.emulateNetworkConditions', network.conditions);
      }
      await page.goto(`${server.url}dev-key.json`);
      const r = await page.evaluate(async ({ route }) => {
        const { loadModel } = await import('/lib/index.js');
        const publicKey = (await (await fetch('/dev-key.json')).json()).publicKey;
        const input = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => (i % 255));
        const t0 = performance.now();
        const model = await loadModel({ channelUrl: '/models/squeezenet/channel.json', publicKey, backend: 'cpu', route,
          cloud: { url: location.origin, key: 'demo-key' } });
        const loaded = performance.now() - t0;
        const where = model.info().route.current;
        await model.predict(input);
        const first = performance.now() - t0;
        // When the edge serves (under 'auto': once its weights are in and it warmed up).
        while (model.info().route.current !== 'edge') await new Promise((r) => setTimeout(r, 20));
        const edgeAt = performance.now() - t0;
        await model.predict(input);
        const edgeFirst = performance.now() - t0;
        model.dispose();
        return { loaded, first, where, edgeAt, edgeFirst };
      }, { route });
      rows.push({ network: network.name, route, ...r });
      console.error(`done: ${network.name} ${route}: first prediction ${r.first.toFixed(0)} ms (${r.where})`);
      await context.close();
    }
  }
} finally {
  await browser.close();
  server.stop();
}

const ms = (/** @type {number} */ v) => `${v.toFixed(0)} ms`;
const md = [
  '# Time to first prediction on a cold load: `route: \'auto\'` vs `\'edge\'` (SqueezeNet, 5 MB)',
  '',
  `One run per cell, ${new Date().toISOString().slice(0, 10)}, \`npm run bench:hybrid\` (bench/hybrid.mjs): headless Chromium, fresh ` +
    'context (nothing cached), CPU build, the dev server (`burn-edge serve`, debug build, its SqueezeNet session loaded by one ' +
    'request before) as CDN and cloud on loopback; the second ' +
    'network is Chromium\'s emulation. "first prediction" is from the loadModel call to the first answer; "edge serving" is when ' +
    'predictions moved to (or, for edge, were already on) the browser.',
  '',
  '| network | route | loadModel returned | first prediction | answered by | edge serving | first edge prediction |',
  '|---|---|---:|---:|---|---:|---:|',
  ...rows.map((r) => `| ${r.network} | ${r.route} | ${ms(r.loaded)} | ${ms(r.first)} | ${r.where} | ${ms(r.edgeAt)} | ${ms(r.edgeFirst)} |`),
  '',
].join('\n');
console.log(md);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/hybrid.md', md);
writeFileSync('bench/results/hybrid.json', JSON.stringify(rows, null, 2));
