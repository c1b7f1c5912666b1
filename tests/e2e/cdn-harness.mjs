/**
 * @module cdn-harness
 * Helpers for the loader's end-to-end tests: the real server on a fixed port (so it can be
 * stopped and started again at the same origin), a stub mirror, byte counting, cache peeking.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { cliPath } from './harness.mjs';

/** A free loopback port (free when asked; the server binds it right after). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (probe.address());
      probe.close(() => resolve(port));
    });
  });
}

/**
 * `burn-edge serve` on a given port; `stop()` resolves once the process is gone.
 * @param {number} port
 * @returns {Promise<{ url: string, stop: () => Promise<void> }>}
 */
export function startServerAt(port) {
  return new Promise((resolve, reject) => {
    const child = spawn(cliPath(), ['serve', '--addr', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((done) => child.on('exit', done));
    let out = '';
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`burn-edge serve exited with ${code}: ${out}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (/http:\/\/[\d.]+:\d+\//.test(out)) {
        resolve({ url: `http://127.0.0.1:${port}/`, stop: async () => { child.kill(); await exited; } });
      }
    });
  });
}

/**
 * A stub mirror answering every request with `status` (CORS allowed, so the page sees the
 * status rather than an opaque failure); records the paths asked for.
 * @param {number} status
 * @returns {Promise<{ url: string, hits: string[], stop: () => Promise<void> }>}
 */
export function startStub(status) {
  /** @type {string[]} */
  const hits = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(status, {
      'access-control-allow-origin': '*',
      'cross-origin-resource-policy': 'cross-origin',
      'content-type': 'text/plain',
    });
    res.end(`stub mirror answers ${status}`);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      resolve({ url: `http://127.0.0.1:${port}/`, hits, stop: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

/**
 * Counts bytes the page (and its dedicated workers) received from the network: encoded body
 * plus headers of every finished request, as Chromium reports them. Cache hits count 0.
 * @param {import('playwright-core').Page} page
 */
export function countBytes(page) {
  /** @type {Promise<{ path: string, bytes: number }>[]} */
  const sizes = [];
  const onFinished = (/** @type {import('playwright-core').Request} */ request) => {
    sizes.push(request.sizes().then((s) => ({
      path: new URL(request.url()).pathname,
      bytes: s.responseBodySize + s.responseHeadersSize,
    })).catch(() => ({ path: request.url(), bytes: 0 })));
  };
  page.on('requestfinished', onFinished);
  return {
    /** Stops counting; the total and the per-path list. */
    async done() {
      page.off('requestfinished', onFinished);
      const all = await Promise.all(sizes);
      return { bytes: all.reduce((sum, s) => sum + s.bytes, 0), requests: all };
    },
  };
}

/**
 * Paths of the loader's cache keys, and which of them hold bytes with the SHA-256 in their name.
 * @param {import('playwright-core').Page} page
 */
export function loaderCache(page) {
  return page.evaluate(async () => {
    const cache = await caches.open('burn-edge-v1');
    const keys = [];
    const verified = [];
    for (const request of await cache.keys()) {
      const path = new URL(request.url).pathname;
      keys.push(path);
      const match = path.match(/^\/__burn-edge\/sha256\/([0-9a-f]{64})$/);
      if (!match) continue;
      const bytes = await (await cache.match(request))?.arrayBuffer();
      const hex = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes ?? new ArrayBuffer(0))),
        (b) => b.toString(16).padStart(2, '0')).join('');
      if (hex === match[1]) verified.push(hex);
    }
    return { keys, verified };
  });
}
