/**
 * @module interleave
 * Team-draft interleaving of two rankings (Radlinski, Kurup & Joachims 2008): each round a coin
 * decides which team picks first (the team with fewer picks always goes first); a team picks its
 * highest-ranked item not yet in the list. A pick credits the team that contributed the item.
 * The coin is seeded per call, so a list can be reproduced and tested. `interleaveArms` is the
 * handle's `interleave()`: both arms of the channel's interleave rule on one input.
 */
import { fnv1a32 } from './bucketing.js';
import { BurnEdgeError } from './errors.js';
import { uuid } from './identity.js';

/** @typedef {{ index: number, label: string, probability: number, arm: string }} InterleavedItem */

/**
 * A small deterministic generator (mulberry32) from a string seed.
 * @param {string} seed
 * @returns {() => number} uniform in [0, 1)
 */
export function seededRandom(seed) {
  let a = fnv1a32(seed);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Class indices by probability, best first.
 * @param {ArrayLike<number>} probs
 */
export function ranking(probs) {
  return Array.from(probs, (p, i) => [p, i]).sort((x, y) => y[0] - x[0] || x[1] - y[1]).map(([, i]) => i);
}

/**
 * @template {string} A
 * @param {number[]} a team A's ranking (item ids, best first)
 * @param {number[]} b team B's ranking
 * @param {number} k list length (at most the number of distinct items)
 * @param {() => number} random the coin
 * @param {[A, A]} names the teams' names
 * @returns {{ item: number, team: A }[]}
 */
export function teamDraft(a, b, k, random, names) {
  /** @type {{ item: number, team: A }[]} */
  const out = [];
  const taken = new Set();
  const distinct = new Set([...a, ...b]).size;
  let countA = 0;
  let countB = 0;
  const next = (/** @type {number[]} */ list) => list.find((x) => !taken.has(x));
  while (out.length < Math.min(k, distinct)) {
    const aFirst = countA < countB || (countA === countB && random() < 0.5);
    const [first, second] = aFirst ? [0, 1] : [1, 0];
    for (const team of [first, second]) {
      if (out.length >= Math.min(k, distinct)) break;
      const item = next(team === 0 ? a : b) ?? next(team === 0 ? b : a);
      if (item === undefined) break;
      taken.add(item);
      out.push({ item, team: names[team] });
      if (team === 0) countA += 1; else countB += 1;
    }
  }
  return out;
}

/**
 * One top-`k` list drawn by team draft from both arms of the channel's interleave rule, each
 * run on `input` (the served version's arm on the served engine, the other on the pool's).
 * @param {import('./model.js').Handle} h
 * @param {Float32Array} input one sample
 * @param {number} k
 * @param {string | undefined} seed the coin's seed (default: fresh per call)
 * @returns {Promise<InterleavedItem[]>}
 */
export async function interleaveArms(h, input, k, seed) {
  const rule = h.pool?.interleaveRule;
  if (!rule) {
    throw new BurnEdgeError(`the channel has no interleave rule for alias "${h.o.alias}": start one ` +
      '(burn-edge rollout interleave start) or use predict', { code: 'NO_INTERLEAVE' });
  }
  const slot = h.current;
  /** @param {{ version: string }} arm @returns {Promise<Float32Array>} */
  const run = async (arm) => {
    if (arm.version === slot.info.version) return h.use(slot, { type: 'predict', input });
    const prepared = h.pool?.prepared(arm.version);
    if (!prepared) throw new BurnEdgeError(`version ${arm.version} is not prepared`, { code: 'NO_INTERLEAVE' });
    return (await prepared).engine.call({ type: 'predict', input });
  };
  const [a, b] = await Promise.all([run(rule.arms[0]), run(rule.arms[1])]);
  const classes = slot.classes || Math.min(a.length, b.length);
  const id = uuid();
  const drawn = teamDraft(ranking(a.subarray(0, classes)), ranking(b.subarray(0, classes)), k, seededRandom(seed ?? id),
    [rule.arms[0].name, rule.arms[1].name]);
  const list = drawn.map(({ item, team }) => ({ index: item, label: slot.labels[item] ?? String(item),
    probability: (team === rule.arms[0].name ? a : b)[item], arm: team }));
  // `feedback({ picked })` credits the arm that contributed the picked item (burn_edge.interleave).
  h.credit = (picked) => {
    const item = list.find((x) => x.index === picked);
    if (!item) return null;
    h.telemetry?.record('burn_edge.interleave', { 'burn_edge.rollout.rule': rule.key, 'burn_edge.interleave.winner': item.arm,
      'burn_edge.prediction_id': id });
    return item.arm;
  };
  return list;
}
