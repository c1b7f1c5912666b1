/**
 * @module select-rules
 * The select stage for a channel with a `rollout` section or a pin (select.js loads it only
 * then): the unit (the page's `id`, else the anonymous install id, created only once a rule needs
 * it), its attributes and the arms stored for it go into `assign.js`; a rule's arm that serves is
 * stored per unit (reloads stay sticky) and is new once (an exposure is due).
 */
import { assign, stickyKey } from './assign.js';

/** Separates the unit id from the sticky key in the stored assignments' keys. */
const UNIT = '\u0000';

/**
 * @typedef {import('./assign.js').Assignment} Assignment
 * @typedef {import('./assign.js').Channel} Channel
 * @typedef {import('./store.js').ModelIndex} ModelIndex
 */

/**
 * @param {import('./select.js').SelectOptions} o
 */
export function createRules(o) {
  /** @type {string | null} */
  let unit = typeof o.id === 'string' ? o.id : null;
  // The install id is only created (in localStorage) once a rule needs it: a page without rules,
  // or opted out of telemetry on a channel without rules, stores nothing.
  const unitId = async () => (unit ??= await (typeof o.id === 'function' ? o.id() : (await import('./identity.js')).installIdentity()));
  /**
   * This unit's stored assignments: they are kept per unit id (`id` + UNIT + sticky key), so
   * ids a page gives (several users of one browser) never share an arm.
   * @param {ModelIndex} index
   * @returns {Promise<Record<string, string>>}
   */
  const storedFor = async (index) => {
    const id = await unitId();
    return Object.fromEntries(Object.entries(index.assignments ?? {})
      .filter(([k, v]) => k.startsWith(`${id}${UNIT}`) && typeof v === 'string').map(([k, v]) => [k.slice(id.length + 1), v]));
  };
  /** Sticky keys + arms reported by this page (where nothing can be stored, once per page). */
  const reported = new Set();

  return {
    /**
     * @param {Channel} channel
     * @param {ModelIndex} index
     * @param {string | null} pin
     * @returns {Promise<Assignment>}
     */
    async assign(channel, index, pin) {
      const ruled = !pin && !channel.rollout?.kill && (channel.rollout?.rules ?? []).some((r) => r.alias === o.alias);
      return assign(channel, { alias: o.alias, id: ruled ? await unitId() : null, attributes: o.attributes, now: Date.now(),
        stored: ruled ? await storedFor(index) : {}, pin });
    },
    /**
     * Stores the arm of `a` (a rule's) for this unit, and the Assignment served for the alias.
     * @param {ModelIndex} index
     * @param {Assignment & { rule: string, arm: string }} a
     * @returns {Promise<boolean>} whether it is new (an exposure is due)
     */
    async served(index, a) {
      const key = stickyKey({ key: a.rule, bucketVersion: a.bucketVersion ?? 0 });
      const isNew = (await storedFor(index))[key] !== a.arm && !reported.has(`${key}=${a.arm}`);
      reported.add(`${key}=${a.arm}`);
      await o.store.rememberAssignments(o.folder, { [`${await unitId()}${UNIT}${key}`]: a.arm }, o.alias, a).catch(() => {});
      return isNew;
    },
  };
}
