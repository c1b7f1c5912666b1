/**
 * @module otel-sdk
 * burn-edge events through the OpenTelemetry JS SDK (`@opentelemetry/sdk-logs`): the browser
 * client's records (`www/lib/telemetry.js`) emitted as SDK log records, so the official
 * exporters and serializers (`@opentelemetry/exporter-logs-otlp-proto` / `-http`,
 * `@opentelemetry/otlp-transformer`) encode exactly the events our client would send.
 */
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';

/**
 * An OTLP JSON `AnyValue` as the plain JS value the SDK takes (an int as a number).
 * @param {any} v
 * @returns {string | number | boolean}
 */
export function plainValue(v) {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  throw new Error(`no scalar in ${JSON.stringify(v)}`);
}

/**
 * OTLP JSON key-values as an attributes object.
 * @param {{ key: string, value: any }[]} kvs
 */
export const plainAttributes = (kvs) => Object.fromEntries(kvs.map(({ key, value }) => [key, plainValue(value)]));

/**
 * Emits `records` (OTLP JSON log records as `buildRecord` makes them) through an SDK logger
 * provider whose processor feeds `exporter`, and flushes it; `resource` as OTLP JSON
 * key-values. Returns the provider (shut it down when done).
 * @param {any[]} records
 * @param {{ key: string, value: any }[]} resource
 * @param {import('@opentelemetry/sdk-logs').LogRecordExporter} exporter
 * @param {(e: import('@opentelemetry/sdk-logs').LogRecordExporter) => import('@opentelemetry/sdk-logs').LogRecordProcessor} [processor]
 */
export async function emitThrough(records, resource, exporter, processor = (e) => new SimpleLogRecordProcessor({ exporter: e })) {
  const provider = new LoggerProvider({ resource: resourceFromAttributes(plainAttributes(resource)), processors: [processor(exporter)] });
  const logger = provider.getLogger('burn-edge');
  for (const r of records) {
    const ms = Number(BigInt(r.timeUnixNano) / 1000000n);
    logger.emit({
      eventName: r.eventName, timestamp: ms, observedTimestamp: ms, severityNumber: r.severityNumber,
      severityText: r.severityText, body: r.body?.stringValue, attributes: plainAttributes(r.attributes),
    });
  }
  await provider.forceFlush();
  return provider;
}

/**
 * The SDK's own log records (`ReadableLogRecord`) for `records`, for a serializer or an
 * exporter's `export()`.
 * @param {any[]} records
 * @param {{ key: string, value: any }[]} resource
 */
export async function sdkRecords(records, resource) {
  const memory = new InMemoryLogRecordExporter();
  const provider = await emitThrough(records, resource, memory);
  const out = [...memory.getFinishedLogRecords()]; // shutting down empties the exporter
  await provider.shutdown();
  return out;
}
