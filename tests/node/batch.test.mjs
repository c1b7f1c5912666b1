// predictBatch's chunking (www/lib/batch.js) against a stand-in predict: chunks of the asked
// size, each one call with its examples concatenated, outputs split back in order, progress
// after each chunk, an abort between chunks rejecting at once with no further call, bad inputs
// refused with a message. (In Chromium with the real worker: tests/e2e/predict-batch.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { examples, inputLength, runChunks } from '../../www/lib/batch.js';

/** A predict whose outputs are [sum, index of first value] per example of `len` values. */
function fake(len, calls = /** @type {number[]} */ ([])) {
  return {
    calls,
    /** @param {Float32Array} flat @param {number} count */
    predict: async (flat, count) => {
      calls.push(count);
      assert.equal(flat.length, count * len);
      const out = new Float32Array(count * 2);
      for (let i = 0; i < count; i++) {
        const x = flat.subarray(i * len, (i + 1) * len);
        out[i * 2] = x.reduce((a, b) => a + b, 0);
        out[i * 2 + 1] = x[0];
      }
      return out;
    },
  };
}

const make = (/** @type {number} */ n, /** @type {number} */ len) => Array.from({ length: n }, (_, i) => new Float32Array(len).fill(i));

test('chunks of chunkSize, one call each, outputs in order, progress after each', async () => {
  const f = fake(3);
  const progress = [];
  const out = await runChunks(make(10, 3), f.predict, { chunkSize: 4, onProgress: (p) => progress.push(p) });
  assert.deepEqual(f.calls, [4, 4, 2]);
  assert.deepEqual(out.map((o) => [...o]), Array.from({ length: 10 }, (_, i) => [3 * i, i]));
  assert.deepEqual(progress, [{ done: 4, total: 10 }, { done: 8, total: 10 }, { done: 10, total: 10 }]);
  const defaults = fake(3);
  await runChunks(make(70, 3), defaults.predict);
  assert.deepEqual(defaults.calls, [32, 32, 6], 'default chunk 32');
});

test('an abort rejects with AbortError at once and sends no further chunk', async () => {
  const controller = new AbortController();
  /** @type {number[]} */
  const calls = [];
  /** @type {() => void} */
  let release = () => {};
  const predict = async (/** @type {Float32Array} */ flat, /** @type {number} */ count) => {
    calls.push(count);
    if (calls.length === 2) await new Promise((r) => { release = () => r(undefined); });
    return new Float32Array(count);
  };
  const run = runChunks(make(10, 1), predict, { chunkSize: 2, signal: controller.signal });
  await new Promise((r) => setTimeout(r, 10));
  controller.abort();
  await assert.rejects(run, (err) => err instanceof Error && err.name === 'AbortError');
  release();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(calls, [2, 2], 'the chunk running when aborted was the last');
  await assert.rejects(runChunks(make(2, 1), predict, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  assert.equal(calls.length, 2, 'an aborted signal sends nothing');
});

test('inputs: an array or one flat array of whole examples; wrong sizes named', () => {
  assert.equal(inputLength({ input: { shape: [1, 28, 28] } }), 784);
  assert.equal(inputLength({ input: {} }), null);
  assert.equal(examples(new Float32Array(6), 3).length, 2);
  assert.throws(() => examples(new Float32Array(7), 3), /7 values are not a whole number of examples of 3/);
  assert.throws(() => examples([new Float32Array(3), new Float32Array(2)], 3), /input 1 has 2 values, expected 3/);
  assert.throws(() => examples([new Float32Array(3), /** @type {any} */ ([1, 2, 3])], 3), /input 1 is not a Float32Array/);
  assert.throws(() => examples(new Float32Array(3), null), /needs the manifest's input shape/);
  assert.rejects(runChunks([], async () => new Float32Array(0), { chunkSize: 0 }), /chunkSize must be a positive integer/);
});

test('a predict answering the wrong number of outputs fails the batch', async () => {
  await assert.rejects(runChunks(make(3, 1), async () => new Float32Array(5)), /5 outputs for 3 examples/);
});
