/**
 * @module download
 * Reads a model file's body with byte-level progress and verifies its SHA-256 against the
 * manifest before anyone may use or cache the bytes.
 */
import { IntegrityError } from './errors.js';

/**
 * @typedef {{ role: string, path: string, sha256: string, size: number }} FileEntry
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
 * Reads a response body into one buffer, reporting progress per chunk, then verifies it.
 * @param {Response} response
 * @param {FileEntry} entry
 * @param {string} url
 * @param {(loaded: number) => void} report
 * @returns {Promise<Uint8Array>}
 */
export async function readVerified(response, entry, url, report) {
  // Sized from the manifest, not Content-Length: compressed transfers report the wire size.
  let buffer = new Uint8Array(entry.size);
  let loaded = 0;
  if (!response.body) throw new TypeError(`${url} has no body`);
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > buffer.length) {
      // More bytes than the manifest promised: keep them so the error can name the real hash.
      const grown = new Uint8Array(Math.max(buffer.length * 2, loaded + value.length));
      grown.set(buffer.subarray(0, loaded));
      buffer = grown;
    }
    buffer.set(value, loaded);
    loaded += value.length;
    if (loaded <= entry.size) report(loaded);
  }
  const bytes = loaded === buffer.length ? buffer : buffer.slice(0, loaded);
  await verify(bytes, entry, url);
  return bytes;
}
