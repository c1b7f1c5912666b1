// Team-draft interleaving (www/lib/interleave.js): fair alternation, no duplicates, each team
// picks its best remaining item, and the coin is reproducible per seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ranking, seededRandom, teamDraft } from '../../www/lib/interleave.js';

test('ranking orders indices by probability, best first', () => {
  assert.deepEqual(ranking([0.1, 0.5, 0.2, 0.2]), [1, 2, 3, 0]);
});

test('team draft: k distinct items, teams within one pick of each other, each pick its team\'s best remaining', () => {
  const a = [3, 1, 4, 0, 2, 5];
  const b = [1, 5, 9, 2, 6, 3];
  for (let s = 0; s < 50; s++) {
    const list = teamDraft(a, b, 6, seededRandom(`seed-${s}`), ['a', 'b']);
    assert.equal(list.length, 6);
    assert.equal(new Set(list.map((x) => x.item)).size, 6);
    const na = list.filter((x) => x.team === 'a').length;
    assert.ok(Math.abs(na - (6 - na)) <= 1, `seed ${s}: ${na} from a`);
    const taken = new Set();
    for (const { item, team } of list) {
      const own = team === 'a' ? a : b;
      assert.equal(item, own.find((x) => !taken.has(x)), `seed ${s}: ${team} took its best remaining`);
      taken.add(item);
    }
  }
});

test('the same seed gives the same list; different seeds vary who goes first', () => {
  const a = [0, 1, 2, 3];
  const b = [3, 2, 1, 0];
  assert.deepEqual(teamDraft(a, b, 4, seededRandom('x'), ['a', 'b']), teamDraft(a, b, 4, seededRandom('x'), ['a', 'b']));
  const firsts = new Set(Array.from({ length: 40 }, (_, s) => teamDraft(a, b, 1, seededRandom(`s${s}`), ['a', 'b'])[0].team));
  assert.deepEqual(firsts, new Set(['a', 'b']));
});
