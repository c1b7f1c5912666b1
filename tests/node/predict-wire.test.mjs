// The JS client of the server's POST /v1/predict against the wire types: every property the
// client reads from a response is a field of crates/formats/schemas/predict.example.json
// (generated from crates/formats/src/predict.rs), and it sends what the server takes (a media
// type and the key header the server names).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const wire = JSON.parse(readFileSync(join(root, 'crates/formats/schemas/predict.example.json'), 'utf8'));

test('the generated example covers every wire type', () => {
  assert.deepEqual(Object.keys(wire.request), ['inputs']);
  assert.deepEqual(Object.keys(wire.singleRequest), ['input']);
  for (const field of ['model', 'version', 'architecture', 'backend', 'kernels', 'batch', 'outputs', 'labels', 'ms']) {
    assert.ok(field in wire.response, field);
  }
  assert.deepEqual(Object.keys(wire.error.error), ['code', 'message']);
  const statuses = Object.fromEntries(wire.errorCodes.map((/** @type {{ code: string, status: number }} */ c) => [c.code, c.status]));
  assert.equal(statuses.batch_too_large, 413);
  assert.equal(statuses.unknown_model, 404);
  assert.equal(statuses.not_finite, 400);
  assert.match(wire.path, /^\/v1\/predict\/<model>/);
});

/** Files of the shell that call the endpoint. */
const clients = readdirSync(join(root, 'www/lib'))
  .filter((f) => f.endsWith('.js'))
  .map((f) => ({ file: f, text: readFileSync(join(root, 'www/lib', f), 'utf8') }))
  .filter(({ text }) => text.includes('v1/predict/'));

test('the JS client reads only fields the server sends and sends what it takes', (t) => {
  if (clients.length === 0) {
    t.skip('no client of /v1/predict in www/lib on this branch');
    return;
  }
  const fields = new Set([...Object.keys(wire.response), ...Object.keys(wire.error), ...Object.keys(wire.error.error)]);
  const mediaTypes = Object.values(wire.mediaTypes);
  for (const { file, text } of clients) {
    // `json.x`, `json?.x`, `body.error.code`...: properties read from a parsed answer.
    const reads = [...text.matchAll(/\b(?:json|body|answer|response)\??\.(?:error\??\.)?([a-zA-Z_]+)/g)].map((m) => m[1]);
    for (const name of reads) {
      if (['json', 'text', 'ok', 'status', 'headers', 'arrayBuffer'].includes(name)) continue; // the Response's own
      assert.ok(fields.has(name), `${file} reads .${name}, which predict.example.json has no field for`);
    }
    assert.ok(mediaTypes.some((m) => text.includes(m)), `${file} sends none of ${mediaTypes.join(', ')}`);
    assert.ok(text.includes('x-burn-edge-key'), `${file} does not send the key header`);
  }
});
