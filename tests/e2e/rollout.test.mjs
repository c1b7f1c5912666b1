// Rollout in the JS shell end to end: the real server serves a temporary copy of the project
// (www/ and pkg/ linked, models/ copied) whose mnist channel each test rewrites and signs with the
// dev key the demo pins; headless Chromium runs the demo app. Telemetry the pages send is
// read by intercepting /v1/logs.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectCopy, serverAndBrowser } from './harness.mjs';
import { signer } from './cdn-harness.mjs';
import { assign } from '../../www/lib/assign.js';

const TIMEOUT = { timeout: 180_000 };
const copy = projectCopy('burn-edge-rollout-shell-');
const { root } = copy;
const env = serverAndBrowser({ args: ['--root', root] });
// The links go, not what they point at.
after(copy.remove);
const dev = signer();
let clock = Date.now();

/**
 * Writes and signs the mnist channel with `rollout` (updatedAt always later, as the CLI does).
 * @param {any} [rollout]
 * @param {Record<string, string>} [aliases]
 */
function writeChannel(rollout, aliases = { stable: '1.0.0', canary: '1.1.0' }) {
  clock += 1000;
  const channel = { schemaVersion: rollout ? 2 : 1, name: 'mnist', aliases, versions: ['1.0.0', '1.1.0'],
    updatedAt: new Date(clock).toISOString().replace(/\.\d+Z$/, 'Z'), ...(rollout ? { rollout } : {}) };
  const text = JSON.stringify(channel, null, 2);
  writeFileSync(join(root, 'models/mnist/channel.json'), text);
  writeFileSync(join(root, 'models/mnist/channel.json.sig'), dev.sign('channel', text));
  return channel;
}
const canary = (/** @type {number} */ coverage) => ({ rules: [{ key: 'mnist-1.1.0-canary', kind: 'rollout', alias: 'stable', coverage,
  arms: [{ name: 'canary', version: '1.1.0', weight: 1 }] }] });

/**
 * A fresh context whose telemetry batches are captured (and answered 200).
 */
async function context() {
  const ctx = await env.browser.newContext({ serviceWorkers: 'block' });
  /** @type {any[]} */
  const records = [];
  await ctx.route('**/v1/logs*', (route) => {
    try {
      const body = JSON.parse(route.request().postData() ?? '{}');
      for (const rl of body.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) {
        for (const r of sl.logRecords ?? []) {
          records.push({ event: r.eventName, ...Object.fromEntries(r.attributes.map((/** @type {any} */ a) => [a.key, Object.values(a.value)[0]])) });
        }
      }
    } catch { /* not ours */ }
    return route.fulfill({ status: 200, contentType: 'application/json', body: '{}' });
  });
  return { ctx, records };
}

/**
 * Opens the demo app with `query` and waits for the load.
 * @param {import('playwright-core').Page} page
 * @param {string} query
 */
async function open(page, query) {
  await page.goto(`${env.server.url}index.html?sw=0&collector=/&key=demo-key&flushMs=100&${query}`);
  await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
  return page.evaluate(() => {
    const demo = /** @type {any} */ (window).burnEdgeDemo;
    return { info: demo.handle?.info(), error: demo.error };
  });
}

