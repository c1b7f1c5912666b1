// The npm package's loader end to end (www/lib through www/index.html): real server, real
// Chromium, the committed CDN layout. Each test gets a fresh browser context (its own cache).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { startServer, launchBrowser, LOOPBACK_CONNECT } from './harness.mjs';
import { countBytes, freePort, loaderCache, serveSigned, signer, startServerAt, startStub } from './cdn-harness.mjs';

const manifest = JSON.parse(readFileSync('models/mnist/1.0.0/manifest.json', 'utf8'));
const weights = manifest.files[0];
const TIMEOUT = { timeout: 90_000 };
/** The dev key the demo pins: forged channels and manifests below are signed with it. */
const dev = signer();
/**
 * Serves `value` as JSON at `pattern`, signed by the dev key as `kind`.
 * @param {import('playwright-core').Page} page
 * @param {string} pattern
 * @param {'channel' | 'manifest'} kind
 * @param {unknown} value
 */
const serveJson = (page, pattern, kind, value) => {
  const body = JSON.stringify(value);
  return serveSigned(page, pattern, body, dev.sign(kind, body));
};

/** @type {{ url: string, stop: () => void }} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
before(async () => {
  [server, browser] = await Promise.all([startServer(LOOPBACK_CONNECT), launchBrowser({ webgpu: false })]);
});
after(async () => {
  await browser?.close();
  server?.stop();
});

/**
 * Opens the demo app and waits until the model loaded or failed.
 * @param {import('playwright-core').Page} page
 * @param {string} base server URL
 * @param {string} [query]
 */
async function openDemo(page, base, query = 'sw=0') {
  await page.goto(`${base}index.html?${query}`);
  return settled(page);
}

/** @param {import('playwright-core').Page} page */
async function settled(page) {
  await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
  return page.evaluate(() => {
    const demo = /** @type {any} */ (window).burnEdgeDemo;
    return { info: demo.handle?.info(), error: demo.error, progress: demo.progress };
  });
}

/**
 * The digits the loaded model sees in three drawn samples.
 * @param {import('playwright-core').Page} page
 */
function classifySamples(page) {
  return page.evaluate(async () => {
    const demo = /** @type {any} */ (window).burnEdgeDemo;
    const out = [];
    for (const d of ['1', '7', '0']) out.push(String((await demo.classifySample(d)).digit));
    return out;
  });
}

/** A browser context whose requests page.route sees (service workers would bypass routing). */
const isolated = () => browser.newContext({ serviceWorkers: 'block' });

test('first load downloads, verifies and caches the weights and predicts in a worker; a reload downloads almost nothing', TIMEOUT, async () => {
  const context = await isolated();
  try {
    const page = await context.newPage();
    const first = countBytes(page);
    const { info, error } = await openDemo(page, server.url);
    assert.equal(error, null);
    const firstBytes = await first.done();
    assert.equal(info.source, 'network');
    assert.equal(info.offline, false);
    assert.equal(info.version, manifest.version);
    assert.equal(info.backend, 'cpu');
    assert.equal(info.runtime.build, 'cpu', 'no WebGPU adapter: the small CPU build');
    assert.equal(info.worker, true);
    assert.equal(info.thread, 'DedicatedWorkerGlobalScope', 'the session ran in the worker');
    assert.equal(page.workers().length, 1);
    assert.deepEqual(info.files.map((/** @type {any} */ f) => [f.sha256, f.source]), [[weights.sha256, 'network']]);

    const cache = await loaderCache(page);
    assert.ok(cache.keys.includes(`/__burn-edge/sha256/${weights.sha256}`), `cache keys: ${cache.keys}`);
    assert.deepEqual(cache.verified, [weights.sha256], 'the cached bytes hash to their key');
    assert.deepEqual(await classifySamples(page), ['1', '7', '0']);

    const second = countBytes(page);
    await page.reload();
    const again = await settled(page);
    const secondBytes = await second.done();
    assert.equal(again.info.source, 'cache');
    assert.equal(again.info.offline, false);
    assert.equal(again.info.served.manifest, 'cache', 'an immutable manifest is not fetched again');
    assert.ok(!secondBytes.requests.some((r) => r.path.endsWith('.bpk')), 'the weights were not requested again');
    assert.deepEqual(await classifySamples(page), ['1', '7', '0']);
    assert.ok(secondBytes.bytes < firstBytes.bytes / 10, `second load ${secondBytes.bytes} B vs first ${firstBytes.bytes} B`);
    const bpk = firstBytes.requests.find((r) => r.path.endsWith('.bpk'));
    const wasm = firstBytes.requests.find((r) => r.path.endsWith('.wasm'));
    console.log(`bytes transferred (headers + encoded bodies, no service worker): first load ${firstBytes.bytes} ` +
      `in ${firstBytes.requests.length} requests (weights ${bpk?.bytes}, cpu wasm ${wasm?.bytes}); ` +
      `second load ${secondBytes.bytes} in ${secondBytes.requests.length} requests`);
  } finally {
    await context.close();
  }
});

