// www/lib/bucketing.js against every row of GrowthBook's conformance cases, read from
// ../shared/testvectors at test time (never copied), and the split of 10,000 ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseVariation, fnv1a32, getBucketRanges, getEqualWeights, hash, inNamespace } from '../../www/lib/bucketing.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cases = JSON.parse(readFileSync(join(root, '../shared/testvectors/growthbook-bucketing.json'), 'utf8'));
const close = (/** @type {number} */ a, /** @type {number} */ b, /** @type {string} */ what) =>
  assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);

test('fnv1a32 of known strings', () => {
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
});

test('hash: every row', () => {
  assert.ok(cases.hash.length >= 15);
  for (const [seed, value, version, expected] of cases.hash) {
    const got = hash(seed, value, version);
    if (expected === null) assert.equal(got, null, `${seed}/${value} v${version}`);
    else close(/** @type {number} */ (got), expected, `hash(${JSON.stringify(seed)}, ${JSON.stringify(value)}, ${version})`);
  }
});

test('getBucketRange: every row', () => {
  assert.ok(cases.getBucketRange.length >= 13);
  for (const [name, [n, coverage, weights], expected] of cases.getBucketRange) {
    const got = getBucketRanges(n, coverage, weights);
    assert.equal(got.length, expected.length, name);
    got.forEach(([s, e], i) => { close(s, expected[i][0], `${name} start ${i}`); close(e, expected[i][1], `${name} end ${i}`); });
  }
});

test('chooseVariation: every row', () => {
  assert.ok(cases.chooseVariation.length >= 13);
  for (const [name, n, ranges, expected] of cases.chooseVariation) assert.equal(chooseVariation(n, ranges), expected, name);
});

test('inNamespace: every row', () => {
  assert.ok(cases.inNamespace.length >= 16);
  for (const [name, id, ns, expected] of cases.inNamespace) assert.equal(inNamespace(id, ns), expected, name);
});

test('getEqualWeights: every row', () => {
  assert.ok(cases.getEqualWeights.length >= 6);
  for (const [n, expected] of cases.getEqualWeights) {
    const got = getEqualWeights(n);
    assert.equal(got.length, expected.length, `n=${n}`);
    got.forEach((w, i) => close(Math.round(w * 1e8) / 1e8, expected[i], `n=${n} [${i}]`));
  }
});

test('10,000 ids split within 1 percentage point of the weights (v1 and v2)', () => {
  const weights = [0.2, 0.3, 0.5];
  for (const version of [1, 2]) {
    const ranges = getBucketRanges(3, 1, weights);
    const counts = [0, 0, 0];
    for (let i = 0; i < 10_000; i++) {
      const n = /** @type {number} */ (hash('split-seed', `user-${i}`, version));
      counts[chooseVariation(n, ranges)] += 1;
    }
    counts.forEach((c, i) => assert.ok(Math.abs(c / 10_000 - weights[i]) <= 0.01 + 1e-9, `v${version} arm ${i}: ${c / 100}% vs ${weights[i] * 100}%`));
  }
});
