// The select stage (www/lib/select.js, select-rules.js) over a stand-in store: per-unit sticky
// storage, one exposure per new assignment, pins, and offline (offline.js) assignment restricted
// to cached versions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { locateOffline } from '../../www/lib/offline.js';
import { createSelector } from '../../www/lib/select.js';

/** A store with just what the selector uses, in memory. */
function memoryStore() {
  /** @type {any} */
  const index = { model: 'm', versions: [] };
  return {
    index,
    cache: {},
    /** @param {string} _m @param {Record<string, string>} a @param {string} alias @param {unknown} served */
    async rememberAssignments(_m, a, alias, served) {
      index.assignments = { ...index.assignments, ...a };
      index.served = { ...index.served, [alias]: served };
    },
  };
}
/** @param {ReturnType<typeof memoryStore>} s */
const asStore = (s) => /** @type {any} */ ({ ...s, index: async () => s.index });

const channel = /** @type {any} */ ({ schemaVersion: 2, name: 'mnist', aliases: { stable: '1.0.0' }, versions: ['1.0.0', '1.1.0'],
  rollout: { rules: [{ key: 'exp', kind: 'experiment', alias: 'stable',
    arms: [{ name: 'control', version: '1.0.0', weight: 0.5 }, { name: 'b', version: '1.1.0', weight: 0.5 }] }] } });

test('assignments are stored per unit and reported once', async () => {
  const mem = memoryStore();
  const store = asStore(mem);
  const one = createSelector({ store, folder: 'f', alias: 'stable', id: 'user-1' });
  const a = /** @type {any} */ (await one.select(channel));
  assert.equal(a.rule, 'exp');
  assert.equal(await one.served(a), true, 'new: an exposure is due');
  assert.equal(await one.served(a), false, 'the same again: none');
  const reloaded = createSelector({ store, folder: 'f', alias: 'stable', id: 'user-1' });
  assert.equal(await reloaded.served(/** @type {any} */ (await reloaded.select(channel))), false,
    'a reload (same store) reports nothing');
  // Another unit in the same browser has its own stored arm.
  const keys = Object.keys(mem.index.assignments);
  assert.equal(keys.length, 1);
  assert.ok(keys[0].startsWith('user-1'));
  // A stored arm is sticky: flip it in storage and the unit follows it.
  const other = a.arm === 'b' ? 'control' : 'b';
  mem.index.assignments[keys[0]] = other;
  assert.equal((/** @type {any} */ (await reloaded.select(channel))).arm, other);
});

test('the install id is only asked for when a rule needs it', async () => {
  let asked = 0;
  const id = () => { asked += 1; return 'lazy'; };
  const store = asStore(memoryStore());
  const plain = { ...channel, rollout: undefined };
  const s = createSelector({ store, folder: 'f', alias: 'stable', id });
  assert.equal((/** @type {any} */ (await s.select(plain))).kind, 'alias');
  assert.equal(asked, 0);
  await s.select(channel);
  assert.equal(asked, 1);
});

test('pins: the option, then the page URL', async () => {
  const store = asStore(memoryStore());
  const byOption = createSelector({ store, folder: 'f', alias: 'stable', id: 'u', pin: '1.1.0' });
  assert.equal((/** @type {any} */ (await byOption.select(channel))).kind, 'pin');
  const byUrl = createSelector({ store, folder: 'f', alias: 'stable', id: 'u', pageUrl: 'https://x/?burn-edge-pin=mnist@1.1.0' });
  assert.equal((/** @type {any} */ (await byUrl.select(channel))).version, '1.1.0');
});

test('offline, only a cached version is assigned; otherwise the one served last, if cached, else the last good version', async () => {
  const mem = memoryStore();
  const folder = 'https://cdn.test/mnist/';
  const record = (/** @type {string} */ version) => ({ version, alias: 'stable', manifestUrl: `${folder}${version}/manifest.json`,
    manifest: '{}', files: [], verifiedAt: '2026-12-01T00:00:00Z' });
  mem.index.channel = { text: JSON.stringify(channel) };
  const store = /** @type {any} */ ({ ...asStore(mem), versions: async () => mem.index.versions });
  const o = /** @type {any} */ ({ channelUrl: `${folder}channel.json`, alias: 'stable', mirrors: [], retries: 0, retryDelay: 0, trust: null });
  const offline = (/** @type {any} */ select) => locateOffline(o, store, select, /** @type {any} */ (new Error('offline')));
  const pinned = createSelector({ store, folder, alias: 'stable', id: 'u', pin: '1.1.0' }).select;
  mem.index.versions = [record('1.1.0'), record('1.0.0')];
  const both = await offline(pinned);
  assert.equal(both.version, '1.1.0');
  assert.equal(both.assignment?.kind, 'pin');
  mem.index.versions = [record('1.0.0')];
  const lastGood = await offline(pinned);
  assert.equal(lastGood.version, '1.0.0', 'nothing served before: the last good version');
  assert.equal(lastGood.assignment, null);
  mem.index.served = { stable: { version: '1.0.0', alias: 'stable', rule: null, kind: 'alias', arm: null, bucket: null, bucketVersion: null } };
  const before = await offline(pinned);
  assert.equal(before.assignment?.kind, 'alias', 'the assignment served last');
  assert.equal(before.version, '1.0.0');
  mem.index.versions = [];
  await assert.rejects(offline(pinned), /offline/, 'nothing cached: the network\'s error');
});
