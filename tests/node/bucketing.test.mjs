// www/lib/bucketing.js against every row of GrowthBook's conformance cases, read from
// ../shared/testvectors at test time (never copied), and the split of 10,000 ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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

/** Install-id-like units (UUID-shaped, as telemetry.js makes them), deterministic so the test is repeatable. */
const installId = (/** @type {number} */ i) => createHash('sha256').update(`install-${i}`).digest('hex').slice(0, 32)
  .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');

// 1 point is about 2 standard deviations of a 50% arm at 10,000 units, so a single seed lands
// outside it about 5% of the time by chance alone. Checked over 20 seeds: most splits within
// 1 point, none beyond 2.5 (5 SD: a real bias), and the pooled split within 0.3 points.
test('10,000 install ids split within 1 percentage point of the weights (v1 and v2, 20 seeds)', () => {
  const weights = [0.2, 0.3, 0.5];
  const ids = Array.from({ length: 10_000 }, (_, i) => installId(i));
  const ranges = getBucketRanges(3, 1, weights);
  for (const version of [1, 2]) {
    const pooled = [0, 0, 0];
    let outside = 0;
    for (let s = 0; s < 20; s++) {
      const counts = [0, 0, 0];
      for (const id of ids) counts[chooseVariation(/** @type {number} */ (hash(`seed-${s}`, id, version)), ranges)] += 1;
      counts.forEach((c, i) => {
        const off = Math.abs(c / ids.length - weights[i]);
        assert.ok(off < 0.025, `v${version} seed ${s} arm ${i}: ${c / 100}% vs ${weights[i] * 100}%`);
        if (off > 0.01) outside += 1;
        pooled[i] += c;
      });
    }
    assert.ok(outside <= 6, `v${version}: ${outside} of 60 splits more than 1 point off (expected about 2)`);
    pooled.forEach((c, i) => assert.ok(Math.abs(c / (20 * ids.length) - weights[i]) < 0.003, `v${version} pooled arm ${i}: ${c}`));
  }
});