/** @param {import('playwright-core').Page} page */
const flush = (page) => page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.telemetry?.flush());
/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test('a 50% canary serves both versions across simulated installs, each exactly as assign() says; one exposure per canary install', TIMEOUT, async () => {
  const channel = writeChannel(canary(0.5));
  const { ctx, records } = await context();
  try {
    const page = await ctx.newPage();
    const first = await open(page, 'id=install-a&recheck=0');
    assert.equal(first.error, null);
    const ids = Array.from({ length: 24 }, (_, i) => `sim-install-${i}`);
    const served = await page.evaluate(async (ids) => {
      const demo = /** @type {any} */ (window).burnEdgeDemo;
      const out = [];
      for (const id of ids) {
        const h = await demo.loadModel({ channelUrl: '/models/mnist/channel.json', publicKey: demo.publicKey, id, recheckInterval: 0,
          telemetry: demo.telemetry });
        out.push(h.info().assignment);
        h.dispose();
      }
      return out;
    }, ids);
    ids.forEach((id, i) => assert.deepEqual(served[i], assign(channel, { alias: 'stable', id }), id));
    const inCanary = served.filter((a) => a.version === '1.1.0').length;
    console.log(`50% canary over ${ids.length} simulated installs: ${inCanary} on 1.1.0, ${ids.length - inCanary} on 1.0.0`);
    assert.ok(inCanary >= 4 && inCanary <= 20, `${inCanary} of ${ids.length} in the canary`);
    await flush(page);
    const exposures = records.filter((r) => r.event === 'burn_edge.exposure');
    const expected = served.filter((a) => a.rule).length + (first.info.assignment.rule ? 1 : 0);
    assert.equal(exposures.length, expected, 'one exposure per install assigned to the rule');
    assert.ok(exposures.every((e) => e['burn_edge.rollout.rule'] === 'mnist-1.1.0-canary' && e['burn_edge.rollout.arm'] === 'canary'));
    const inference = records.filter((r) => r.event === 'burn_edge.model.load');
    assert.ok(inference.every((r) => r['burn_edge.role'] === 'served' && r['burn_edge.alias'] === 'stable'));
  } finally {
    await ctx.close();
  }
});

test('an experiment assignment is sticky across reloads, with one exposure', TIMEOUT, async () => {
  writeChannel({ rules: [{ key: 'mnist-exp', kind: 'experiment', alias: 'stable',
    arms: [{ name: 'control', version: '1.0.0', weight: 0.5 }, { name: 'b', version: '1.1.0', weight: 0.5 }] }] });
  const { ctx, records } = await context();
  try {
    const page = await ctx.newPage();
    const first = await open(page, 'id=sticky-user&recheck=0');
    await flush(page);
    await page.reload();
    await page.waitForSelector('body[data-ready]', { timeout: 60_000 });
    const again = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
    await flush(page);
    assert.equal(first.info.assignment.rule, 'mnist-exp');
    assert.deepEqual(again.assignment, first.info.assignment);
    assert.equal(records.filter((r) => r.event === 'burn_edge.exposure').length, 1, 'the reload reported no second exposure');
  } finally {
    await ctx.close();
  }
});

test('a hot swap while 200+ predictions run: none fails, the swap event fires, info() moves to the new version', TIMEOUT, async () => {
  writeChannel(undefined, { stable: '1.0.0', canary: '1.1.0' });
  const { ctx, records } = await context();
  try {
    const page = await ctx.newPage();
    const { info } = await open(page, 'id=swapper&recheck=0');
    assert.equal(info.version, '1.0.0');
    writeChannel(undefined, { stable: '1.1.0', canary: '1.1.0' });
    const result = await page.evaluate(async () => {
      const h = /** @type {any} */ (window).burnEdgeDemo.handle;
      const input = new Float32Array(784);
      /** @type {any} */
      let swap = null;
      let seenAt = 0;
      let atSwap = 0;
      h.addEventListener('swap', (/** @type {any} */ e) => { swap = e.detail; atSwap = done; });
      let done = 0;
      let failed = 0;
      let afterSwap = 0;
      /** @type {string[]} */
      const errors = [];
      const started = performance.now();
      const loop = async () => {
        while (done < 200 || !swap || afterSwap < 50) {
          try {
            await h.predict(input);
            done += 1;
            if (swap) afterSwap += 1;
          } catch (err) {
            failed += 1;
            errors.push(String(err));
            if (failed > 5) return;
          }
          if (done === 20 && !seenAt) {
            seenAt = performance.now();
            h.recheck();
          }
          if (performance.now() - started > 60_000) return;
        }
      };
      await Promise.all([loop(), loop(), loop()]);
      return { done, failed, errors, swap, info: h.info(), duringSwap: atSwap - 20 };
    });
    assert.equal(result.failed, 0, result.errors.join('; '));
    assert.ok(result.done >= 200);
    assert.ok(result.swap, 'the swap event fired');
    assert.equal(result.swap.from, '1.0.0');
    assert.equal(result.swap.to, '1.1.0');
    assert.equal(result.info.version, '1.1.0');
    assert.equal(result.info.swaps.length, 1);
    console.log(`hot swap 1.0.0 -> 1.1.0 under load: ${result.done} predictions (${result.duringSwap} while the new version was ` +
      `being prepared), 0 failed, swap ${result.swap.swapMs.toFixed(1)} ms ` +
      '(new assignment seen -> new version serving: download, verify, cache, worker start, init, load, warm-up)');
    await flush(page);
    const swaps = records.filter((r) => r.event === 'burn_edge.swap');
    assert.equal(swaps.length, 1);
    assert.equal(swaps[0]['burn_edge.swap.to'], '1.1.0');
    const after = records.filter((r) => r.event === 'burn_edge.inference').at(-1);
    assert.equal(after['burn_edge.model.version'], '1.1.0');
  } finally {
    await ctx.close();
  }
});

