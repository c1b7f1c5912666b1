/**
 * @module offline
 * What serves when the network does not: the last verified version of a model from the cache
 * (with a pinned key, only one whose stored signature still verifies), and offline, the last
 * verified channel (its signature checked again) assigning among the cached versions. Loaded
 * only when a load cannot reach any mirror or its new version fails (index.js, locate.js).
 */
import { IntegrityError } from './errors.js';
import { modelFolder, parseChannel, trustedRecord } from './locate.js';
import { verifySignature } from './signature.js';

/**
 * @typedef {import('./store.js').Store} Store
 * @typedef {import('./store.js').VersionRecord} VersionRecord
 * @typedef {import('./signature.js').TrustKey} TrustKey
 * @typedef {import('./locate.js').ResolvedChannel} ResolvedChannel
 * @typedef {import('./locate.js').Located} Located
 * @typedef {import('./errors.js').NetworkError} NetworkError
 * @typedef {import('./assign.js').Assignment} Assignment
 */

/**
 * A cached version to serve instead of the one asked for: the last used under the same alias
 * (stable vs canary), else the newest; with a key, only one whose signature verifies.
 * @param {Store} store
 * @param {string} folder
 * @param {{ alias: string, trust: TrustKey | null }} o
 * @param {string} [except] a manifest URL not to pick (the one that failed)
 * @returns {Promise<VersionRecord | null>}
 */
export async function lastGood(store, folder, o, except) {
  const known = (await store.versions(folder)).filter((v) => v.manifestUrl !== except);
  const ordered = [...known.filter((v) => v.alias === o.alias), ...known.filter((v) => v.alias !== o.alias)];
  for (const record of ordered) if (await trustedRecord(o.trust, record)) return record;
  return null;
}

/**
 * The last verified channel from the cache (its signature checked again under a key); null
 * when there is none or it no longer verifies or parses.
 * @param {Store} store
 * @param {string} folder
 * @param {TrustKey | null} trust
 * @returns {Promise<ResolvedChannel | null>}
 */
async function cachedChannel(store, folder, trust) {
  const cached = (await store.index(folder)).channel;
  if (!cached) return null;
  try {
    if (trust) {
      await verifySignature(trust, 'channel', new TextEncoder().encode(cached.text), cached.signature ?? null,
        { file: 'channel.json', url: 'the cache' });
    }
    return { channel: await parseChannel(cached.text, 'the cached channel'), text: cached.text, signature: cached.signature, url: 'cache', etag: null };
  } catch {
    return null;
  }
}

/**
 * Versions of the model whose manifest is cached (and trusted under the key); their files were
 * verified and cached when they were recorded.
 * @param {Store} store
 * @param {string} folder
 * @param {TrustKey | null} trust
 */
async function cachedVersions(store, folder, trust) {
  const out = [];
  for (const record of await store.versions(folder)) if (await trustedRecord(trust, record)) out.push(record);
  return out;
}

/**
 * The resolve stage offline (`err`: no mirror answered): assigns from the last verified channel,
 * but only to a version already cached (else the assignment served last, if cached); else the
 * last good version serves; else `err` is thrown.
 * @param {import('./locate.js').LocateOptions} o
 * @param {Store} store
 * @param {import('./locate.js').Select | undefined} select
 * @param {NetworkError} err
 * @returns {Promise<Located>}
 */
export async function locateOffline(o, store, select, err) {
  const folder = modelFolder(o);
  const channel = o.channelUrl && select ? await cachedChannel(store, folder, o.trust) : null;
  const records = await cachedVersions(store, folder, o.trust);
  let assignment = channel && select ? await select(channel.channel) : null;
  const isCached = (/** @type {Assignment | undefined} */ a) => records.some((r) => r.version === a?.version);
  // Offline only a cached version is assigned; otherwise the assignment served last, if cached.
  if (assignment && !isCached(assignment)) {
    const previous = /** @type {Assignment | undefined} */ ((await store.index(folder)).served?.[o.alias]);
    assignment = isCached(previous) ? /** @type {Assignment} */ (previous) : null;
  }
  const pick = (assignment && records.find((r) => r.version === assignment.version)) || await lastGood(store, folder, o);
  if (!pick) throw err;
  return { manifestUrl: pick.manifestUrl, manifest: pick.manifest, signature: pick.signature, version: pick.version,
    served: { channel: o.channelUrl && 'cache', manifest: 'cache' }, offline: err, channel,
    assignment: assignment && assignment.version === pick.version ? assignment : null };
}

/**
 * What serves instead when the version a load located is refused or unreachable (`err`): the
 * last good version (under a key, one whose stored signature still verifies) with the assignment
 * stored as served for it, and why (`info().fallback`). Throws `err` when there is none.
 * @param {Store} store
 * @param {string} folder
 * @param {import('./locate.js').LocateOptions} o
 * @param {Located | null} located what the load located, if it got that far
 * @param {import('./errors.js').BurnEdgeError} err
 * @returns {Promise<{ located: Located, assignment: Assignment | null, fallback: { reason: string, message: string, wanted: string } }>}
 */
export async function fallbackTarget(store, folder, o, located, err) {
  const previous = await lastGood(store, folder, o, located?.manifestUrl);
  if (!previous) throw err;
  const fallback = { reason: err.code, message: err.message,
    wanted: located?.version ?? located?.manifestUrl ?? (err instanceof IntegrityError ? err.wanted : undefined) ??
      (o.channelUrl ? o.alias : o.manifestUrl ?? '') };
  const servedBefore = /** @type {Assignment | undefined} */ ((await store.index(folder)).served?.[o.alias]);
  return { fallback, assignment: servedBefore?.version === previous.version ? servedBefore : null,
    located: { manifestUrl: previous.manifestUrl, manifest: previous.manifest, signature: previous.signature,
      version: previous.version, served: { ...located?.served, manifest: 'cache' }, offline: located?.offline ?? null,
      channel: located?.channel ?? null } };
}
