/**
 * @module locate
 * Which manifest to load: the channel maps an alias to a version, whose manifest sits next to
 * it. With a pinned public key, the channel and the manifest are each verified against their
 * detached signatures (`.sig`) before anything in them is used or cached, and what is signed is
 * bound to what was asked (the manifest's name and version are the channel's name and the
 * alias's version; a channel older than the last verified one is a replay). Versions must be
 * semver and every URL built stays inside the model folder, key or not. Manifests are immutable,
 * so a verified one in the cache (its signature checked again) is used without asking the
 * network; when the network fails everywhere, the last verified version of the model is the
 * answer, flagged as offline (offline.js, loaded only then).
 */
import { BurnEdgeError, IntegrityError, NetworkError } from './errors.js';
import { readAtMost } from './download.js';
import { candidates, fetchFromMirrors, fetchWithStallTimeout } from './fetch.js';
import { verifySignature } from './signature.js';
import { insideFolder, isSemver } from './urls.js';

/**
 * @typedef {import('./store.js').Store} Store
 * @typedef {import('./store.js').VersionRecord} VersionRecord
 * @typedef {import('./signature.js').TrustKey} TrustKey
 * @typedef {import('./signature.js').SignedKind} SignedKind
 * @typedef {import('./assign.js').Channel} Channel
 * @typedef {import('./assign.js').Assignment} Assignment
 * @typedef {{ channelUrl?: string, manifestUrl?: string, alias: string, mirrors: string[],
 *             retries: number, retryDelay: number, stallTimeout?: number, trust: TrustKey | null }} LocateOptions
 * @typedef {{ channel: Channel, text: string, signature?: string, url: string, etag: string | null }} ResolvedChannel
 *   `url`: the mirror that served it, or `'cache'`.
 * @typedef {{ manifestUrl: string, manifest: string, signature?: string, version?: string,
 *             served: { channel?: string, manifest: string }, offline: NetworkError | null,
 *             channel?: ResolvedChannel | null, assignment?: Assignment | null }} Located
 * @typedef {(channel: Channel) => Promise<Assignment>} Select
 *   The select stage: the version to serve from a verified channel (offline.js keeps it to the
 *   versions cached).
 *   `served` says where each came from: the URL of the mirror that answered, or `'cache'`.
 *   `signature` is the manifest's `.sig` text, kept with it in the cache (when a key was pinned).
 */

/** Channel and manifest files are small; a mirror sending more is refused, not buffered. */
const FILE_LIMIT = 1 << 20;
const SIGNATURE_LIMIT = 4096;
/** How long a file whose signature does not match waits before it is asked for once more. */
const RESIGN_GRACE_MS = 250;

/**
 * The model's folder on the primary CDN: the channel's folder, or the manifest's parent.
 * @param {{ channelUrl?: string, manifestUrl?: string }} o
 */
export function modelFolder(o) {
  if (o.channelUrl) return new URL('./', o.channelUrl).href;
  if (o.manifestUrl) return new URL('../', o.manifestUrl).href;
  throw new BurnEdgeError('loadModel needs channelUrl or manifestUrl', { code: 'OPTIONS' });
}

/**
 * Whether a cached version may be used under `trust`: always without a key; with one, only if
 * its stored signature still verifies (a record cached without a key has none).
 * @param {TrustKey | null} trust
 * @param {VersionRecord} record
 */
export async function trustedRecord(trust, record) {
  if (!trust) return true;
  try {
    await verifySignature(trust, 'manifest', new TextEncoder().encode(record.manifest), record.signature ?? null,
      { file: 'manifest', url: 'the cache' });
    return true;
  } catch {
    return false;
  }
}

/** @param {string} url */
const signatureUrl = (url) => `${url}.sig`;

/**
 * A file's signature from the mirror that served the file; null when it has none (404/410).
 * Other failures count as that mirror failing.
 * @param {string} url the signed file's URL
 * @param {RequestInit} [init]
 */
async function fetchSignature(url, init) {
  const response = await fetchWithStallTimeout(signatureUrl(url), init);
  if (response.status === 404 || response.status === 410) return null;
  if (!response.ok) throw new TypeError(`${signatureUrl(url)}: HTTP ${response.status}`);
  return new TextDecoder().decode(await readAtMost(response, SIGNATURE_LIMIT, { file: 'signature', url: signatureUrl(url) }));
}

