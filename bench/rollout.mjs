// @module bench/rollout: `npm run bench:rollout` — how fast each rollout strategy reaches every
// open page, and how fast it is taken back. A real server serves a temporary copy of
// models/mnist; PAGES pages (each its own browser context, so its own install, storage and
// worker) load it with the dev key pinned and `recheckInterval` RECHECK ms, and predict
// continuously. Each step runs the real `burn-edge rollout` command, and the time from the
// channel being written to the last page that must move serving its new version is measured
// (node's and the pages' Date.now: one machine, one clock). Every prediction of every page is
// counted: a failed one is reported. Then the served latency with and without a shadow
// challenger (sample rate 1), in alternating blocks on one page. Prints a table and writes
// bench/results/rollout.json and bench/results/rollout.md.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cliPath, launchBrowser } from '../tests/e2e/harness.mjs';

const PAGES = Number(process.env.BENCH_PAGES || 8);
const RECHECK = Number(process.env.BENCH_RECHECK_MS || 2000);
const SHADOW_BLOCKS = Number(process.env.BENCH_SHADOW_BLOCKS || 6);
const BLOCK = Number(process.env.BENCH_SHADOW_BLOCK || 50);
const bin = cliPath();
const key = resolve('.burn-edge/keys/signing.key');
const publicKey = JSON.parse(readFileSync('www/dev-key.json', 'utf8')).publicKey;

const dir = mkdtempSync(join(tmpdir(), 'burn-edge-bench-rollout-'));
const models = join(dir, 'models');
mkdirSync(models);
cpSync('models/mnist', join(models, 'mnist'), { recursive: true });

/** Runs `burn-edge rollout ...` on the copy; returns the time the channel was written. */
function rollout(/** @type {string[]} */ ...args) {
  execFileSync(bin, ['rollout', ...args, '--models', models, '--signing-key', key], { stdio: ['ignore', 'ignore', 'inherit'] });
  return Date.now();
}
/** The version `id` gets now, by the CLI's own assignment (the shell's twin). */
function expected(/** @type {string} */ id) {
  const out = execFileSync(bin, ['rollout', 'assign', 'mnist', '--id', id, '--models', models], { encoding: 'utf8' });
  return JSON.parse(out).version;
}

