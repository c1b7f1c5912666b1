// The browser's telemetry speaks the vocabulary the Rust side defines: every event name and
// attribute key the JS uses is in crates/formats/schemas/telemetry.events.json with the same
// kind, and what the loader records for each event carries that event's required attributes,
// encoded as OTLP JSON (ints as decimal strings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as telemetry from '../../www/lib/telemetry.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const spec = JSON.parse(readFileSync(join(root, 'crates/formats/schemas/telemetry.events.json'), 'utf8'));
const specEvents = new Map(spec.events.map((/** @type {any} */ e) => [e.name, e]));
const VALUE_FIELD = { string: 'stringValue', int: 'intValue', double: 'doubleValue', bool: 'boolValue' };

/** @param {any[]} attrs OTLP key-values */
const byKey = (attrs) => new Map(attrs.map((a) => [a.key, a.value]));

/**
 * Asserts one OTLP log record is a valid `name` event per the JSON spec.
 * @param {any} record
 * @param {string} name
 */
function checkRecord(record, name) {
  const event = specEvents.get(name);
  assert.ok(event, `${name} is in the spec`);
  assert.equal(record.eventName, name);
  assert.deepEqual(record.body, { stringValue: name });
  assert.match(record.timeUnixNano, /^\d{19}$/);
  assert.match(record.observedTimeUnixNano, /^\d{19}$/);
  const severity = name === 'burn_edge.error' ? [17, 'ERROR']
    : ['burn_edge.backend.fallback', 'burn_edge.device.lost'].includes(name) ? [13, 'WARN'] : [9, 'INFO'];
  assert.deepEqual([record.severityNumber, record.severityText], severity, `${name} severity`);
  const kinds = new Map(event.attributes.map((/** @type {any} */ a) => [a.key, a.kind]));
  const values = byKey(record.attributes);
  assert.equal(values.size, record.attributes.length, `${name}: no key twice`);
  for (const [key, value] of values) {
    const kind = kinds.get(key);
    assert.ok(kind, `${name} carries ${key}, which the spec does not list for it`);
    assert.deepEqual(Object.keys(value), [VALUE_FIELD[/** @type {keyof VALUE_FIELD} */ (kind)]], `${name}.${key} is ${kind}`);
    if (kind === 'int') assert.match(value.intValue, /^-?\d+$/, `${name}.${key} int as a decimal string`);
    if (kind === 'double') assert.ok(Number.isFinite(value.doubleValue));
  }
  for (const a of event.attributes) if (a.required) assert.ok(values.has(a.key), `${name} lacks required ${a.key}`);
}

test('telemetry.js imports in Node and its vocabulary table equals the generated JSON', () => {
  assert.equal(spec.eventIdAttribute, 'event.id');
  const table = Object.fromEntries(Object.entries(telemetry.EVENTS).map(([name, attrs]) =>
    [name, attrs.map(([key, kind, required]) => ({ key, kind, required }))]));
  const fromJson = Object.fromEntries(spec.events.map((/** @type {any} */ e) => [e.name, e.attributes]));
  assert.deepEqual(table, fromJson);
  assert.deepEqual(telemetry.RESOURCE_ATTRIBUTES.map(([key, kind, required]) => ({ key, kind, required })),
    spec.resourceAttributes);
});

test('every event name and attribute key written in the JS telemetry code is in the spec', () => {
  const known = new Set([...spec.events.flatMap((/** @type {any} */ e) => [e.name, ...e.attributes.map((/** @type {any} */ a) => a.key)]),
    ...spec.resourceAttributes.map((/** @type {any} */ a) => a.key)]);
  const pattern = /'((?:burn_edge|event|error|service|user_agent|browser)\.[a-z_.]+)'/g;
  let seen = 0;
  for (const file of ['www/lib/telemetry.js', 'www/lib/index.js', 'www/lib/model.js', 'www/lib/rollout-watch.js', 'www/lib/pool.js',
    'www/lib/route.js', 'www/lib/interleave.js']) {
    const source = readFileSync(join(root, file), 'utf8');
    for (const [, literal] of source.matchAll(pattern)) {
      seen += 1;
      assert.ok(known.has(literal), `${file} uses '${literal}', which telemetry.events.json does not define`);
    }
  }
  assert.ok(seen > 30, `found ${seen} vocabulary literals`);
});

