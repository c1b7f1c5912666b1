// @module bench/collector: `npm run bench:collector` — ingest throughput of the telemetry
// collector on loopback. A bounded load generator (fixed events, fixed concurrency) posts
// batches to fresh stores and then checks that nothing was lost (every event sent is in the
// summary, once). Rows: SQLite and ClickHouse (a throwaway server from
// scripts/clickhouse-server.sh), OTLP JSON as the browser client writes it (`www/lib/telemetry.js`)
// and protobuf as the OpenTelemetry SDK's exporter writes it (`@opentelemetry/otlp-transformer`,
// the same events), batches of 100 inferences and a mix (batches of 10, 100 and 1000 of five
// event kinds), and one or two collectors (requests alternate between them, as behind a load
// balancer; two on one SQLite file share it through SQLite's own locking). Prints a table and
// writes bench/results/collector.json and .md. The server is $BURN_EDGE_BIN, else the release
// build (`cargo build --release -p burn-edge-cli`) when there is one, else the dev build; the
// generator shares this machine's cores with it.
// Options: BENCH_EVENTS (events per row, default 200000), BENCH_CONCURRENCY (16),
// BENCH_SINKS (sqlite,clickhouse), BENCH_ROWS (a substring of the row names to run).
import { spawn } from 'node:child_process';
import http from 'node:http';
import { existsSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClickHouse } from '../tests/e2e/clickhouse-harness.mjs';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { buildPayload, buildRecord, buildResource } from '../www/lib/telemetry.js';
import { uuid } from '../www/lib/identity.js';
import { cliPath } from '../tests/e2e/harness.mjs';
import { sdkRecords } from '../tests/e2e/otel-sdk.mjs';

const totalEvents = Number(process.env.BENCH_EVENTS || 200000);
const concurrency = Number(process.env.BENCH_CONCURRENCY || 16);
const release = join(process.env.CARGO_TARGET_DIR || 'target', 'release', 'burn-edge');
const bin = process.env.BURN_EDGE_BIN || (existsSync(release) ? release : cliPath());
if (!bin.includes('release')) console.error(`note: measuring ${bin}, not a release build`);
const sinks = (process.env.BENCH_SINKS || 'sqlite,clickhouse').split(',');

/** @typedef {{ name: string, sink: string, collectors: number, encoding: 'json' | 'protobuf', mix: 'x100' | 'mix', ids?: 'v4' }} Row */
/** @type {Row[]} */
const ROWS = [
  { name: 'sqlite json x100', sink: 'sqlite', collectors: 1, encoding: 'json', mix: 'x100' },
  { name: 'sqlite protobuf x100', sink: 'sqlite', collectors: 1, encoding: 'protobuf', mix: 'x100' },
  { name: 'sqlite json mix', sink: 'sqlite', collectors: 1, encoding: 'json', mix: 'mix' },
  { name: 'sqlite protobuf mix', sink: 'sqlite', collectors: 1, encoding: 'protobuf', mix: 'mix' },
  { name: 'sqlite json x100 v4 ids', sink: 'sqlite', collectors: 1, encoding: 'json', mix: 'x100', ids: 'v4' },
  { name: 'sqlite 2 collectors protobuf x100', sink: 'sqlite', collectors: 2, encoding: 'protobuf', mix: 'x100' },
  { name: 'clickhouse json x100', sink: 'clickhouse', collectors: 1, encoding: 'json', mix: 'x100' },
  { name: 'clickhouse protobuf x100', sink: 'clickhouse', collectors: 1, encoding: 'protobuf', mix: 'x100' },
  { name: 'clickhouse 2 collectors protobuf x100', sink: 'clickhouse', collectors: 2, encoding: 'protobuf', mix: 'x100' },
];
const rows = ROWS.filter((r) => sinks.includes(r.sink) && r.name.includes(process.env.BENCH_ROWS || ''));

/** @returns {Promise<number>} a port free right now on loopback */


