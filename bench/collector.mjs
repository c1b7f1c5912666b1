// @module bench/collector: `npm run bench:collector` — ingest throughput of the telemetry
// collector on loopback. A bounded load generator (fixed requests, fixed concurrency) posts
// OTLP JSON batches of inference events to a fresh store, SQLite and then ClickHouse (a throwaway
// server from scripts/clickhouse-server.sh; BENCH_SINKS=sqlite skips it), then checks nothing
// was lost. Prints a table and writes bench/results/collector.json. The server is $BURN_EDGE_BIN, else the
// release build (`cargo build --release -p burn-edge-cli`) when there is one, else the dev build;
// the generator shares this machine's cores with it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from '../tests/e2e/harness.mjs';

const requests = Number(process.env.BENCH_REQUESTS || 2000);
const perBatch = Number(process.env.BENCH_BATCH || 100);
const concurrency = Number(process.env.BENCH_CONCURRENCY || 16);

const release = join(process.env.CARGO_TARGET_DIR || 'target', 'release', 'burn-edge');
const bin = process.env.BURN_EDGE_BIN || (existsSync(release) ? release : cliPath());
if (!bin.includes('release')) console.error(`note: measuring ${bin}, not a release build`);
const sinks = (process.env.BENCH_SINKS || 'sqlite,clickhouse').split(',');

/** @returns {Promise<number>} a port free right now on loopback */
const freePort = () => new Promise((resolve) => {
  const srv = createServer().listen(0, '127.0.0.1', () => { const a = srv.address(); srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0)); });
});

/** @param {import('node:child_process').ChildProcess} child @returns {Promise<string>} the base URL it prints */
const serverUrl = (child) => new Promise((resolve, reject) => {
  child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  child.stdout?.on('data', (d) => { const m = String(d).match(/http:\/\/[\d.]+:\d+\//); if (m) resolve(m[0]); });
});

/** Starts a throwaway ClickHouse server; resolves once it answers /ping. */
async function startClickHouse() {
  const dir = mkdtempSync(join(tmpdir(), 'burn-edge-clickhouse-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  // Its stderr only says which optional config includes are absent; errors go to dir/server.err.log.
  const proc = spawn('bash', ['scripts/clickhouse-server.sh', dir, ...ports.map(String)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${ports[0]}/`;
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`clickhouse-server exited with ${proc.exitCode}`);
    if (await fetch(`${url}ping`).then((r) => r.ok, () => false)) return { proc, url };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('ClickHouse did not start within 30 s');
}

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

/** Drives one sink with the same load; returns its results row. @param {string} sink */
async function run(sink) {
  const clickhouse = sink === 'clickhouse' ? await startClickHouse() : null;
  const store = clickhouse ? ['--clickhouse', clickhouse.url] : ['--telemetry-db', join(mkdtempSync(join(tmpdir(), 'burn-edge-bench-')), 'telemetry.sqlite')];
  const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0', ...store, '--rate-limit', '1000000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const base = await serverUrl(child);
    /** @type {number[]} */
    const latencies = [];
    let next = 0, failed = 0;
    // Bodies are built before the clock starts, as wrk would send prepared requests: the
    // generator shares the cores with the server, so it should do as little as it can.
    const payloads = Array.from({ length: requests }, (_, n) => body(n));
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const n = next++;
        const payload = payloads[n];
        const t0 = performance.now();
        const res = await fetch(`${base}v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-burn-edge-key': 'demo-key' }, body: payload });
        const text = await res.text();
        latencies.push(performance.now() - t0);
        if (res.status !== 200 || text !== '{}') failed++;
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    const summary = await (await fetch(`${base}api/telemetry/summary`, { headers: { 'x-burn-edge-read-key': 'demo-read-key' } })).json();
    latencies.sort((a, b) => a - b);
    const pct = (/** @type {number} */ p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
    const sent = requests * perBatch;
    const stored = summary.events['burn_edge.inference'] ?? 0;
    return { sink, server: bin, requests, perBatch, concurrency, eventsPerSecond: sent / seconds, p50Ms: pct(50), p99Ms: pct(99), sent, stored, failed };
  } finally {
    child.kill();
    clickhouse?.proc.kill();
  }
}

const rows = [];
for (const sink of sinks) rows.push(await run(sink));
const table = [
  '| sink | requests x events | concurrency | events/s | ingest p50 / p99 (ms) | sent | stored | failed |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.sink} | ${requests} x ${perBatch} | ${concurrency} | ${Math.round(r.eventsPerSecond).toLocaleString('en')} | ${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)} | ${r.sent} | ${r.stored} | ${r.failed} |`),
].join('\n');
console.log(table);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/collector.json', JSON.stringify({ when: new Date().toISOString(), results: rows }, null, 2) + '\n');
if (rows.some((r) => r.stored !== r.sent || r.failed)) { console.error('events were lost'); process.exit(1); }
