// The collector SIGKILLed under load and restarted on the same database, several times: every
// event it acknowledged is stored, retried batches are not counted twice, and every batch the
// senders kept retrying is stored in the end (0 lost, 0 duplicated).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../e2e/cdn-harness.mjs';
import { inferenceBatch, postUntilAcked, report, scaled, sleep, startCollector, storedCounts } from './support.mjs';

const batches = scaled({ short: 400, full: 4000 });
const perBatch = 50;
const kills = scaled({ short: 2, full: 10 });
const concurrency = 16;

test(`collector SIGKILLed ${kills} times under load loses and duplicates nothing`, { timeout: 900_000 }, async () => {
  const port = await freePort();
  const db = join(mkdtempSync(join(tmpdir(), 'burn-edge-crash-')), 'telemetry.sqlite');
  const extra = ['--rate-limit', '1000000'];
  let server = startCollector(port, db, extra);
  await server.ready;
  const bodies = Array.from({ length: batches }, (_, n) => inferenceBatch(`crash-${n}`, perBatch));
  let next = 0;
  let acked = 0;
  let ackedBeforeLastKill = 0;
  const started = Date.now();
  const senders = Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < batches) {
      const body = bodies[next++];
      assert.ok(await postUntilAcked(server.url, body, { stopAt: Date.now() + 120_000 }), 'a batch was never acknowledged');
      acked++;
    }
  }));
  // Kill whenever a further slice of the batches has been acknowledged, then restart at once.
  for (let k = 1; k <= kills; k++) {
    while (acked < (batches * k) / (kills + 1)) await sleep(5);
    ackedBeforeLastKill = acked;
    await server.kill();
    await sleep(200);
    server = startCollector(port, db, extra);
    await server.ready;
  }
  await senders;
  const seconds = (Date.now() - started) / 1000;
  const stored = (await storedCounts(server.url))['burn_edge.inference'] ?? 0;
  await server.stop();
  const sent = batches * perBatch;
  const pass = stored === sent;
  report('collector-crash', {
    test: 'collector SIGKILLed under load, restarted on the same SQLite file',
    load: `${batches} batches x ${perBatch} events, ${concurrency} concurrent senders retrying until acknowledged, ${kills} SIGKILLs`,
    result: `${sent} events acknowledged, ${stored} stored: ${sent - Math.min(stored, sent)} lost, ${Math.max(0, stored - sent)} duplicated (${seconds.toFixed(1)} s; ${ackedBeforeLastKill} batches acknowledged before the last kill)`,
    pass, sent, stored, kills,
  });
  assert.equal(stored, sent, 'every acknowledged event stored exactly once');
});
