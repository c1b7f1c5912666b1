// The trust chain end to end in Chromium (www/index.html, which pins the dev public key
// that scripts/import-models.sh writes, against the real server and the signed CDN layout):
// signed channel and manifest, each tampered / unsigned / wrongly signed / replayed, the
// evil-host alias, escaping file paths, an oversized mirror body, and tampered runtime files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { launchBrowser, startServer, LOOPBACK_CONNECT } from './harness.mjs';
import { freePort, loaderCache, serveSigned, signer, startServerAt, startStub } from './cdn-harness.mjs';

const TIMEOUT = { timeout: 180_000 };
const channelText = readFileSync('models/mnist/channel.json', 'utf8');
const channel = JSON.parse(channelText);
const manifestText = readFileSync('models/mnist/1.0.0/manifest.json', 'utf8');
const manifest = JSON.parse(manifestText);
const otherText = readFileSync('models/mnist/1.1.0/manifest.json', 'utf8');
const dev = signer();
const stranger = signer(null);

/** @type {{ url: string, stop: () => void }} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
before(async () => {
  assert.ok(existsSync('models/mnist/channel.json.sig'), 'models/mnist is not signed: run scripts/import-models.sh');
  [server, browser] = await Promise.all([startServer(LOOPBACK_CONNECT), launchBrowser({ webgpu: false })]);
});
after(async () => {
  await browser?.close();
  server?.stop();
});

/**
 * Opens the demo app and waits until the model loaded or failed.
 * @param {import('playwright-core').Page} page
 * @param {string} [query]
 */
async function openDemo(page, query = 'sw=0') {
  await page.goto(`${server.url}index.html?${query}`);
  await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
  return page.evaluate(() => {
    const demo = /** @type {any} */ (window).burnEdgeDemo;
    return { info: demo.handle?.info(), error: demo.error };
  });
}

/** Every request the page makes (workers included), by URL. @param {import('playwright-core').Page} page */
function requests(page) {
  /** @type {string[]} */
  const urls = [];
  page.on('request', (r) => urls.push(r.url()));
  page.on('worker', (w) => w.on('request', (/** @type {any} */ r) => urls.push(r.url())));
  return { urls, weights: () => urls.filter((u) => u.endsWith('.bpk')) };
}

/** The versions the loader's index remembers for the mnist folder. @param {import('playwright-core').Page} page */
function cachedVersions(page) {
  return page.evaluate(async (folder) => {
    const hit = await (await caches.open('burn-edge-v1')).match(`/__burn-edge/models/${encodeURIComponent(folder)}`);
    return hit ? (await hit.json()).versions : [];
  }, `${server.url}models/mnist/`);
}

/** A fresh context (own cache) whose requests page.route sees. */
const isolated = () => browser.newContext({ serviceWorkers: 'block' });

/** @param {string} text @param {string} from @param {string} to */
const replaced = (text, from, to) => {
  assert.ok(text.includes(from), `fixture lacks ${from}`);
  return text.replace(from, to);
};

test('a signed release loads with info().signed and the cached manifest keeps its signature; without a key it warns', TIMEOUT, async () => {
  const context = await isolated();
  try {
    const page = await context.newPage();
    const { info, error } = await openDemo(page);
    assert.equal(error, null);
    assert.equal(info.signed, true);
    assert.equal(info.keyId, dev.keyId);
    assert.ok(!info.warnings.some((/** @type {string} */ w) => w.includes('without publicKey')), info.warnings.join('; '));
    const [record] = await cachedVersions(page);
    assert.equal(record.version, manifest.version);
    assert.equal(record.signature, readFileSync('models/mnist/1.0.0/manifest.json.sig', 'utf8'));

    // Read from the cache with the key: verified again, so a record whose signature no longer
    // matches (storage tampered with) is not used but fetched and verified afresh.
    await page.evaluate(async (folder) => {
      const cache = await caches.open('burn-edge-v1');
      const key = `/__burn-edge/models/${encodeURIComponent(folder)}`;
      const index = await (await cache.match(key))?.json();
      index.versions[0].manifest = index.versions[0].manifest.replace('"accuracy": 0.', '"accuracy": 1.');
      await cache.put(key, Response.json(index));
    }, `${server.url}models/mnist/`);
    const reread = await openDemo(page);
    assert.equal(reread.error, null);
    assert.notEqual(reread.info.served.manifest, 'cache', 'the altered cached manifest was not trusted');
    assert.equal((await cachedVersions(page))[0].manifest, manifestText);

    const unsigned = await openDemo(page, 'sw=0&publicKey=none');
    assert.equal(unsigned.error, null);
    assert.equal(unsigned.info.signed, false);
    assert.match(unsigned.info.warnings.join('; '), /loaded without publicKey: the channel and manifest were not verified/);
  } finally {
    await context.close();
  }
});

