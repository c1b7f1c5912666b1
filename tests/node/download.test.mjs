// The loader's body reading (www/lib/download.js) and file-path check (www/lib/files.js) in
// Node: a mirror that sends more than the manifest's size, or never stops, fails with
// IntegrityError after at most one chunk too many; paths that leave the model folder are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readAtMost, readVerified } from '../../www/lib/download.js';
import { checkFilePaths } from '../../www/lib/files.js';

const CHUNK = 64 * 1024;

/** A response whose body never ends; counts the chunks pulled from it. */
function endless() {
  const state = { pulled: 0, cancelled: false };
  const body = new ReadableStream({
    pull(controller) {
      state.pulled++;
      controller.enqueue(new Uint8Array(CHUNK).fill(7));
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { response: new Response(body), state };
}

test('an endless body stops at the expected size plus one chunk and fails with IntegrityError', { timeout: 20_000 }, async () => {
  const size = 1_000_000;
  const { response, state } = endless();
  const entry = { role: 'weights', path: '../files/x.bpk', sha256: '0'.repeat(64), size };
  await assert.rejects(readVerified(response, entry, 'https://mirror.example/x.bpk', () => {}), {
    name: 'IntegrityError', message: /longer than the 1000000 bytes expected/,
  });
  assert.ok(state.pulled <= Math.ceil(size / CHUNK) + 2, `pulled ${state.pulled} chunks of ${CHUNK} bytes`);
  assert.ok(state.cancelled, 'the stream was cancelled, not drained');
});

test('a body of exactly the size passes; one byte more fails', async () => {
  const bytes = new Uint8Array(1000).map((_, i) => i);
  const entry = { role: 'weights', path: 'w.bpk', sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  /** @type {number[]} */
  const seen = [];
  const ok = await readVerified(new Response(bytes), entry, 'u', (n) => seen.push(n));
  assert.deepEqual(ok, bytes);
  assert.equal(seen.at(-1), 1000);
  const longer = new Uint8Array(1001);
  longer.set(bytes);
  await assert.rejects(readVerified(new Response(longer), entry, 'u', () => {}), { name: 'IntegrityError' });
  await assert.rejects(readAtMost(new Response(new Uint8Array(11)), 10, { file: 'f', url: 'u' }), { code: 'INTEGRITY' });
});

test('manifest file paths outside the model folder are refused before any fetch', () => {
  const folder = 'https://cdn.example/models/mnist/';
  const manifestUrl = `${folder}1.0.0/manifest.json`;
  const entry = (/** @type {string} */ path) => ({ role: 'weights', path, sha256: 'a'.repeat(64), size: 1 });
  checkFilePaths([entry(`../files/${'a'.repeat(64)}.bpk`)], manifestUrl, folder);
  for (const path of ['../%2e%2e/files/x.bpk', 'http:evil.example/x.bpk', '//evil.example/x.bpk', '../../x.bpk', '/x.bpk', '..\\x.bpk']) {
    assert.throws(() => checkFilePaths([entry(path)], manifestUrl, folder),
      { name: 'IntegrityError', message: /outside the model folder/ }, path);
  }
});
