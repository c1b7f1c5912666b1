// @module bench/summary: `npm run bench:summary` — how long `GET /api/telemetry/summary` takes
// over many stored events, SQLite and ClickHouse side by side. Each store is filled through the
// release server's own ingest (`POST /v1/logs`, batches of 1000 as the browser client writes
// them): BENCH_SUMMARY_EVENTS events over the last three hours, 9 in 10 inferences (8 groups:
// 4 versions x 2 backends, 10 classes, latencies 0.5-13 ms) and 1 in 10 a feedback on one of
// them. Then the server is restarted on the store and the summary fetched over HTTP
// BENCH_SUMMARY_RUNS times (the first right after the start). Prints a table and writes
// bench/results/summary.json and .md ($BENCH_SUMMARY_OUT.json and .md if set). BENCH_SINKS=sqlite
// skips ClickHouse.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClickHouse } from '../tests/e2e/clickhouse-harness.mjs';
import { buildPayload, buildRecord, buildResource } from '../www/lib/telemetry.js';

const total = Number(process.env.BENCH_SUMMARY_EVENTS || 10_000_000);
const runs = Number(process.env.BENCH_SUMMARY_RUNS || 5);
const sinks = (process.env.BENCH_SINKS || 'sqlite,clickhouse').split(',');
const bin = process.env.BURN_EDGE_BIN || join(process.env.CARGO_TARGET_DIR || 'target', 'release', 'burn-edge');
const perBatch = 1000;
const concurrency = 8;

/** @returns {Promise<number>} */



/** @param {string[]} store @returns {Promise<{ base: string, stop: () => void }>} */
function serve(store) {
  // A summary is timed however long it takes, not cut at the default 30 s request limit.
  const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0', ...store, '--rate-limit', '1000000', '--request-timeout', '900'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
    child.stdout.on('data', (d) => { const m = String(d).match(/http:\/\/[\d.]+:\d+\//); if (m) resolve({ base: m[0], stop: () => child.kill() }); });
  });
}

const resource = buildResource({ app: 'bench', runtimeVersion: 'bench', installId: '0f1e2d3c-0000-4000-8000-00000000b001' });
const now = Date.now();
/** Event `i` of the fill. @param {number} i */
function event(i) {
  const timeMs = now - (i % 10_800) * 1000 - 1000;
  if (i % 10 === 9) {
    return buildRecord('burn_edge.feedback', { 'burn_edge.prediction_id': `p${i - 9}`, 'burn_edge.true_label': i % 7 }, { id: `f${i}`, timeMs });
  }
  return buildRecord('burn_edge.inference', { 'burn_edge.model.name': 'mnist', 'burn_edge.model.version': `1.${i % 4}.0`,
    'burn_edge.backend': i % 2 ? 'webgpu' : 'cpu', 'burn_edge.latency_ms': 0.5 + (i % 997) * 0.013, 'burn_edge.batch_size': 1,
    'burn_edge.predicted_class': i % 10, 'burn_edge.confidence': (i % 10) / 10, 'burn_edge.prediction_id': `p${i}` }, { id: `i${i}`, timeMs });
}

/** Posts `total` events to `base`; returns seconds taken. @param {string} base */
async function fill(base) {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const first = next;
      next += perBatch;
      const records = [];
      for (let i = first; i < Math.min(first + perBatch, total); i++) records.push(event(i));
      const body = JSON.stringify(buildPayload(resource, records, 'bench'));
      for (;;) {
        const res = await fetch(`${base}v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-burn-edge-key': 'demo-key' }, body });
        const text = await res.text();
        if (res.status === 503) { await new Promise((r) => setTimeout(r, 50)); continue; }
        if (res.status !== 200 || text !== '{}') throw new Error(`fill: ${res.status} ${text}`);
        break;
      }
    }
  }));
  return (performance.now() - started) / 1000;
}

/** Times the summary `runs` times. @param {string} sink @param {string} base */
async function measure(sink, base) {
  const times = [];
  let stored = 0, bytes = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const res = await fetch(`${base}api/telemetry/summary`, { headers: { 'x-burn-edge-read-key': 'demo-read-key' } });
    const text = await res.text();
    times.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`${sink}: ${res.status} ${text}`);
    stored = Object.values(JSON.parse(text).events).reduce((a, b) => a + b, 0);
    bytes = text.length;
  }
  const sorted = [...times].sort((a, b) => a - b);
  return { events: stored, summaryBytes: bytes, firstMs: times[0], medianMs: sorted[Math.floor(sorted.length / 2)], times };
}

/** Fills `store` and measures it. @param {string} sink @param {string[]} store @param {() => number} size */
async function row(sink, store, size) {
  let server = await serve(store);
  const fillSeconds = await fill(server.base);
  server.stop();
  server = await serve(store);
  try {
    const m = await measure(sink, server.base);
    if (m.events !== total) throw new Error(`${sink}: ${m.events} events in the summary, ${total} sent`);
    return { sink, sent: total, fillSeconds, eventsPerSecond: total / fillSeconds, storeBytes: size(), ...m };
  } finally {
    server.stop();
  }
}

const rows = [];
if (sinks.includes('sqlite')) {
  const db = join(mkdtempSync(join(tmpdir(), 'burn-edge-summary-')), 'telemetry.sqlite');
  rows.push(await row('sqlite', ['--telemetry-db', db], () => statSync(db).size));
}
if (sinks.includes('clickhouse')) {
  const ch = await startClickHouse();
  try {
    rows.push(await row('clickhouse', ['--clickhouse', ch.url], () => 0));
  } finally {
    await ch.stop();
  }
}
const table = [
  `Written by \`npm run bench:summary\` on ${new Date().toISOString()}: \`GET /api/telemetry/summary\` over HTTP from ${bin}, ${runs} runs (the first right after a restart), on this 2-core machine; filled through its ingest, ${perBatch} events per request.`,
  '',
  '| store | events stored | filled in (s) | fill events/s | file (MiB) | summary (KiB) | first (ms) | median (ms) | all runs (ms) |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.sink} | ${r.events.toLocaleString('en')} | ${r.fillSeconds.toFixed(0)} | ${Math.round(r.eventsPerSecond).toLocaleString('en')} | ${r.storeBytes ? (r.storeBytes / 2 ** 20).toFixed(0) : '-'} | ${(r.summaryBytes / 1024).toFixed(0)} | ${r.firstMs.toFixed(0)} | ${r.medianMs.toFixed(0)} | ${r.times.map((t) => t.toFixed(0)).join(', ')} |`),
].join('\n');
console.log(table);
mkdirSync('bench/results', { recursive: true });
const out = process.env.BENCH_SUMMARY_OUT || 'bench/results/summary';
writeFileSync(`${out}.json`, JSON.stringify({ when: new Date().toISOString(), results: rows }, null, 2) + '\n');
writeFileSync(`${out}.md`, table + '\n');