test('progress events rise monotonically to the manifest size', TIMEOUT, async () => {
  const context = await isolated();
  try {
    const page = await context.newPage();
    const { progress, error } = await openDemo(page, server.url);
    assert.equal(error, null);
    assert.ok(progress.length >= 3, `byte-level progress, got ${progress.length} events`);
    for (const p of progress) {
      assert.equal(p.file, weights.path);
      assert.equal(p.total, weights.size);
    }
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].loaded > progress[i - 1].loaded, 'strictly rising');
    assert.equal(progress.at(-1).loaded, weights.size);
    // From the cache there is nothing to wait for: one event, already complete.
    await page.reload();
    const cached = await settled(page);
    assert.deepEqual(cached.progress, [{ file: weights.path, loaded: weights.size, total: weights.size }]);
  } finally {
    await context.close();
  }
});

test('with the server down, a reload works from the cache (service worker + loader cache) and still predicts', TIMEOUT, async () => {
  const port = await freePort();
  let own = await startServerAt(port);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const { info, error } = await openDemo(page, own.url, '');
    assert.equal(error, null);
    assert.equal(info.source, 'network');
    // The service worker has installed (precached the shell) and controls the page.
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });

    await own.stop();
    // The channel is still fresh in the HTTP cache (max-age=60): nothing needs the network.
    await page.reload();
    const fresh = await settled(page);
    assert.equal(fresh.error, null);
    assert.equal(fresh.info.source, 'cache');
    assert.equal(fresh.info.runtime.source, 'cache');
    assert.deepEqual(await classifySamples(page), ['1', '7', '0']);

    // Once the HTTP cache no longer has the channel, the loader finds the network down.
    await (await context.newCDPSession(page)).send('Network.clearBrowserCache');
    await page.reload();
    const offline = await settled(page);
    assert.equal(offline.error, null);
    assert.equal(offline.info.source, 'cache');
    assert.equal(offline.info.offline, true);
    assert.equal(offline.info.version, manifest.version);
    assert.equal(offline.info.runtime.source, 'cache');
    assert.match(offline.info.offlineReason, /could not fetch the channel/);
    assert.match(await page.textContent('#st-source') ?? '', /offline: last verified version/);
    assert.deepEqual(await classifySamples(page), ['1', '7', '0']);

    // Back online at the same origin: the channel is reachable again, nothing is downloaded.
    own = await startServerAt(port);
    await page.reload();
    const online = await settled(page);
    assert.equal(online.info.offline, false);
    assert.equal(online.info.source, 'cache');
  } finally {
    await context.close();
    await own.stop();
  }
});

test('tampered weights are rejected with IntegrityError and not cached; a verified version keeps serving', TIMEOUT, async () => {
  const good = readFileSync(`models/mnist/1.0.0/${weights.path}`);
  const tampered = Buffer.from(good);
  tampered[tampered.length >> 1] ^= 0xff;
  const context = await isolated();
  try {
    const page = await context.newPage();
    // 1. Nothing cached yet: the load fails, naming the file and both hashes.
    await page.route('**/models/mnist/files/*.bpk', (route) => route.fulfill({ status: 200, body: tampered }));
    const bad = await openDemo(page, server.url);
    assert.equal(bad.error?.name, 'IntegrityError');
    assert.equal(bad.error?.code, 'INTEGRITY');
    assert.match(bad.error?.message, new RegExp(`${weights.path.replace(/[.]/g, '\\.')} .*expected sha256 ${weights.sha256}`));
    assert.match(bad.error?.message, /got [0-9a-f]{64}/);
    assert.match(await page.textContent('#error') ?? '', /IntegrityError/);
    assert.deepEqual((await loaderCache(page)).keys.filter((k) => k.includes('sha256')), [], 'bad bytes are not cached');

    // 2. The genuine file loads and is cached.
    await page.unrouteAll();
    const ok = await openDemo(page, server.url);
    assert.equal(ok.info?.version, '1.0.0');

    // 3. The channel moves stable to a new version whose file arrives tampered: 1.0.0 keeps serving.
    const next = { ...manifest, version: '9.9.9', files: [{ ...weights, sha256: 'ab'.repeat(32), path: `../files/${'ab'.repeat(32)}.bpk` }] };
    await serveJson(page, '**/models/mnist/channel.json', 'channel',
      { schemaVersion: 1, name: 'mnist', aliases: { stable: '9.9.9' }, versions: ['1.0.0', '9.9.9'], updatedAt: '2030-01-01T00:00:00Z' });
    await serveJson(page, '**/models/mnist/9.9.9/manifest.json', 'manifest', next);
    await page.route(`**/models/mnist/files/${'ab'.repeat(32)}.bpk`, (route) => route.fulfill({ status: 200, body: tampered }));
    const kept = await openDemo(page, server.url);
    assert.equal(kept.error, null);
    assert.equal(kept.info.version, '1.0.0');
    assert.equal(kept.info.source, 'cache');
    assert.equal(kept.info.fallback?.reason, 'INTEGRITY');
    assert.equal(kept.info.fallback?.wanted, '9.9.9');
    assert.match(kept.info.fallback?.message, /failed verification/);
    assert.match(await page.textContent('#st-source') ?? '', /kept 1\.0\.0: 9\.9\.9 failed \(INTEGRITY\)/);
    assert.deepEqual((await loaderCache(page)).verified, [weights.sha256], 'only the genuine file is cached');
    assert.deepEqual(await classifySamples(page), ['1', '7', '0']);
  } finally {
    await context.close();
  }
});