test('buildRecord encodes every event of the spec, ints as decimal strings, unknown keys and events left out', () => {
  /** @type {Record<string, unknown>} */
  const sample = { string: 'x', int: 42, double: 1.5, bool: true };
  const ids = new Set();
  for (const event of spec.events) {
    const attrs = Object.fromEntries(event.attributes.filter((/** @type {any} */ a) => a.key !== 'event.id')
      .map((/** @type {any} */ a) => [a.key, sample[a.kind]]));
    const record = telemetry.buildRecord(event.name, { ...attrs, 'not.in.spec': 'dropped' });
    checkRecord(record, event.name);
    const values = byKey(/** @type {any} */ (record).attributes);
    assert.equal(values.size, event.attributes.length, `${event.name}: all attributes kept`);
    assert.match(values.get('event.id').stringValue, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    ids.add(values.get('event.id').stringValue);
    for (const a of event.attributes.filter((/** @type {any} */ a) => a.kind === 'int')) {
      assert.equal(values.get(a.key).intValue, '42');
    }
  }
  assert.equal(ids.size, spec.events.length, 'event ids are unique');
  assert.equal(telemetry.buildRecord('burn_edge.not_an_event', {}), null);
  // A value of the wrong kind is left out rather than sent mistyped.
  const bad = telemetry.buildRecord('burn_edge.inference', { 'burn_edge.batch_size': 'many', 'burn_edge.latency_ms': NaN });
  const keys = byKey(/** @type {any} */ (bad).attributes);
  assert.ok(!keys.has('burn_edge.batch_size') && !keys.has('burn_edge.latency_ms'));
});

test('what the loader records carries each event\'s required attributes (with the model context it merges)', () => {
  const model = { 'burn_edge.model.name': 'mnist', 'burn_edge.model.version': '1.0.0', 'burn_edge.backend': 'cpu',
    'burn_edge.variant': 'f32', 'burn_edge.role': 'stable' };
  const info = { source: 'network', backend: 'cpu', loadMs: 300,
    files: [{ source: 'network', size: 739368 }, { source: 'cache', size: 10 }],
    skipped: [{ backend: 'webgpu', reason: 'navigator.gpu is undefined' }] };

  const load = telemetry.loadAttributes(info, { manifestMs: 12.5, downloadMs: 80, wasmCompileMs: 30, backendInitMs: 20, readyMs: 301.25 });
  const loadRecord = telemetry.buildRecord('burn_edge.model.load', { ...model, ...load });
  checkRecord(loadRecord, 'burn_edge.model.load');
  const lv = byKey(/** @type {any} */ (loadRecord).attributes);
  assert.deepEqual(lv.get('burn_edge.load.bytes'), { intValue: '739368' }, 'only downloaded bytes count');
  assert.deepEqual(lv.get('burn_edge.load.time_to_first_prediction_ms'), { doubleValue: 301.25 });

  const fallbacks = telemetry.fallbackAttributes(info);
  assert.equal(fallbacks.length, 1);
  const fb = telemetry.buildRecord('burn_edge.backend.fallback', { ...model, ...fallbacks[0] });
  checkRecord(fb, 'burn_edge.backend.fallback');
  assert.equal(byKey(/** @type {any} */ (fb).attributes).has('burn_edge.backend'), false, 'context outside the event is left out');

  const probs = new Float32Array(20);
  probs[7] = 0.875; probs[3] = 0.1; probs[10 + 2] = 0.99;
  const inf = telemetry.buildRecord('burn_edge.inference', { ...model, ...telemetry.inferenceAttributes(probs, 10, 4.25, 'p-1') });
  checkRecord(inf, 'burn_edge.inference');
  const iv = byKey(/** @type {any} */ (inf).attributes);
  assert.deepEqual(iv.get('burn_edge.batch_size'), { intValue: '2' });
  assert.deepEqual(iv.get('burn_edge.predicted_class'), { intValue: '7' }, 'argmax of the first row');
  assert.deepEqual(iv.get('burn_edge.confidence'), { doubleValue: 0.875 });
  assert.deepEqual(iv.get('burn_edge.prediction_id'), { stringValue: 'p-1' });

  const err = Object.assign(new Error('weights from x failed verification'), { code: 'INTEGRITY' });
  const er = telemetry.buildRecord('burn_edge.error', telemetry.errorAttributes(err));
  checkRecord(er, 'burn_edge.error');
  assert.deepEqual(byKey(/** @type {any} */ (er).attributes).get('error.type'), { stringValue: 'INTEGRITY' });
  checkRecord(telemetry.buildRecord('burn_edge.error', telemetry.errorAttributes(new TypeError('bad'))), 'burn_edge.error');

  checkRecord(telemetry.buildRecord('burn_edge.feedback', { 'burn_edge.prediction_id': 'p-1', 'burn_edge.true_label': 7 }),
    'burn_edge.feedback');
});

test('buildPayload and buildResource make an OTLP/HTTP JSON logs body with the spec\'s resource attributes', () => {
  const resource = telemetry.buildResource({ app: 'demo', runtimeVersion: '0.1.0', installId: 'abc', userAgent: 'UA/1' });
  const record = telemetry.buildRecord('burn_edge.feedback', { 'burn_edge.prediction_id': 'p', 'burn_edge.true_label': 3 });
  const body = telemetry.buildPayload(resource, [record], '0.1.0');
  assert.equal(body.resourceLogs.length, 1);
  const { resource: res, scopeLogs } = body.resourceLogs[0];
  const attrs = byKey(res.attributes);
  assert.deepEqual(attrs.get('service.name'), { stringValue: 'burn-edge-web' });
  for (const a of spec.resourceAttributes) {
    if (a.required) assert.ok(attrs.has(a.key), `resource lacks ${a.key}`);
  }
  for (const key of attrs.keys()) assert.ok(spec.resourceAttributes.some((/** @type {any} */ a) => a.key === key), key);
  assert.deepEqual(scopeLogs[0].scope, { name: 'burn-edge', version: '0.1.0' });
  assert.deepEqual(scopeLogs[0].logRecords, [record]);
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(body)));
});

