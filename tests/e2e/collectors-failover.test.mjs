// Two stateless collectors (`burn-edge serve --clickhouse`) on one real ClickHouse, under load
// from the shell's own telemetry client (www/lib/telemetry.js, several endpoints, failing over),
// and one collector SIGKILLed mid-load: every event the clients recorded is acknowledged in the
// end (the killed collector's batches went to the other one), none is lost and none counts
// twice: ClickHouse holds each event id once after FINAL, and the summary counts them once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createTelemetry } from '../../www/lib/telemetry.js';
import { startClickHouse } from './clickhouse-harness.mjs';
import { cliPath } from './harness.mjs';

const CLIENTS = 4;
const EVENTS_PER_TICK = 10;
const TICK_MS = 10;
const LOAD_MS = 6000;
const KILL_AT_MS = 2500;

/** @type {Awaited<ReturnType<typeof startClickHouse>>} */
let clickhouse;
/** @type {{ url: string, child: import('node:child_process').ChildProcess }[]} */
const collectors = [];

/** A collector on a free port storing into ClickHouse. */
function startCollector() {
  const child = spawn(cliPath(), ['serve', '--addr', '127.0.0.1:0', '--clickhouse', clickhouse.url, '--rate-limit', '1000000'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.on('exit', (code) => reject(new Error(`burn-edge serve exited with ${code}: ${out}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/[\d.]+:\d+\//);
      if (m) resolve({ url: m[0], child });
    });
  });
}

before(async () => {
  clickhouse = await startClickHouse();
  // One after the other: the first creates the table.
  collectors.push(/** @type {any} */ (await startCollector()));
  collectors.push(/** @type {any} */ (await startCollector()));
});

after(async () => {
  for (const c of collectors) c.child.kill('SIGKILL');
  await clickhouse?.stop();
});

/** Event ids of an OTLP JSON body. @param {string} body */
const idsOf = (body) => JSON.parse(body).resourceLogs.flatMap((/** @type {any} */ r) => r.scopeLogs.flatMap((/** @type {any} */ s) =>
  s.logRecords.map((/** @type {any} */ l) => l.attributes.find((/** @type {any} */ a) => a.key === 'event.id').value.stringValue)));

test('two collectors on one ClickHouse, one SIGKILLed under load: 0 acknowledged events lost, 0 counted twice', { timeout: 240_000 }, async () => {
  const [a, b] = collectors;
  // Acknowledged: in a request a collector answered 2xx. The client's fetch, observed.
  const acked = new Map();
  let failedAtA = 0;
  /** @type {string[]} bodies A acknowledged */
  const storedByA = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    try {
      const res = await realFetch(input, init);
      if (res.ok && typeof init?.body === 'string') {
        for (const id of idsOf(init.body)) acked.set(id, (acked.get(id) ?? 0) + 1);
        if (String(input).startsWith(a.url)) storedByA.push(init.body);
      }
      return res;
    } catch (err) {
      if (String(input).startsWith(a.url)) failedAtA += 1;
      throw err;
    }
  };
  const debug = console.debug;
  console.debug = () => {}; // each failed attempt is logged by the client
  try {
    // Half the clients prefer A, half B: the spread a load balancer would make.
    const clients = Array.from({ length: CLIENTS }, (_, i) => createTelemetry({
      endpoint: i % 2 === 0 ? [a.url, b.url] : [b.url, a.url], app: 'demo', key: 'demo-key', batchSize: 50,
      flushIntervalMs: 50, retryDelayMs: 50, maxQueue: 1_000_000, timeoutMs: 5000, honorGlobalPrivacyControl: false,
    }));
    let recorded = 0;
    const started = Date.now();
    let killedAt = 0;
    let ackedAtKill = 0;
    while (Date.now() - started < LOAD_MS) {
      clients.forEach((t, c) => {
        for (let k = 0; k < EVENTS_PER_TICK; k++) {
          t.record('burn_edge.inference', { 'event.id': `c${c}-${recorded++}`, 'burn_edge.model.name': 'mnist',
            'burn_edge.model.version': '1.0.0', 'burn_edge.backend': 'cpu', 'burn_edge.latency_ms': 1 + (recorded % 17),
            'burn_edge.batch_size': 1, 'burn_edge.predicted_class': recorded % 10, 'burn_edge.confidence': 0.9 });
        }
      });
      if (!killedAt && Date.now() - started >= KILL_AT_MS) {
        a.child.kill('SIGKILL');
        killedAt = Date.now();
        ackedAtKill = acked.size;
      }
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
    // Everything recorded goes out (retries included) to the collector still up.
    for (let i = 0; i < 600 && acked.size < recorded; i++) {
      await Promise.all(clients.map((t) => t.flush()));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await Promise.all(clients.map((t) => t.shutdown()));
    globalThis.fetch = realFetch;
    console.log(`${recorded} events recorded by ${CLIENTS} clients in ${LOAD_MS} ms; collector A killed at ${killedAt - started} ms ` +
      `(${ackedAtKill} acknowledged by then); ${failedAtA} requests to A failed; ${acked.size} acknowledged`);
    assert.ok(failedAtA > 0, 'A was killed with requests in flight or still coming');
    assert.equal(acked.size, recorded, 'every recorded event was acknowledged in the end');
    // A batch that A stored but whose answer never arrived is sent again to B by its client.
    // Whether the kill caught one is luck; these last batches A stored are sent to B the same way.
    const replayed = storedByA.slice(-10);
    for (const body of replayed) {
      const res = await realFetch(`${b.url}v1/logs`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-burn-edge-key': 'demo-key' } });
      assert.equal(res.status, 200);
    }
    const replayedEvents = replayed.reduce((n, body) => n + idsOf(body).length, 0);

    const [total, distinct, raw] = (await clickhouse.query(
      'SELECT count(), uniqExact(event_id), (SELECT count() FROM burn_edge_events) FROM burn_edge_events FINAL FORMAT TabSeparated',
    )).trim().split('\t').map(Number);
    console.log(`ClickHouse: ${raw} rows written (${replayedEvents} resent to B), ${distinct} distinct event ids, ${total} rows after FINAL`);
    // (Background merges may already have folded some duplicates: `raw` is shown, not checked.)
    assert.ok(replayedEvents > 0, 'A had stored batches before it was killed');
    assert.equal(distinct, recorded, '0 lost');
    assert.equal(total, recorded, '0 double-counted');
    const stored = new Set((await clickhouse.query('SELECT event_id FROM burn_edge_events FINAL FORMAT TabSeparated')).trim().split('\n'));
    assert.ok([...acked.keys()].every((id) => stored.has(id)), 'every acknowledged id is stored');
    const summary = await (await realFetch(`${b.url}api/telemetry/summary`, { headers: { 'x-burn-edge-read-key': 'demo-read-key' } })).json();
    assert.equal(summary.events['burn_edge.inference'], recorded, 'the summary counts each event once');
  } finally {
    globalThis.fetch = realFetch;
    console.debug = debug;
  }
});
