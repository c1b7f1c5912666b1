// @module scripts/reliability: `npm run reliability` — the reliability suite at full scale, then
// RELIABILITY.md from its figures: the property-based fuzzers (millions of executions), the
// collector SIGKILLed under load, the collector down while a page predicts, a soak at the
// knee, and the loader fed corrupted files in Chromium. `npm test` runs the same tests short.
// Options: --skip-fuzz, --skip-node; BURN_EDGE_FUZZ_CASES (default 1,000,000) sets the parsers'
// cases, the slower targets get a fiftieth; BURN_EDGE_SOAK_SECONDS, BURN_EDGE_OUTAGE_SECONDS and
// BURN_EDGE_CORRUPTIONS override the full-scale loads.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

const args = new Set(process.argv.slice(2));
const out = mkdtempSync(join(tmpdir(), 'burn-edge-reliability-'));
const cases = process.env.BURN_EDGE_FUZZ_CASES || '1000000';
const started = Date.now();

/** @type {{ name: string, executions: number, crashes: number, seconds: number }[]} */
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
    for (const m of run.stdout.matchAll(/^fuzz ([\w:. -]+): (\d+) executions, (0 failures|FAILED)/gm)) {
      fuzzers.push({ name: m[1], executions: Number(m[2]), crashes: m[3] === 'FAILED' ? 1 : 0, seconds });
    }
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

/** @type {{ name: string, test: string, load: string, result: string, pass: boolean }[]} */
const results = readdirSync(out).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(out, f), 'utf8')));
const cell = (/** @type {string} */ s) => s.replaceAll('|', '\\|');
const lines = [
  '# Reliability',
  '',
  `Written by \`npm run reliability\` on ${new Date().toISOString().slice(0, 10)} (${cpus().length} cores, ${cpus()[0]?.model.trim()}),`,
  `in ${((Date.now() - started) / 60000).toFixed(0)} minutes. \`npm test\` runs the same tests at a short scale.`,
  '',
  '## Fuzzing (property-based, proptest; one run of each target)',
  '',
  '| target | executions | crashes | seconds (its whole cargo test run) |',
  '|---|---|---|---|',
  ...fuzzers.map((f) => `| ${f.name} | ${f.executions.toLocaleString('en')} | ${f.crashes} | ${f.seconds.toFixed(0)} |`),
  '',
  '## Failure injection',
  '',
  '| test | load | result | pass |',
  '|---|---|---|---|',
  ...results.map((r) => `| ${cell(r.test)} | ${cell(r.load)} | ${cell(r.result)} | ${r.pass ? 'yes' : '**no**'} |`),
  '',
];
if (!args.has('--skip-fuzz') && !args.has('--skip-node')) writeFileSync('RELIABILITY.md', lines.join('\n'));
console.log(lines.join('\n'));
process.exit(fuzzOk && nodeOk && results.every((r) => r.pass) ? 0 : 1);
