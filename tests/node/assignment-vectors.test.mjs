// Cross-language assignment: every case of tests/fixtures/assignment-vectors.json (written by
// the Rust twin, burn_edge_formats::rollout::assign) gives the same Assignment from
// www/lib/assign.js. Skipped until that file is merged into this branch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assign, validateRollout } from '../../www/lib/assign.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// ASSIGNMENT_VECTORS points at another copy (e.g. the Rust branch's, before it is merged).
const file = process.env.ASSIGNMENT_VECTORS ?? join(root, 'tests/fixtures/assignment-vectors.json');
const present = existsSync(file);

test('every Rust assignment vector gives the same Assignment in JS', { skip: present ? false : 'tests/fixtures/assignment-vectors.json not merged yet' }, () => {
  const data = JSON.parse(readFileSync(file, 'utf8'));
  const cases = Array.isArray(data) ? data : data.cases;
  assert.ok(Array.isArray(cases) && cases.length > 0, 'the fixture holds cases');
  for (const [i, c] of cases.entries()) {
    const name = c.name ?? `case ${i}`;
    const run = () => {
      validateRollout(c.channel);
      return assign(c.channel, { alias: c.alias, id: c.id, attributes: c.attributes ?? {}, now: c.nowMs ?? c.now, stored: c.stored ?? {},
        pin: c.pin ?? null });
    };
    if (c.error) {
      assert.throws(run, /** @type {any} */ (Error), `${name}: refused (${c.error})`);
      continue;
    }
    const got = run();
    const expected = c.expected;
    for (const key of Object.keys(expected)) {
      if (key === 'bucket' && typeof expected.bucket === 'number') {
        assert.ok(Math.abs(/** @type {number} */ (got.bucket) - expected.bucket) < 1e-9, `${name}: bucket ${got.bucket} vs ${expected.bucket}`);
      } else {
        assert.deepEqual(/** @type {any} */ (got)[key], expected[key], `${name}: ${key}`);
      }
    }
  }
});

const goodChannel = join(root, 'tests/fixtures/channel-rollout.json');
const refusedChannel = join(root, 'tests/fixtures/channel-rollout-refused.json');
test('the Rust side\'s channel fixtures: the valid one passes validateRollout, the refused one is refused by name',
  { skip: existsSync(goodChannel) && existsSync(refusedChannel) ? false : 'channel-rollout fixtures not merged yet' }, () => {
    validateRollout(JSON.parse(readFileSync(goodChannel, 'utf8')));
    assert.throws(() => validateRollout(JSON.parse(readFileSync(refusedChannel, 'utf8'))), /unknown field/);
  });
