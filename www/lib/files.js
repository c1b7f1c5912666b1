/**
 * @module files
 * A model version's files as verified bytes: from the cache when there, else downloaded from
 * the mirrors with progress, verified, then cached. Nothing unverified leaves this module.
 */
import { progressReporter, readVerified } from './download.js';
import { candidates, fetchFromMirrors } from './fetch.js';
import { ensureRoom } from './storage.js';

/**
 * @typedef {import('./download.js').FileEntry} FileEntry
 * @typedef {import('./download.js').Progress} Progress
 * @typedef {{ entry: FileEntry, bytes: Uint8Array, source: 'network' | 'cache', url: string }} VerifiedFile
 * @typedef {{ folder: string, mirrors: string[], retries: number, retryDelay: number,
 *             store: import('./store.js').Store, storage: import('./storage.js').StorageState,
 *             onProgress?: (p: Progress) => void, warnings: string[] }} FilesContext
 */

/**
 * @param {FileEntry[]} entries
 * @param {string} manifestUrl file paths are relative to it
 * @param {FilesContext} ctx
 * @returns {Promise<VerifiedFile[]>}
 */
export async function getFiles(entries, manifestUrl, ctx) {
  const cached = await Promise.all(entries.map((entry) => ctx.store.getFile(entry)));
  ensureRoom(entries.reduce((sum, entry, i) => sum + (cached[i] ? 0 : entry.size), 0), ctx.storage);
  return Promise.all(entries.map(async (entry, i) => {
    const report = progressReporter(entry, ctx.onProgress);
    const hit = cached[i];
    if (hit) {
      report(entry.size); // a cached file is complete at once; bars still reach 100%
      return { entry, bytes: hit, source: /** @type {const} */ ('cache'), url: 'cache' };
    }
    report(0);
    const primary = new URL(entry.path, manifestUrl).href;
    const { value, url } = await fetchFromMirrors(candidates(primary, ctx.folder, ctx.mirrors), {
      what: `${entry.role} file ${entry.path}`, retries: ctx.retries, retryDelay: ctx.retryDelay,
      consume: (response, from) => readVerified(response, entry, from, report),
    });
    try {
      await ctx.store.putFile(entry, value);
    } catch (err) {
      // Still usable now; only the next load will download again.
      ctx.warnings.push(`could not cache ${entry.path}: ${err instanceof Error ? err.message : err}`);
    }
    return { entry, bytes: value, source: /** @type {const} */ ('network'), url };
  }));
}