/** @param {import('node:child_process').ChildProcess} child @returns {Promise<string>} the base URL it prints */
const serverUrl = (child) => new Promise((resolve, reject) => {
  child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  child.stdout?.on('data', (d) => { const m = String(d).match(/http:\/\/[\d.]+:\d+\//); if (m) resolve(m[0]); });
});


const model = { 'burn_edge.model.name': 'mnist', 'burn_edge.model.version': '1.0.0', 'burn_edge.backend': 'cpu' };
/** Event `i` of a batch: an inference, or in the mix now and then a feedback, load, error or exposure. @param {string} id @param {number} i @param {boolean} mixed */
function event(id, i, mixed) {
  const kind = mixed ? i % 20 : 0;
  if (kind === 1 || kind === 11) return buildRecord('burn_edge.feedback', { 'burn_edge.prediction_id': `p${id}`, 'burn_edge.true_label': i % 10 }, { id });
  if (kind === 5) return buildRecord('burn_edge.model.load', { ...model, 'burn_edge.load.time_to_first_prediction_ms': 50.5 + (i % 13) }, { id });
  if (kind === 9) return buildRecord('burn_edge.error', { ...model, 'error.type': 'E_BENCH', 'error.message': 'bench' }, { id });
  if (kind === 15) {
    return buildRecord('burn_edge.exposure', { ...model, 'burn_edge.rollout.rule': 'r1', 'burn_edge.rollout.arm': i % 2 ? 'canary' : 'stable' }, { id });
  }
  return buildRecord('burn_edge.inference', { ...model, 'burn_edge.latency_ms': 1.25 + (i % 7), 'burn_edge.batch_size': 1,
    'burn_edge.predicted_class': i % 10, 'burn_edge.confidence': 0.99, 'burn_edge.prediction_id': `p${id}` }, { id });
}

const resource = buildResource({ app: 'bench', runtimeVersion: 'bench', installId: '0f1e2d3c-0000-4000-8000-00000000b000' });
/**
 * Request bodies holding `totalEvents` events: batches of 100 inferences, or the mix.
 * @param {Row} row @returns {Promise<Uint8Array[]>}
 */
async function bodies(row) {
  const sizes = row.mix === 'mix' ? [10, 100, 1000] : [100];
  const out = [];
  for (let sent = 0, n = 0; sent < totalEvents; n++) {
    const size = Math.min(sizes[n % sizes.length], totalEvents - sent);
    // Event ids as the browser client makes them: time-ordered v7 UUIDs (identity.js); the
    // `v4 ids` row sends random ones, as a client of its own might.
    const records = Array.from({ length: size }, (_, i) => event(uuid(row.ids === 'v4'), i, row.mix === 'mix'));
    sent += size;
    out.push(row.encoding === 'json' ? new TextEncoder().encode(JSON.stringify(buildPayload(resource, records, 'bench')))
      : ProtobufLogsSerializer.serializeRequest(await sdkRecords(records, resource)));
  }
  return out;
}

// node:http with keep-alive rather than fetch: the generator shares the cores with the
// server, and fetch spent about 60 us of CPU per request here, a third of the server's.
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
/**
 * POSTs `body`; resolves with the status and the whole response body.
 * @param {string} url @param {string} contentType @param {Uint8Array} body
 * @returns {Promise<{ status: number, body: Uint8Array }>}
 */
const post = (url, contentType, body) => new Promise((resolve, reject) => {
  const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': body.length,
    'x-burn-edge-key': 'demo-key' } }, (res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => resolve({ status: res.statusCode ?? 0, body: new Uint8Array(Buffer.concat(chunks)) }));
    res.on('error', reject);
  });
  req.on('error', reject);
  req.end(body);
});