test('a mirror answering 500 fails over to the next; 404 is not retried; all failing gives NetworkError', TIMEOUT, async () => {
  const broken = await startStub(500);
  const missing = await startStub(404);
  const context = await isolated();
  try {
    const page = await context.newPage();
    const channel = (/** @type {string} */ base) => encodeURIComponent(`${base}models/mnist/channel.json`);
    const mirror = encodeURIComponent(`${server.url}models/mnist/`);

    const { info, error } = await openDemo(page, server.url, `sw=0&retryDelay=20&channel=${channel(broken.url)}&mirror=${mirror}`);
    assert.equal(error, null);
    assert.equal(info.source, 'network');
    assert.equal(info.served.channel, `${server.url}models/mnist/channel.json`);
    assert.equal(info.files[0].url, `${server.url}models/mnist/files/${weights.sha256}.bpk`);
    // Every resource was asked of the broken mirror first, once (failover, not retry, on 5xx).
    assert.deepEqual(broken.hits, ['/models/mnist/channel.json', '/models/mnist/1.0.0/manifest.json', `/models/mnist/files/${weights.sha256}.bpk`]);

    const gone = await openDemo(page, server.url, `sw=0&retryDelay=20&retries=3&channel=${channel(missing.url)}`);
    assert.equal(gone.error?.code, 'NETWORK');
    assert.deepEqual(missing.hits, ['/models/mnist/channel.json'], 'a 404 is final for that mirror');

    // Another model folder on the broken mirror, so no verified version of it is cached.
    broken.hits.length = 0;
    const down = await openDemo(page, server.url, `sw=0&retryDelay=20&retries=2&channel=${channel(`${broken.url}other/`)}`);
    assert.equal(down.error?.name, 'NetworkError');
    assert.match(down.error?.message, new RegExp(`${broken.url}other/models/mnist/channel\\.json: HTTP 500`));
    assert.equal(broken.hits.length, 3, 'one try plus two retries');
  } finally {
    await context.close();
    await broken.stop();
    await missing.stop();
  }
});

test('a manifest for an architecture this runtime lacks gives UnsupportedArchitectureError before any download', TIMEOUT, async () => {
  const context = await isolated();
  try {
    const page = await context.newPage();
    /** @type {string[]} */
    const downloads = [];
    page.on('request', (r) => { if (r.url().endsWith('.bpk')) downloads.push(r.url()); });
    for (const [change, reason] of [
      [{ architecture: 'resnet50' }, 'has architecture "resnet50", which this runtime does not contain (it has: mnist-cnn, squeezenet1.1'], // (then any added ones)
      [{ minRuntimeVersion: '99.0.0' }, 'needs runtime 99.0.0 or newer'],
    ]) {
      await page.unrouteAll();
      await serveJson(page, '**/models/mnist/1.0.0/manifest.json', 'manifest', { ...manifest, ...change });
      const { error } = await openDemo(page, server.url);
      assert.equal(error?.name, 'UnsupportedArchitectureError');
      assert.equal(error?.code, 'UNSUPPORTED_ARCHITECTURE');
      assert.ok(error?.message.includes(reason), error?.message);
      assert.match(error?.message, /Upgrade the burn-edge package/);
    }
    assert.deepEqual(downloads, [], 'the weights were never requested');
  } finally {
    await context.close();
  }
});

