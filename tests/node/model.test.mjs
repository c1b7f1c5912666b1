// The model handle (www/lib/model.js) over stand-in engines and a stand-in loader: the re-check
// watch and hot swap (rollout-watch.js) and the shadow/interleave engines (pool.js) that it
// imports when used. (In Chromium against the real loader: tests/e2e/rollout.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../../www/lib/model.js';

/** An engine that answers predictions with `[value]` and records what it was asked. */
function fakeEngine(/** @type {number} */ value) {
  const engine = {
    calls: /** @type {string[]} */ ([]),
    closed: /** @type {string | null} */ (null),
    restarts: 0,
    /** @param {{ type: string }} request */
    async call(request) {
      engine.calls.push(request.type);
      return new Float32Array([value]);
    },
    /** @param {string} reason */
    close(reason) {
      engine.closed ??= reason;
    },
  };
  return engine;
}

/** @param {string} version @param {ReturnType<typeof fakeEngine>} engine @returns {any} */
const prepared = (version, engine) => ({ engine, manifest: { name: 'm', version, labels: ['a'] }, session: { backend: 'cpu' },
  runtime: {}, phases: { warmupMs: 0 } });

/** @param {Record<string, unknown>} [rollout] */
const channelOf = (rollout) => ({ schemaVersion: 2, name: 'm', aliases: { stable: '1.0.0' }, versions: ['1.0.0', '1.1.0'], rollout });

/** A loader whose channel says `stable` → `next.version`, and whose preparations are fake engines. */
function fakeLoader() {
  const loader = {
    next: { version: '1.0.0', channel: channelOf() },
    prepared: /** @type {Record<string, ReturnType<typeof fakeEngine>>} */ ({}),
    async resolve() {
      return { channel: loader.next.channel, text: JSON.stringify(loader.next), url: 'x', etag: null };
    },
    async select() {
      return { version: loader.next.version, alias: 'stable', rule: null, kind: 'alias', arm: null, bucket: null, bucketVersion: null };
    },
    /** @param {string} version */
    async prepare(version) {
      loader.prepared[version] = fakeEngine(Number(version.split('.')[1]));
      return prepared(version, loader.prepared[version]);
    },
    /** @param {any} p @param {unknown} assignment */
    describe: (p, assignment) => ({ version: p.manifest.version, assignment }),
    async served() {},
    setContext() {},
  };
  return loader;
}

/** Counts the channel fetches; every answer is a changed channel. */
function fakeFetch(/** @type {import('node:test').TestContext} */ t) {
  const seen = { count: 0 };
  const before = globalThis.fetch;
  globalThis.fetch = async () => {
    seen.count += 1;
    return new Response(`{"n":${seen.count}}`, { status: 200 });
  };
  t.after(() => { globalThis.fetch = before; });
  return seen;
}

/** @param {ReturnType<typeof fakeLoader>} loader @param {Record<string, unknown>} [options] */
function open(loader, options = {}) {
  const first = fakeEngine(0);
  const slot = { prepared: prepared('1.0.0', first), info: { version: '1.0.0', assignment: null }, inflight: 0, retired: false,
    labels: ['a'], classes: 1, schema: 'null' };
  const model = createModel({ slot, telemetry: null, events: /** @type {any} */ ({}), loader: /** @type {any} */ (loader),
    channel: { channel: /** @type {any} */ (loader.next.channel), text: 'first', url: 'x', etag: null }, channelUrl: 'https://cdn.test/m/channel.json',
    alias: 'stable', recheckInterval: 0, shadow: true, ...options });
  return { model, first };
}

test('recheck() prepares a new assignment and swaps it in; the old engine closes, new calls go to the new one', async (t) => {
  fakeFetch(t);
  const loader = fakeLoader();
  const { model, first } = open(loader);
  const m = await model;
  /** @type {any[]} */
  const swaps = [];
  m.addEventListener('swap', (e) => swaps.push(/** @type {CustomEvent} */ (e).detail));
  loader.next = { version: '1.1.0', channel: channelOf() };
  await m.recheck();
  assert.equal(m.info().version, '1.1.0');
  assert.deepEqual(swaps.map((s) => [s.from, s.to, s.reason]), [['1.0.0', '1.1.0', 'channel']]);
  assert.equal(first.closed, 'replaced by a newer version');
  assert.deepEqual([...await m.predict(new Float32Array(1))], [1]);
  m.dispose();
  assert.match(String(loader.prepared['1.1.0'].closed), /disposed/);
});

test('recheckInterval 0: becoming visible re-checks nothing; recheck() still does', async (t) => {
  const fetched = fakeFetch(t);
  const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  /** @type {any} */ (globalThis).document = doc;
  t.after(() => { delete (/** @type {any} */ (globalThis).document); });
  const m = await open(fakeLoader()).model;
  await m.recheck(); // the watch is imported now, with interval 0
  assert.equal(fetched.count, 1);
  doc.dispatchEvent(new Event('visibilitychange'));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(fetched.count, 1, 'visibilitychange re-checked the channel with recheckInterval 0');
  m.dispose();
});

test('a channel with a shadow rule starts the challenger beside the served version before the handle comes', async (t) => {
  fakeFetch(t);
  const loader = fakeLoader();
  loader.next.channel = channelOf({ shadow: [{ alias: 'stable', challenger: '1.1.0', sampleRate: 1 }] });
  const m = await open(loader).model;
  assert.equal(m.info().shadow?.version, '1.1.0');
  assert.equal(m.info().interleave, null);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(m.info().shadow, { version: '1.1.0', sampleRate: 1, ready: true, error: null, runs: 0, failures: 0, skipped: 0 });
  m.dispose();
  assert.match(String(loader.prepared['1.1.0'].closed), /disposed/);
});

test('interleave() without an interleave rule rejects with NO_INTERLEAVE; with one it drafts from both arms', async (t) => {
  fakeFetch(t);
  const plain = await open(fakeLoader()).model;
  await assert.rejects(plain.interleave(new Float32Array(1)), { code: 'NO_INTERLEAVE' });
  plain.dispose();
  const loader = fakeLoader();
  loader.next.channel = channelOf({ interleave: [{ key: 'il', alias: 'stable',
    arms: [{ name: 'a', version: '1.0.0' }, { name: 'b', version: '1.1.0' }] }] });
  const m = await open(loader).model;
  const list = await m.interleave(new Float32Array(1), 1, { seed: 's' });
  assert.equal(list.length, 1);
  assert.ok(['a', 'b'].includes(list[0].arm));
  assert.equal(m.feedback({ picked: list[0].index }), list[0].arm);
  m.dispose();
});
