/**
 * @module select
 * The loader's select stage: from a verified channel, the unit (the page's `id`, else the
 * anonymous install id), its attributes, the developer pin and the assignments stored for this
 * model, the Assignment to serve (`assign.js`). New assignments are stored (reloads stay
 * sticky) and reported once as `burn_edge.exposure` when they first serve. Offline, only a
 * version already cached is assigned; otherwise the assignment served last, if cached.
 */
import { assign, pinFromUrl, stickyKey } from './assign.js';

/** Separates the unit id from the sticky key in the stored assignments' keys. */
const UNIT = '\u0000';

/**
 * @typedef {import('./assign.js').Assignment} Assignment
 * @typedef {import('./assign.js').Channel} Channel
 * @typedef {{ store: import('./store.js').Store, folder: string, alias: string, id: string | (() => string),
 *             attributes?: Record<string, unknown>, pin?: string | null, pageUrl?: string }} SelectOptions
 */

/**
 * The select function for `locate` and the re-checks, and `served` to record what serves.
 * @param {SelectOptions} o
 */
export function createSelector(o) {
  /**
   * This unit's stored assignments: they are kept per unit id (`id` + UNIT + sticky key), so
   * ids a page gives (several users of one browser) never share an arm.
   * @param {import('./store.js').ModelIndex} index
   * @returns {Record<string, string>}
   */
  const storedFor = (index) => {
    const id = unitId();
    return Object.fromEntries(Object.entries(index.assignments ?? {})
      .filter(([k, v]) => k.startsWith(`${id}${UNIT}`) && typeof v === 'string').map(([k, v]) => [k.slice(id.length + 1), v]));
  };
  /** @type {string | null} */
  let unit = typeof o.id === 'string' ? o.id : null;
  // The install id is only created (in localStorage) once a rule needs it: a page without rules,
  // or opted out of telemetry on a channel without rules, stores nothing.
  const unitId = () => (unit ??= typeof o.id === 'function' ? o.id() : o.id);
  /** @param {Channel} channel */
  const needsUnit = (channel) => !channel.rollout?.kill && (channel.rollout?.rules ?? []).some((r) => r.alias === o.alias);
  /** Sticky keys + arms reported by this page (where nothing can be stored, once per page). */
  const reported = new Set();
  /**
   * @param {Channel} channel
   * @param {{ offline: boolean, cached: string[] }} context
   * @returns {Promise<Assignment | null>}
   */
  async function select(channel, { offline, cached }) {
    const index = await o.store.index(o.folder);
    const pin = o.pin ?? pinFromUrl(o.pageUrl, channel.name);
    const ruled = !pin && needsUnit(channel);
    const stored = ruled ? storedFor(index) : {};
    const a = assign(channel, { alias: o.alias, id: ruled ? unitId() : null, attributes: o.attributes, now: Date.now(), stored, pin });
    if (offline && !cached.includes(a.version)) {
      const previous = /** @type {Assignment | undefined} */ (index.served?.[o.alias]);
      return previous && typeof previous.version === 'string' && cached.includes(previous.version) ? previous : null;
    }
    return a;
  }

  /**
   * Records that `a` now serves: stores its sticky arm and, the first time this install got it,
   * queues it for an exposure event.
   * @param {Assignment} a
   * @returns {Promise<boolean>} whether it is new (an exposure is due)
   */
  async function served(a) {
    const index = await o.store.index(o.folder);
    const key = a.rule !== null && a.arm !== null ? stickyKey({ key: a.rule, bucketVersion: a.bucketVersion ?? 0 }) : null;
    const isNew = key !== null && storedFor(index)[key] !== a.arm && !reported.has(`${key}=${a.arm}`);
    if (key) reported.add(`${key}=${a.arm}`);
    await o.store.rememberAssignments(o.folder, key && a.arm ? { [`${unitId()}${UNIT}${key}`]: a.arm } : {}, o.alias, a).catch(() => {});
    return isNew;
  }

  return { select, served };
}