test('a download that would not fit the storage quota gives QuotaError', TIMEOUT, async () => {
  const context = await isolated();
  try {
    await context.addInitScript(() => {
      navigator.storage.estimate = async () => ({ quota: 100_000, usage: 40_000 });
    });
    const page = await context.newPage();
    const { error } = await openDemo(page, server.url);
    assert.equal(error?.name, 'QuotaError');
    assert.match(error?.message, new RegExp(`needs ${weights.size} bytes of storage but only 60000 are available`));
  } finally {
    await context.close();
  }
});

test('the cache keeps the last keepVersions versions of a model and evicts older ones', TIMEOUT, async (t) => {
  const channel = JSON.parse(readFileSync('models/mnist/channel.json', 'utf8'));
  const [alias, version] = Object.entries(channel.aliases).find(([, v]) => v !== manifest.version) ?? [];
  if (!alias) return t.skip('the channel has only one version');
  const other = JSON.parse(readFileSync(`models/mnist/${version}/manifest.json`, 'utf8')).files[0].sha256;
  if (other === weights.sha256) return t.skip(`${version} has the same weights as ${manifest.version}`);
  const context = await isolated();
  try {
    const page = await context.newPage();
    assert.equal((await openDemo(page, server.url, 'sw=0&keepVersions=2')).info.version, manifest.version);
    const second = await openDemo(page, server.url, `sw=0&keepVersions=2&alias=${alias}`);
    assert.equal(second.info.version, version);
    assert.deepEqual(second.info.evicted, []);
    assert.deepEqual((await loaderCache(page)).verified.sort(), [weights.sha256, other].sort());
    // Back to stable with room for one version: the other one's file goes.
    const third = await openDemo(page, server.url, 'sw=0&keepVersions=1');
    assert.equal(third.info.source, 'cache');
    assert.deepEqual(third.info.evicted, [version]);
    assert.deepEqual((await loaderCache(page)).verified, [weights.sha256]);
  } finally {
    await context.close();
  }
});

test('dispose frees the session and stops the worker; later calls reject clearly; worker: false runs in the page', TIMEOUT, async () => {
  const context = await isolated();
  try {
    const page = await context.newPage();
    await openDemo(page, server.url);
    assert.equal(page.workers().length, 1);
    const closed = page.workers()[0].waitForEvent('close');
    const result = await page.evaluate(async () => {
      const { handle } = /** @type {any} */ (window).burnEdgeDemo;
      handle.dispose();
      return handle.predict(new Float32Array(784)).then(() => 'resolved', (/** @type {any} */ e) => `${e.name} ${e.code}: ${e.message}`);
    });
    assert.equal(result, 'BurnEdgeError DISPOSED: this model was disposed: call loadModel again to use it');
    await closed;

    const inline = await openDemo(page, server.url, 'sw=0&worker=0');
    assert.equal(inline.info.worker, false);
    assert.equal(inline.info.thread, 'Window');
    assert.equal(page.workers().length, 0);
    assert.deepEqual(await classifySamples(page), ['1', '7', '0']);
  } finally {
    await context.close();
  }
});

test('with a WebGPU adapter the loader fetches the WebGPU build and the worker runs on WebGPU', TIMEOUT, async (t) => {
  if (!existsSync('pkg/webgpu/burn_edge_bg.wasm')) return t.skip('pkg/webgpu is not built');
  const gpuBrowser = await launchBrowser({ webgpu: true });
  try {
    const page = await gpuBrowser.newPage();
    /** @type {string[]} */
    const wasm = [];
    page.on('request', (r) => { if (r.url().endsWith('.wasm')) wasm.push(new URL(r.url()).pathname); });
    const counted = countBytes(page);
    // backend 'webgpu': 'auto' would measure both builds and keep the faster (backend-choice.test.mjs).
    const { info, error } = await openDemo(page, server.url, 'sw=0&backend=webgpu');
    const { bytes, requests } = await counted.done();
    console.log(`bytes transferred, first load with the WebGPU build: ${bytes} ` +
      `(webgpu wasm ${requests.find((r) => r.path.endsWith('.wasm'))?.bytes})`);
    assert.equal(error, null);
    assert.equal(info.runtime.build, 'webgpu');
    assert.deepEqual(wasm, ['/pkg/webgpu/burn_edge_bg.wasm'], 'only the WebGPU build is downloaded');
    assert.equal(info.backend, 'webgpu', `skipped: ${JSON.stringify(info.skipped)}`);
    assert.equal(info.thread, 'DedicatedWorkerGlobalScope');
    assert.deepEqual(await classifySamples(page), ['1', '7', '0']);
  } finally {
    await gpuBrowser.close();
  }
});
