/**
 * @module telemetry-endpoints
 * Which collector a telemetry batch goes to, when the client was given several (stateless
 * `burn-edge serve --clickhouse` instances on one store, or any OTLP endpoints). A batch goes to
 * the collector in use, the first one at start; when that one fails (network error, timeout,
 * 5xx) the batch goes on to the next at once and the client stays with whichever took it.
 * While another one is in use, the first is tried again every `retryPrimaryMs` (the first is
 * the preferred one: the nearest, or the primary). Resending to another collector is safe:
 * every record carries its `event.id`, and the stores keep one row per (app, event id), so a
 * batch stored by a collector that died before answering is not counted twice.
 */

/**
 * The collectors' OTLP logs URLs, in order, without repeats.
 * @param {ReadonlyArray<string | URL>} endpoints
 * @param {(endpoint: string | URL) => URL} toUrl
 * @returns {URL[]}
 */
export function endpointUrls(endpoints, toUrl) {
  /** @type {Map<string, URL>} */
  const seen = new Map();
  for (const e of endpoints) {
    const url = toUrl(e);
    if (!seen.has(url.href)) seen.set(url.href, url);
  }
  return [...seen.values()];
}

/**
 * @typedef {{ order(): number[], succeeded(index: number): void, failed(index: number): void,
 *             readonly active: number }} EndpointPool
 */

/**
 * The failover state over `count` endpoints.
 * @param {number} count
 * @param {{ retryPrimaryMs: number, now?: () => number }} options
 * @returns {EndpointPool}
 */
export function endpointPool(count, { retryPrimaryMs, now = Date.now }) {
  let active = 0;
  let primaryAgainAt = 0;
  return {
    get active() { return active; },
    /** Endpoint indexes to try for the next batch, in order. */
    order() {
      const rest = Array.from({ length: count }, (_, k) => (active + k) % count);
      return active !== 0 && now() >= primaryAgainAt ? [0, ...rest.filter((i) => i !== 0)] : rest;
    },
    succeeded(index) { active = index; },
    failed(index) {
      if (index === 0) primaryAgainAt = now() + retryPrimaryMs;
      if (index === active) active = (index + 1) % count;
    },
  };
}
