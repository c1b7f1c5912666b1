// The official OpenTelemetry JS exporters send burn-edge events to the real `burn-edge serve`:
// `@opentelemetry/exporter-logs-otlp-proto` (protobuf, the SDKs' default) and
// `@opentelemetry/exporter-logs-otlp-http` (JSON), plain and gzip, straight through `export()`
// and through the SDK's batch processor. The events are the browser client's own records
// (`www/lib/telemetry.js`); every one is stored once and shows up in the summary, a rejected
// record comes back as a partial success the exporter reads, and a wrong key is a failed export.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter as ProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as JsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { buildRecord, buildResource } from '../../www/lib/telemetry.js';
import { startServer } from './harness.mjs';
import { emitThrough, sdkRecords } from './otel-sdk.mjs';

/** @type {{ url: string, stop: () => void }} */
let server;
before(async () => { server = await startServer(); });
after(() => server?.stop());

const resource = buildResource({ app: 'exporters', runtimeVersion: 't', installId: '0f1e2d3c-0000-4000-8000-000000000001' });

/**
 * `n` inferences of mnist 1.0.0 on `backend` (latency 1.25 + i ms, class i % 10), a load and
 * a feedback for the first prediction, ids prefixed `tag`.
 * @param {string} tag @param {string} backend @param {number} n
 */
function events(tag, backend, n) {
  const model = { 'burn_edge.model.name': 'mnist', 'burn_edge.model.version': '1.0.0', 'burn_edge.backend': backend };
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(buildRecord('burn_edge.inference', { ...model, 'burn_edge.latency_ms': 1.25 + i, 'burn_edge.batch_size': 1,
      'burn_edge.predicted_class': i % 10, 'burn_edge.confidence': 0.5, 'burn_edge.prediction_id': `${tag}-p${i}` }, { id: `${tag}-i${i}` }));
  }
  out.push(buildRecord('burn_edge.model.load', { ...model, 'burn_edge.load.time_to_first_prediction_ms': 80.5 }, { id: `${tag}-load` }));
  out.push(buildRecord('burn_edge.feedback', { 'burn_edge.prediction_id': `${tag}-p0`, 'burn_edge.true_label': 0 }, { id: `${tag}-fb` }));
  return out;
}

/** Exporter options; no keep-alive, whose idle sockets would hold the test process open. @param {string} key */
const options = (key, compression = /** @type {'none' | 'gzip'} */ ('none')) =>
  ({ url: `${server.url}v1/logs`, headers: { 'x-burn-edge-key': key }, compression, keepAlive: false });

/**
 * `export()` of the SDK records of `records`; resolves with the exporter's result.
 * @param {import('@opentelemetry/sdk-logs').LogRecordExporter} exporter @param {any[]} records
 * @returns {Promise<import('@opentelemetry/core').ExportResult>}
 */
async function exportOnce(exporter, records) {
  const logs = await sdkRecords(records, resource);
  const result = await new Promise((resolve) => exporter.export(logs, resolve));
  await exporter.shutdown();
  return /** @type {any} */ (result);
}

async function summary() {
  const res = await fetch(`${server.url}api/telemetry/summary`, { headers: { 'x-burn-edge-read-key': 'demo-read-key' } });
  assert.equal(res.status, 200);
  return res.json();
}

/** @param {any} s @param {string} backend */
const group = (s, backend) => s.groups.find((/** @type {any} */ g) => g.backend === backend);

test('both official exporters deliver burn-edge events, plain and gzip', async () => {
  const cases = [
    ['proto', () => new ProtoExporter(options('demo-key'))],
    ['proto-gzip', () => new ProtoExporter(options('demo-key', 'gzip'))],
    ['json', () => new JsonExporter(options('demo-key'))],
    ['json-gzip', () => new JsonExporter(options('demo-key', 'gzip'))],
  ];
  for (const [backend, make] of /** @type {const} */ (cases)) {
    const result = await exportOnce(make(), events(backend, backend, 20));
    assert.equal(result.code, 0, `${backend}: ${result.error}`); // ExportResultCode.SUCCESS
  }
  const s = await summary();
  for (const [backend] of cases) {
    const g = group(s, backend);
    assert.ok(g, `${backend} in ${JSON.stringify(s.groups.map((/** @type {any} */ x) => x.backend))}`);
    assert.equal(g.count, 20, backend);
    assert.deepEqual(g.feedback, { count: 1, correct: 1, accuracy: 1 }, backend);
    assert.ok(g.timeToFirstPredictionMs.p50 > 75 && g.timeToFirstPredictionMs.p50 < 85, backend);
    assert.equal(g.classDistribution[3], 0.1, backend);
  }
  // The same events in either encoding give the same numbers.
  const strip = (/** @type {any} */ g) => ({ ...g, backend: undefined });
  assert.deepEqual(strip(group(s, 'json')), strip(group(s, 'proto')));
  assert.deepEqual(strip(group(s, 'json-gzip')), strip(group(s, 'proto-gzip')));
});

test('the SDK pipeline (batch processor, protobuf exporter) delivers every event once, retries included', async () => {
  const records = events('batched', 'batched', 300);
  const provider = await emitThrough(records, resource, new ProtoExporter(options('demo-key')),
    (exporter) => new BatchLogRecordProcessor({ exporter, maxExportBatchSize: 64 }));
  await provider.shutdown();
  // The same records again, as a client retrying: nothing counted twice.
  assert.equal((await exportOnce(new ProtoExporter(options('demo-key')), records.slice(0, 50))).code, 0);
  const s = await summary();
  assert.equal(group(s, 'batched').count, 300);
});

test('a rejected record is a partial success the exporter reads; a wrong key fails the export', async () => {
  const bad = buildRecord('burn_edge.inference', { 'burn_edge.model.name': 'mnist' }, { id: 'bad-1' });
  const good = events('partial', 'partial', 2);
  const result = await exportOnce(new ProtoExporter(options('demo-key')), [...good, bad]);
  assert.equal(result.code, 0, String(result.error));
  assert.equal(group(await summary(), 'partial').count, 2);
  for (const make of [() => new ProtoExporter(options('wrong-key')), () => new JsonExporter(options('wrong-key'))]) {
    const refused = await exportOnce(make(), events('refused', 'refused', 1));
    assert.equal(refused.code, 1); // ExportResultCode.FAILED
    assert.match(String(refused.error?.message), /401|Unauthorized/i);
  }
  assert.equal(group(await summary(), 'refused'), undefined);
});