test('the kill switch reaches an open page within one re-check; a developer pin beats it', TIMEOUT, async () => {
  writeChannel(canary(1));
  const { ctx } = await context();
  try {
    const page = await ctx.newPage();
    const { info } = await open(page, 'id=killed&recheck=1000');
    assert.equal(info.version, '1.1.0');
    assert.equal(info.assignment.kind, 'rollout');
    const t0 = Date.now();
    writeChannel({ ...canary(1), kill: true });
    await page.waitForFunction(() => /** @type {any} */ (window).burnEdgeDemo.handle.info().version === '1.0.0', null, { timeout: 30_000 });
    const ms = Date.now() - t0;
    const now = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
    assert.equal(now.assignment.kind, 'kill');
    assert.equal(now.swaps.at(-1).reason, 'kill');
    console.log(`time to kill (channel written -> page serving stable, recheckInterval 1000 ms): ${ms} ms ` +
      `(of which swap ${now.swaps.at(-1).swapMs.toFixed(1)} ms)`);
    assert.ok(ms < 1000 + now.swaps.at(-1).swapMs + 2000, `${ms} ms: within one re-check`);
    await page.waitForSelector('#st-swaps li', { timeout: 5000 });
    assert.equal(await page.locator('#st-swaps li').count(), 1, 'the demo lists the swap without a reload');
    assert.equal(await page.getAttribute('body', 'data-version'), '1.0.0');

    const pinned = await ctx.newPage();
    const p = await open(pinned, 'id=killed&recheck=0&burn-edge-pin=mnist@1.1.0');
    assert.equal(p.info.version, '1.1.0');
    assert.equal(p.info.assignment.kind, 'pin');
    const bad = await ctx.newPage();
    const b = await open(bad, 'id=killed&recheck=0&burn-edge-pin=9.9.9');
    assert.equal(b.error.code, 'PIN');
    assert.match(b.error.message, /"9\.9\.9", which the channel does not publish/);
  } finally {
    await ctx.close();
  }
});

