// www/lib/assign.js: the select stage's semantics (spec section 1) on channels written here,
// until the Rust twin's assignment vectors are merged (assignment-vectors.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assign, coverageAt, extras, stickyKey, validateRollout } from '../../www/lib/assign.js';
import { ChannelError } from '../../www/lib/errors.js';
import { pinFromUrl } from '../../www/lib/select.js';
import { hash, inNamespace } from '../../www/lib/bucketing.js';

/** @param {any} rollout */
const channel = (rollout) => ({ schemaVersion: 2, name: 'mnist', aliases: { stable: '1.0.0', canary: '1.1.0' },
  versions: ['1.0.0', '1.1.0', '1.2.0'], updatedAt: '2026-12-01T15:00:00Z', rollout });
const canary = (/** @type {number} */ coverage, /** @type {any} */ extra = {}) => channel({ rules: [{ key: 'mnist-1.1.0-canary', kind: 'rollout',
  alias: 'stable', coverage, arms: [{ name: 'canary', version: '1.1.0', weight: 1 }], ...extra }] });
const experiment = (/** @type {any} */ extra = {}) => channel({ rules: [{ key: 'mnist-exp', kind: 'experiment', alias: 'stable',
  arms: [{ name: 'control', version: '1.0.0', weight: 0.5 }, { name: 'b', version: '1.1.0', weight: 0.5 }], ...extra }] });
const ids = Array.from({ length: 2000 }, (_, i) => `install-${i}`);

test('a rollout rule gives the arm to exactly the units hashing below coverage; the rest get the alias', () => {
  const c = canary(0.3);
  validateRollout(c);
  let inCanary = 0;
  for (const id of ids) {
    const a = assign(c, { alias: 'stable', id });
    const n = /** @type {number} */ (hash('mnist-1.1.0-canary', id, 2));
    if (n < 0.3) {
      inCanary += 1;
      assert.deepEqual(a, { version: '1.1.0', alias: 'stable', rule: 'mnist-1.1.0-canary', kind: 'rollout', arm: 'canary', bucket: n, bucketVersion: 0 });
    } else {
      assert.deepEqual(a, { version: '1.0.0', alias: 'stable', rule: null, kind: 'alias', arm: null, bucket: null, bucketVersion: null });
    }
  }
  assert.ok(Math.abs(inCanary / ids.length - 0.3) < 0.04, `${inCanary} of ${ids.length}`);
  // Another alias is untouched by a rule for stable.
  assert.equal(assign(c, { alias: 'canary', id: 'x' }).version, '1.1.0');
});

test('ramping coverage up keeps everyone already in; ramping down takes people out', () => {
  const within = (/** @type {number} */ cov) => new Set(ids.filter((id) => assign(canary(cov), { alias: 'stable', id }).arm === 'canary'));
  const at5 = within(0.05);
  const at25 = within(0.25);
  const at50 = within(0.5);
  for (const id of at5) assert.ok(at25.has(id), `${id} stays in at 25%`);
  for (const id of at25) assert.ok(at50.has(id), `${id} stays in at 50%`);
  assert.ok(at5.size < at25.size && at25.size < at50.size);
});

test('a ramp schedule: the latest step at or before now applies', () => {
  const c = canary(0, { ramp: [{ at: '2026-12-01T15:00:00Z', coverage: 0.05 }, { at: '2026-12-01T16:00:00Z', coverage: 0.5 }] });
  validateRollout(c);
  const rule = /** @type {any} */ (c.rollout.rules[0]);
  assert.equal(coverageAt(rule, Date.parse('2026-12-01T14:00:00Z')), 0);
  assert.equal(coverageAt(rule, Date.parse('2026-12-01T15:30:00Z')), 0.05);
  assert.equal(coverageAt(rule, Date.parse('2026-12-01T17:00:00Z')), 0.5);
  const count = (/** @type {string} */ now) => ids.filter((id) => assign(c, { alias: 'stable', id, now }).arm === 'canary').length;
  assert.equal(count('2026-12-01T14:00:00Z'), 0);
  assert.ok(count('2026-12-01T15:30:00Z') < count('2026-12-01T16:30:00Z'));
});

