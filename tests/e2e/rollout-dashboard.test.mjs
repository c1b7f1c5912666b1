// The dashboard's Rollout section in Chromium against the real `burn-edge serve`, pointed with
// --models at a temporary copy of models/ whose mnist channel has a canary rule with a ramp and
// an interleave, and whose rollout-log.json holds a guard rollback. After OTLP telemetry with a
// canary, a control, shadow pairs and interleave picks, the section shows both arms, the shadow
// agreement and the guard's entry; significance, SRM verdict and interval when the report has
// them. ROLLOUT_SCREENSHOT=path.png saves a screenshot of the section.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startServer, launchBrowser } from './harness.mjs';

const RULE = 'mnist-1.1.0-canary';
const models = join(mkdtempSync(join(tmpdir(), 'burn-edge-rollout-')), 'models');

/** @type {{ url: string, stop: () => void }} */
let server;
before(async () => {
  cpSync('models', models, { recursive: true });
  const hour = 3600_000, now = Date.now();
  const iso = (/** @type {number} */ t) => new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');
  writeFileSync(join(models, 'mnist/channel.json'), JSON.stringify({
    schemaVersion: 2, name: 'mnist', aliases: { stable: '1.0.0', canary: '1.1.0' }, versions: ['1.0.0', '1.1.0'], updatedAt: iso(now),
    rollout: {
      rules: [{
        key: RULE, kind: 'rollout', alias: 'stable', coverage: 0.25,
        ramp: [{ at: iso(now - 2 * hour), coverage: 0.05 }, { at: iso(now - hour), coverage: 0.25 }, { at: iso(now + hour), coverage: 0.5 }],
        arms: [{ name: 'canary', version: '1.1.0', weight: 1 }],
      }],
      shadow: [{ alias: 'stable', challenger: '1.1.0', sampleRate: 0.2 }],
      interleave: [{ key: 'mnist-il', alias: 'stable', arms: [{ name: 'a', version: '1.0.0' }, { name: 'b', version: '1.1.0' }] }],
    },
  }));
  writeFileSync(join(models, 'mnist/rollout-log.json'), JSON.stringify([
    { at: iso(now - 2 * hour), action: 'canary', rule: RULE, detail: '1.1.0 at 5%', by: 'cli' },
    { at: iso(now - 60_000), action: 'rollback', rule: RULE, detail: 'guard: error rate 0.12 vs 0.01 (mSPRT p=0.003)', by: 'guard' },
  ]));
  server = await startServer(['--models', models]);
});
after(() => {
  server?.stop();
  rmSync(dirname(models), { recursive: true, force: true });
});

/** @param {Record<string, string | number>} attrs */
const attributes = (attrs) => Object.entries(attrs).map(([key, v]) => ({
  key,
  value: typeof v === 'string' ? { stringValue: v } : Number.isInteger(v) && !key.endsWith('_ms') && key !== 'burn_edge.confidence' ? { intValue: String(v) } : { doubleValue: v },
}));

/**
 * @param {string} install
 * @param {{ name: string, attrs: Record<string, string | number> }[]} records
 */