test('a shadow challenger is logged with role shadow and never returned; served latency with and without it', TIMEOUT, async () => {
  writeChannel({ shadow: [{ alias: 'stable', challenger: '1.1.0', sampleRate: 1 }] });
  const { ctx, records } = await context();
  try {
    const page = await ctx.newPage();
    const { info } = await open(page, 'id=shadowed&recheck=0');
    assert.equal(info.version, '1.0.0');
    await page.waitForFunction(() => /** @type {any} */ (window).burnEdgeDemo.handle.info().shadow?.ready, null, { timeout: 60_000 });
    const r = await page.evaluate(async () => {
      const demo = /** @type {any} */ (window).burnEdgeDemo;
      const withShadow = demo.handle;
      const plain = await demo.loadModel({ channelUrl: '/models/mnist/channel.json', publicKey: demo.publicKey, id: 'shadowed',
        recheckInterval: 0, shadow: false, telemetry: demo.telemetry });
      const canvas = new OffscreenCanvas(28, 28);
      const g = /** @type {any} */ (canvas.getContext('2d'));
      g.fillStyle = '#000'; g.fillRect(0, 0, 28, 28); g.fillStyle = '#fff'; g.fillRect(12, 4, 4, 20);
      const input = await plain.prepareDigit(g.getImageData(0, 0, 28, 28).data, 28, 28);
      const time = async (/** @type {any} */ h) => {
        const ms = [];
        for (let i = 0; i < 200; i++) {
          const t = performance.now();
          await h.predict(input);
          ms.push(performance.now() - t);
        }
        return ms;
      };
      const without = await time(plain);
      const withS = await time(withShadow);
      const a = Array.from(await withShadow.predict(input));
      const b = Array.from(await plain.predict(input));
      const ids = [withShadow.lastPredictionId];
      await new Promise((done) => setTimeout(done, 500));
      const shadow = withShadow.info().shadow;
      plain.dispose();
      return { without, withS, same: a.every((x, i) => x === b[i]), ids, shadow, plainShadow: plain.info().shadow };
    });
    assert.ok(r.same, 'the served answer is the served version\'s, not the shadow\'s');
    assert.equal(r.plainShadow, null, 'shadow: false opts out');
    assert.ok(r.shadow.runs > 100, `shadow ran ${r.shadow.runs} times (skipped ${r.shadow.skipped})`);
    assert.equal(r.shadow.failures, 0);
    const med = (/** @type {number[]} */ xs) => median(xs).toFixed(3);
    console.log(`served latency, median of 200 (same page): without shadow ${med(r.without)} ms, with shadow (sampleRate 1) ${med(r.withS)} ms; ` +
      `shadow ran ${r.shadow.runs}, skipped ${r.shadow.skipped} (queue full)`);
    await flush(page);
    const inference = records.filter((x) => x.event === 'burn_edge.inference');
    const shadows = inference.filter((x) => x['burn_edge.role'] === 'shadow');
    const servedIds = new Set(inference.filter((x) => x['burn_edge.role'] === 'served').map((x) => x['burn_edge.prediction_id']));
    assert.ok(shadows.length > 100);
    assert.ok(shadows.every((x) => x['burn_edge.model.version'] === '1.1.0' && servedIds.has(x['burn_edge.shadow.of'])));
    assert.ok(inference.filter((x) => x['burn_edge.role'] === 'served').every((x) => x['burn_edge.model.version'] === '1.0.0'));
  } finally {
    await ctx.close();
  }
});

test('interleaving: one team-draft list from both arms, reproducible per seed; a pick credits its arm', TIMEOUT, async () => {
  writeChannel({ interleave: [{ key: 'mnist-il', alias: 'stable', arms: [{ name: 'a', version: '1.0.0' }, { name: 'b', version: '1.1.0' }] }] });
  const { ctx, records } = await context();
  try {
    const page = await ctx.newPage();
    await open(page, 'id=il&recheck=0');
    const r = await page.evaluate(async () => {
      const h = /** @type {any} */ (window).burnEdgeDemo.handle;
      const input = new Float32Array(784).fill(0.3);
      const one = await h.interleave(input, 5, { seed: 's1' });
      const two = await h.interleave(input, 5, { seed: 's1' });
      const winner = h.feedback({ picked: two[0].index });
      return { one, two, winner };
    });
    assert.equal(r.one.length, 5);
    assert.deepEqual(r.one, r.two, 'same seed, same list');
    assert.ok(new Set(r.one.map((/** @type {any} */ x) => x.index)).size === 5, 'no item twice');
    assert.deepEqual(new Set(r.one.map((/** @type {any} */ x) => x.arm)), new Set(['a', 'b']));
    assert.equal(r.winner, r.two[0].arm);
    await flush(page);
    const il = records.filter((x) => x.event === 'burn_edge.interleave');
    assert.equal(il.length, 1);
    assert.equal(il[0]['burn_edge.interleave.winner'], r.winner);
    assert.equal(il[0]['burn_edge.rollout.rule'], 'mnist-il');
  } finally {
    await ctx.close();
  }
});