test('a tampered, unsigned or wrongly signed channel or manifest is refused with IntegrityError before any weight request, never cached', TIMEOUT, async () => {
  const tamperedChannel = replaced(channelText, channel.updatedAt, '2026-11-25T16:23:08Z');
  const tamperedManifest = replaced(manifestText, `"accuracy": ${manifest.metrics.accuracy}`, '"accuracy": 0.9999');
  const realManifestSig = readFileSync('models/mnist/1.0.0/manifest.json.sig', 'utf8');
  const channelGlob = '**/models/mnist/channel.json';
  const manifestGlob = '**/models/mnist/1.0.0/manifest.json';
  /** @type {[string, (page: import('playwright-core').Page) => Promise<void>, RegExp][]} */
  const cases = [
    ['channel: one changed byte', (p) => p.route(channelGlob, (r) => r.fulfill({ body: tamperedChannel, contentType: 'application/json' })),
      /channel\.json from .* failed verification: the channel's signature does not match its bytes/],
    ['channel: unsigned', (p) => serveSigned(p, channelGlob, channelText, null), /the channel is unsigned/],
    ['channel: another key', (p) => serveSigned(p, channelGlob, channelText, stranger.sign('channel', channelText)),
      new RegExp(`signed by key ${stranger.keyId}, not by the pinned key ${dev.keyId}`)],
    ['channel: a manifest signature', (p) => serveSigned(p, channelGlob, channelText, dev.sign('manifest', channelText)),
      /the channel's signature does not match/],
    ['manifest: one changed field', (p) => p.route(manifestGlob, (r) => r.fulfill({ body: tamperedManifest, contentType: 'application/json' })),
      /1\.0\.0\/manifest\.json from .* failed verification: the manifest's signature does not match/],
    ['manifest: unsigned', (p) => serveSigned(p, manifestGlob, manifestText, null), /the manifest is unsigned/],
    ['manifest: another key', (p) => serveSigned(p, manifestGlob, manifestText, stranger.sign('manifest', manifestText)),
      /not by the pinned key/],
    ['manifest: a channel signature', (p) => serveSigned(p, manifestGlob, manifestText, dev.sign('channel', manifestText)),
      /the manifest's signature does not match/],
    ['manifest: another version, validly signed', (p) => serveSigned(p, manifestGlob, otherText, dev.sign('manifest', otherText)),
      /it describes version 1\.1\.0, the channel's alias "stable" points to 1\.0\.0/],
    ['manifest: the real signature of another file', (p) => serveSigned(p, manifestGlob, tamperedManifest, realManifestSig),
      /does not match/],
  ];
  for (const [name, tamper, message] of cases) {
    const context = await isolated();
    try {
      const page = await context.newPage();
      const seen = requests(page);
      await tamper(page);
      const { error } = await openDemo(page);
      assert.equal(error?.name, 'IntegrityError', `${name}: ${JSON.stringify(error)}`);
      assert.equal(error?.code, 'INTEGRITY');
      assert.match(error?.message, message, name);
      assert.deepEqual(seen.weights(), [], `${name}: no weights requested`);
      assert.deepEqual(await cachedVersions(page), [], `${name}: nothing remembered`);
      assert.deepEqual((await loaderCache(page)).keys.filter((k) => k.includes('sha256')), [], `${name}: no file cached`);
    } finally {
      await context.close();
    }
  }
});

test('after a verified load, a refused channel or manifest leaves the last good version serving', TIMEOUT, async () => {
  const context = await isolated();
  try {
    const page = await context.newPage();
    assert.equal((await openDemo(page)).info.version, '1.0.0');
    const seen = requests(page);

    await serveSigned(page, '**/models/mnist/channel.json', channelText, stranger.sign('channel', channelText));
    const kept = await openDemo(page);
    assert.equal(kept.error, null);
    assert.equal(kept.info.version, '1.0.0');
    assert.equal(kept.info.source, 'cache');
    assert.equal(kept.info.fallback?.reason, 'INTEGRITY');
    assert.match(kept.info.fallback?.message, /not by the pinned key/);

    // A genuine-looking channel (signed by the pinned key) moves stable to 1.1.0, whose manifest
    // arrives altered: 1.0.0 keeps serving and 1.1.0's weights are never asked for.
    await page.unrouteAll();
    const moved = JSON.stringify({ ...channel, aliases: { ...channel.aliases, stable: '1.1.0' }, updatedAt: '2026-11-30T00:00:00Z' });
    await serveSigned(page, '**/models/mnist/channel.json', moved, dev.sign('channel', moved));
    await page.route('**/models/mnist/1.1.0/manifest.json', (r) => r.fulfill({ body: otherText.replace('"accuracy": 0.', '"accuracy": 1.'),
      contentType: 'application/json' }));
    const still = await openDemo(page);
    assert.equal(still.error, null);
    assert.equal(still.info.version, '1.0.0');
    assert.equal(still.info.fallback?.wanted, '1.1.0');
    assert.match(still.info.fallback?.message, /manifest's signature does not match/);
    assert.deepEqual(seen.weights(), []);
    assert.deepEqual((await cachedVersions(page)).map((/** @type {any} */ v) => v.version), ['1.0.0']);

    // That channel was verified, so the committed (older) one is now a replay.
    await page.unrouteAll();
    const replay = await openDemo(page);
    assert.equal(replay.info.version, '1.0.0');
    assert.ok(replay.info.fallback?.message.includes(`updatedAt ${channel.updatedAt} is older than the last verified one (2026-11-30T00:00:00Z)`),
      replay.info.fallback?.message);
  } finally {
    await context.close();
  }
});

test('a channel alias that is a URL to another host is refused without a request there, key or not', TIMEOUT, async () => {
  const evil = JSON.stringify({ ...channel, aliases: { stable: 'https://evil.example/m' }, versions: [...channel.versions, 'https://evil.example/m'] });
  for (const query of ['sw=0', 'sw=0&publicKey=none']) {
    const context = await isolated();
    try {
      const page = await context.newPage();
      const seen = requests(page);
      await serveSigned(page, '**/models/mnist/channel.json', evil, dev.sign('channel', evil));
      const { error } = await openDemo(page, query);
      assert.equal(error?.name, 'IntegrityError', query);
      assert.match(error?.message, /alias "stable" points to "https:\/\/evil\.example\/m", which is not a semantic version/);
      const elsewhere = seen.urls.filter((u) => /^https?:/.test(u) && !u.startsWith(server.url));
      assert.deepEqual(elsewhere, [], `${query}: nothing asked of another host`);
    } finally {
      await context.close();
    }
  }
});

test('manifest file paths that leave the model folder are refused before any request, key or not', TIMEOUT, async () => {
  const stub = await startStub(200);
  try {
    const host = new URL(stub.url).host;
    for (const path of ['../%2e%2e/%2e%2e/x.bpk', `http:${host}/x.bpk`, `//${host}/x.bpk`, '../../pkg/cpu/x.bpk']) {
      for (const query of ['sw=0', 'sw=0&publicKey=none']) {
        const forged = JSON.stringify({ ...manifest, files: [{ ...manifest.files[0], path }] });
        const context = await isolated();
        try {
          const page = await context.newPage();
          const seen = requests(page);
          await serveSigned(page, '**/models/mnist/1.0.0/manifest.json', forged, dev.sign('manifest', forged));
          const { error } = await openDemo(page, query);
          assert.equal(error?.name, 'IntegrityError', `${path} ${query}: ${JSON.stringify(error)}`);
          assert.match(error?.message, /names a file outside the model folder/);
          assert.deepEqual(seen.weights(), [], path);
        } finally {
          await context.close();
        }
      }
    }
    assert.deepEqual(stub.hits, [], 'the other host was never asked');
  } finally {
    await stub.stop();
  }
});

test('a mirror sending more bytes than the manifest says is refused; the next mirror serves', TIMEOUT, async () => {
  const good = readFileSync(`models/mnist/1.0.0/${manifest.files[0].path}`);
  const oversized = Buffer.concat([good, Buffer.alloc(8 << 20, 1)]);
  const primary = new URL(server.url).host;
  // A second server (another origin; the server sends CORS headers) is the next mirror.
  const second = await startServerAt(await freePort());
  const mirror = `${second.url}models/mnist/`;
  const context = await isolated();
  try {
    const page = await context.newPage();
    await page.route((url) => url.host === primary && url.pathname.endsWith('.bpk'), (r) => r.fulfill({ status: 200, body: oversized }));
    const alone = await openDemo(page, 'sw=0&retries=0');
    assert.equal(alone.error?.name, 'IntegrityError');
    assert.match(alone.error?.message, new RegExp(`the body is longer than the ${good.length} bytes expected`));
    assert.deepEqual((await loaderCache(page)).keys.filter((k) => k.includes('sha256')), []);

    const failover = await openDemo(page, `sw=0&retries=0&mirror=${encodeURIComponent(mirror)}`);
    assert.equal(failover.error, null);
    assert.ok(failover.info.files[0].url.startsWith(mirror), failover.info.files[0].url);
  } finally {
    await context.close();
    await second.stop();
  }
});

test('a tampered runtime glue or wasm is refused with IntegrityError naming the file and never cached; cached copies are verified again', TIMEOUT, async () => {
  const pins = JSON.parse(readFileSync('pkg/cpu/integrity.json', 'utf8')).files;
  const runtimeKeys = (/** @type {import('playwright-core').Page} */ page) => page.evaluate(async () =>
    (await (await caches.open('burn-edge-runtime-v1')).keys()).map((r) => new URL(r.url).pathname).filter((p) => !p.endsWith('integrity.json')).sort());
  /** Whether the page or its worker ran the planted line. @param {import('playwright-core').Page} page */
  const stolen = async (page) => [await page.evaluate(() => 'stolen' in globalThis),
    ...await Promise.all(page.workers().map((w) => w.evaluate(() => 'stolen' in globalThis)))].some(Boolean);
  const plant = (/** @type {import('playwright-core').Route} */ route) => route.fetch().then(async (r) =>
    route.fulfill({ status: 200, body: `${await r.text()}\nglobalThis.stolen = 1;\n`, contentType: 'text/javascript' }));
  const context = await isolated();
  try {
    const page = await context.newPage();
    await page.route('**/pkg/cpu/*_bg.wasm', async (route) => {
      const body = await (await route.fetch()).body();
      body[body.length >> 1] ^= 0xff;
      await route.fulfill({ status: 200, body, contentType: 'application/wasm' });
    });
    const wasm = await openDemo(page);
    assert.equal(wasm.error?.name, 'IntegrityError');
    assert.match(wasm.error?.message, /cpu\/burn_edge(_relaxed)?_bg\.wasm from .* failed verification: expected sha256 [0-9a-f]{64}/);
    assert.deepEqual(await runtimeKeys(page), [], 'nothing of the runtime cached');

    // The glue, served by the package's own folder with one line added: refused before any
    // import (the line never ran), and the runtime is not cached, not even its good wasm.
    await page.unrouteAll();
    await page.route('**/pkg/cpu/burn_edge*.js', plant);
    const glue = await openDemo(page);
    assert.equal(glue.error?.name, 'IntegrityError');
    assert.match(glue.error?.message, /cpu\/burn_edge(_relaxed)?\.js from .* failed verification: (expected sha256 [0-9a-f]{64}|the body is longer)/);
    assert.equal(await stolen(page), false, 'the tampered glue never ran');
    assert.deepEqual(await runtimeKeys(page), []);

    await page.unrouteAll();
    const ok = await openDemo(page);
    assert.equal(ok.error, null);
    assert.equal(ok.info.runtime.source, 'network');
    const cached = await runtimeKeys(page);
    // The verified glue and wasm (offline, the loader checks them again and the service worker
    // answers the glue's import from that copy).
    assert.equal(cached.length, 2, `the verified glue and wasm are cached: ${cached}`);
    assert.ok(cached.some((k) => /\/pkg\/cpu\/burn_edge(_relaxed)?_bg\.wasm$/.test(k)), `${cached}`);
    for (const key of cached) assert.ok(pins[key.split('/').pop() ?? ''], `${key} is pinned`);

    // The wasm tampered on the network again: the verified cached copy runs. The glue
    // tampered: refused even with a runtime in the cache, since only verified glue is imported.
    await page.route('**/pkg/cpu/*_bg.wasm', (route) => route.fulfill({ status: 200, body: Buffer.alloc(1000), contentType: 'application/wasm' }));
    const fromCache = await openDemo(page);
    assert.equal(fromCache.error, null);
    assert.equal(fromCache.info.runtime.source, 'cache');
    await page.unrouteAll();
    await page.route('**/pkg/cpu/burn_edge*.js', plant);
    const glueAgain = await openDemo(page);
    assert.equal(glueAgain.error?.name, 'IntegrityError');
    assert.equal(await stolen(page), false);

    // A poisoned cache entry (another wasm put under the runtime's key) while the network
    // serves a tampered one: neither runs, the error names the file, the entry is dropped.
    await page.unrouteAll();
    await page.evaluate(async (keys) => {
      const cache = await caches.open('burn-edge-runtime-v1');
      const other = await (await fetch('/pkg/cpu/burn_edge_bg.wasm', { cache: 'no-store' })).arrayBuffer();
      for (const key of keys) await cache.put(key, new Response(key.endsWith('relaxed_bg.wasm') ? other : new Uint8Array(100)));
    }, cached);
    await page.route('**/pkg/cpu/*_bg.wasm', (route) => route.fulfill({ status: 200, body: Buffer.alloc(1000), contentType: 'application/wasm' }));
    const poisoned = await openDemo(page);
    assert.equal(poisoned.error?.name, 'IntegrityError', JSON.stringify(poisoned.error));
    assert.match(poisoned.error?.message, /cpu\/burn_edge(_relaxed)?_bg\.wasm from .* failed verification/);
    assert.deepEqual((await runtimeKeys(page)).filter((k) => k.endsWith('.wasm')), [], 'the poisoned entry was dropped');

    // The cached wasm rots while the runtime is unreachable: the rotten copy is not run but
    // dropped (a NetworkError, not a wasm compile error), and nothing bad stays cached.
    await page.unrouteAll();
    assert.equal((await openDemo(page)).error, null);
    await page.evaluate(async (keys) => {
      const cache = await caches.open('burn-edge-runtime-v1');
      for (const key of keys) await cache.put(key, new Response(new Uint8Array(100)));
    }, await runtimeKeys(page));
    await page.route('**/pkg/cpu/*_bg.wasm', (route) => route.abort());
    const rotten = await openDemo(page, 'sw=0&retries=0');
    assert.equal(rotten.error?.code, 'NETWORK', JSON.stringify(rotten.error));
    assert.deepEqual((await runtimeKeys(page)).filter((k) => k.endsWith('.wasm')), [], 'the rotten wasm was dropped');
    await page.unrouteAll();
    const refetched = await openDemo(page);
    assert.equal(refetched.error, null);
    assert.equal(refetched.info.runtime.source, 'network');
  } finally {
    await context.close();
  }
});

test('runtimeBase (a CDN) moves only the wasm, which is verified against the package\'s pins; the glue always comes from the package', TIMEOUT, async () => {
  const cdn = await startServerAt(await freePort());
  const cdnHost = new URL(cdn.url).host;
  const context = await isolated();
  try {
    const page = await context.newPage();
    const seen = requests(page);
    const query = `sw=0&retries=0&runtimeBase=${encodeURIComponent(`${cdn.url}pkg/`)}`;
    const ok = await openDemo(page, query);
    assert.equal(ok.error, null);
    const fromCdn = seen.urls.filter((u) => new URL(u).host === cdnHost).map((u) => new URL(u).pathname);
    assert.deepEqual(fromCdn.map((u) => u.replace('_relaxed', '')), ['/pkg/cpu/burn_edge_bg.wasm'], 'nothing but the wasm from the CDN');
    assert.match(ok.info.runtime.url, new RegExp(`^${server.url}pkg/cpu/burn_edge(_relaxed)?\\.js$`));

    // The CDN serves a tampered wasm: refused, naming the file and where it came from.
    await page.route((url) => url.host === cdnHost && url.pathname.endsWith('_bg.wasm'), async (route) => {
      const body = await (await route.fetch()).body();
      body[body.length >> 1] ^= 0xff;
      await route.fulfill({ status: 200, body, contentType: 'application/wasm' });
    });
    await page.evaluate(() => caches.delete('burn-edge-runtime-v1'));
    const bad = await openDemo(page, query);
    assert.equal(bad.error?.name, 'IntegrityError');
    assert.match(bad.error?.message, new RegExp(`cpu/burn_edge(_relaxed)?_bg\\.wasm from ${cdn.url}pkg/cpu/burn_edge(_relaxed)?_bg\\.wasm failed verification`));
  } finally {
    await context.close();
    await cdn.stop();
  }
});
