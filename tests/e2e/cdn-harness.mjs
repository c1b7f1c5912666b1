/**
 * @module cdn-harness
 * Helpers for the loader's end-to-end tests: the real server on a fixed port (so it can be
 * stopped and started again at the same origin), a stub mirror, byte counting, cache peeking,
 * and signing forged channel and manifest files.
 */
import { spawn } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
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

/**
 * Signs files the way `burn-edge publish` does (Ed25519 over `"burn-edge-signature-v1\n" + kind
 * + "\n" + bytes`), so a test can serve a forged channel or manifest that is nonetheless
 * validly signed: by the dev key the demo pages pin (.burn-edge/keys/, from
 * scripts/import-models.sh), or by a fresh key (`signer(null)`) that no page pins.
 * @param {string | null} [keys] folder with signing.key and signing.pub; null: a fresh key
 */
export function signer(keys = '.burn-edge/keys') {
  /** @type {import('node:crypto').KeyObject} */
  let privateKey;
  /** @type {Buffer} */
  let raw;
  if (keys) {
    const seed = Buffer.from(readFileSync(join(keys, 'signing.key'), 'utf8').trim(), 'base64');
    raw = Buffer.from(readFileSync(join(keys, 'signing.pub'), 'utf8').trim(), 'base64');
    privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: raw.toString('base64url') }, format: 'jwk' });
  } else {
    const pair = generateKeyPairSync('ed25519');
    privateKey = pair.privateKey;
    raw = Buffer.from(/** @type {string} */ (pair.publicKey.export({ format: 'jwk' }).x), 'base64url');
  }
  const keyId = createHash('sha256').update(raw).digest('hex').slice(0, 16);
  return {
    publicKey: raw.toString('base64'),
    keyId,
    /**
     * The `.sig` file for `body` as `kind`.
     * @param {'channel' | 'manifest'} kind
     * @param {string | Buffer} body
     */
    sign(kind, body) {
      const message = Buffer.concat([Buffer.from(`burn-edge-signature-v1\n${kind}\n`), Buffer.from(body)]);
      const signature = cryptoSign(null, message, privateKey).toString('base64');
      return JSON.stringify({ schemaVersion: 1, algorithm: 'Ed25519', keyId, signature });
    },
  };
}

/**
 * Serves `body` at `pattern` and, unless `signature` is null, `signature` at `pattern.sig`
 * (null: the `.sig` answers 404, an unsigned file).
 * @param {import('playwright-core').Page | import('playwright-core').BrowserContext} page
 * @param {string} pattern a glob for page.route
 * @param {string | Buffer} body
 * @param {string | null} signature
 */
export async function serveSigned(page, pattern, body, signature) {
  await page.route(pattern, (route) => route.fulfill({ status: 200, body, contentType: 'application/json' }));
  await page.route(`${pattern}.sig`, (route) => route.fulfill(signature === null
    ? { status: 404, body: 'no signature' }
    : { status: 200, body: signature, contentType: 'application/json' }));
}
