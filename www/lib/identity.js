/**
 * @module identity
 * Random ids: a v4 UUID (prediction and event ids) and the anonymous install id that rollout
 * assignment hashes and telemetry reports. Apart from `telemetry.js` so a page that sends no
 * telemetry does not load it.
 */

export const INSTALL_ID_KEY = 'burn-edge.install-id';

/** A random v4 UUID, also outside secure contexts where `crypto.randomUUID` is missing. */
export function uuid() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The anonymous install id from localStorage, created on first use; per page when storage is
 * refused. Telemetry reports it, and rollout assignment hashes it (also without telemetry).
 */
export function installIdentity() {
  try {
    let id = localStorage.getItem(INSTALL_ID_KEY);
    if (!id) {
      id = uuid();
      localStorage.setItem(INSTALL_ID_KEY, id);
    }
    return id;
  } catch {
    return uuid();
  }
}
