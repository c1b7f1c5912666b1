// The rollout drill of issue #11, end to end with every real part: the `burn-edge rollout` CLI
// rewrites a (signed) copy of models/mnist served by the real server; simulated installs (each
// its own browser context, so its own install id) predict real MNIST test digits and report
// their true labels; an open demo page watches. 1.1.0 goes on a 10% canary (both versions on
// the dashboard), runs in the shadow of 1.0.0 (agreement rate), is promoted and rolled back
// while the demo page swaps without a reload and no prediction fails; then a deliberately
// degraded 1.2.0 (`burn-edge degrade`) goes on a canary and `rollout guard` rolls it back by
// itself, which the dashboard shows.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { cliPath, serverAndBrowser } from './harness.mjs';

const dir = mkdtempSync(join(tmpdir(), 'burn-edge-drill-'));
const models = join(dir, 'models');
mkdirSync(models);
cpSync('models/mnist', join(models, 'mnist'), { recursive: true });
const env = serverAndBrowser({ args: ['--models', models] });
after(() => rmSync(dir, { recursive: true, force: true }));
const key = resolve('.burn-edge/keys/signing.key');
const publicKey = JSON.parse(readFileSync('www/dev-key.json', 'utf8')).publicKey;
const READ_KEY = 'demo-read-key';

/** The first `n` MNIST test digits as model inputs (pixels / 255) with their labels. */
function digits(n) {
  const images = gunzipSync(readFileSync('../shared/datasets/mnist/t10k-images-idx3-ubyte.gz'));
  const labels = gunzipSync(readFileSync('../shared/datasets/mnist/t10k-labels-idx1-ubyte.gz'));
  return Array.from({ length: n }, (_, i) => ({
    pixels: Array.from(images.subarray(16 + i * 784, 16 + (i + 1) * 784), (b) => b / 255),
    label: labels[8 + i],
  }));
}
const DIGITS = digits(120);