/**
 * Fetches a channel or manifest from the mirrors and, with a key, its signature from the same
 * mirror, and verifies it before `check` (parsing, binding) sees it. A mirror whose copy fails
 * is ruled out and the next one tried.
 * @template T
 * @param {string} url on the primary CDN
 * @param {string} folder
 * @param {LocateOptions} o
 * @param {SignedKind} kind
 * @param {string} what for messages
 * @param {(text: string, from: string) => T | Promise<T>} check parses; throws to refuse
 * @param {RequestInit} [init] e.g. `{ cache: 'no-cache' }` for a re-check past the HTTP cache
 * @returns {Promise<{ value: T, text: string, signature: string | undefined, url: string, etag: string | null }>}
 */
async function fetchSigned(url, folder, o, kind, what, check, init) {
  const file = url.slice(folder.length);
  const { value, url: servedBy } = await fetchFromMirrors(candidates(url, folder, o.mirrors), {
    retries: o.retries, retryDelay: o.retryDelay, stallTimeout: o.stallTimeout, what, init,
    consume: async (response, from) => {
      const etag = response.headers.get('etag');
      let bytes = await readAtMost(response, FILE_LIMIT, { file, url: from });
      /** @type {string | null} */
      let signature = null;
      if (o.trust) {
        signature = await fetchSignature(from, init);
        try {
          await verifySignature(o.trust, kind, bytes, signature, { file, url: from });
        } catch (err) {
          if (!(err instanceof IntegrityError)) throw err;
          // An HTTP-cached file beside a fresh signature, or a file and its signature caught
          // between the publisher's two writes (a release moments ago): ask once more past the
          // cache, both from this mirror, a moment later, before calling it tampered.
          await new Promise((resolve) => setTimeout(resolve, RESIGN_GRACE_MS));
          const again = await fetchWithStallTimeout(from, { cache: 'no-cache' });
          if (!again.ok) throw err;
          bytes = await readAtMost(again, FILE_LIMIT, { file, url: from });
          signature = await fetchSignature(from, { cache: 'no-cache' });
          await verifySignature(o.trust, kind, bytes, signature, { file, url: from });
        }
      }
      const text = new TextDecoder().decode(bytes);
      return { value: await check(text, from), text, signature: signature ?? undefined, etag };
    },
  });
  return { ...value, url: servedBy };
}

/**
 * Parses and checks a channel's text: JSON, a schema version this loader reads (1, or 2 with a
 * `rollout` section), and a valid rollout section (ChannelError otherwise; the rules' code,
 * `assign.js`, is loaded only for a channel that has one).
 * @param {string} text
 * @param {string} url for messages
 * @returns {Promise<Channel>}
 */
export async function parseChannel(text, url) {
  const channel = JSON.parse(text);
  if (channel?.schemaVersion !== 1 && channel?.schemaVersion !== 2) {
    throw new BurnEdgeError(`${url} has schemaVersion ${channel?.schemaVersion}, which this loader does not ` +
      'read: update the burn-edge package', { code: 'INVALID_CHANNEL' });
  }
  if (typeof channel.aliases !== 'object' || channel.aliases === null) {
    throw new BurnEdgeError(`${url} has no aliases object`, { code: 'INVALID_CHANNEL' });
  }
  if (channel.rollout !== undefined) (await import('./assign.js')).validateRollout(channel);
  return channel;
}

/**
 * The resolve stage's channel half: fetches the channel (and, with a key, its signature) from
 * the mirrors, verifies it, refuses a replay, parses and validates it, and remembers it (text
 * and signature) for offline use. NetworkError when no mirror answers.
 * @param {LocateOptions & { channelUrl: string }} o
 * @param {Store} store
 * @param {RequestInit} [init]
 * @returns {Promise<ResolvedChannel>}
 */
export async function resolveChannel(o, store, init) {
  const folder = modelFolder(o);
  const channelUrl = new URL(o.channelUrl).href;
  const lastUpdate = o.trust ? await store.channelUpdatedAt(folder) : null;
  const { value: channel, url, text, signature, etag } = await fetchSigned(channelUrl, folder, o, 'channel', `the channel ${channelUrl}`,
    (text, from) => {
      const parsed = JSON.parse(text); // a captive portal's HTML page counts as a failed mirror
      const updated = Date.parse(parsed?.updatedAt);
      if (lastUpdate && !(updated >= Date.parse(lastUpdate))) {
        throw new IntegrityError({ file: 'channel.json', url: from, reason: `the channel's updatedAt ` +
          `${parsed?.updatedAt} is older than the last verified one (${lastUpdate}): a replayed or rolled-back channel` });
      }
      return parsed;
    }, init);
  const parsed = await parseChannel(text, channelUrl);
  if (o.trust && typeof channel.updatedAt === 'string') {
    await store.rememberChannel(folder, channel.updatedAt).catch(() => {});
  }
  await store.rememberChannelText(folder, { text, signature }).catch(() => {});
  return { channel: parsed, text, signature, url, etag };
}

