/**
 * @module locate
 * Which manifest to load: the channel maps an alias to a version, whose manifest sits next to
 * it. Manifests are immutable, so a verified one in the cache is used without asking the
 * network; when the network fails everywhere, the last verified version of the model is the
 * answer, flagged as offline.
 */
import { BurnEdgeError, NetworkError } from './errors.js';
import { candidates, fetchFromMirrors } from './fetch.js';

/**
 * @typedef {import('./store.js').Store} Store
 * @typedef {import('./store.js').VersionRecord} VersionRecord
 * @typedef {{ channelUrl?: string, manifestUrl?: string, alias: string, mirrors: string[],
 *             retries: number, retryDelay: number }} LocateOptions
 * @typedef {{ manifestUrl: string, manifest: string, version?: string,
 *             served: { channel?: string, manifest: string }, offline: NetworkError | null }} Located
 *   `served` says where each came from: the URL of the mirror that answered, or `'cache'`.
 */

/**
 * The model's folder on the primary CDN: the channel's folder, or the manifest's parent.
 * @param {LocateOptions} o
 */
export function modelFolder(o) {
  if (o.channelUrl) return new URL('./', o.channelUrl).href;
  if (o.manifestUrl) return new URL('../', o.manifestUrl).href;
  throw new BurnEdgeError('loadModel needs channelUrl or manifestUrl', { code: 'OPTIONS' });
}

/**
 * @param {LocateOptions} o
 * @param {Store} store
 * @returns {Promise<Located>}
 */
export async function locate(o, store) {
  const folder = modelFolder(o);
  const known = await store.versions(folder);
  const fetchOptions = { retries: o.retries, retryDelay: o.retryDelay };
  /** @param {NetworkError} err */
  const offline = (err) => {
    // Prefer what was last loaded under the same alias (stable vs canary), else the newest.
    const pick = known.find((v) => v.alias === o.alias) ?? known[0];
    if (!pick) throw err;
    return { manifestUrl: pick.manifestUrl, manifest: pick.manifest, version: pick.version,
      served: { channel: o.channelUrl && 'cache', manifest: 'cache' }, offline: err };
  };

  let manifestUrl = o.manifestUrl ?? '';
  /** @type {string | undefined} */
  let version;
  /** @type {string | undefined} */
  let channelServed;
  if (o.channelUrl) {
    const channelUrl = o.channelUrl;
    /** @type {any} */
    let channel;
    try {
      ({ value: channel, url: channelServed } = await fetchFromMirrors(candidates(new URL(channelUrl).href, folder, o.mirrors), {
        ...fetchOptions, what: `the channel ${channelUrl}`, consume: (r) => r.json(),
      }));
    } catch (err) {
      if (err instanceof NetworkError) return offline(err);
      throw err;
    }
    if (channel?.schemaVersion !== 1) {
      throw new BurnEdgeError(`${channelUrl} has schemaVersion ${channel?.schemaVersion}, which this loader does not ` +
        'read: update the burn-edge package', { code: 'INVALID_CHANNEL' });
    }
    version = channel.aliases?.[o.alias];
    if (typeof version !== 'string') {
      throw new BurnEdgeError(`${channelUrl} has no alias "${o.alias}" (it has: ${Object.keys(channel.aliases ?? {}).join(', ')}); ` +
        'pass one of those as alias', { code: 'UNKNOWN_ALIAS' });
    }
    manifestUrl = new URL(`${version}/manifest.json`, channelUrl).href;
  }
  manifestUrl = new URL(manifestUrl).href;

  const cached = known.find((v) => v.manifestUrl === manifestUrl);
  if (cached) {
    return { manifestUrl, manifest: cached.manifest, version: cached.version,
      served: { channel: channelServed, manifest: 'cache' }, offline: null };
  }
  try {
    const { value, url } = await fetchFromMirrors(candidates(manifestUrl, folder, o.mirrors), {
      ...fetchOptions, what: `the manifest ${manifestUrl}`,
      consume: async (r) => {
        const text = await r.text();
        JSON.parse(text); // a captive portal's HTML page counts as a failed mirror
        return text;
      },
    });
    return { manifestUrl, manifest: value, version, served: { channel: channelServed, manifest: url }, offline: null };
  } catch (err) {
    if (err instanceof NetworkError) return offline(err);
    throw err;
  }
}
