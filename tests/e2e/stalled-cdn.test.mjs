// A CDN that accepts connections and then never answers (or stops mid-body) must not hang the
// load: after `stallTimeout` ms without data the loader moves on to the next mirror.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { serverAndBrowser, LOOPBACK_CONNECT } from './harness.mjs';

const env = serverAndBrowser({ args: LOOPBACK_CONNECT });

/**
 * A mirror that stalls: it never answers, or (`head`) sends the head and a few bytes, then nothing.
 * @param {boolean} head
 * @returns {Promise<{ url: string, hits: string[], stop: () => void }>}
 */
function startStall(head) {
  /** @type {string[]} */
  const hits = [];
  const http = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (!head) return; // the request is read, never answered
    res.writeHead(200, { 'access-control-allow-origin': '*', 'cross-origin-resource-policy': 'cross-origin',
      'content-type': 'application/octet-stream' });
    res.write('{"schema');
  });
  return new Promise((resolve) => http.listen(0, '127.0.0.1', () => {
    const { port } = /** @type {import('node:net').AddressInfo} */ (http.address());
    resolve({ url: `http://127.0.0.1:${port}/`, hits, stop: () => { http.closeAllConnections(); http.close(); } });
  }));
}

for (const head of [false, true]) {
  test(`a primary CDN that ${head ? 'stops mid-body' : 'never answers'} fails over to the mirror after the stall timeout`, { timeout: 90_000 }, async () => {
    const stall = await startStall(head);
    const context = await env.browser.newContext({ serviceWorkers: 'block' });
    try {
      const page = await context.newPage();
      const query = new URLSearchParams({ sw: '0', retries: '0', stallTimeout: '1500',
        channel: `${stall.url}models/mnist/channel.json`, mirror: `${env.server.url}models/mnist/` });
      const started = Date.now();
      await page.goto(`${env.server.url}index.html?${query}`);
      await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
      const seconds = (Date.now() - started) / 1000;
      const { info, error } = await page.evaluate(() => {
        const demo = /** @type {any} */ (window).burnEdgeDemo;
        return { info: demo.handle?.info(), error: demo.error };
      });
      assert.equal(error, null);
      assert.equal(info.version, '1.0.0');
      assert.equal(info.served.channel, `${env.server.url}models/mnist/channel.json`, 'the channel came from the mirror');
      assert.ok(stall.hits.some((h) => h.endsWith('/channel.json')), `the stalled CDN was asked first: ${stall.hits}`);
      assert.ok(seconds < 45, `loaded in ${seconds} s`);
    } finally {
      await context.close();
      stall.stop();
    }
  });
}