async function send(install, records) {
  const time = String(BigInt(Date.now()) * 1_000_000n);
  const body = {
    resourceLogs: [{
      resource: { attributes: attributes({ 'service.name': 'e2e', 'burn_edge.install_id': install }) },
      scopeLogs: [{ logRecords: records.map((r) => ({ timeUnixNano: time, eventName: r.name, attributes: attributes(r.attrs) })) }],
    }],
  };
  const res = await fetch(`${server.url}v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-burn-edge-key': 'demo-key' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {});
}

let n = 0;
/** @param {string} version @param {number} latency @param {number} cls @param {Record<string, string | number>} extra */
const inference = (version, latency, cls, extra) => ({
  name: 'burn_edge.inference',
  attrs: {
    'event.id': `e${n++}`, 'burn_edge.model.name': 'mnist', 'burn_edge.model.version': version, 'burn_edge.backend': 'cpu',
    'burn_edge.latency_ms': latency, 'burn_edge.batch_size': 1, 'burn_edge.predicted_class': cls, 'burn_edge.confidence': 0.9, ...extra,
  },
});

test('the Rollout section shows both arms, the shadow agreement and the guard log', async () => {
  const canary = { 'burn_edge.alias': 'stable', 'burn_edge.rollout.rule': RULE, 'burn_edge.rollout.arm': 'canary', 'burn_edge.role': 'served' };
  for (let u = 0; u < 8; u++) {
    // Control: 1.0.0, classes spread; p0..p9 of u0 re-run in the shadow by 1.1.0 (8 of 10 agree).
    const records = Array.from({ length: 12 }, (_, i) => inference('1.0.0', 1 + ((u * 12 + i) % 9), i % 10, {
      'burn_edge.alias': 'stable', 'burn_edge.role': 'served', 'burn_edge.prediction_id': `p${u}-${i}`,
    }));
    if (u === 0) {
      for (let i = 0; i < 10; i++) {
        records.push(inference('1.1.0', 2 + i / 10, i === 3 ? 5 : i === 7 ? 1 : i, { 'burn_edge.role': 'shadow', 'burn_edge.alias': 'stable', 'burn_edge.shadow.of': `p0-${i}` }));
      }
      for (const [winner, count] of [['a', 4], ['b', 7], ['tie', 2]]) {
        for (let i = 0; i < Number(count); i++) {
          records.push({ name: 'burn_edge.interleave', attrs: { 'event.id': `il${n++}`, 'burn_edge.model.name': 'mnist', 'burn_edge.rollout.rule': 'mnist-il', 'burn_edge.interleave.winner': String(winner) } });
        }
      }
      records.push({ name: 'burn_edge.swap', attrs: { 'event.id': `sw${n++}`, 'burn_edge.model.name': 'mnist', 'burn_edge.swap.from': '1.0.0', 'burn_edge.swap.to': '1.1.0', 'burn_edge.swap.ms': 140.5, 'burn_edge.swap.reason': 'channel' } });
    }
    await send(`control-${u}`, records);
  }
  for (let u = 0; u < 3; u++) {
    const records = [{ name: 'burn_edge.exposure', attrs: { 'event.id': `x${n++}`, 'burn_edge.model.name': 'mnist', 'burn_edge.model.version': '1.1.0', 'burn_edge.rollout.rule': RULE, 'burn_edge.rollout.arm': 'canary', 'burn_edge.alias': 'stable' } }];
    for (let i = 0; i < 10; i++) records.push(inference('1.1.0', 4 + i, 3, canary));
    records.push({ name: 'burn_edge.error', attrs: { 'event.id': `err${n++}`, 'burn_edge.model.name': 'mnist', 'burn_edge.model.version': '1.1.0', 'error.type': 'Error', 'error.message': 'boom', ...canary } });
    await send(`canary-${u}`, records);
  }

  const browser = await launchBrowser({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    await page.goto(`${server.url}dashboard.html#key=demo-read-key`);
    await page.waitForSelector('body[data-rollout-loaded="mnist"]');
    const rows = await page.$$eval('#rollout-arms tr[data-arm]', (trs) => trs.map((tr) => [tr.getAttribute('data-arm'), ...[...tr.children].map((td) => td.textContent)]));
    assert.deepEqual(rows.map((r) => r[0]), ['control', 'canary'], JSON.stringify(rows));
    const [control, arm] = rows;
    assert.deepEqual([control[3], control[4], control[6]], ['1.0.0', '8', '96'], JSON.stringify(control));
    assert.deepEqual([arm[3], arm[4], arm[5], arm[6]], ['1.1.0', '3', '3', '30'], JSON.stringify(arm));
    assert.match(arm[8], /^10\.0% \(3\)$/);
    assert.equal(await page.getAttribute('#rollout-shadow .shadow-pair', 'data-agreement'), '0.8');
    assert.match(await page.textContent('#rollout-shadow') ?? '', /1\.0\.0 \(champion\) vs 1\.1\.0 \(challenger\): 10 pairs, top-1 agreement 80\.0%/);
    assert.equal(await page.$$eval('#rollout-shadow .heat tr', (trs) => trs.length), 11, 'a header and 10 classes');
    assert.match(await page.textContent('#rollout-interleave') ?? '', /preference for b 63\.6%/);
    assert.match(await page.textContent('#rollout-ramp') ?? '', /coverage now 25\.0%/);
    const log = await page.$$eval('#rollout-log tr', (trs) => trs.slice(1).map((tr) => tr.textContent));
    assert.equal(log.length, 2);
    assert.match(log[0] ?? '', /rollback.*guard.*error rate 0\.12/, 'newest first');

    // The statistics the collector adds on top of the counts are shown when present.
    await page.route('**/api/rollout?*', async (route) => {
      const response = await route.fetch();
      const report = await response.json();
      report.arms[0].vsControl = { errorRate: { diff: 0.1, pValue: 0.004, significant: true }, slowRate: { diff: 0.02, pValue: 0.4, significant: false } };
      report.srm = { ...report.srm, chiSquare: 12.5, pValue: 0.0004, mismatch: true };
      report.interleave[0].ci95 = [0.35, 0.85];
      await route.fulfill({ response, json: report });
    });
    await page.evaluate(() => { delete document.body.dataset.rolloutLoaded; });
    await page.reload();
    await page.waitForSelector('body[data-rollout-loaded="mnist"]');
    assert.match(await page.textContent('#rollout-arms tr[data-arm="canary"]') ?? '', /errorRate \+10\.00 pp p=0\.0040 \(significant\)slowRate \+2\.00 pp p=0\.40/);
    assert.match(await page.textContent('#rollout-srm') ?? '', /χ² 12\.50, p 0\.00040: SAMPLE RATIO MISMATCH/);
    assert.match(await page.textContent('#rollout-interleave') ?? '', /63\.6% \(95% CI 35\.0%–85\.0%\)/);
    if (process.env.ROLLOUT_SCREENSHOT) await page.locator('#rollout-section').screenshot({ path: process.env.ROLLOUT_SCREENSHOT });
  } finally {
    await browser.close();
  }
});