/** Drives one row's collectors with its load; returns its results. @param {Row} row */
async function run(row) {
  const payloads = await bodies(row);
  const clickhouse = row.sink === 'clickhouse' ? await startClickHouse() : null;
  const db = join(mkdtempSync(join(tmpdir(), 'burn-edge-bench-')), 'telemetry.sqlite');
  const store = clickhouse ? ['--clickhouse', clickhouse.url] : ['--telemetry-db', db];
  /** @type {import('node:child_process').ChildProcess[]} */
  const children = [];
  try {
    /** @type {string[]} */
    const bases = [];
    for (let c = 0; c < row.collectors; c++) {
      const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0', ...store, '--rate-limit', '1000000'], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      bases.push(await serverUrl(child));
    }
    const contentType = row.encoding === 'json' ? 'application/json' : 'application/x-protobuf';
    /** @type {number[]} */
    const latencies = [];
    let next = 0, failed = 0, retried = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < payloads.length) {
        const n = next++;
        const t0 = performance.now();
        // As a telemetry client does: a 503 (writer queue full) is retried shortly after.
        for (let attempt = 0; ; attempt++) {
          const res = await post(`${bases[n % bases.length]}v1/logs`, contentType, payloads[n]);
          const answer = res.body;
          if (res.status === 503 && attempt < 20) { retried++; await new Promise((r) => setTimeout(r, 20)); continue; }
          // Everything kept: `{}` in JSON, an empty message in protobuf.
          const kept = row.encoding === 'json' ? new TextDecoder().decode(answer) === '{}' : answer.length === 0;
          if (res.status !== 200 || !kept) failed++;
          break;
        }
        latencies.push(performance.now() - t0);
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    const summary = await (await fetch(`${bases[0]}api/telemetry/summary`, { headers: { 'x-burn-edge-read-key': 'demo-read-key' } })).json();
    latencies.sort((a, b) => a - b);
    const pct = (/** @type {number} */ p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
    const stored = Object.values(summary.events).reduce((a, b) => a + b, 0);
    const bytes = payloads.reduce((a, p) => a + p.length, 0);
    return { ...row, server: bin, requests: payloads.length, concurrency, eventsPerSecond: totalEvents / seconds,
      bytesPerEvent: bytes / totalEvents, p50Ms: pct(50), p99Ms: pct(99), sent: totalEvents, stored, failed, retried };
  } finally {
    for (const child of children) child.kill();
    await clickhouse?.stop();
  }
}

const results = [];
for (const row of rows) {
  const r = await run(row);
  console.error(`${r.name}: ${Math.round(r.eventsPerSecond)} events/s`);
  results.push(r);
}
const sqliteJson = results.find((r) => r.name === 'sqlite json x100');
const table = [
  `Written by \`npm run bench:collector\` on ${new Date().toISOString()}: ${totalEvents} events per row, ${concurrency} requests in flight, load generator on the same 2 cores; ${bin}.`,
  '',
  '| sink | collectors | encoding | batches | event ids | requests | bytes/event | events/s | vs sqlite json x100 | ingest p50 / p99 (ms) | sent | stored | failed | 503 retried |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...results.map((r) => `| ${r.sink} | ${r.collectors} | ${r.encoding} | ${r.mix === 'mix' ? '10/100/1000, 5 kinds' : '100 inferences'} | ${r.ids === 'v4' ? 'random (v4)' : 'time-ordered (v7)'} | ${r.requests} | ${Math.round(r.bytesPerEvent)} | ${Math.round(r.eventsPerSecond).toLocaleString('en')} | ${sqliteJson ? (r.eventsPerSecond / sqliteJson.eventsPerSecond).toFixed(2) : '-'} | ${r.p50Ms.toFixed(1)} / ${r.p99Ms.toFixed(1)} | ${r.sent} | ${r.stored} | ${r.failed} | ${r.retried} |`),
].join('\n');
console.log(table);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/collector.json', JSON.stringify({ when: new Date().toISOString(), results }, null, 2) + '\n');
writeFileSync('bench/results/collector.md', table + '\n');
if (results.some((r) => r.stored !== r.sent || r.failed)) { console.error('events were lost'); process.exit(1); }
