// What the browser's telemetry lets out, checked in Node against the real client: a coarse
// browser (name + major version) and OS family instead of the user-agent string, URLs in
// error messages cut to origin + path, the ingest key in the header (and in the URL only for
// a beacon), and nothing of the model input.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { coarseBrowser, osFamily, scrubUrls } from '../../www/lib/privacy.js';
import { buildRecord, createTelemetry, errorAttributes } from '../../www/lib/telemetry.js';

const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.85 Safari/537.36';
const EDGE_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91';
const FIREFOX_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0';
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1';
const CHROME_ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';

test('the browser is named by brand and major version only', () => {
  assert.equal(coarseBrowser({ userAgent: CHROME_LINUX }), 'Chrome 131');
  assert.equal(coarseBrowser({ userAgent: EDGE_WINDOWS }), 'Edge 120');
  assert.equal(coarseBrowser({ userAgent: FIREFOX_MAC }), 'Firefox 121');
  assert.equal(coarseBrowser({ userAgent: SAFARI_IPHONE }), 'Safari 17');
  assert.equal(coarseBrowser({ userAgent: 'curl/8.5.0' }), undefined);
  assert.equal(coarseBrowser(undefined), undefined);
  // Client hints win over the string; GREASE brands and the engine name are skipped.
  const brands = [{ brand: 'Not_A Brand', version: '8' }, { brand: 'Chromium', version: '131' }, { brand: 'Google Chrome', version: '131' }];
  assert.equal(coarseBrowser({ userAgent: CHROME_LINUX, userAgentData: { brands } }), 'Chrome 131');
  assert.equal(coarseBrowser({ userAgentData: { brands: brands.slice(0, 2) } }), 'Chromium 131');
});

test('the OS is a family from a fixed list, never a version or architecture', () => {
  assert.equal(osFamily({ userAgent: CHROME_LINUX, platform: 'Linux x86_64' }), 'Linux');
  assert.equal(osFamily({ userAgent: EDGE_WINDOWS, platform: 'Win32' }), 'Windows');
  assert.equal(osFamily({ userAgent: FIREFOX_MAC, platform: 'MacIntel' }), 'macOS');
  assert.equal(osFamily({ userAgent: SAFARI_IPHONE, platform: 'iPhone' }), 'iOS');
  assert.equal(osFamily({ userAgent: CHROME_ANDROID, platform: 'Linux armv8l' }), 'Android');
  assert.equal(osFamily({ userAgentData: { platform: 'Windows' } }), 'Windows');
  assert.equal(osFamily({ platform: 'SunOS sun4u' }), undefined);
});

test('URLs in text keep origin and path only; data: URLs and relative queries are removed', () => {
  assert.equal(scrubUrls('could not fetch https://user:pw@cdn.example/models/a/manifest.json?token=s3cret#frag.'),
    'could not fetch https://cdn.example/models/a/manifest.json.');
  assert.equal(scrubUrls('(see http://127.0.0.1:8080/v1/logs?key=abc)'), '(see http://127.0.0.1:8080/v1/logs)');
  assert.equal(scrubUrls('bad image data:image/png;base64,iVBORw0KGgo= here'), 'bad image <data-url> here');
  assert.equal(scrubUrls('POST v1/logs?key=abc&x=1 failed'), 'POST v1/logs failed');
  assert.equal(scrubUrls('why? no URL here: 3 < 4'), 'why? no URL here: 3 < 4');
});

test('error events and every string attribute carry no query string', () => {
  const err = Object.assign(new Error('tampered: https://mirror.example/w.bpk?sig=abcdef failed verification'), { code: 'INTEGRITY' });
  const attrs = errorAttributes(err);
  assert.equal(attrs['error.message'], 'tampered: https://mirror.example/w.bpk failed verification');
  const record = buildRecord('burn_edge.backend.fallback', { 'burn_edge.fallback.from': 'webgpu', 'burn_edge.fallback.to': 'cpu',
    'burn_edge.fallback.reason': 'shader from https://x.example/s.wgsl?user=42 failed' });
  assert.ok(record);
  const text = JSON.stringify(record);
  assert.ok(!text.includes('user=42'), text);
  assert.ok(text.includes('https://x.example/s.wgsl'), text);
});

