// @module scripts/reliability: `npm run reliability` — the reliability suite at full scale, then
// RELIABILITY.md from its figures: the property-based fuzzers (millions of executions), the
// collector SIGKILLed under load, the collector down while a page predicts, a soak at the
// knee, and the loader fed corrupted files in Chromium. `npm test` runs the same tests short.
// Options: --skip-fuzz, --skip-node; BURN_EDGE_FUZZ_CASES (default 1,000,000) sets the parsers'
// cases, the slower targets get a fiftieth; BURN_EDGE_SOAK_SECONDS, BURN_EDGE_OUTAGE_SECONDS and
// BURN_EDGE_CORRUPTIONS override the full-scale loads.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFuzzLines, readResults, reportLines } from './reliability-report.mjs';

const args = new Set(process.argv.slice(2));
const out = mkdtempSync(join(tmpdir(), 'burn-edge-reliability-'));
const cases = process.env.BURN_EDGE_FUZZ_CASES || '1000000';
const started = Date.now();

/** @type {import('./reliability-report.mjs').Fuzzer[]} */
const fuzzers = [];
let fuzzOk = true;
if (!args.has('--skip-fuzz')) {
  // Each target prints "fuzz <name>: <n> executions, 0 failures"; the parsers get
  // BURN_EDGE_FUZZ_CASES cases, the slower targets (a whole weights file, image, or OTLP body
  // stored and summarised per case) a fiftieth.
  // Always with --workspace: the features (and so the compiled dependencies) of the test build.
  const slow = String(Math.ceil(Number(cases) / 50));
  const targets = [
    { args: ['--test', 'fuzz'], env: { BURN_EDGE_FUZZ_PARSER_CASES: cases, BURN_EDGE_FUZZ_CASES: slow } },
    { args: ['--bin', 'burn-edge', 'collector::fuzz'], env: { BURN_EDGE_FUZZ_CASES: slow } },
  ];
  for (const target of targets) {
    const t = Date.now();
    const run = spawnSync('cargo', ['test', '--workspace', ...target.args, '--', '--nocapture', '--test-threads', '1'], {
      env: { ...process.env, ...target.env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20,
    });
    process.stdout.write(run.stdout);
    fuzzOk &&= run.status === 0;
    const seconds = (Date.now() - t) / 1000;
    fuzzers.push(...parseFuzzLines(run.stdout, seconds));
  }
  if (!fuzzers.length) fuzzOk = false;
}

let nodeOk = true;
if (!args.has('--skip-node')) {
  const run = spawnSync('node', ['--test', '--test-concurrency=1', '--test-reporter=spec', 'tests/reliability/'], {
    env: { ...process.env, BURN_EDGE_RELIABILITY: 'full', BURN_EDGE_RELIABILITY_OUT: out }, stdio: 'inherit',
  });
  nodeOk = run.status === 0;
}

const results = readResults(out);
const lines = reportLines(fuzzers, results, started);
if (!args.has('--skip-fuzz') && !args.has('--skip-node')) writeFileSync('RELIABILITY.md', lines.join('\n'));
console.log(lines.join('\n'));
process.exit(fuzzOk && nodeOk && results.every((r) => r.pass) ? 0 : 1);
