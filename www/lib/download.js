/**
 * @module download
 * Reads a model file's body with byte-level progress and verifies its SHA-256 against the
 * manifest before anyone may use or cache the bytes.
 */
import { IntegrityError } from './errors.js';

/**
 * @typedef {{ role: string, path: string, sha256: string, size: number, variant?: string }} FileEntry
 * @typedef {{ file: string, loaded: number, total: number }} Progress
 */

/**
 * Lowercase hex SHA-256 of some bytes.
 * @param {Uint8Array} bytes
 */
export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', /** @type {Uint8Array<ArrayBuffer>} */ (bytes)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Progress reporting that only ever rises: a retry on another mirror starts its count again
 * from zero, the caller's bar does not.
 * @param {FileEntry} entry
 * @param {((p: Progress) => void) | undefined} onProgress
 */
export function progressReporter(entry, onProgress) {
  let shown = -1;
  /** @param {number} loaded */
  return (loaded) => {
    const value = Math.min(loaded, entry.size);
    if (value <= shown || !onProgress) return;
    shown = value;
    try {
      onProgress({ file: entry.path, loaded: value, total: entry.size });
    } catch {
      // A throwing progress callback must not fail the download.
    }
  };
}

/**
 * Throws IntegrityError unless `bytes` are exactly the manifest's file.
 * @param {Uint8Array} bytes
 * @param {FileEntry} entry
 * @param {string} url where the bytes came from, for the message
 */
export async function verify(bytes, entry, url) {
  const actual = await sha256Hex(bytes);
  if (actual !== entry.sha256 || bytes.length !== entry.size) {
    throw new IntegrityError({
      file: entry.path, url, expected: entry.sha256, actual, size: bytes.length, expectedSize: entry.size,
    });
  }
}

/**
 * Reads a response body, failing with IntegrityError once it passes `limit` bytes: a mirror
 * that keeps sending cannot grow the buffer without bound. Stops reading (and cancels the
 * stream) at the first byte too many.
 * @param {Response} response
 * @param {number} limit most bytes accepted
 * @param {{ file: string, url: string }} what for the error
 * @param {(loaded: number) => void} [report] progress, per chunk
 * @param {number} [expected] bytes expected, to size the buffer up front
 * @returns {Promise<Uint8Array>}
 */
export async function readAtMost(response, limit, what, report, expected) {
  if (!response.body) throw new TypeError(`${what.url} has no body`);
  // Sized from the manifest, not Content-Length: compressed transfers report the wire size.
  let buffer = new Uint8Array(Math.min(expected ?? 16 * 1024, limit));
  let loaded = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > limit) {
      reader.cancel().catch(() => {});
      throw new IntegrityError({ ...what, reason: `the body is longer than the ${limit} bytes expected (stopped reading at ${loaded + value.length})` });
    }
    if (loaded + value.length > buffer.length) {
      const grown = new Uint8Array(Math.min(limit, Math.max(buffer.length * 2, loaded + value.length)));
      grown.set(buffer.subarray(0, loaded));
      buffer = grown;
    }
    buffer.set(value, loaded);
    loaded += value.length;
    report?.(loaded);
  }
  return loaded === buffer.length ? buffer : buffer.slice(0, loaded);
}

/**
 * Reads a model file's body into one buffer, reporting progress per chunk, then verifies it.
 * More bytes than the manifest's size fail at once (IntegrityError: that mirror is ruled out).
 * @param {Response} response
 * @param {FileEntry} entry
 * @param {string} url
 * @param {(loaded: number) => void} report
 * @returns {Promise<Uint8Array>}
 */
export async function readVerified(response, entry, url, report) {
  const bytes = await readAtMost(response, entry.size, { file: entry.path, url }, report, entry.size);
  await verify(bytes, entry, url);
  return bytes;
}
