/**
 * @module evict
 * Frees the cached files of versions a model's index no longer keeps (`Store.remember`, past
 * `keepVersions`), unless a kept version of any model still uses them: files are stored by
 * content hash and shared. Loaded only when a version is evicted.
 */
import { fileKey, indexKey } from './store.js';

/**
 * @param {Cache} cache
 * @param {string} model the model whose index evicted `evicted`
 * @param {import('./store.js').VersionRecord[]} kept its versions still kept
 * @param {import('./store.js').VersionRecord[]} evicted
 */
export async function deleteUnused(cache, model, kept, evicted) {
  const inUse = new Set(kept.flatMap((v) => v.files));
  for (const request of await cache.keys()) {
    if (!request.url.startsWith(indexKey('')) || request.url === indexKey(model)) continue;
    const other = await (await cache.match(request))?.json().catch(() => null);
    for (const v of other?.versions ?? []) for (const f of v.files) inUse.add(f);
  }
  for (const sha of evicted.flatMap((v) => v.files)) {
    if (!inUse.has(sha)) await cache.delete(fileKey(sha));
  }
}