test('createTelemetry is inert when opted out or sampled out, and record never throws', async () => {
  for (const options of [{ endpoint: 'http://127.0.0.1:9/', optOut: true }, { endpoint: 'http://127.0.0.1:9/', sampleRate: 0 },
    { endpoint: '' }]) {
    const t = telemetry.createTelemetry(options);
    assert.equal(t.enabled, false);
    assert.equal(t.installId, null);
    t.record('burn_edge.inference', { 'burn_edge.latency_ms': 1 });
    t.record('nonsense', /** @type {any} */ (null));
    await t.flush();
    await t.shutdown();
  }
});

test('Retry-After is read as seconds or an HTTP date; absent means "use the backoff"', () => {
  assert.equal(telemetry.retryAfterMs('1'), 1000);
  assert.equal(telemetry.retryAfterMs('0'), 0);
  assert.equal(telemetry.retryAfterMs(null), undefined, 'unreadable cross-origin without Access-Control-Expose-Headers');
  assert.equal(telemetry.retryAfterMs(''), undefined);
  assert.equal(telemetry.retryAfterMs('soon'), undefined);
  const later = telemetry.retryAfterMs(new Date(Date.now() + 5000).toUTCString());
  assert.ok(later !== undefined && later > 3000 && later <= 5000, String(later));
});

test('event ids are v7 UUIDs that sort by time; the install id is a random v4 one', async () => {
  const { uuid } = await import('../../www/lib/identity.js');
  const before = Date.now();
  const id = uuid();
  const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  assert.ok(ms >= before && ms <= Date.now(), `${id} holds its time`);
  await new Promise((r) => setTimeout(r, 5));
  assert.ok(uuid() > id, 'a later id sorts after');
  assert.match(uuid(true), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const many = new Set(Array.from({ length: 1000 }, () => uuid()));
  assert.equal(many.size, 1000, 'ids made in the same millisecond differ');
});