test('an invalid channel (unknown arm field, weights not summing to 1, unpublished version) keeps the last good assignment and says why', TIMEOUT, async () => {
  writeChannel(canary(1));
  const { ctx } = await context();
  try {
    const page = await ctx.newPage();
    const { info } = await open(page, 'id=invalid&recheck=0');
    assert.equal(info.version, '1.1.0');
    const arm = { name: 'canary', version: '1.1.0', weight: 1 };
    const cases = /** @type {[any, RegExp][]} */ ([
      [{ rules: [{ ...canary(1).rules[0], arms: [{ ...arm, wieght: 1 }] }] }, /unknown field "wieght"/],
      [{ rules: [{ key: 'e', kind: 'experiment', alias: 'stable', arms: [{ name: 'x', version: '1.0.0', weight: 0.5 }, { name: 'y', version: '1.1.0', weight: 0.6 }] }] }, /weights sum to 1.1, not 1/],
      [{ rules: [{ ...canary(1).rules[0], arms: [{ ...arm, version: '3.0.0' }] }] }, /3\.0\.0, which the channel does not publish/],
    ]);
    for (const [rollout, why] of cases) {
      writeChannel(rollout);
      const r = await page.evaluate(async () => {
        const h = /** @type {any} */ (window).burnEdgeDemo.handle;
        /** @type {any} */
        let failed = null;
        h.addEventListener('swapfailed', (/** @type {any} */ e) => { failed = e.detail; }, { once: true });
        await h.recheck();
        const probs = await h.predict(new Float32Array(784));
        return { info: h.info(), failed, predicted: probs.length };
      });
      assert.equal(r.info.version, '1.1.0', 'still serving the last good assignment');
      assert.equal(r.info.assignment.rule, 'mnist-1.1.0-canary');
      assert.equal(r.predicted, 10);
      assert.equal(r.info.rolloutError?.code, 'INVALID_CHANNEL');
      assert.match(r.info.rolloutError.message, why);
      assert.match(r.failed?.message ?? '', why);
    }
  } finally {
    await ctx.close();
  }
});

test('a page that becomes visible re-checks; a re-checked channel not signed by the pinned key is refused as on a first load', TIMEOUT, async () => {
  writeChannel(undefined);
  const { ctx } = await context();
  try {
    const page = await ctx.newPage();
    // An interval that never comes due in the test: only becoming visible re-checks (recheckInterval
    // 0 would disable that too).
    const { info } = await open(page, 'id=visible&recheck=3600000');
    assert.equal(info.version, '1.0.0');
    // Forged: a valid channel signed by a key the page does not pin.
    clock += 1000;
    const forged = JSON.stringify({ schemaVersion: 1, name: 'mnist', aliases: { stable: '1.1.0', canary: '1.1.0' }, versions: ['1.0.0', '1.1.0'],
      updatedAt: new Date(clock).toISOString().replace(/\.\d+Z$/, 'Z') });
    writeFileSync(join(root, 'models/mnist/channel.json'), forged);
    writeFileSync(join(root, 'models/mnist/channel.json.sig'), signer(null).sign('channel', forged));
    const refused = await page.evaluate(async () => {
      const h = /** @type {any} */ (window).burnEdgeDemo.handle;
      await h.recheck();
      return h.info();
    });
    assert.equal(refused.version, '1.0.0');
    assert.equal(refused.rolloutError?.code, 'INTEGRITY');
    writeChannel(undefined, { stable: '1.1.0', canary: '1.1.0' });
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.waitForFunction(() => /** @type {any} */ (window).burnEdgeDemo.handle.info().version === '1.1.0', null, { timeout: 30_000 });
    const now = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
    assert.equal(now.rolloutError, null);
    assert.equal(now.swaps.at(-1).reason, 'channel');
  } finally {
    await ctx.close();
  }
});

