// Weights variants end to end: `burn-edge compress` publishes MNIST's int8 and f16 variants as
// a new version of a temporary copy of the models; pages load it through the package's loader in
// headless Chromium, and the requests they make show that the one variant the runtime chose is
// the only weights file downloaded: by preference, by name, and by what the device can run (a
// variant that needs relaxed SIMD never reaches a browser without it).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, drawDigit, projectCopy, serverAndBrowser } from './harness.mjs';
import { signer } from './cdn-harness.mjs';

const TIMEOUT = { timeout: 240_000 };
const copy = projectCopy('burn-edge-variants-');
const { root } = copy;
const env = serverAndBrowser({ args: ['--root', root] });
after(copy.remove);
const dev = signer();
const folder = join(root, 'models/mnist');
/** @type {any} */
let compressed;

before(() => {
  const out = execFileSync(cliPath(), ['compress', '--manifest', join(folder, '1.0.0/manifest.json'), '--version', '1.2.0',
    '--signing-key', '.burn-edge/keys/signing.key'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  console.log(out);
  compressed = JSON.parse(readFileSync(join(folder, '1.2.0/manifest.json'), 'utf8'));
  // The same files, but int8 only for devices with relaxed SIMD: a version the CLI could
  // publish once int8 kernels need it, signed as a release.
  const needy = { ...compressed, version: '1.3.0', files: compressed.files.map((/** @type {any} */ f) =>
    f.variant === 'int8' ? { ...f, requires: ['relaxed-simd'] } : f) };
  const text = JSON.stringify(needy, null, 2) + '\n';
  mkdirSync(join(folder, '1.3.0'), { recursive: true });
  writeFileSync(join(folder, '1.3.0/manifest.json'), text);
  writeFileSync(join(folder, '1.3.0/manifest.json.sig'), dev.sign('manifest', text));
});

/** What the compress command published: one entry per variant, each with its evaluation. */
const entry = (/** @type {string} */ variant) => compressed.files.find((/** @type {any} */ f) => f.variant === variant);

/**
 * Loads `version` with `options` in a fresh page and returns what it did: the weights files it
 * requested, the handle's info (or the error), and its top class on a drawn 1 and 7.
 * @param {string} version
 * @param {Record<string, unknown>} options
 * @param {{ noRelaxedSimd?: boolean }} [device] `noRelaxedSimd`: this browser reports no relaxed SIMD
 */
async function load(version, options, { noRelaxedSimd = false } = {}) {
  const ctx = await env.browser.newContext({ serviceWorkers: 'block' });
  await ctx.addInitScript(drawDigit);
  try {
    if (noRelaxedSimd) {
      // No real browser here lacks relaxed SIMD, so its detection is told so: the probe module
      // (the only one validated) fails, as it does where the feature is missing.
      await ctx.addInitScript(() => {
        const validate = WebAssembly.validate;
        WebAssembly.validate = (bytes) => (/** @type {Uint8Array} */ (bytes).byteLength < 100 ? false : validate(bytes));
      });
    }
    const page = await ctx.newPage();
    /** @type {string[]} */
    const weights = [];
    page.on('request', (r) => { if (/\/models\/mnist\/files\//.test(r.url())) weights.push(new URL(r.url()).pathname); });
    await page.goto(`${env.server.url}index.html?sw=0&backend=cpu`);
    await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
    weights.length = 0; // the demo's own load
    const result = await page.evaluate(async ({ version, options }) => {
      const demo = /** @type {any} */ (window).burnEdgeDemo;
      const drawn = /** @type {(points: number[][]) => OffscreenCanvas} */ (/** @type {any} */ (window).drawDigit);
      try {
        const model = await demo.loadModel({ manifestUrl: `/models/mnist/${version}/manifest.json`, publicKey: demo.publicKey,
          backend: 'cpu', recheckInterval: 0, ...options });
        const top = async (/** @type {number[][]} */ p) => (await model.classifyImage(drawn(p), { top: 1 }))[0].label;
        const labels = [await top([[140, 40], [140, 240]]), await top([[70, 50], [210, 50], [120, 240]])];
        const info = model.info();
        model.dispose();
        return { info, labels, error: null };
      } catch (err) {
        return { info: null, labels: [], error: { code: /** @type {any} */ (err).code, message: String(/** @type {any} */ (err).message) } };
      }
    }, { version, options });
    return { ...result, weights };
  } finally {
    await ctx.close();
  }
}

const file = (/** @type {string} */ variant) => `/models/mnist/files/${entry(variant).sha256}.bpk`;

test('compress publishes int8 and f16 variants, each evaluated, at a quarter and a half of the bytes', () => {
  assert.deepEqual(compressed.files.map((/** @type {any} */ f) => f.variant), ['f32', 'int8', 'f16']);
  const f32 = entry('f32');
  assert.ok(entry('int8').size <= 0.27 * f32.size, `int8 ${entry('int8').size} of ${f32.size} bytes`);
  assert.ok(entry('f16').size <= 0.51 * f32.size, `f16 ${entry('f16').size} of ${f32.size} bytes`);
  for (const v of ['int8', 'f16']) {
    const e = entry(v).evaluation;
    assert.equal(e.samples, 10_000);
    assert.ok(Math.abs(e.accuracy - compressed.metrics.accuracy) <= 0.003, `${v}: ${e.accuracy} vs ${compressed.metrics.accuracy}`);
    assert.ok(e.agreement >= 0.99, `${v} agrees on ${e.agreement}`);
  }
});

test('the selected variant is the only weights file downloaded: smallest, accurate, and by name', TIMEOUT, async () => {
  const smallest = await load('1.2.0', { prefer: 'smallest' });
  assert.equal(smallest.error, null);
  assert.deepEqual(smallest.weights, [file('int8')]);
  assert.equal(smallest.info.variant, 'int8');
  assert.deepEqual(smallest.labels, ['1', '7']);
  assert.deepEqual(smallest.info.files.map((/** @type {any} */ f) => f.variant), ['int8']);

  // 'accurate' (the default): the highest held-out accuracy, the reference on a tie.
  const accuracy = (/** @type {any} */ f) => f.evaluation?.accuracy ?? compressed.metrics.accuracy;
  const best = compressed.files.reduce((/** @type {any} */ a, /** @type {any} */ b) => (accuracy(b) > accuracy(a) ? b : a));
  // (The reference may come from the cache: the demo page loaded 1.0.0's identical file first.)
  const accurate = await load('1.2.0', {});
  assert.ok(accurate.weights.every((w) => w === file(best.variant)), `${accurate.weights}`);
  assert.deepEqual(accurate.info.files.map((/** @type {any} */ f) => f.variant), [best.variant]);
  assert.equal(accurate.info.variant, best.variant);

  const f16 = await load('1.2.0', { variant: 'f16', prefer: 'smallest' });
  assert.deepEqual(f16.weights, [file('f16')]);
  assert.deepEqual(f16.labels, ['1', '7']);
});

test('a variant the manifest does not have is refused by name, and nothing is downloaded', TIMEOUT, async () => {
  const missing = await load('1.2.0', { variant: 'int4' });
  assert.equal(missing.error?.code, 'NO_VARIANT');
  assert.match(missing.error?.message, /has no weights variant "int4" \(it has: f32, int8, f16\)/);
  assert.deepEqual(missing.weights, []);
  const preference = await load('1.2.0', { prefer: 'tiny' });
  assert.equal(preference.error?.code, 'NO_VARIANT');
  assert.match(preference.error?.message, /"tiny" is not a variant preference/);
});

test('a device without relaxed SIMD gets a variant it can run and never downloads one it cannot', TIMEOUT, async () => {
  const relaxed = await load('1.3.0', { prefer: 'smallest' });
  assert.equal(relaxed.info.cpuSimd, 'relaxed');
  assert.deepEqual(relaxed.weights, [file('int8')]);

  const baseline = await load('1.3.0', { prefer: 'smallest' }, { noRelaxedSimd: true });
  assert.equal(baseline.error, null);
  assert.equal(baseline.info.cpuSimd, 'baseline');
  assert.deepEqual(baseline.weights, [file('f16')], 'the smallest it can run');
  assert.equal(baseline.info.variant, 'f16');
  assert.deepEqual(baseline.labels, ['1', '7']);

  const named = await load('1.3.0', { variant: 'int8' }, { noRelaxedSimd: true });
  assert.equal(named.error?.code, 'NO_VARIANT');
  assert.match(named.error?.message, /weights variant "int8" of "mnist@1.3.0" needs relaxed-simd, which this device lacks/);
  assert.deepEqual(named.weights, []);
});