const server = spawn(bin, ['serve', '--addr', '127.0.0.1:0', '--models', models, '--telemetry-db', join(dir, 't.sqlite')], { stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((res, rej) => {
  server.on('exit', (c) => rej(new Error(`server exited with ${c}`)));
  server.stdout.on('data', (d) => { const m = String(d).match(/http:\/\/[\d.]+:\d+\//); if (m) res(m[0]); });
});
const browser = await launchBrowser({ webgpu: false });

/** Opens one install: a blank page on the server's origin that loads the model and predicts. */
async function openInstall(/** @type {string} */ id, /** @type {Record<string, unknown>} */ extra = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.route('**/bench-rollout.html', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>bench</title>' }));
  await page.goto(`${base}bench-rollout.html`);
  await page.evaluate(async ({ id, publicKey, recheck, extra }) => {
    const { loadModel } = await import('/lib/index.js');
    const w = /** @type {any} */ (window);
    w.swaps = [];
    w.stats = { ok: 0, failed: 0, errors: [] };
    // Telemetry to the same server's collector: shadow runs are only ever logged, so they need it.
    const telemetry = { endpoint: `${location.origin}/`, key: 'demo-key', app: 'bench-rollout', flushIntervalMs: 1000 };
    w.model = await loadModel({ channelUrl: '/models/mnist/channel.json', publicKey, id, recheckInterval: recheck, telemetry, ...extra });
    w.model.addEventListener('swap', (/** @type {any} */ e) => w.swaps.push({ ...e.detail, assignment: undefined, at: Date.now() }));
    const input = new Float32Array(784);
    (async () => {
      while (!w.halt) {
        try { await w.model.predict(input); w.stats.ok++; } catch (err) { w.stats.failed++; w.stats.errors.push(String(err)); }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  }, { id, publicKey, recheck: RECHECK, extra });
  return { id, page, context };
}

/** @param {import('playwright-core').Page} page */
const info = (page) => page.evaluate(() => /** @type {any} */ (window).model.info());

/**
 * Waits until every page serves the version the CLI assigns it; returns per moved page the
 * time from `written` to its swap.
 * @param {{ id: string, page: import('playwright-core').Page }[]} installs
 * @param {number} written
 */
async function reach(installs, written, timeoutMs = 120_000) {
  const want = new Map(installs.map((i) => [i.id, expected(i.id)]));
  const times = [];
  const deadline = Date.now() + timeoutMs;
  for (const i of installs) {
    for (;;) {
      const { version } = await info(i.page);
      if (version === want.get(i.id)) break;
      if (Date.now() > deadline) throw new Error(`${i.id} still serves ${version}, wants ${want.get(i.id)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const swaps = await i.page.evaluate(() => /** @type {any} */ (window).swaps);
    const last = swaps.filter((/** @type {any} */ s) => s.at >= written).at(-1);
    if (last) times.push(last.at - written);
  }
  return { moved: times.length, maxMs: times.length ? Math.max(...times) : null, medianMs: median(times) };
}

/** @param {number[]} xs */
function median(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** Waits until `check(info)` holds on every page; returns the slowest page's time from `written`. */
async function until(/** @type {{ page: import('playwright-core').Page }[]} */ installs, /** @type {number} */ written,
  /** @type {(info: any) => boolean} */ check, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let slowest = 0;
  for (const i of installs) {
    for (;;) {
      if (check(await info(i.page))) break;
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 50));
    }
    slowest = Math.max(slowest, Date.now() - written);
  }
  return slowest;
}

const installs = [];
for (let n = 0; n < PAGES; n++) installs.push(await openInstall(`bench-user-${n}`));
console.error(`${PAGES} pages loaded, re-checking every ${RECHECK} ms`);

/** @type {{ strategy: string, step: string, moved: number | null, maxMs: number | null, medianMs: number | null }[]} */
const rows = [];
const step = async (/** @type {string} */ strategy, /** @type {string} */ what, /** @type {string[]} */ args) => {
  const written = rollout(...args);
  const r = await reach(installs, written);
  rows.push({ strategy, step: what, ...r });
  console.error(`${strategy} / ${what}: ${r.moved} pages moved, slowest ${r.maxMs} ms`);
};

await step('canary', '50% on 1.1.0', ['canary', 'mnist', '1.1.0', '--percent', '50']);
await step('canary', 'kill switch', ['kill', 'mnist']);
await step('canary', 'kill switch off', ['kill', 'mnist', '--off']);
await step('canary', 'rollback (rule removed)', ['rollback', 'mnist']);
await step('rolling', 'ramp to 25%', ['canary', 'mnist', '1.1.0', '--percent', '25']);
await step('rolling', 'ramp to 50%', ['ramp', 'mnist', '--percent', '50']);
await step('rolling', 'ramp to 100%', ['ramp', 'mnist', '--percent', '100']);
await step('rolling', 'ramp back to 0%', ['ramp', 'mnist', '--percent', '0']);
await step('rolling', 'rollback (rule removed)', ['rollback', 'mnist']);
await step('A/B', 'start 50/50', ['experiment', 'start', 'mnist', '--key', 'ab', '--arm', 'control=1.0.0:0.5', '--arm', 'b=1.1.0:0.5']);
await step('A/B', 'stop', ['experiment', 'stop', 'mnist', '--key', 'ab']);
rollout('canary', 'mnist', '1.1.0', '--percent', '0'); // a rule nobody is in yet, to promote
await step('in-place (blue/green swap)', 'promote: stable -> 1.1.0', ['promote', 'mnist']);
await step('in-place (blue/green swap)', 'rollback: stable back to 1.0.0', ['rollback', 'mnist']);

let written = rollout('shadow', 'start', 'mnist', '1.1.0', '--sample', '1');
rows.push({ strategy: 'shadow', step: 'start (challenger warm on every page)', moved: PAGES, maxMs: await until(installs, written, (i) => i.shadow?.ready === true), medianMs: null });
written = rollout('shadow', 'stop', 'mnist');
rows.push({ strategy: 'shadow', step: 'stop', moved: PAGES, maxMs: await until(installs, written, (i) => !i.shadow), medianMs: null });
written = rollout('interleave', 'start', 'mnist', '--key', 'il', '--arm', 'a=1.0.0', '--arm', 'b=1.1.0');
rows.push({ strategy: 'interleaving', step: 'start', moved: PAGES, maxMs: await until(installs, written, (i) => Boolean(i.interleave)), medianMs: null });
written = rollout('interleave', 'stop', 'mnist', '--key', 'il');
rows.push({ strategy: 'interleaving', step: 'stop', moved: PAGES, maxMs: await until(installs, written, (i) => !i.interleave), medianMs: null });

const totals = { ok: 0, failed: 0, errors: /** @type {string[]} */ ([]), swapMs: /** @type {number[]} */ ([]) };
for (const i of installs) {
  const s = await i.page.evaluate(() => { const w = /** @type {any} */ (window); w.halt = true; return { ...w.stats, swapMs: w.swaps.map((/** @type {any} */ x) => x.swapMs) }; });
  totals.ok += s.ok; totals.failed += s.failed; totals.errors.push(...s.errors.slice(0, 3)); totals.swapMs.push(...s.swapMs);
  await i.context.close();
}

// Served latency with and without a shadow: one page, two handles, alternating blocks.
rollout('shadow', 'start', 'mnist', '1.1.0', '--sample', '1');
const probe = await openInstall('bench-shadow', { recheckInterval: 0 });
const latency = await probe.page.evaluate(async ({ blocks, block, publicKey }) => {
  const w = /** @type {any} */ (window);
  w.halt = true;
  const { loadModel } = await import('/lib/index.js');
  const telemetry = { endpoint: `${location.origin}/`, key: 'demo-key', app: 'bench-rollout' };
  const plain = await loadModel({ channelUrl: '/models/mnist/channel.json', publicKey, id: 'bench-shadow', shadow: false, recheckInterval: 0, telemetry });
  const shadowed = w.model;
  for (let t = 0; !shadowed.info().shadow?.ready && t < 600; t++) await new Promise((r) => setTimeout(r, 100));
  const input = new Float32Array(784);
  /** @type {{ plain: number[], shadow: number[] }} */
  const out = { plain: [], shadow: [] };
  for (let b = 0; b < blocks; b++) {
    for (const [name, m] of /** @type {const} */ ([['plain', plain], ['shadow', shadowed]])) {
      for (let n = 0; n < block; n++) {
        const t0 = performance.now();
        await m.predict(input);
        out[name].push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }
  return { ...out, shadowRuns: shadowed.info().shadow?.runs ?? 0 };
}, { blocks: SHADOW_BLOCKS, block: BLOCK, publicKey });
await browser.close();
server.kill();
server.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const shadowCost = { plainMedianMs: median(latency.plain), shadowMedianMs: median(latency.shadow), predictions: latency.plain.length,
  shadowRuns: latency.shadowRuns };
const summary = { pages: PAGES, recheckIntervalMs: RECHECK, rows, predictions: totals.ok, failedPredictions: totals.failed,
  failures: totals.errors, swaps: totals.swapMs.length, swapMedianMs: median(totals.swapMs), swapMaxMs: totals.swapMs.length ? Math.max(...totals.swapMs) : null,
  shadowCost, measuredAt: new Date().toISOString() };

const fmt = (/** @type {number | null} */ x) => (x === null ? '-' : `${(x / 1000).toFixed(2)} s`);
const table = [
  `Rollout reach, ${PAGES} open pages re-checking every ${RECHECK / 1000} s (time from the channel written to the slowest page that had to move serving its new version):`,
  '',
  '| strategy | step | pages moved | slowest page | median page |',
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.strategy} | ${r.step} | ${r.moved ?? '-'} | ${fmt(r.maxMs)} | ${fmt(r.medianMs)} |`),
  '',
  `Predictions during all of it: ${totals.ok} served, ${totals.failed} failed. Hot swaps: ${totals.swapMs.length}, ` +
    `swap time (new assignment seen -> new version serving) median ${summary.swapMedianMs?.toFixed(0)} ms, max ${summary.swapMaxMs?.toFixed(0)} ms.`,
  `Served latency, ${shadowCost.predictions} predictions each in alternating blocks: without a shadow median ${shadowCost.plainMedianMs?.toFixed(2)} ms, ` +
    `with a shadow at sample rate 1 median ${shadowCost.shadowMedianMs?.toFixed(2)} ms (${shadowCost.shadowRuns} shadow runs): ` +
    `ratio ${(shadowCost.shadowMedianMs / shadowCost.plainMedianMs).toFixed(2)}.`,
].join('\n');
console.log(table);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/rollout.json', JSON.stringify(summary, null, 2) + '\n');
writeFileSync('bench/results/rollout.md', table + '\n');
if (totals.failed > 0) { console.error('failed predictions:', totals.errors); process.exitCode = 1; }