test('recheckInterval 0: the loader never re-checks by itself; the demo page, which loads so, has it re-check on becoming visible', TIMEOUT, async () => {
  writeChannel(undefined);
  const { ctx } = await context();
  try {
    const page = await ctx.newPage();
    // The loader alone, recheckInterval 0: becoming visible re-checks nothing, also once recheck()
    // has run (and loaded the watch).
    await open(page, 'id=quiet&updateCheck=0');
    await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.recheck());
    writeChannel(undefined, { stable: '1.1.0', canary: '1.1.0' });
    const becomeVisible = () => page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await becomeVisible();
    await page.waitForTimeout(1500);
    assert.equal(await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info().version), '1.0.0');
    // The demo watching the channel (the default): it asks the loader to re-check then.
    writeChannel(undefined);
    await open(page, 'id=quiet');
    writeChannel(undefined, { stable: '1.1.0', canary: '1.1.0' });
    await becomeVisible();
    await page.waitForFunction(() => /** @type {any} */ (window).burnEdgeDemo.handle.info().version === '1.1.0', null, { timeout: 30_000 });
  } finally {
    await ctx.close();
  }
});

test('offline, the last verified channel assigns, but only a version whose files are cached', TIMEOUT, async () => {
  const canaryWeights = JSON.parse(readFileSync(join(root, 'models/mnist/1.1.0/manifest.json'), 'utf8')).files[0].path.split('/').pop();
  writeChannel(undefined);
  const { ctx } = await context();
  try {
    const page = await ctx.newPage();
    assert.equal((await open(page, 'id=offline-a&recheck=0')).info.version, '1.0.0');
    // The canary's weights cannot be fetched: the page keeps 1.0.0 (and caches the canary channel).
    writeChannel(canary(1));
    await ctx.route(`**/${canaryWeights}`, (route) => route.abort());
    await page.reload();
    await page.waitForSelector('body[data-ready]', { timeout: 60_000 });
    const fellBack = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
    assert.equal(fellBack.version, '1.0.0');
    assert.equal(fellBack.fallback?.reason, 'NETWORK');
    // Offline: the cached channel assigns 1.1.0, which is not cached, so 1.0.0 keeps serving.
    await ctx.route('**/models/**', (route) => route.abort());
    await page.reload();
    await page.waitForSelector('body[data-ready]', { timeout: 60_000 });
    const offline = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
    assert.equal(offline.offline, true);
    assert.equal(offline.version, '1.0.0');
    assert.equal(offline.assignment?.kind, 'alias');

    // Another install with both versions cached: offline, the cached channel's canary serves.
    await ctx.unroute('**/models/**');
    await ctx.unroute(`**/${canaryWeights}`);
    const other = await ctx.newPage();
    assert.equal((await open(other, 'id=offline-b&recheck=0')).info.version, '1.1.0');
    await ctx.route('**/models/**', (route) => route.abort());
    await other.reload();
    await other.waitForSelector('body[data-ready]', { timeout: 60_000 });
    const cached = await other.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
    assert.equal(cached.offline, true);
    assert.equal(cached.version, '1.1.0');
    assert.equal(cached.assignment?.rule, 'mnist-1.1.0-canary');
  } finally {
    await ctx.close();
  }
});

