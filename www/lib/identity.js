/**
 * @module identity
 * Ids: time-ordered v7 UUIDs (RFC 9562) for events and predictions, and the anonymous install
 * id (a random v4 UUID: it tells nothing of when it was made) that rollout assignment hashes and
 * telemetry reports. Apart from `telemetry.js` so a page that sends no telemetry does not load it.
 */

export const INSTALL_ID_KEY = 'burn-edge.install-id';

/**
 * A fresh UUID: v7 (48 bits of Unix milliseconds, then 74 random bits), so ids made at about
 * the same time sort together and the collector's indexes on them take appends, not random
 * inserts; v4 (122 random bits) when `random`. Works outside secure contexts too.
 * @param {boolean} [random]
 */
export function uuid(random = false) {
  const b = crypto.getRandomValues(new Uint8Array(16));
  for (let i = 5, t = Date.now(); i >= 0 && !random; i--, t = Math.floor(t / 256)) b[i] = t % 256;
  b[6] = (b[6] & 0x0f) | (random ? 0x40 : 0x70);
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
      id = uuid(true);
      localStorage.setItem(INSTALL_ID_KEY, id);
    }
    return id;
  } catch {
    return uuid(true);
  }
}