test('an experiment splits by weight, is sticky while the arm exists, and re-randomises on minBucketVersion', () => {
  const c = experiment();
  validateRollout(c);
  const arms = ids.map((id) => assign(c, { alias: 'stable', id }).arm);
  const b = arms.filter((a) => a === 'b').length;
  assert.ok(Math.abs(b / ids.length - 0.5) < 0.04, `${b} in b`);
  assert.equal(arms.filter((a) => a === null).length, 0, 'coverage 1: everyone is in');
  // A stored arm wins over the hash while it exists.
  const id = ids.find((x, i) => arms[i] === 'control') ?? '';
  assert.equal(assign(c, { alias: 'stable', id, stored: { 'mnist-exp__0': 'b' } }).arm, 'b');
  assert.equal(assign(c, { alias: 'stable', id, stored: { 'mnist-exp__0': 'gone' } }).arm, 'control', 'an arm that no longer exists is ignored');
  // Bumped bucketVersion with minBucketVersion: the old stored arm no longer counts.
  const bumped = experiment({ bucketVersion: 1, minBucketVersion: 1 });
  assert.equal(stickyKey(/** @type {any} */ (bumped.rollout.rules[0])), 'mnist-exp__1');
  const fresh = assign(bumped, { alias: 'stable', id, stored: { 'mnist-exp__0': 'b' } });
  assert.equal(fresh.bucketVersion, 1);
  assert.equal(fresh.arm, assign(bumped, { alias: 'stable', id }).arm);
});

test('coverage below 1 leaves some units out of an experiment (they fall through to the alias)', () => {
  const c = experiment({ coverage: 0.2 });
  const out = ids.filter((id) => assign(c, { alias: 'stable', id }).kind === 'alias').length;
  assert.ok(Math.abs(out / ids.length - 0.8) < 0.04, `${out} out`);
});

test('namespaces keep two experiments exclusive', () => {
  const ns = (/** @type {string} */ key, /** @type {[number, number]} */ range) => ({ key, kind: 'experiment', alias: 'stable',
    namespace: { id: 'mnist-ns', range }, arms: [{ name: 'control', version: '1.0.0', weight: 0.5 }, { name: 'b', version: '1.1.0', weight: 0.5 }] });
  const c = channel({ rules: [ns('exp-a', [0, 0.5]), ns('exp-b', [0.5, 1])] });
  validateRollout(c);
  const seen = { 'exp-a': 0, 'exp-b': 0 };
  for (const id of ids) {
    const a = assign(c, { alias: 'stable', id });
    assert.ok(a.rule === 'exp-a' || a.rule === 'exp-b');
    assert.equal(a.rule === 'exp-a', inNamespace(id, ['mnist-ns', 0, 0.5]));
    seen[/** @type {'exp-a' | 'exp-b'} */ (a.rule)] += 1;
  }
  assert.ok(seen['exp-a'] > 800 && seen['exp-b'] > 800, JSON.stringify(seen));
});

test('conditions target attributes; a missing hash attribute skips the rule', () => {
  const c = canary(1, { condition: { group: ['internal'] } });
  assert.equal(assign(c, { alias: 'stable', id: 'u1', attributes: { group: 'internal' } }).arm, 'canary');
  assert.equal(assign(c, { alias: 'stable', id: 'u1', attributes: { group: 'public' } }).arm, null);
  assert.equal(assign(c, { alias: 'stable', id: 'u1' }).arm, null);
  const byCompany = canary(1, { hashAttribute: 'company' });
  assert.equal(assign(byCompany, { alias: 'stable', id: 'u1' }).kind, 'alias');
  assert.equal(assign(byCompany, { alias: 'stable', id: 'u1', attributes: { company: 'acme' } }).kind, 'rollout');
});

test('kill switch: the alias serves, no rule, no shadow or interleave; a pin beats it', () => {
  const c = canary(1);
  /** @type {any} */ (c.rollout).kill = true;
  /** @type {any} */ (c.rollout).shadow = [{ alias: 'stable', challenger: '1.1.0', sampleRate: 1 }];
  validateRollout(c);
  assert.deepEqual(assign(c, { alias: 'stable', id: 'u' }), { version: '1.0.0', alias: 'stable', rule: null, kind: 'kill', arm: null, bucket: null, bucketVersion: null });
  assert.deepEqual(extras(c, 'stable'), { shadow: null, interleave: null });
  assert.equal(assign(c, { alias: 'canary', id: 'u' }).version, '1.0.0', 'a canary page goes to stable too');
  assert.equal(assign(c, { alias: 'stable', id: 'u', pin: '1.2.0' }).kind, 'pin');
  assert.equal(assign(c, { alias: 'stable', id: 'u', pin: '1.2.0' }).version, '1.2.0');
  assert.throws(() => assign(c, { alias: 'stable', id: 'u', pin: '9.9.9' }), /does not publish/);
});

