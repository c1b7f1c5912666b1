/**
 * @module reliability/support
 * Shared by the reliability tests: their scale (`BURN_EDGE_RELIABILITY=full` for the figures in
 * RELIABILITY.md, a short run otherwise, as in `npm test`), the real collector as a child
 * process that can be SIGKILLed and restarted on the same port and database, OTLP batches with
 * unique event ids, the server's resident memory, and where each test leaves its figures.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from '../e2e/harness.mjs';

export const FULL = process.env.BURN_EDGE_RELIABILITY === 'full';
/** The read key every reliability collector is started with. */
export const READ_KEY = 'reliability-read-key';

/**
 * `full` when the suite runs for RELIABILITY.md, `short` otherwise.
 * @template T
 * @param {{ short: T, full: T }} scale
 * @returns {T}
 */
export const scaled = (scale) => (FULL ? scale.full : scale.short);

/**
 * Records a test's figures for RELIABILITY.md (only when $BURN_EDGE_RELIABILITY_OUT names a folder).
 * @param {string} name
 * @param {{ test: string, load: string, result: string, pass: boolean, [k: string]: unknown }} figures
 */
export function report(name, figures) {
  console.log(`reliability ${name}: ${figures.load} -> ${figures.result}`);
  const dir = process.env.BURN_EDGE_RELIABILITY_OUT;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ name, ...figures, when: new Date().toISOString() }, null, 2) + '\n');
}

/**
 * A collector (`burn-edge serve`) on a fixed loopback port storing into the SQLite file `db`.
 * @param {number} port
 * @param {string} db
 * @param {string[]} [extra] more `serve` arguments
 */
export function startCollector(port, db, extra = []) {
  const args = ['serve', '--addr', `127.0.0.1:${port}`, '--telemetry-db', db, '--read-key', READ_KEY, ...extra];
  const child = spawn(cliPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((done) => child.on('exit', done));
  const ready = new Promise((resolve, reject) => {
    let out = '';
    child.on('error', reject);
    child.on('exit', (code, signal) => reject(new Error(`burn-edge serve exited (${code ?? signal}): ${err}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (/http:\/\/[\d.]+:\d+\//.test(out)) resolve(undefined);
    });
  });
  return {
    child,
    url: `http://127.0.0.1:${port}/`,
    ready,
    /** SIGKILL: no chance to flush or answer anything. */
    kill: async () => { child.kill('SIGKILL'); await exited; },
    stop: async () => { child.kill(); await exited; },
    /** Resident memory in KiB, from /proc. */
    rssKiB: () => {
      const m = readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
      return m ? Number(m[1]) : 0;
    },
  };
}

/**
 * Events stored per name, from the collector's summary.
 * @param {string} base
 * @returns {Promise<Record<string, number>>}
 */
export async function storedCounts(base) {
  const res = await fetch(`${base}api/telemetry/summary`, { headers: { 'x-burn-edge-read-key': READ_KEY } });
  if (!res.ok) throw new Error(`summary answered ${res.status}: ${await res.text()}`);
  return (await res.json()).events;
}

/** @param {string} key @param {string | number} v */
const attr = (key, v) => ({ key, value: typeof v === 'string' ? { stringValue: v } : { doubleValue: v } });

/**
 * An OTLP JSON body of `n` inference events with ids `<tag>-<i>`.
 * @param {string} tag
 * @param {number} n
 */
export function inferenceBatch(tag, n) {
  const records = [];
  for (let i = 0; i < n; i++) {
    records.push({ timeUnixNano: String(BigInt(Date.now()) * 1000000n), eventName: 'burn_edge.inference', attributes: [
      attr('event.id', `${tag}-${i}`), attr('burn_edge.model.name', 'mnist'), attr('burn_edge.model.version', '1.0.0'),
      attr('burn_edge.backend', 'cpu'), attr('burn_edge.latency_ms', 1 + (i % 7)),
      { key: 'burn_edge.batch_size', value: { intValue: '1' } },
      { key: 'burn_edge.predicted_class', value: { intValue: String(i % 10) } }, attr('burn_edge.confidence', 0.9)] });
  }
  return JSON.stringify({ resourceLogs: [{ resource: { attributes: [attr('service.name', 'reliability')] },
    scopeLogs: [{ logRecords: records }] }] });
}

/**
 * Posts `body` until the collector acknowledges it (200 and no rejected records), the way the
 * browser client retries: whatever failed, the batch is sent again after a pause.
 * @param {string} base
 * @param {string} body
 * @param {{ stopAt?: number }} [options] give up (return false) after this time (ms since epoch)
 */
export async function postUntilAcked(base, body, { stopAt = Infinity } = {}) {
  for (let attempt = 0; Date.now() < stopAt; attempt++) {
    try {
      const res = await fetch(`${base}v1/logs`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-burn-edge-key': 'demo-key' }, body,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (res.status === 200 && text === '{}') return true;
      if (res.status === 200) throw new Error(`records rejected: ${text}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('records rejected')) throw err;
    }
    await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt)));
  }
  return false;
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
