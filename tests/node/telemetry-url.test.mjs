// The collector URL a page gives `createTelemetry`: its base or its full OTLP logs URL, both
// land on /v1/logs (a full URL used to get /v1/logs appended again and 405).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logsUrl } from '../../www/lib/telemetry.js';

test('a base URL gets /v1/logs, a full logs URL is kept as is', () => {
  assert.equal(logsUrl('https://c.example').href, 'https://c.example/v1/logs');
  assert.equal(logsUrl('https://c.example/collector/').href, 'https://c.example/collector/v1/logs');
  assert.equal(logsUrl('https://c.example/v1/logs').href, 'https://c.example/v1/logs');
  assert.equal(logsUrl('https://c.example/otel/v1/logs/').href, 'https://c.example/otel/v1/logs/');
  assert.throws(() => logsUrl('/v1/logs'), TypeError, 'relative with no page to resolve against');
});