/** Globals the client reads in a browser, installed for one test. */
const saved = new Map();
/** @param {string} name @param {unknown} value */
function fake(name, value) {
  if (!saved.has(name)) saved.set(name, Object.getOwnPropertyDescriptor(globalThis, name));
  Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
}
afterEach(() => {
  for (const [name, descriptor] of saved) {
    if (descriptor) Object.defineProperty(globalThis, name, descriptor);
    else delete (/** @type {any} */ (globalThis))[name];
  }
  saved.clear();
});

/** A fetch that records each call and answers 200 `{}`. */
function recordingFetch() {
  /** @type {{ url: string, init: any }[]} */
  const calls = [];
  const fetchFn = async (/** @type {string} */ url, /** @type {any} */ init) => {
    calls.push({ url, init });
    return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
  };
  return { calls, fetchFn };
}

test('the client sends the key in the header only, a coarse browser and OS, and no input', async () => {
  const { calls, fetchFn } = recordingFetch();
  fake('fetch', fetchFn);
  fake('navigator', { userAgent: CHROME_LINUX, platform: 'Linux x86_64', onLine: true });
  const telemetry = createTelemetry({ endpoint: 'http://collector.test/', key: 'secret-key', app: 'privacy-test', flushIntervalMs: 60_000 });
  const input = new Float32Array(784).fill(0.123456);
  // Whatever a page passes, only the vocabulary's attributes of the event leave.
  telemetry.record('burn_edge.inference', { 'burn_edge.latency_ms': 1.5, 'burn_edge.batch_size': 1, 'burn_edge.predicted_class': 3,
    'burn_edge.confidence': 0.9, input: /** @type {any} */ (input), 'burn_edge.input': /** @type {any} */ (Array.from(input)) });
  await telemetry.flush();
  await telemetry.shutdown();
  assert.equal(calls.length, 1);
  const [{ url, init }] = calls;
  assert.equal(new URL(url).search, '', 'no key (nor anything else) in the URL');
  assert.equal(init.headers['x-burn-edge-key'], 'secret-key');
  const body = JSON.parse(init.body);
  const resource = new Map(body.resourceLogs[0].resource.attributes.map((/** @type {any} */ a) => [a.key, a.value.stringValue]));
  assert.equal(resource.get('user_agent.original'), 'Chrome 131');
  assert.equal(resource.get('browser.platform'), 'Linux');
  assert.ok(!init.body.includes('Mozilla') && !init.body.includes('x86_64'), 'no full user agent or architecture');
  assert.ok(!init.body.includes('0.123456'), 'no input value');
  const keys = body.resourceLogs[0].scopeLogs[0].logRecords[0].attributes.map((/** @type {any} */ a) => a.key);
  assert.ok(!keys.includes('input') && !keys.includes('burn_edge.input'), keys.join());
});

test('a beacon (page hidden, batch over the keepalive limit) is the one place the key is in the URL', async () => {
  const { calls, fetchFn } = recordingFetch();
  /** @type {{ url: string, type: string }[]} */
  const beacons = [];
  /** @type {Map<string, (event: Event) => void>} */
  const listeners = new Map();
  fake('fetch', fetchFn);
  fake('navigator', { userAgent: CHROME_LINUX, platform: 'Linux x86_64', onLine: true,
    sendBeacon: (/** @type {string} */ url, /** @type {Blob} */ blob) => { beacons.push({ url, type: blob.type }); return true; } });
  fake('document', { visibilityState: 'hidden', addEventListener: (/** @type {string} */ t, /** @type {any} */ f) => listeners.set(t, f),
    removeEventListener() {} });
  fake('addEventListener', () => {});
  fake('removeEventListener', () => {});
  const telemetry = createTelemetry({ endpoint: 'http://collector.test/', key: 'secret-key', app: 'privacy-test',
    batchSize: 500, flushIntervalMs: 60_000 });
  // ~100 KB: past the 64 KiB a keepalive fetch may carry.
  for (let i = 0; i < 100; i++) telemetry.record('burn_edge.error', { 'error.type': 'X', 'error.message': 'm'.repeat(1000) });
  listeners.get('visibilitychange')?.(new Event('visibilitychange'));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(beacons.length, 1);
  assert.equal(new URL(beacons[0].url).searchParams.get('key'), 'secret-key');
  assert.match(beacons[0].type, /^text\/plain/);
  assert.equal(calls.length, 0, 'no fetch for what the beacon carried');
  await telemetry.shutdown();
});
