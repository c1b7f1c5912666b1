/**
 * @module files
 * A model version's files as verified bytes: from the cache when there, else downloaded from
 * the mirrors with progress, verified, then cached. Nothing unverified leaves this module, and
 * nothing is requested from outside the model folder.
 */
import { progressReporter, readVerified } from './download.js';
import { errorMessage, IntegrityError } from './errors.js';
import { candidates, fetchFromMirrors } from './fetch.js';
import { ensureRoom } from './storage.js';
import { insideFolder, isPlainRelativePath } from './urls.js';

/**
 * @typedef {import('./download.js').FileEntry} FileEntry
 * @typedef {import('./download.js').Progress} Progress
 * @typedef {{ entry: FileEntry, bytes: Uint8Array, source: 'network' | 'cache', url: string }} VerifiedFile
 * @typedef {{ folder: string, mirrors: string[], retries: number, retryDelay: number, stallTimeout?: number,
 *             store: import('./store.js').Store, storage: import('./storage.js').StorageState,
 *             onProgress?: (p: Progress) => void, warnings: string[] }} FilesContext
 */

/**
 * Throws IntegrityError unless every file path is a plain relative path (like
 * `../files/<sha256>.bpk`) that resolves inside the model folder.
 * @param {FileEntry[]} entries
 * @param {string} manifestUrl
 * @param {string} folder
 */
export function checkFilePaths(entries, manifestUrl, folder) {
  for (const entry of entries) {
    const url = isPlainRelativePath(entry.path) ? new URL(entry.path, manifestUrl).href : null;
    if (!url || !insideFolder(url, folder)) {
      throw new IntegrityError({ file: String(entry.path).slice(0, 200), url: manifestUrl,
        reason: `the manifest names a file outside the model folder ${folder} (only plain relative paths like ` +
          '../files/<sha256>.bpk are accepted); nothing was fetched' });
    }
  }
}

/**
 * @param {FileEntry[]} entries
 * @param {string} manifestUrl file paths are relative to it
 * @param {FilesContext} ctx
 * @returns {Promise<VerifiedFile[]>}
 */
export async function getFiles(entries, manifestUrl, ctx) {
  checkFilePaths(entries, manifestUrl, ctx.folder);
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
      what: `${entry.role} file ${entry.path}`, retries: ctx.retries, retryDelay: ctx.retryDelay, stallTimeout: ctx.stallTimeout,
      consume: (response, from) => readVerified(response, entry, from, report),
    });
    try {
      await ctx.store.putFile(entry, value);
    } catch (err) {
      // Still usable now; only the next load will download again.
      ctx.warnings.push(`could not cache ${entry.path}: ${errorMessage(err)}`);
    }
    return { entry, bytes: value, source: /** @type {const} */ ('network'), url };
  }));
}
