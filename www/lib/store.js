/**
 * @module store
 * The loader's persistent cache (Cache API). Verified model files are stored under their
 * content hash, so a file is trusted by name and shared between versions; one index entry per
 * model remembers the verified manifests, newest use first, which is what serves a model
 * offline and what eviction trims to `keepVersions`. A manifest is kept with its signature, so a
 * page that pins a key verifies it again when it reads it; the index also remembers the
 * `updatedAt` of the last verified channel, which a replayed older channel cannot pass, the last
 * verified channel's text (and signature, checked again when read), which assigns offline, and
 * the rollout assignments made (rule key + "__" + bucketVersion → arm), which keep reloads sticky.
 */
import { verify } from './download.js';

const CACHE_NAME = 'burn-edge-v1';
/** Synthetic same-origin prefix: never requested from a server, only used as cache keys. */
export const KEY_PREFIX = '/__burn-edge/';

/**
 * @typedef {import('./download.js').FileEntry} FileEntry
 * @typedef {{ version: string, alias?: string, manifestUrl: string, manifest: string, signature?: string,
 *             files: string[], verifiedAt: string }} VersionRecord
 * @typedef {{ text: string, signature?: string }} CachedChannel
 * @typedef {{ model: string, versions: VersionRecord[], channelUpdatedAt?: string, channel?: CachedChannel,
 *             assignments?: Record<string, string>, served?: Record<string, unknown> }} ModelIndex
 *   `served`: the last Assignment served per alias.
 */

/** @param {string} path */
const key = (path) => new URL(KEY_PREFIX + path, self.location.origin).href;

/** Cache key of a verified file. */
export const fileKey = (/** @type {string} */ sha256) => key(`sha256/${sha256}`);
/** Cache key of a model's index entry (`''`: the prefix of them all). */
export const indexKey = (/** @type {string} */ model) => key(`models/${encodeURIComponent(model)}`);

export class Store {
  /** @param {Cache | null} cache null where the Cache API is missing (insecure context) */
  constructor(cache) {
    this.cache = cache;
  }

  /** Opens the cache; without the Cache API the loader still works, only without a cache. */
  static async open() {
    try {
      return new Store(await caches.open(CACHE_NAME));
    } catch {
      return new Store(null);
    }
  }

  /**
   * A cached file's bytes, checked again (storage can rot); null when absent or bad.
   * @param {FileEntry} entry
   * @returns {Promise<Uint8Array | null>}
   */
  async getFile(entry) {
    const hit = await this.cache?.match(fileKey(entry.sha256));
    if (!hit) return null;
    const bytes = new Uint8Array(await hit.arrayBuffer());
    try {
      await verify(bytes, entry, 'the cache');
      return bytes;
    } catch {
      await this.cache?.delete(fileKey(entry.sha256));
      return null;
    }
  }

  /**
   * Stores verified bytes (the Response copies them, so the caller may transfer them next).
   * @param {FileEntry} entry
   * @param {Uint8Array} bytes
   */
  async putFile(entry, bytes) {
    const body = new Response(/** @type {Uint8Array<ArrayBuffer>} */ (bytes), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
    });
    await this.cache?.put(fileKey(entry.sha256), body);
  }

  /**
   * Verified versions of a model, most recently used first.
   * @param {string} model the model's primary folder URL
   * @returns {Promise<VersionRecord[]>}
   */
  async versions(model) {
    return (await this.index(model)).versions;
  }

  /**
   * @param {string} model
   * @returns {Promise<ModelIndex>}
   */
  async index(model) {
    const hit = await this.cache?.match(indexKey(model));
    try {
      const index = hit ? await hit.json() : null;
      const record = (/** @type {unknown} */ v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined);
      const channel = /** @type {CachedChannel | undefined} */ (record(index?.channel));
      return { model, versions: Array.isArray(index?.versions) ? index.versions : [],
        channelUpdatedAt: typeof index?.channelUpdatedAt === 'string' ? index.channelUpdatedAt : undefined,
        channel: typeof channel?.text === 'string' ? channel : undefined,
        assignments: /** @type {Record<string, string> | undefined} */ (record(index?.assignments)),
        served: /** @type {Record<string, unknown> | undefined} */ (record(index?.served)) };
    } catch {
      return { model, versions: [] };
    }
  }

  /**
   * `updatedAt` of the newest channel verified with a key for this model, if any.
   * @param {string} model
   */
  async channelUpdatedAt(model) {
    return (await this.index(model)).channelUpdatedAt ?? null;
  }

  /**
   * Remembers a verified channel's `updatedAt` (only ever moving forward).
   * @param {string} model
   * @param {string} updatedAt
   */
  async rememberChannel(model, updatedAt) {
    await this.update(model, (index) => {
      const known = index.channelUpdatedAt ? Date.parse(index.channelUpdatedAt) : NaN;
      return Date.parse(updatedAt) <= known ? null : { ...index, channelUpdatedAt: updatedAt };
    });
  }

  /**
   * Changes the model's index entry; changes through one Store run one at a time.
   * @param {string} model
   * @param {(index: ModelIndex) => ModelIndex | null} change null: leave it as it is
   */
  update(model, change) {
    const run = this.#queue.then(async () => {
      if (!this.cache) return;
      const next = change(await this.index(model));
      if (next) await this.cache.put(indexKey(model), Response.json(next));
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  #queue = Promise.resolve();

  /**
   * Keeps the last verified channel's text (and signature) to assign from when offline.
   * @param {string} model
   * @param {CachedChannel} channel
   */
  rememberChannelText(model, channel) {
    return this.update(model, (index) => ({ ...index, channel }));
  }

  /**
   * Records rollout assignments (sticky key → arm) and the Assignment served for an alias.
   * @param {string} model
   * @param {Record<string, string>} assignments
   * @param {string} [alias]
   * @param {unknown} [served]
   */
  rememberAssignments(model, assignments, alias, served) {
    return this.update(model, (index) => ({ ...index, assignments: { ...index.assignments, ...assignments },
      served: alias ? { ...index.served, [alias]: served } : index.served }));
  }

  /**
   * Records `record` as the model's most recently used version and evicts the files of versions
   * beyond the newest `keep`, unless a kept version (of any model) still uses them.
   * @param {string} model
   * @param {VersionRecord} record
   * @param {number} keep
   * @returns {Promise<string[]>} the evicted versions
   */
  async remember(model, record, keep) {
    if (!this.cache) return [];
    /** @type {VersionRecord[]} */
    let kept = [];
    /** @type {VersionRecord[]} */
    let evicted = [];
    await this.update(model, (index) => {
      const previous = index.versions.filter((v) => v.version !== record.version);
      const all = [record, ...previous];
      kept = all.slice(0, Math.max(1, keep));
      evicted = all.slice(kept.length);
      return { ...index, versions: kept };
    });
    if (evicted.length === 0 || !this.cache) return [];
    // Evicting is the rare case (a version past `keep`): its code comes by import().
    await (await import('./evict.js')).deleteUnused(this.cache, model, kept, evicted);
    return evicted.map((v) => v.version);
  }
}
