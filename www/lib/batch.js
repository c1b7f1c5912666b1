/**
 * @module batch
 * `predictBatch`'s chunking: many examples go in chunks (default 32), each chunk one `predict`
 * call with its examples concatenated (one worker round trip, or one request to the cloud), and
 * progress is reported after each. An `AbortSignal` stops it between chunks: the promise rejects
 * with an `AbortError` at once and no further chunk is sent (the one running finishes unseen).
 */

/** @typedef {{ done: number, total: number }} BatchProgress */
/**
 * @typedef {{ onProgress?: (p: BatchProgress) => void, signal?: AbortSignal, chunkSize?: number }} BatchOptions
 */

export const DEFAULT_CHUNK = 32;

/**
 * Values per example from the manifest's input shape, or null when it declares none.
 * @param {any} manifest
 * @returns {number | null}
 */
export function inputLength(manifest) {
  const shape = manifest?.input?.shape;
  if (!Array.isArray(shape) || !shape.length || !shape.every((d) => Number.isInteger(d) && d > 0)) return null;
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The examples as views of one length each: an array of Float32Array, or one Float32Array
 * holding `n * inputLen` values.
 * @param {Float32Array | Float32Array[]} inputs
 * @param {number | null} inputLen
 * @returns {Float32Array[]}
 */
export function examples(inputs, inputLen) {
  if (inputs instanceof Float32Array) {
    if (!inputLen) throw new TypeError('predictBatch with one Float32Array needs the manifest\'s input shape; pass an array of inputs');
    if (inputs.length % inputLen !== 0) {
      throw new TypeError(`predictBatch: ${inputs.length} values are not a whole number of examples of ${inputLen}`);
    }
    const out = [];
    for (let i = 0; i < inputs.length; i += inputLen) out.push(inputs.subarray(i, i + inputLen));
    return out;
  }
  if (!Array.isArray(inputs)) throw new TypeError('predictBatch takes an array of Float32Array or one Float32Array');
  const size = inputLen ?? inputs[0]?.length;
  inputs.forEach((x, i) => {
    if (!(x instanceof Float32Array)) throw new TypeError(`predictBatch: input ${i} is not a Float32Array`);
    if (x.length !== size) throw new TypeError(`predictBatch: input ${i} has ${x.length} values, expected ${size}`);
  });
  return inputs;
}

/** @param {AbortSignal | undefined} signal */
function abortError(signal) {
  const reason = signal?.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return new DOMException('predictBatch was aborted', 'AbortError');
}

/**
 * Runs `predict` on each chunk and splits its flat output per example.
 * @param {Float32Array[]} items
 * @param {(flat: Float32Array, count: number) => Promise<Float32Array>} predict
 * @param {BatchOptions} [options]
 * @returns {Promise<Float32Array[]>}
 */
export async function runChunks(items, predict, { onProgress, signal, chunkSize = DEFAULT_CHUNK } = {}) {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`predictBatch: chunkSize must be a positive integer, not ${chunkSize}`);
  if (signal?.aborted) throw abortError(signal);
  /** @type {Promise<never>} */
  const aborted = new Promise((_, reject) => {
    signal?.addEventListener('abort', () => reject(abortError(signal)), { once: true });
  });
  aborted.catch(() => {});
  /** @type {Float32Array[]} */
  const out = [];
  const total = items.length;
  for (let start = 0; start < total; start += chunkSize) {
    if (signal?.aborted) throw abortError(signal);
    const chunk = items.slice(start, start + chunkSize);
    const flat = new Float32Array(chunk.reduce((n, x) => n + x.length, 0));
    let at = 0;
    for (const x of chunk) {
      flat.set(x, at);
      at += x.length;
    }
    const probs = await Promise.race([predict(flat, chunk.length), aborted]);
    if (probs.length % chunk.length !== 0) {
      throw new Error(`predictBatch: ${probs.length} outputs for ${chunk.length} examples`);
    }
    const classes = probs.length / chunk.length;
    for (let i = 0; i < chunk.length; i++) out.push(probs.slice(i * classes, (i + 1) * classes));
    try {
      onProgress?.({ done: out.length, total });
    } catch { /* a listener never breaks the batch */ }
  }
  return out;
}
