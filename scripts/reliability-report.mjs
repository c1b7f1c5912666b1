// @module scripts/reliability-report: RELIABILITY.md from the suite's figures: the fuzz
// targets' lines ("fuzz <name>: <n> executions, 0 failures" in cargo's output) and the JSON
// each reliability test leaves in $BURN_EDGE_RELIABILITY_OUT. Used by scripts/reliability.mjs;
// `node scripts/reliability-report.mjs <cargo log> <results dir>` rebuilds it from a run's leftovers.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** @typedef {{ name: string, executions: number, crashes: number, seconds: number }} Fuzzer */

/**
 * The fuzz targets' report lines in cargo test output (possibly behind "test x ... ").
 * @param {string} text
 * @param {number} seconds how long the cargo run took (for targets that do not time themselves; 0: unknown)
 * @returns {Fuzzer[]}
 */
export function parseFuzzLines(text, seconds) {
  return [...text.matchAll(/(?:^|\.\.\. )fuzz ([\w:./-]+): (\d+) executions, (0 failures|FAILED)(?:, ([\d.]+) s)?/gm)]
    .map((m) => ({ name: m[1], executions: Number(m[2]), crashes: m[3] === 'FAILED' ? 1 : 0, seconds: m[4] ? Number(m[4]) : seconds }));
}

/**
 * @param {string} dir
 * @returns {{ name: string, test: string, load: string, result: string, pass: boolean }[]}
 */
export function readResults(dir) {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
}

/**
 * @param {Fuzzer[]} fuzzers
 * @param {ReturnType<typeof readResults>} results
 * @param {number} started ms since the epoch
 */
export function reportLines(fuzzers, results, started) {
  const cell = (/** @type {string} */ s) => s.replaceAll('|', '\\|');
  return [
    '# Reliability',
    '',
    `Written by \`npm run reliability\` on ${new Date().toISOString().slice(0, 10)} (${cpus().length} cores, ${cpus()[0]?.model.trim()}),`,
    `in ${((Date.now() - started) / 60000).toFixed(0)} minutes. \`npm test\` runs the same tests at a short scale.`,
    '',
    '## Fuzzing (property-based, proptest; one run of each target)',
    '',
    '| target | executions | crashes | seconds |',
    '|---|---|---|---|',
    ...fuzzers.map((f) => `| ${f.name} | ${f.executions.toLocaleString('en')} | ${f.crashes} | ${f.seconds ? f.seconds.toFixed(1) : ''} |`),
    '',
    '## Failure injection',
    '',
    '| test | load | result | pass |',
    '|---|---|---|---|',
    ...results.map((r) => `| ${cell(r.test)} | ${cell(r.load)} | ${cell(r.result)} | ${r.pass ? 'yes' : '**no**'} |`),
    '',
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [log, dir, minutes] = process.argv.slice(2);
  const lines = reportLines(parseFuzzLines(readFileSync(log, 'utf8'), 0), readResults(dir), Date.now() - Number(minutes ?? 0) * 60000);
  writeFileSync('RELIABILITY.md', lines.join('\n'));
  console.log(lines.join('\n'));
}
