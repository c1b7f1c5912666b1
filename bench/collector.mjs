// @module bench/collector: `npm run bench:collector` — ingest throughput of the telemetry
// collector on loopback. A bounded load generator (fixed requests, fixed concurrency) posts
// OTLP JSON batches of inference events to a fresh SQLite store, then checks nothing was lost.
// Prints a table and writes bench/results/collector.json. The server is $BURN_EDGE_BIN, else the
// release build (`cargo build --release -p burn-edge-cli`) when there is one, else the dev build;
// the generator shares this machine's cores with it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from '../tests/e2e/harness.mjs';

const requests = Number(process.env.BENCH_REQUESTS || 2000);
const perBatch = Number(process.env.BENCH_BATCH || 100);
const concurrency = Number(process.env.BENCH_CONCURRENCY || 16);

const release = join(process.env.CARGO_TARGET_DIR || 'target', 'release', 'burn-edge');
const bin = process.env.BURN_EDGE_BIN || (existsSync(release) ? release : cliPath());
if (!bin.includes('release')) console.error(`note: measuring ${bin}, not a release build`);
const db = join(mkdtempSync(join(tmpdir(), 'burn-edge-bench-')), 'telemetry.sqlite');
const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0', '--telemetry-db', db, '--rate-limit', '1000000'], { stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((resolve, reject) => {
  child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  child.stdout.on('data', (d) => { const m = String(d).match(/http:\/\/[\d.]+:\d+\//); if (m) resolve(m[0]); });
});

/** @param {string} key @param {string | number} v */
const attr = (key, v) => ({ key, value: typeof v === 'string' ? { stringValue: v } : { doubleValue: v } });
/** @param {number} n */
function body(n) {
  const records = [];
  for (let i = 0; i < perBatch; i++) {
    const id = `${n}-${i}`;
    records.push({ timeUnixNano: String(BigInt(Date.now()) * 1000000n), eventName: 'burn_edge.inference', attributes: [
      attr('event.id', id), attr('burn_edge.model.name', 'mnist'), attr('burn_edge.model.version', '1.0.0'),
      attr('burn_edge.backend', 'cpu'), attr('burn_edge.latency_ms', 1 + (i % 7)),
      { key: 'burn_edge.batch_size', value: { intValue: '1' } }, { key: 'burn_edge.predicted_class', value: { intValue: String(i % 10) } },
      attr('burn_edge.confidence', 0.99)] });
  }
  return JSON.stringify({ resourceLogs: [{ resource: { attributes: [attr('service.name', 'bench')] }, scopeLogs: [{ logRecords: records }] }] });
}

/** @type {number[]} */
const latencies = [];
let next = 0, failed = 0;
const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < requests) {
    const n = next++;
    const payload = body(n);
    const t0 = performance.now();
    const res = await fetch(`${base}v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-burn-edge-key': 'demo-key' }, body: payload });
    const text = await res.text();
    latencies.push(performance.now() - t0);
    if (res.status !== 200 || text !== '{}') failed++;
  }
}));
const seconds = (performance.now() - started) / 1000;
const summary = await (await fetch(`${base}api/telemetry/summary`)).json();
child.kill();

latencies.sort((a, b) => a - b);
const pct = (/** @type {number} */ p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
const sent = requests * perBatch;
const stored = summary.events['burn_edge.inference'] ?? 0;
const row = { sink: 'sqlite', server: bin, requests, perBatch, concurrency, eventsPerSecond: sent / seconds, p50Ms: pct(50), p99Ms: pct(99), sent, stored, failed };
const table = [
  '| sink | requests x events | concurrency | events/s | ingest p50 / p99 (ms) | sent | stored | failed |',
  '|---|---|---|---|---|---|---|---|',
  `| sqlite | ${requests} x ${perBatch} | ${concurrency} | ${Math.round(row.eventsPerSecond).toLocaleString('en')} | ${row.p50Ms.toFixed(2)} / ${row.p99Ms.toFixed(2)} | ${sent} | ${stored} | ${failed} |`,
].join('\n');
console.log(table);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/collector.json', JSON.stringify({ when: new Date().toISOString(), results: [row] }, null, 2) + '\n');
if (stored !== sent || failed) { console.error('events were lost'); process.exit(1); }
