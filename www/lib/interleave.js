/**
 * @module interleave
 * Team-draft interleaving of two rankings (Radlinski, Kurup & Joachims 2008): each round a coin
 * decides which team picks first (the team with fewer picks always goes first); a team picks its
 * highest-ranked item not yet in the list. A pick credits the team that contributed the item.
 * The coin is seeded per call, so a list can be reproduced and tested.
 */
import { fnv1a32 } from './bucketing.js';

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