/**
 * @param {LocateOptions} o
 * @param {Store} store
 * @param {Select} [select] the select stage; default: the alias's version
 * @returns {Promise<Located>}
 */
export async function locate(o, store, select) {
  // Offline (no mirror answers): the last verified version, from the cache (offline.js).
  const offline = async (/** @type {NetworkError} */ err) => (await import('./offline.js')).locateOffline(o, store, select, err);
  if (!o.channelUrl) return locateManifest(o, store, {}, offline);
  /** @type {ResolvedChannel} */
  let resolved;
  try {
    resolved = await resolveChannel({ ...o, channelUrl: o.channelUrl }, store);
  } catch (err) {
    if (err instanceof NetworkError) return offline(err);
    throw err;
  }
  const assignment = select ? await select(resolved.channel) : null;
  const version = assignment?.version ?? aliasVersion(resolved.channel, o.alias, o.channelUrl);
  const located = await locateManifest(o, store, { version, modelName: resolved.channel.name, channelServed: resolved.url }, offline);
  return { ...located, channel: resolved, assignment: located.offline ? null : assignment };
}

/**
 * The alias's version in a verified channel (UNKNOWN_ALIAS when it has none).
 * @param {Channel} channel
 * @param {string} alias
 * @param {string} url
 */
export function aliasVersion(channel, alias, url) {
  const version = Object.hasOwn(channel.aliases ?? {}, alias) ? channel.aliases[alias] : undefined;
  if (typeof version !== 'string') {
    throw new BurnEdgeError(`${url} has no alias "${alias}" (it has: ${Object.keys(channel.aliases ?? {}).join(', ')}); ` +
      'pass one of those as alias', { code: 'UNKNOWN_ALIAS' });
  }
  return version;
}

/**
 * The resolve stage's manifest half: the verified manifest of `version` (from the cache when
 * verified there before), bound to the channel's model name and that version.
 * @param {LocateOptions} o
 * @param {Store} store
 * @param {{ version?: string, modelName?: string, channelServed?: string }} from
 * @param {(err: NetworkError) => Promise<Located>} [offline] what to serve when no mirror answers
 * @returns {Promise<Located>}
 */
export async function locateManifest(o, store, { version, modelName, channelServed }, offline) {
  const folder = modelFolder(o);
  const known = await store.versions(folder);
  let manifestUrl = o.manifestUrl ?? '';
  if (o.channelUrl) {
    if (!isSemver(version)) {
      throw new IntegrityError({ file: 'channel.json', url: channelServed ?? o.channelUrl, reason: `alias "${o.alias}" points to ` +
        `${JSON.stringify(String(version).slice(0, 100))}, which is not a semantic version; no URL is built from it` });
    }
    manifestUrl = new URL(`${version}/manifest.json`, o.channelUrl).href;
  }
  manifestUrl = new URL(manifestUrl).href;
  if (!insideFolder(manifestUrl, folder)) {
    throw new IntegrityError({ file: 'manifest', url: manifestUrl, reason: `it lies outside the model folder ${folder}` });
  }
  // The version the manifest must declare: the alias's, or the one its URL names.
  const expectedVersion = version ?? (() => {
    const segment = decodeURIComponent(manifestUrl.slice(folder.length).split('/')[0]);
    return isSemver(segment) ? segment : undefined;
  })();

  const cached = known.find((v) => v.manifestUrl === manifestUrl);
  if (cached && await trustedRecord(o.trust, cached)) {
    return { manifestUrl, manifest: cached.manifest, signature: cached.signature, version: cached.version,
      served: { channel: channelServed, manifest: 'cache' }, offline: null };
  }
  try {
    const { text, signature, url } = await fetchSigned(manifestUrl, folder, o, 'manifest', `the manifest ${manifestUrl}`,
      (text, from) => {
        const manifest = JSON.parse(text);
        const file = manifestUrl.slice(folder.length);
        if (modelName !== undefined && manifest?.name !== modelName) {
          throw new IntegrityError({ file, url: from, reason: `it describes model "${manifest?.name}", the channel is for "${modelName}"` });
        }
        if (expectedVersion !== undefined && manifest?.version !== expectedVersion) {
          throw new IntegrityError({ file, url: from, reason: `it describes version ${manifest?.version}, ` +
            `${version ? `the channel's alias "${o.alias}" points to` : 'its URL names'} ${expectedVersion}` });
        }
        return manifest;
      });
    return { manifestUrl, manifest: text, signature, version, served: { channel: channelServed, manifest: url }, offline: null };
  } catch (err) {
    if (err instanceof NetworkError && offline) return offline(err);
    if (err instanceof IntegrityError) err.wanted = version ?? expectedVersion ?? manifestUrl;
    throw err;
  }
}