/** `burn-edge ...`; rollout commands get the copy's root and the dev signing key. */
function cli(/** @type {string[]} */ args) {
  const extra = args[0] === 'rollout' && !['assign', 'status', 'guard'].includes(args[1]) ? ['--models', models, '--signing-key', key] : [];
  return execFileSync(cliPath(), [...args, ...extra], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
const readChannel = () => JSON.parse(readFileSync(join(models, 'mnist/channel.json'), 'utf8'));
const versionFor = (/** @type {string} */ id) => JSON.parse(cli(['rollout', 'assign', 'mnist', '--id', id, '--models', models])).version;

/** GET /api/rollout for mnist (and `rule`). */
async function report(rule = '') {
  const r = await fetch(`${env.server.url}api/rollout?model=mnist${rule && `&rule=${rule}`}`, { headers: { 'x-burn-edge-read-key': READ_KEY } });
  assert.equal(r.status, 200);
  return r.json();
}

/** A simulated install: its own context, the model loaded with telemetry to the real collector. */
async function install(/** @type {string} */ id) {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.route('**/drill.html', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>drill</title>' }));
  await page.goto(`${env.server.url}drill.html`);
  await page.evaluate(async ({ id, publicKey }) => {
    const { loadModel } = await import('/lib/index.js');
    const w = /** @type {any} */ (window);
    w.failed = [];
    w.model = await loadModel({ channelUrl: '/models/mnist/channel.json', publicKey, id, recheckInterval: 0,
      telemetry: { endpoint: `${location.origin}/`, key: 'demo-key', app: 'drill', flushIntervalMs: 300 } });
  }, { id, publicKey });
  return { id, page, context };
}

/** Every install re-checks the channel, then predicts `digits` and reports each true label. */
async function traffic(/** @type {{ page: import('playwright-core').Page }[]} */ installs, /** @type {typeof DIGITS} */ digits) {
  await Promise.all(installs.map(({ page }) => page.evaluate(async (digits) => {
    const w = /** @type {any} */ (window);
    await w.model.recheck();
    for (const d of digits) {
      try {
        await w.model.predict(new Float32Array(d.pixels));
        w.model.feedback(w.model.lastPredictionId, d.label);
      } catch (err) { w.failed.push(String(err)); }
    }
  }, digits)));
}

/** Waits until the collector has stored `n` served predictions of `version` for `rule` (or control). */
async function stored(/** @type {(r: any) => boolean} */ ready, rule = '') {
  for (let t = 0; t < 150; t++) {
    const r = await report(rule);
    if (ready(r)) return r;
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.fail(`the collector never got there: ${JSON.stringify(await report(rule)).slice(0, 2000)}`);
}

test('canary, shadow, promote, rollback with an open page swapping; the guard rolls back a degraded canary', { timeout: 600_000 }, async () => {
  // 1.1.0 on a 10% canary; pick installs so that both arms have some (the CLI's assignment = the shell's).
  cli(['rollout', 'canary', 'mnist', '1.1.0', '--percent', '10']);
  const ids = { canary: /** @type {string[]} */ ([]), control: /** @type {string[]} */ ([]) };
  for (let n = 0; ids.canary.length < 2 || ids.control.length < 4; n++) {
    const id = `drill-${n}`;
    const side = versionFor(id) === '1.1.0' ? ids.canary : ids.control;
    if (side.length < (side === ids.canary ? 2 : 4)) side.push(id);
  }
  const installs = await Promise.all([...ids.canary, ...ids.control].map(install));
  const demo = await env.browser.newPage();
  await demo.goto(`${env.server.url}index.html?sw=0&id=${ids.control[0]}&recheck=500`);
  await demo.waitForFunction(() => /** @type {any} */ (window).burnEdgeDemo?.handle, null, { timeout: 60_000 });
  await demo.evaluate(() => { /** @type {any} */ (window).notReloaded = true; });
  const demoVersion = () => demo.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info().version);
  /** Waits until the demo page serves `version`; on a timeout, says what it serves and why. */
  const demoServes = async (/** @type {string} */ version) => {
    try {
      await demo.waitForFunction((v) => /** @type {any} */ (window).burnEdgeDemo.handle.info().version === v, version, { timeout: 30_000 });
    } catch (err) {
      const info = await demo.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
      assert.fail(`the demo page still serves ${info.version} (wanted ${version}): ${JSON.stringify({ assignment: info.assignment,
        swaps: info.swaps, rolloutError: info.rolloutError, channel: readChannel() })}; ${err}`);
    }
  };
  // The open page predicts all along; none may fail.
  await demo.evaluate(() => {
    const w = /** @type {any} */ (window);
    w.demoStats = { ok: 0, failed: 0 };
    (async () => {
      for (;;) {
        try { await w.burnEdgeDemo.handle.predict(new Float32Array(784)); w.demoStats.ok++; } catch { w.demoStats.failed++; }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
  });

  await traffic(installs, DIGITS.slice(0, 30));
  const canary = await stored((r) => r.arms.some((a) => a.version === '1.1.0' && a.predictions >= 60) && r.control?.predictions >= 120);
  assert.equal(canary.control.version, '1.0.0');
  const arm = canary.arms.find((a) => a.version === '1.1.0');
  assert.equal(arm.users, 2, JSON.stringify(arm));
  assert.equal(canary.control.users, 4, JSON.stringify(canary.control));
  // ... and the dashboard shows both versions side by side.
  const dash = await env.browser.newPage();
  await dash.goto(`${env.server.url}dashboard.html#key=${READ_KEY}`);
  const rolloutText = async () => dash.locator('#rollout').innerText();
  await dash.waitForFunction(() => /1\.1\.0/.test(document.querySelector('#rollout')?.textContent ?? '') &&
    /1\.0\.0/.test(document.querySelector('#rollout')?.textContent ?? ''), null, { timeout: 30_000 });

  // The shadow: 1.1.0 on every served prediction of 1.0.0 (the control pages), with an agreement rate.
  cli(['rollout', 'shadow', 'start', 'mnist', '1.1.0', '--sample', '1']);
  await Promise.all(installs.map(({ page }) => page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    await w.model.recheck();
    for (let t = 0; w.model.info().shadow && !w.model.info().shadow.ready && t < 300; t++) await new Promise((r) => setTimeout(r, 100));
  })));
  await traffic(installs, DIGITS.slice(30, 60));
  const shadowed = await stored((r) => r.shadow.some((s) => s.champion === '1.0.0' && s.challenger === '1.1.0' && s.pairs >= 100));
  const pair = shadowed.shadow.find((s) => s.challenger === '1.1.0');
  assert.ok(pair.agreement > 0.9 && pair.agreement <= 1, `agreement ${pair.agreement}`);
  console.log(`shadow 1.1.0 vs 1.0.0: ${pair.pairs} pairs, top-1 agreement ${(pair.agreement * 100).toFixed(1)}%`);

  // Promote, then roll back: the open demo page follows both without a reload or a failed prediction.
  cli(['rollout', 'shadow', 'stop', 'mnist']);
  cli(['rollout', 'promote', 'mnist']);
  await demoServes('1.1.0');
  cli(['rollout', 'rollback', 'mnist']);
  await demoServes('1.0.0');
  assert.equal(await demoVersion(), '1.0.0');
  const demoStats = await demo.evaluate(() => ({ ...(/** @type {any} */ (window).demoStats), notReloaded: /** @type {any} */ (window).notReloaded,
    swaps: /** @type {any} */ (window).burnEdgeDemo.handle.info().swaps.length }));
  assert.ok(demoStats.notReloaded, 'the page was not reloaded');
  assert.equal(demoStats.failed, 0, JSON.stringify(demoStats));
  assert.ok(demoStats.ok > 20 && demoStats.swaps >= 2, JSON.stringify(demoStats));

  // A deliberately degraded release: noise on every weight, published, signed, put on a 50% canary.
  cli(['degrade', 'models/mnist/model.bpk', '--out', join(dir, 'degraded.bpk'), '--noise', '2']);
  cli(['publish', '--version', '1.2.0', '--weights', join(dir, 'degraded.bpk'), '--models', models, '--signing-key', key]);
  cli(['rollout', 'canary', 'mnist', '1.2.0', '--percent', '50']);
  const onDegraded = installs.filter((i) => versionFor(i.id) === '1.2.0').length;
  assert.ok(onDegraded >= 1 && onDegraded < installs.length, `${onDegraded} of ${installs.length} installs on 1.2.0`);
  await traffic(installs, DIGITS.slice(0, 120));
  const rule = 'mnist-1.2.0-canary';
  await stored((r) => r.arms.some((a) => a.version === '1.2.0' && a.feedback >= 100), rule);
  const guard = cli(['rollout', 'guard', 'mnist', '--rule', rule, '--once', '--collector', env.server.url, '--read-key', READ_KEY,
    '--models', models, '--signing-key', key, '--min-predictions', '100', '--min-feedback', '100', '--state', join(dir, 'guard.json')]);
  console.log(guard.trim());
  assert.match(guard, /ROLLBACK: treatment is worse on misprediction rate/);
  const channel = JSON.parse(readFileSync(join(models, 'mnist/channel.json'), 'utf8'));
  assert.ok(!(channel.rollout?.rules ?? []).some((/** @type {any} */ r) => r.key === rule), 'the degraded canary rule is gone');
  // Every install is back on 1.0.0 at its next check, and nothing failed along the way.
  await traffic(installs, DIGITS.slice(0, 5));
  for (const i of installs) {
    const { version, failed } = await i.page.evaluate(() => ({ version: /** @type {any} */ (window).model.info().version,
      failed: /** @type {any} */ (window).failed }));
    assert.equal(version, '1.0.0', i.id);
    assert.deepEqual(failed, [], i.id);
  }
  // The dashboard says who rolled it back and why.
  await dash.reload();
  await dash.waitForFunction(() => /misprediction rate/.test(document.querySelector('#rollout')?.textContent ?? ''), null, { timeout: 30_000 });
  const text = await rolloutText();
  assert.match(text, /guard/);
  assert.match(text, /Arms of mnist-1\.2\.0-canary/, 'the rule the guard just judged is the one shown');
  if (process.env.BURN_EDGE_SCREENSHOTS) await dash.screenshot({ path: join(process.env.BURN_EDGE_SCREENSHOTS, 'rollout-drill-dashboard.png'), fullPage: true });
  await Promise.all(installs.map((i) => i.context.close()));
});
