/**
 * @module bucketing
 * GrowthBook's deterministic bucketing, so a unit id lands in the same bucket here as in the
 * Rust twin (crates/formats/src/bucketing.rs) and in any GrowthBook SDK: 32-bit FNV-1a, hash
 * versions 1 and 2, bucket ranges from coverage and weights, and namespaces. Pure functions;
 * conformance is tested against GrowthBook's own cases (../shared/testvectors).
 */

/**
 * 32-bit FNV-1a of a string's UTF-16 code units (as GrowthBook's JS SDK hashes).
 * @param {string} text
 * @returns {number} an unsigned 32-bit integer
 */
export function fnv1a32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * A unit's position in [0, 1) for a seed: v1 `(fnv(value + seed) % 1000) / 1000`, v2
 * `(fnv(decimal fnv(seed + value)) % 10000) / 10000`; null for any other version.
 * @param {string} seed
 * @param {string} value
 * @param {number} version
 * @returns {number | null}
 */
export function hash(seed, value, version) {
  if (version === 2) return (fnv1a32(String(fnv1a32(seed + value))) % 10000) / 10000;
  if (version === 1) return (fnv1a32(value + seed) % 1000) / 1000;
  return null;
}

/**
 * `n` equal weights summing to 1; empty for n <= 0.
 * @param {number} n
 * @returns {number[]}
 */
export function getEqualWeights(n) {
  if (!(n > 0)) return [];
  return new Array(Math.floor(n)).fill(1 / n);
}

/**
 * The `[start, end)` range of each variation: variation i owns its weight's slice of [0, 1),
 * of which the first `coverage` share includes units. Coverage is clamped to [0, 1]; weights of
 * the wrong length or not summing to about 1 (0.99..1.01) fall back to equal weights.
 * @param {number} numVariations
 * @param {number} coverage
 * @param {number[] | null} [weights]
 * @returns {[number, number][]}
 */
export function getBucketRanges(numVariations, coverage, weights) {
  const cover = coverage < 0 ? 0 : coverage > 1 ? 1 : Number.isFinite(coverage) ? coverage : 0;
  const equal = getEqualWeights(numVariations);
  let w = Array.isArray(weights) ? weights : equal;
  if (w.length !== numVariations) w = equal;
  const total = w.reduce((s, x) => s + x, 0);
  if (!(total >= 0.99 && total <= 1.01)) w = equal;
  let cumulative = 0;
  return w.map((weight) => {
    const start = cumulative;
    cumulative += weight;
    return /** @type {[number, number]} */ ([start, start + cover * weight]);
  });
}

/**
 * The first range with start <= n < end, or -1 (the unit is in no variation).
 * @param {number} n
 * @param {ReadonlyArray<readonly [number, number]>} ranges
 */
export function chooseVariation(n, ranges) {
  for (let i = 0; i < ranges.length; i++) if (n >= ranges[i][0] && n < ranges[i][1]) return i;
  return -1;
}

/**
 * Whether a unit falls in a namespace's `[start, end)` (mutually exclusive experiments share
 * a namespace id and take disjoint ranges of it).
 * @param {string} id
 * @param {readonly [string, number, number]} namespace `[namespaceId, start, end]`
 */
export function inNamespace(id, namespace) {
  const n = hash(`__${namespace[0]}`, id, 1);
  return n !== null && n >= namespace[1] && n < namespace[2];
}
