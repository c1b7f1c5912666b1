/**
 * @module select
 * The loader's select stage: from a verified channel, the unit (the page's `id`, else the
 * anonymous install id), its attributes, the developer pin and the assignments stored for this
 * model, the Assignment to serve. A plain channel (no `rollout` section) serves its alias's
 * version; the rules' code (`select-rules.js` over `assign.js`) is loaded only for a channel with
 * a `rollout` section or a pin. New assignments are stored (reloads are sticky) and reported
 * once as `burn_edge.exposure` when they first serve. (Offline, offline.js keeps the assignment to
 * a version already cached.)
 */
import { aliasVersion } from './locate.js';

/**
 * @typedef {import('./assign.js').Assignment} Assignment
 * @typedef {import('./assign.js').Channel} Channel
 * @typedef {{ store: import('./store.js').Store, folder: string, alias: string, id?: string | (() => string | Promise<string>) | null,
 *             attributes?: Record<string, unknown>, pin?: string | null, pageUrl?: string }} SelectOptions
 *   `id`: the unit; unset, the anonymous install id (identity.js), created only once a rule needs it
 */

/**
 * A developer pin from the page URL: `burn-edge-pin=1.1.0` or `burn-edge-pin=mnist@1.1.0`
 * (which applies only to that model).
 * @param {string | undefined} href
 * @param {string | undefined} model the channel's name
 * @returns {string | null}
 */
export function pinFromUrl(href, model) {
  if (!href) return null;
  let value;
  try {
    value = new URL(href).searchParams.get('burn-edge-pin');
  } catch {
    return null;
  }
  if (!value) return null;
  const at = value.lastIndexOf('@');
  if (at < 0) return value;
  return value.slice(0, at) === model ? value.slice(at + 1) : null;
}

/**
 * The select function for `locate` and the re-checks, and `served` to record what serves.
 * @param {SelectOptions} o
 */
export function createSelector(o) {
  /**
   * The rules' half, loaded for the first channel that has rules or a pin.
   * @type {Promise<ReturnType<typeof import('./select-rules.js').createRules>> | null}
   */
  let rules = null;
  const ruling = () => (rules ??= import('./select-rules.js').then((m) => m.createRules(o)));
  /**
   * @param {Channel} channel
   * @returns {Promise<Assignment>}
   */
  async function select(channel) {
    const pin = o.pin ?? pinFromUrl(o.pageUrl, channel.name);
    return pin || channel.rollout ? (await ruling()).assign(channel, await o.store.index(o.folder), pin)
      : { version: aliasVersion(channel, o.alias, 'the channel'), alias: o.alias, rule: null, kind: 'alias', arm: null, bucket: null,
        bucketVersion: null };
  }

  /**
   * Records that `a` now serves: stores its sticky arm and, the first time this install got it,
   * queues it for an exposure event.
   * @param {Assignment} a
   * @returns {Promise<boolean>} whether it is new (an exposure is due)
   */
  async function served(a) {
    const index = await o.store.index(o.folder);
    if (a.rule !== null && a.arm !== null) return (await ruling()).served(index, /** @type {Assignment & { rule: string, arm: string }} */ (a));
    await o.store.rememberAssignments(o.folder, {}, o.alias, a).catch(() => {});
    return false;
  }

  return { select, served };
}
