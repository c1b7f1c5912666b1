// A soak at the collector's knee (16 concurrent senders, 100-event batches, as in
// `npm run bench:collector`): its resident memory stays bounded and nothing is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../e2e/cdn-harness.mjs';
import { inferenceBatch, postUntilAcked, report, scaled, sleep, startCollector, storedCounts } from './support.mjs';

const seconds = Number(process.env.BURN_EDGE_SOAK_SECONDS) || scaled({ short: 15, full: 600 });
const concurrency = 16;
const perBatch = 100;

test(`${seconds} s soak at the knee keeps memory bounded and loses nothing`, { timeout: (seconds + 120) * 1000 }, async () => {
  const port = await freePort();
  const db = join(mkdtempSync(join(tmpdir(), 'burn-edge-soak-')), 'telemetry.sqlite');
  const server = startCollector(port, db, ['--rate-limit', '1000000']);
  await server.ready;
  /** @type {{ at: number, rssKiB: number }[]} */
  const samples = [];
  const started = Date.now();
  const end = started + seconds * 1000;
  const sampler = setInterval(() => samples.push({ at: (Date.now() - started) / 1000, rssKiB: server.rssKiB() }), 1000);
  let sentBatches = 0;
  let n = 0;
  try {
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const body = inferenceBatch(`soak-${n++}`, perBatch);
        assert.ok(await postUntilAcked(server.url, body, { stopAt: Date.now() + 60_000 }), 'a batch was never acknowledged');
        sentBatches++;
      }
    }));
  } finally {
    clearInterval(sampler);
  }
  await sleep(100);
  const stored = (await storedCounts(server.url))['burn_edge.inference'] ?? 0;
  await server.stop();
  const sent = sentBatches * perBatch;
  // Memory after the first tenth (caches warm) against the peak and the end.
  const warm = samples.filter((s) => s.at >= seconds / 10);
  const base = warm[0]?.rssKiB ?? samples[0]?.rssKiB ?? 0;
  const peak = Math.max(...samples.map((s) => s.rssKiB));
  const last = samples.at(-1)?.rssKiB ?? 0;
  const bounded = peak <= Math.max(2 * base, base + 150 * 1024);
  const mib = (/** @type {number} */ k) => (k / 1024).toFixed(1);
  report('soak', {
    test: `collector soak at the knee, ${seconds} s`,
    load: `${concurrency} concurrent senders, ${perBatch}-event batches, ${Math.round(sent / seconds).toLocaleString('en')} events/s`,
    result: `RSS ${mib(base)} MiB after warm-up, peak ${mib(peak)} MiB, end ${mib(last)} MiB; ${sent} sent, ${stored} stored`,
    pass: bounded && stored === sent, sent, stored, rssKiB: { base, peak, last }, samples: samples.length,
  });
  assert.equal(stored, sent, 'nothing lost');
  assert.ok(bounded, `memory grew from ${mib(base)} to ${mib(peak)} MiB`);
});
