// The browser client's OTLP/HTTP JSON is the OTLP JSON mapping (proto3 JSON with OTLP's
// deviations): checked field by field against the log messages of opentelemetry-proto
// (transcribed below: lowerCamelCase names, 64-bit integers as decimal strings, enums and
// 32-bit integers as numbers, trace and span ids as hex, an AnyValue holding exactly one
// value), and against the official serializer (`@opentelemetry/otlp-transformer`'s
// `JsonLogsSerializer`) given the same events: the same records, the same values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonLogsSerializer } from '@opentelemetry/otlp-transformer';
import { EVENTS, buildPayload, buildRecord, buildResource } from '../../www/lib/telemetry.js';
import { plainValue, sdkRecords } from '../e2e/otel-sdk.mjs';

/** opentelemetry-proto logs.proto, common.proto, resource.proto: message -> field -> type ('[]' repeated). */
const MESSAGES = {
  ExportLogsServiceRequest: { resourceLogs: 'ResourceLogs[]' },
  ResourceLogs: { resource: 'Resource', scopeLogs: 'ScopeLogs[]', schemaUrl: 'string' },
  Resource: { attributes: 'KeyValue[]', droppedAttributesCount: 'uint32', entityRefs: 'EntityRef[]' },
  EntityRef: { schemaUrl: 'string', type: 'string', idKeys: 'string[]', descriptionKeys: 'string[]' },
  ScopeLogs: { scope: 'InstrumentationScope', logRecords: 'LogRecord[]', schemaUrl: 'string' },
  InstrumentationScope: { name: 'string', version: 'string', attributes: 'KeyValue[]', droppedAttributesCount: 'uint32' },
  LogRecord: {
    timeUnixNano: 'fixed64', observedTimeUnixNano: 'fixed64', severityNumber: 'enum', severityText: 'string',
    body: 'AnyValue', attributes: 'KeyValue[]', droppedAttributesCount: 'uint32', flags: 'fixed32',
    traceId: 'id16', spanId: 'id8', eventName: 'string',
  },
  KeyValue: { key: 'string', value: 'AnyValue' },
  AnyValue: { stringValue: 'string', boolValue: 'bool', intValue: 'int64', doubleValue: 'double', arrayValue: 'ArrayValue',
    kvlistValue: 'KeyValueList', bytesValue: 'bytes' },
  ArrayValue: { values: 'AnyValue[]' },
  KeyValueList: { values: 'KeyValue[]' },
};

/**
 * The mapping errors in `value` as message `type` (empty: none). `strict`: 64-bit integers
 * only as strings (what the OTLP spec says senders write); otherwise numbers too (receivers
 * must accept both, and the official JSON serializer writes ints as numbers).
 * @param {unknown} value @param {string} type @param {string} path @param {boolean} strict
 * @returns {string[]}
 */
function check(value, type, path, strict) {
  if (type.endsWith('[]')) {
    if (!Array.isArray(value)) return [`${path}: not an array`];
    return value.flatMap((v, i) => check(v, type.slice(0, -2), `${path}[${i}]`, strict));
  }
  const fields = /** @type {Record<string, Record<string, string>>} */ (MESSAGES)[type];
  if (fields) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: not an object`];
    const set = Object.entries(value).filter(([, v]) => v !== undefined);
    const errors = set.flatMap(([k, v]) => (fields[k] ? check(v, fields[k], `${path}.${k}`, strict) : [`${path}.${k}: no such field of ${type}`]));
    if (type === 'AnyValue' && set.length !== 1) errors.push(`${path}: an AnyValue holds one value, not ${set.length}`);
    return errors;
  }
  const int = (/** @type {unknown} */ v) => Number.isInteger(v);
  const ok = {
    string: typeof value === 'string',
    bool: typeof value === 'boolean',
    double: typeof value === 'number',
    uint32: int(value) && /** @type {number} */ (value) >= 0,
    fixed32: int(value) && /** @type {number} */ (value) >= 0,
    enum: int(value),
    int64: (typeof value === 'string' && /^-?\d+$/.test(value)) || (!strict && int(value)),
    fixed64: (typeof value === 'string' && /^\d+$/.test(value)) || (!strict && int(value)),
    id16: typeof value === 'string' && /^[0-9a-f]{32}$/.test(value),
    id8: typeof value === 'string' && /^[0-9a-f]{16}$/.test(value),
    bytes: typeof value === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(value),
  }[type];
  return ok ? [] : [`${path}: ${JSON.stringify(value)} is not a ${type}`];
}

/** A value of each kind, so every attribute of every event is sent. */
const SAMPLE = { string: 'x', int: 3, double: 1.5, bool: true };
const resource = buildResource({ app: 'shop', runtimeVersion: '1.2.3', installId: '0f1e2d3c-0000-4000-8000-000000000001',
  userAgent: 'Chrome 131', platform: 'Linux' });
const records = Object.entries(EVENTS).map(([name, spec], i) =>
  buildRecord(name, Object.fromEntries(spec.map(([key, kind]) => [key, SAMPLE[kind]])), { id: `e${i}`, timeMs: 1764000000123 + i }));
const payload = buildPayload(resource, records, '0.1.0');

test('every event the client sends is OTLP JSON, 64-bit integers as strings', () => {
  assert.equal(records.length, Object.keys(EVENTS).length);
  assert.ok(records.every((r) => r && r.attributes.length === EVENTS[r.eventName].length), 'every attribute sent');
  assert.deepEqual(check(JSON.parse(JSON.stringify(payload)), 'ExportLogsServiceRequest', '$', true), []);
  // The check can fail: snake_case names, numbers for int64, two values in one AnyValue.
  const wrong = { resourceLogs: [{ scope_logs: [], resource: { attributes: [{ key: 'k', value: { intValue: 3, stringValue: 'x' } }] } }] };
  assert.deepEqual(check(wrong, 'ExportLogsServiceRequest', '$', true), [
    '$.resourceLogs[0].scope_logs: no such field of ResourceLogs',
    '$.resourceLogs[0].resource.attributes[0].value.intValue: 3 is not a int64',
    '$.resourceLogs[0].resource.attributes[0].value: an AnyValue holds one value, not 2',
  ]);
});

test('the official JSON serializer writes the same records from the same events', async () => {
  const official = JSON.parse(new TextDecoder().decode(JsonLogsSerializer.serializeRequest(await sdkRecords(records, resource))));
  assert.deepEqual(check(official, 'ExportLogsServiceRequest', '$', false), [], 'the transcribed messages fit the serializer');
  const theirs = official.resourceLogs[0].scopeLogs[0].logRecords;
  assert.equal(theirs.length, records.length);
  /** @param {any} kvs */
  const values = (kvs) => Object.fromEntries(kvs.map((/** @type {any} */ a) => [a.key, plainValue(a.value)]));
  for (const [i, ours] of records.entries()) {
    const r = theirs[i];
    assert.deepEqual(
      [r.eventName, r.timeUnixNano, r.observedTimeUnixNano, r.severityNumber, r.severityText, r.body],
      [ours.eventName, ours.timeUnixNano, ours.observedTimeUnixNano, ours.severityNumber, ours.severityText, ours.body], ours.eventName);
    assert.deepEqual(values(r.attributes), values(ours.attributes), ours.eventName);
  }
  const ourResource = values(resource);
  const theirResource = values(official.resourceLogs[0].resource.attributes);
  for (const [k, v] of Object.entries(ourResource)) assert.equal(theirResource[k], v, k);
});
