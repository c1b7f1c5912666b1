/**
 * @module storage
 * Asks for persistent storage (so the browser does not evict the cached model under pressure)
 * and checks the quota before a download, so a model that cannot be stored fails up front
 * with QuotaError instead of halfway through.
 */
import { QuotaError } from './errors.js';

/**
 * @typedef {{ persisted: boolean, quota?: number, usage?: number }} StorageState
 */

/**
 * Requests persistence; a refusal is normal (the browser decides) and changes nothing.
 * @returns {Promise<StorageState>}
 */
export async function prepareStorage() {
  const storage = globalThis.navigator?.storage;
  // Ask only when not yet persistent: some browsers prompt the user on every call.
  const persisted = (await storage?.persisted?.().catch(() => false)) ||
    ((await storage?.persist?.().catch(() => false)) ?? false);
  const estimate = await storage?.estimate?.().catch(() => undefined);
  return { persisted, quota: estimate?.quota, usage: estimate?.usage };
}

/**
 * Throws QuotaError when `needed` more bytes would not fit.
 * @param {number} needed
 * @param {StorageState} state
 */
export function ensureRoom(needed, state) {
  if (needed === 0 || state.quota === undefined) return; // nothing to store, or nothing known
  const available = Math.max(0, state.quota - (state.usage ?? 0));
  if (needed > available) throw new QuotaError({ needed, available });
}