test('a version that fails to prepare keeps the old one serving (swapfailed), and the next re-check tries again', TIMEOUT, async () => {
  const canaryWeights = JSON.parse(readFileSync(join(root, 'models/mnist/1.1.0/manifest.json'), 'utf8')).files[0].path.split('/').pop();
  writeChannel(undefined);
  const { ctx, records } = await context();
  try {
    const page = await ctx.newPage();
    assert.equal((await open(page, 'id=failing&recheck=0&retries=0')).info.version, '1.0.0');
    await ctx.route(`**/${canaryWeights}`, (route) => route.abort());
    writeChannel(undefined, { stable: '1.1.0', canary: '1.1.0' });
    const failed = await page.evaluate(async () => {
      const h = /** @type {any} */ (window).burnEdgeDemo.handle;
      /** @type {any} */
      let detail = null;
      h.addEventListener('swapfailed', (/** @type {any} */ e) => { detail = e.detail; }, { once: true });
      await h.recheck();
      const probs = await h.predict(new Float32Array(784));
      return { detail, info: h.info(), predicted: probs.length };
    });
    assert.equal(failed.info.version, '1.0.0');
    assert.equal(failed.predicted, 10);
    assert.equal(failed.detail?.to, '1.1.0');
    assert.equal(failed.detail?.reason, 'NETWORK');
    await ctx.unroute(`**/${canaryWeights}`);
    const retried = await page.evaluate(async () => {
      const h = /** @type {any} */ (window).burnEdgeDemo.handle;
      await h.recheck();
      return h.info();
    });
    assert.equal(retried.version, '1.1.0');
    assert.equal(retried.rolloutError, null);
    await flush(page);
    const swaps = records.filter((r) => r.event === 'burn_edge.swap');
    assert.ok(swaps.some((r) => String(r['burn_edge.swap.reason']).startsWith('failed: ')), 'the failure is in telemetry');
    assert.ok(records.some((r) => r.event === 'burn_edge.error' && r['error.type'] === 'NETWORK'));
  } finally {
    await ctx.close();
  }
});

test('a ramp step that comes due moves an open page with the channel unchanged (rolling)', TIMEOUT, async () => {
  const due = Date.now() + 4000;
  const iso = (/** @type {number} */ t) => new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');
  writeChannel({ rules: [{ key: 'mnist-ramp', kind: 'rollout', alias: 'stable',
    ramp: [{ at: iso(due - 3_600_000), coverage: 0 }, { at: iso(due), coverage: 1 }],
    arms: [{ name: 'canary', version: '1.1.0', weight: 1 }] }] });
  const { ctx } = await context();
  try {
    const page = await ctx.newPage();
    const { info } = await open(page, 'id=ramped&recheck=500');
    assert.equal(info.version, '1.0.0', 'coverage 0 before the step');
    await page.waitForFunction(() => /** @type {any} */ (window).burnEdgeDemo.handle.info().version === '1.1.0', null, { timeout: 30_000 });
    const now = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle.info());
    assert.ok(Date.now() >= due - 1000, 'not before the step');
    assert.equal(now.assignment.rule, 'mnist-ramp');
  } finally {
    await ctx.close();
  }
});

test('a first load meeting an invalid rollout section serves the last verified version (info().fallback), or fails with INVALID_CHANNEL', TIMEOUT, async () => {
  writeChannel(undefined);
  const { ctx } = await context();
  try {
    const page = await ctx.newPage();
    assert.equal((await open(page, 'id=first&recheck=0')).info.version, '1.0.0');
    writeChannel({ rules: [{ ...canary(1).rules[0], covrage: 1 }] });
    await page.reload();
    await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
    const info = await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.handle?.info());
    assert.equal(info.version, '1.0.0');
    assert.equal(info.fallback?.reason, 'INVALID_CHANNEL');
    assert.match(info.fallback.message, /unknown field "covrage"/);
  } finally {
    await ctx.close();
  }
  const fresh = await context();
  try {
    const page = await fresh.ctx.newPage();
    const { error } = await open(page, 'id=first&recheck=0');
    assert.equal(error?.code, 'INVALID_CHANNEL');
    assert.match(error.message, /unknown field "covrage"/);
  } finally {
    await fresh.ctx.close();
  }
});
