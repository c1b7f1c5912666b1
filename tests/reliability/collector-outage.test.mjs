// The collector down (SIGKILLed) for a while as a page in Chromium keeps predicting: the
// page's predictions never wait or fail, its telemetry queues in IndexedDB, and once the
// collector is back every inference event is stored exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, startServer, LOOPBACK_CONNECT } from '../e2e/harness.mjs';
import { freePort } from '../e2e/cdn-harness.mjs';
import { report, scaled, sleep, startCollector, storedCounts } from './support.mjs';

const downSeconds = Number(process.env.BURN_EDGE_OUTAGE_SECONDS) || scaled({ short: 8, full: 180 });
const intervalMs = 250;

test(`collector down ${downSeconds} s while a page predicts: every event delivered once afterwards`, { timeout: (downSeconds + 240) * 1000 }, async () => {
  const port = await freePort();
  const db = join(mkdtempSync(join(tmpdir(), 'burn-edge-outage-')), 'telemetry.sqlite');
  let collector = startCollector(port, db);
  const [cdn, browser] = await Promise.all([startServer(LOOPBACK_CONNECT), launchBrowser({ webgpu: false }), collector.ready]);
  try {
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const page = await context.newPage();
    const query = `sw=0&collector=${encodeURIComponent(`http://127.0.0.1:${port}`)}&key=demo-key&flushMs=1000`;
    await page.goto(`${cdn.url}index.html?${query}`);
    await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
    assert.equal(await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.error), null);
    // Predict on a fixed cadence until told to stop; count predictions and the slowest one.
    await page.evaluate((ms) => {
      const w = /** @type {any} */ (window);
      w.outage = { count: 0, failed: 0, slowestMs: 0, stop: false };
      w.outage.done = (async () => {
        const digits = ['1', '7', '0'];
        for (let i = 0; !w.outage.stop; i++) {
          const t = performance.now();
          try {
            await w.burnEdgeDemo.classifySample(digits[i % digits.length]);
            w.outage.count++;
          } catch {
            w.outage.failed++;
          }
          w.outage.slowestMs = Math.max(w.outage.slowestMs, performance.now() - t);
          await new Promise((r) => setTimeout(r, ms));
        }
      })();
    }, intervalMs);
    await sleep(2000);
    await collector.kill();
    const downAt = Date.now();
    await sleep(downSeconds * 1000);
    collector = startCollector(port, db);
    await collector.ready;
    const downFor = (Date.now() - downAt) / 1000;
    await sleep(2000);
    const page_ = await page.evaluate(async () => {
      const w = /** @type {any} */ (window);
      w.outage.stop = true;
      await w.outage.done;
      await w.burnEdgeDemo.telemetry.flush();
      return { count: w.outage.count, failed: w.outage.failed, slowestMs: w.outage.slowestMs };
    });
    // Queued batches are retried with backoff (at most a minute apart).
    let stored = 0;
    const deadline = Date.now() + 150_000;
    const flushedAt = Date.now();
    while (Date.now() < deadline) {
      stored = (await storedCounts(collector.url))['burn_edge.inference'] ?? 0;
      if (stored >= page_.count) break;
      await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.telemetry.flush()).catch(() => {});
      await sleep(1000);
    }
    const drainSeconds = (Date.now() - flushedAt) / 1000;
    await sleep(1500);
    stored = (await storedCounts(collector.url))['burn_edge.inference'] ?? 0;
    const pass = stored === page_.count && page_.failed === 0;
    report('collector-outage', {
      test: 'collector SIGKILLed while a Chromium page keeps predicting, restarted later',
      load: `one page predicting every ${intervalMs} ms, collector down ${downFor.toFixed(0)} s`,
      result: `${page_.count} predictions (${page_.failed} failed, slowest ${page_.slowestMs.toFixed(0)} ms), ${stored} inference events stored, drained ${drainSeconds.toFixed(0)} s after the last prediction`,
      pass, predictions: page_.count, stored, downSeconds: downFor,
    });
    assert.equal(page_.failed, 0, 'no prediction failed while the collector was down');
    assert.equal(stored, page_.count, 'every inference stored exactly once');
    await context.close();
  } finally {
    await browser.close();
    cdn.stop();
    await collector.stop().catch(() => {});
  }
});