test('pins from the page URL', () => {
  assert.equal(pinFromUrl('https://x/p?burn-edge-pin=1.1.0', 'mnist'), '1.1.0');
  assert.equal(pinFromUrl('https://x/p?burn-edge-pin=mnist@1.1.0', 'mnist'), '1.1.0');
  assert.equal(pinFromUrl('https://x/p?burn-edge-pin=other@1.1.0', 'mnist'), null);
  assert.equal(pinFromUrl('https://x/p', 'mnist'), null);
});

test('validation refuses each malformed rollout with a specific message', () => {
  const arm = { name: 'canary', version: '1.1.0', weight: 1 };
  const rule = { key: 'r', kind: 'rollout', alias: 'stable', coverage: 0.1, arms: [arm] };
  const bad = /** @type {[any, RegExp][]} */ ([
    [{ rules: [{ ...rule, arms: [{ ...arm, wieght: 1 }] }] }, /arms\[0\] has an unknown field "wieght"/],
    [{ rules: [{ ...rule, covrage: 0.1 }] }, /rules\[0\] has an unknown field "covrage"/],
    [{ kil: true }, /rollout has an unknown field "kil"/],
    [{ rules: [{ ...rule, kind: 'experiment', arms: [{ name: 'a', version: '1.0.0', weight: 0.5 }, { name: 'b', version: '1.1.0', weight: 0.6 }] }] }, /weights sum to 1.1, not 1/],
    [{ rules: [{ ...rule, arms: [{ ...arm, version: '2.0.0' }] }] }, /2\.0\.0, which the channel does not publish/],
    [{ rules: [{ ...rule, arms: [{ ...arm, version: '../x' }] }] }, /not a semantic version/],
    [{ rules: [{ ...rule, coverage: 1.5 }] }, /coverage is 1.5, not in \[0, 1\]/],
    [{ rules: [rule, rule] }, /key r is used twice/],
    [{ rules: [{ ...rule, key: 'bad key' }] }, /key is "bad key"/],
    [{ rules: [{ ...rule, ramp: [{ at: '2026-12-01T16:00:00Z', coverage: 0.1 }, { at: '2026-12-01T15:00:00Z', coverage: 0.2 }] }] }, /sorted by time/],
    [{ rules: [{ ...rule, namespace: { id: 'n', range: [0.6, 0.2] } }] }, /start <= end/],
    [{ rules: [{ ...rule, arms: [arm, { ...arm, name: 'x' }] }] }, /exactly one arm/],
    [{ shadow: [{ alias: 'stable', challenger: '1.0.0', sampleRate: 0.2 }] }, /is what alias "stable" serves/],
    [{ shadow: [{ alias: 'stable', challenger: '1.1.0', sampleRate: 2 }] }, /sampleRate is 2/],
    [{ interleave: [{ key: 'il', alias: 'stable', arms: [{ name: 'a', version: '1.0.0' }, { name: 'b', version: '1.0.0' }] }] }, /both run 1\.0\.0/],
    [{ interleave: [{ key: 'il', alias: 'stable', arms: [{ name: 'a', version: '1.0.0' }] }] }, /exactly 2 arms/],
    ['yes', /not an object/],
    [{ rules: [{ ...rule, alias: 'beta' }] }, /alias is "beta", not one of the channel's aliases/],
    [{ rules: [{ ...rule, coverage: undefined }] }, /needs a coverage or a ramp/],
    [{ rules: [{ ...rule, bucketVersion: 0, minBucketVersion: 1 }] }, /minBucketVersion 1 is above/],
    [{ rules: [{ ...rule, condition: { group: [] } }] }, /at least one string/],
    [{ shadow: [{ alias: 'stable', challenger: '1.1.0', sampleRate: 0.1 }, { alias: 'stable', challenger: '1.1.0', sampleRate: 0.2 }] }, /shadowed twice/],
  ]);
  for (const [rollout, message] of bad) {
    assert.throws(() => validateRollout(channel(rollout)), (/** @type {any} */ err) => {
      assert.ok(err instanceof ChannelError, String(err));
      assert.equal(err.code, 'INVALID_CHANNEL');
      assert.match(err.message, message);
      return true;
    }, JSON.stringify(rollout));
  }
  // v1 channels and empty sections are fine.
  validateRollout(channel(undefined));
  validateRollout(channel({}));
});
