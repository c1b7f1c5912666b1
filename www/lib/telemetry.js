/**
 * @module telemetry
 * Opt-out, sampled, anonymous telemetry as OTLP/HTTP JSON logs (`POST {endpoint}/v1/logs`).
 * The vocabulary (event names, attribute keys and kinds) mirrors
 * `crates/formats/schemas/telemetry.events.json`; a test keeps the two in step.
 *
 * `record` is synchronous and cheap and never throws; sending is asynchronous, batched by size
 * and time, flushed when the page is hidden, and batches that cannot be sent wait in IndexedDB
 * (`telemetry-queue.js`) to be retried with backoff (honouring `Retry-After`), also on the next
 * page load. Nothing is sent or stored when the user opted out, when the browser signals Global
 * Privacy Control, or when this page was sampled out. What is sent is fixed by construction:
 * only the vocabulary's attributes (model inputs are not among them, outputs only as the top
 * class and its probability), the browser as name and major version and the OS as a family
 * (`privacy.js`), and every string with URLs cut to origin and path. The ingest key goes in the
 * `x-burn-edge-key` header; only `sendBeacon`, which cannot set headers, puts it in the URL.
 * Given several collectors (`endpoint: [...]` or `endpoints`), a batch fails over from one to
 * the next (`telemetry-endpoints.js`).
 * Importing this module touches no browser API, so Node can import it.
 */
import { INSTALL_ID_KEY, installIdentity, uuid } from './identity.js';
import { coarseBrowser, osFamily, scrubUrls } from './privacy.js';
import { endpointPool, endpointUrls } from './telemetry-endpoints.js';
import { openQueue } from './telemetry-queue.js';

export { INSTALL_ID_KEY, installIdentity, uuid };

/** @typedef {'string' | 'int' | 'double' | 'bool'} Kind */
/** @typedef {Record<string, string | number | boolean | null | undefined>} Attributes */
/** @typedef {{ key: string, value: Record<string, unknown> }} KeyValue */

/** `[key, kind, required]` rows, as in `telemetry.events.json`. */
const MODEL = /** @type {const} */ ([['burn_edge.model.name', 'string', true], ['burn_edge.model.version', 'string', true]]);
const MODEL_OPT = /** @type {const} */ ([['burn_edge.model.name', 'string', false], ['burn_edge.model.version', 'string', false]]);
const RUN = /** @type {const} */ ([['burn_edge.backend', 'string', true], ['burn_edge.variant', 'string', false],
  ['burn_edge.role', 'string', false]]);
/** Which alias the page asked for and which rollout rule and arm served it (rollout, spec section 2). */
const ROLLOUT = /** @type {const} */ ([['burn_edge.alias', 'string', false], ['burn_edge.rollout.rule', 'string', false],
  ['burn_edge.rollout.arm', 'string', false]]);
const ROLE = /** @type {const} */ ([['burn_edge.role', 'string', false]]);

/** @type {Record<string, ReadonlyArray<readonly [string, Kind, boolean]>>} */
export const EVENTS = {
  'burn_edge.model.load': [['event.id', 'string', true], ...MODEL, ...RUN, ...ROLLOUT,
    ['burn_edge.load.source', 'string', false], ['burn_edge.load.bytes', 'int', false],
    ['burn_edge.load.channel_ms', 'double', false], ['burn_edge.load.manifest_ms', 'double', false],
    ['burn_edge.load.download_ms', 'double', false], ['burn_edge.load.wasm_compile_ms', 'double', false],
    ['burn_edge.load.backend_init_ms', 'double', false], ['burn_edge.load.warmup_ms', 'double', false],
    ['burn_edge.load.time_to_first_prediction_ms', 'double', true], ['burn_edge.route', 'string', false],
    ['burn_edge.backend_choice.chosen', 'string', false], ['burn_edge.backend_choice.reason', 'string', false],
    ['burn_edge.backend_choice.cpu_ms', 'double', false], ['burn_edge.backend_choice.webgpu_ms', 'double', false],
    ['burn_edge.backend_choice.cached', 'bool', false]],
  'burn_edge.inference': [['event.id', 'string', true], ...MODEL, ...RUN,
    ['burn_edge.latency_ms', 'double', true], ['burn_edge.batch_size', 'int', true],
    ['burn_edge.predicted_class', 'int', true], ['burn_edge.confidence', 'double', true],
    ['burn_edge.prediction_id', 'string', false], ...ROLLOUT, ['burn_edge.shadow.of', 'string', false],
    ['burn_edge.route', 'string', false]],
  'burn_edge.backend.fallback': [['event.id', 'string', true], ...MODEL_OPT,
    ['burn_edge.fallback.from', 'string', true], ['burn_edge.fallback.to', 'string', true],
    ['burn_edge.fallback.reason', 'string', true], ...ROLE, ...ROLLOUT],
  'burn_edge.device.lost': [['event.id', 'string', true], ...MODEL_OPT, ['burn_edge.device_lost.reason', 'string', true],
    ['burn_edge.device_lost.to', 'string', false], ['burn_edge.device_lost.replayed', 'int', false]],
  'burn_edge.error': [['event.id', 'string', true], ...MODEL_OPT, ['error.type', 'string', true],
    ['error.message', 'string', true], ['burn_edge.offline', 'bool', false], ...ROLE, ...ROLLOUT],
  'burn_edge.feedback': [['event.id', 'string', true], ['burn_edge.prediction_id', 'string', true],
    ['burn_edge.true_label', 'int', true], ...MODEL_OPT, ...ROLE, ...ROLLOUT],
  'burn_edge.exposure': [['event.id', 'string', true], ...MODEL, ['burn_edge.rollout.rule', 'string', true],
    ['burn_edge.rollout.arm', 'string', true], ['burn_edge.alias', 'string', false], ['burn_edge.rollout.kind', 'string', false],
    ['burn_edge.rollout.bucket', 'double', false], ['burn_edge.rollout.bucket_version', 'int', false]],
  'burn_edge.swap': [['event.id', 'string', true], ['burn_edge.model.name', 'string', true],
    ['burn_edge.swap.from', 'string', true], ['burn_edge.swap.to', 'string', true], ['burn_edge.swap.ms', 'double', true],
    ['burn_edge.swap.reason', 'string', false], ['burn_edge.rollout.rule', 'string', false], ['burn_edge.rollout.arm', 'string', false]],
  'burn_edge.interleave': [['event.id', 'string', true], ['burn_edge.model.name', 'string', true],
    ['burn_edge.rollout.rule', 'string', true], ['burn_edge.interleave.winner', 'string', true],
    ['burn_edge.prediction_id', 'string', false]],
};

/** @type {ReadonlyArray<readonly [string, Kind, boolean]>} */
export const RESOURCE_ATTRIBUTES = [['service.name', 'string', true], ['burn_edge.app', 'string', true],
  ['burn_edge.runtime.version', 'string', true], ['burn_edge.install_id', 'string', true],
  ['user_agent.original', 'string', false], ['browser.platform', 'string', false]];

export const SERVICE_NAME = 'burn-edge-web';
/** Above this a keepalive fetch is refused by browsers; sendBeacon takes over. */
const KEEPALIVE_LIMIT = 64 * 1024;
/** Strings sent are cut to this length (error messages can be long). */
const MAX_STRING = 1024;

/**
 * An OTLP `AnyValue` of the given kind, or null when the value does not fit it.
 * @param {Kind} kind
 * @param {unknown} v
 */
export function anyValue(kind, v) {
  if (v === undefined || v === null) return null;
  switch (kind) {
    case 'string': return { stringValue: String(v).slice(0, MAX_STRING) };
    case 'int': return typeof v === 'number' && Number.isFinite(v) ? { intValue: String(Math.trunc(v)) } : null;
    case 'double': return typeof v === 'number' && Number.isFinite(v) ? { doubleValue: v } : null;
    case 'bool': return typeof v === 'boolean' ? { boolValue: v } : null;
  }
}

/**
 * `Retry-After` (seconds or an HTTP date) in ms; undefined when absent or unreadable (a
 * cross-origin collector must list it in `Access-Control-Expose-Headers`).
 * @param {string | null} header
 */
export function retryAfterMs(header) {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

/** @param {string} eventName */
const severity = (eventName) => (eventName === 'burn_edge.error' ? [17, 'ERROR']
  : eventName === 'burn_edge.backend.fallback' || eventName === 'burn_edge.device.lost' ? [13, 'WARN'] : [9, 'INFO']);

/**
 * One OTLP log record; attributes outside the event's vocabulary, or of the wrong kind, are left
 * out, and URLs in string values are cut to origin and path. Null for an unknown event name.
 * @param {string} eventName
 * @param {Attributes} attrs
 * @param {{ id?: string, timeMs?: number }} [at] event id and time (default: fresh, now)
 */
export function buildRecord(eventName, attrs, at = {}) {
  const spec = EVENTS[eventName];
  if (!spec) return null;
  const time = `${Math.round(at.timeMs ?? Date.now())}000000`;
  /** @type {KeyValue[]} */
  const attributes = [];
  for (const [key, kind] of spec) {
    const raw = key === 'event.id' ? at.id ?? attrs[key] ?? uuid() : attrs[key];
    const value = anyValue(kind, kind === 'string' && raw != null ? scrubUrls(String(raw)) : raw);
    if (value) attributes.push({ key, value });
  }
  const [severityNumber, severityText] = severity(eventName);
  return { timeUnixNano: time, observedTimeUnixNano: time, severityNumber, severityText, eventName,
    body: { stringValue: eventName }, attributes };
}

/**
 * The resource attributes of a batch. `userAgent` and `platform` are sent as given: pass them
 * through `coarseBrowser` / `osFamily` (the client does).
 * @param {{ app: string, runtimeVersion?: string, installId: string, userAgent?: string, platform?: string }} r
 * @returns {KeyValue[]}
 */
export function buildResource({ app, runtimeVersion, installId, userAgent, platform }) {
  /** @type {Attributes} */
  const values = { 'service.name': SERVICE_NAME, 'burn_edge.app': app, 'burn_edge.runtime.version': runtimeVersion || 'unknown',
    'burn_edge.install_id': installId, 'user_agent.original': userAgent, 'browser.platform': platform || undefined };
  /** @type {KeyValue[]} */
  const out = [];
  for (const [key, kind] of RESOURCE_ATTRIBUTES) {
    const value = anyValue(kind, values[key]);
    if (value) out.push({ key, value });
  }
  return out;
}

/**
 * The OTLP/HTTP JSON request body for one batch.
 * @param {KeyValue[]} resource
 * @param {unknown[]} records
 * @param {string} [scopeVersion]
 */
export function buildPayload(resource, records, scopeVersion) {
  return { resourceLogs: [{ resource: { attributes: resource },
    scopeLogs: [{ scope: { name: 'burn-edge', version: scopeVersion || 'unknown' }, logRecords: records }] }] };
}

// What the loader records, as pure functions of what it knows (so a test can check them).

/**
 * `burn_edge.model.load` from `info()` and the loader's phase timings (ms), with the backend
 * chosen by measurement (backend-choice.js), if any, and where predictions go first.
 * @param {{ source?: string, files?: { source: string, size: number }[], loadMs?: number }} info
 * @param {{ manifestMs?: number, downloadMs?: number, wasmCompileMs?: number, backendInitMs?: number,
 *           readyMs: number }} phases
 * @param {import('./backend-choice.js').BackendChoice} [choice]
 * @param {'edge' | 'cloud'} [route]
 * @returns {Attributes}
 */
export function loadAttributes(info, phases, choice, route = 'edge') {
  const downloaded = (info.files ?? []).filter((f) => f.source === 'network');
  return {
    'burn_edge.load.source': info.source,
    'burn_edge.load.bytes': downloaded.reduce((n, f) => n + (f.size || 0), 0),
    'burn_edge.load.manifest_ms': phases.manifestMs,
    'burn_edge.load.download_ms': phases.downloadMs,
    'burn_edge.load.wasm_compile_ms': phases.wasmCompileMs,
    'burn_edge.load.backend_init_ms': phases.backendInitMs,
    'burn_edge.load.time_to_first_prediction_ms': phases.readyMs,
    ...(choice ? {
      'burn_edge.backend_choice.chosen': choice.chosen, 'burn_edge.backend_choice.reason': choice.reason,
      'burn_edge.backend_choice.cpu_ms': choice.timings.cpu, 'burn_edge.backend_choice.webgpu_ms': choice.timings.webgpu,
      'burn_edge.backend_choice.cached': choice.cached,
    } : {}),
    'burn_edge.route': route,
  };
}

/**
 * The model context of events about the served slot (model.js), for `setModel`.
 * @param {import('./model.js').Slot} s
 * @param {string | null} alias
 * @returns {ModelContext}
 */
export const slotContext = (s, alias) => ({ name: s.prepared.manifest.name, version: s.prepared.manifest.version,
  backend: s.prepared.session.backend, variant: s.prepared.variant, role: 'served', alias,
  rule: s.info.assignment?.rule ?? null, arm: s.info.assignment?.arm ?? null, runtimeVersion: s.prepared.runtime.version });

/**
 * `burn_edge.backend.fallback` for each backend that `'auto'` skipped.
 * @param {{ backend: string, skipped?: { backend: string, reason: string }[] }} info
 * @returns {Attributes[]}
 */
export function fallbackAttributes(info) {
  return (info.skipped ?? []).map((s) => ({
    'burn_edge.fallback.from': s.backend, 'burn_edge.fallback.to': info.backend, 'burn_edge.fallback.reason': s.reason,
  }));
}

/**
 * `burn_edge.device.lost`: a lost WebGPU device moved the session to the CPU build (worker-engine.js).
 * @param {{ reason: string, replayed: number }} lost
 * @returns {Attributes}
 */
export const deviceLostAttributes = (lost) => ({ 'burn_edge.device_lost.reason': lost.reason, 'burn_edge.device_lost.to': 'cpu',
  'burn_edge.device_lost.replayed': lost.replayed });

/**
 * `burn_edge.exposure`: a rollout assignment (of a rule's arm) serves this install for the first time.
 * @param {string} model the model's name
 * @param {import('./assign.js').Assignment} a
 * @returns {Attributes}
 */
export const exposureAttributes = (model, a) => ({ 'burn_edge.model.name': model, 'burn_edge.model.version': a.version,
  'burn_edge.rollout.rule': a.rule, 'burn_edge.rollout.arm': a.arm, 'burn_edge.alias': a.alias, 'burn_edge.rollout.kind': a.kind,
  'burn_edge.rollout.bucket': a.bucket, 'burn_edge.rollout.bucket_version': a.bucketVersion });

/**
 * `burn_edge.inference` from the output probabilities (never the input).
 * @param {Float32Array} probs `batch * classes`
 * @param {number} classes
 * @param {number} latencyMs
 * @param {string} predictionId
 * @returns {Attributes}
 */
export function inferenceAttributes(probs, classes, latencyMs, predictionId) {
  const n = Math.max(1, classes | 0);
  let best = 0;
  for (let i = 1; i < Math.min(n, probs.length); i++) if (probs[i] > probs[best]) best = i;
  return {
    'burn_edge.latency_ms': latencyMs,
    'burn_edge.batch_size': Math.floor(probs.length / n),
    'burn_edge.predicted_class': best,
    'burn_edge.confidence': probs.length ? probs[best] : 0,
    'burn_edge.prediction_id': predictionId,
  };
}

/**
 * `burn_edge.error` from anything thrown.
 * @param {unknown} err
 * @returns {Attributes}
 */
export function errorAttributes(err) {
  const e = /** @type {any} */ (err);
  return {
    'error.type': String(e?.code ?? e?.name ?? typeof err),
    'error.message': scrubUrls(String(e?.message ?? err)),
    'burn_edge.offline': typeof navigator !== 'undefined' && navigator.onLine === false,
  };
}

/**
 * @typedef {string | URL} Endpoint
 * @typedef {{ endpoint?: Endpoint | Endpoint[], endpoints?: Endpoint[], key?: string, app?: string, sampleRate?: number,
 *             optOut?: boolean, honorGlobalPrivacyControl?: boolean, batchSize?: number, flushIntervalMs?: number,
 *             maxQueue?: number, runtimeVersion?: string, retryDelayMs?: number, timeoutMs?: number,
 *             retryPrimaryMs?: number }} TelemetryOptions
 * @typedef {{ name?: string, version?: string, variant?: string, role?: string, backend?: string,
 *             runtimeVersion?: string, alias?: string | null, rule?: string | null, arm?: string | null }} ModelContext
 *   `null` clears a field (a swap to a version no rule serves).
 * @typedef {{ record(eventName: string, attributes?: Attributes): void, flush(): Promise<void>,
 *             feedback(predictionId: string, trueLabel: number): void, setModel(model: ModelContext): void,
 *             readonly enabled: boolean, readonly installId: string | null, shutdown(): Promise<void> }} Telemetry
 */

/** @param {unknown} x @returns {x is Telemetry} */
export const isTelemetry = (x) => typeof x === 'object' && x !== null && typeof (/** @type {any} */ (x).record) === 'function';

/** @param {unknown} err */
const debug = (err) => {
  try { console.debug('burn-edge telemetry:', err); } catch { /* nothing to do */ }
};

/** @param {TelemetryOptions} o */
function allowed(o) {
  if (o.optOut) return false;
  if (o.honorGlobalPrivacyControl !== false && typeof navigator !== 'undefined' &&
    /** @type {any} */ (navigator).globalPrivacyControl === true) return false;
  const rate = o.sampleRate ?? 1;
  return rate >= 1 || Math.random() < rate;
}

/**
 * The OTLP logs URL of `endpoint`: a collector's base URL gets `/v1/logs` appended (as the
 * OTLP `OTEL_EXPORTER_OTLP_ENDPOINT` does), a URL already ending in `/v1/logs` is used as is
 * (as the SDK exporters' `url` option); relative URLs resolve against the page.
 * @param {string | URL} endpoint
 * @returns {URL}
 */
export function logsUrl(endpoint) {
  const u = new URL(String(endpoint), globalThis.location?.href);
  return /\/v1\/logs\/?$/.test(u.pathname) ? u : new URL('v1/logs', u.href.replace(/\/?$/, '/'));
}

/**
 * A telemetry client. Never throws; disabled (sends and stores nothing) when opted out, under
 * Global Privacy Control (unless `honorGlobalPrivacyControl: false`), or sampled out.
 * @param {TelemetryOptions} options
 * @returns {Telemetry}
 */
export function createTelemetry(options) {
  const given = /** @type {TelemetryOptions} */ (Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined)));
  const o = { sampleRate: 1, optOut: false, honorGlobalPrivacyControl: true, batchSize: 50, flushIntervalMs: 5000,
    maxQueue: 1000, retryDelayMs: 1000, timeoutMs: 10_000, retryPrimaryMs: 60_000, app: 'unknown', ...given };
  let enabled = false;
  /** @type {URL[]} */
  let urls = [];
  try {
    urls = endpointUrls([...[o.endpoint ?? []].flat(), ...(o.endpoints ?? [])], logsUrl);
    enabled = urls.length > 0 && allowed(o);
  } catch (err) {
    debug(err);
  }
  if (!enabled) {
    return { record() {}, async flush() {}, feedback() {}, setModel() {}, enabled: false, installId: null, async shutdown() {} };
  }

  const installId = installIdentity();
  /** @type {ModelContext} */
  let model = { runtimeVersion: o.runtimeVersion };
  /** @type {unknown[]} */
  let buffer = [];
  let blocked = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let flushTimer;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let retryTimer;
  let pumping = false;
  const queue = openQueue({ maxRecords: o.maxQueue });
  const pool = endpointPool(urls.length, { retryPrimaryMs: o.retryPrimaryMs });
  // The key rides in the URL only where no header can: a beacon (URLs end up in logs).
  const beaconUrls = urls.map((url) => {
    const beacon = new URL(url.href);
    if (o.key) beacon.searchParams.set('key', o.key);
    return beacon;
  });

  const nav = typeof navigator !== 'undefined' ? /** @type {any} */ (navigator) : undefined;
  const browser = coarseBrowser(nav);
  const os = osFamily(nav);
  const body = (/** @type {unknown[]} */ records) => buildPayload(buildResource({
    app: o.app, runtimeVersion: model.runtimeVersion, installId, userAgent: browser, platform: os,
  }), records, model.runtimeVersion);

  /** @typedef {{ outcome: 'sent' | 'drop' | 'block' } | { outcome: 'retry', afterMs?: number }} Outcome */

  /**
   * Sends one batch to the collectors in the pool's order, moving on from one that fails
   * (`failover`) to the next. `keepalive` is for a page being hidden or closed.
   * @param {unknown} payload
   * @param {boolean} keepalive
   * @returns {Promise<Outcome>}
   */
  async function send(payload, keepalive) {
    const text = JSON.stringify(payload);
    if (keepalive && text.length > KEEPALIVE_LIMIT && typeof nav?.sendBeacon === 'function') {
      try {
        // text/plain is CORS-safelisted: a beacon to a collector on another origin needs no
        // preflight (which beacons cannot make). The collector reads it as OTLP JSON all the same.
        const beacon = beaconUrls[pool.order()[0]];
        if (nav.sendBeacon(beacon.href, new Blob([text], { type: 'text/plain;charset=UTF-8' }))) return { outcome: 'sent' };
      } catch (err) {
        debug(err);
      }
      return { outcome: 'retry' };
    }
    /** @type {Outcome} */
    let last = { outcome: 'retry' };
    for (const index of pool.order()) {
      const r = await sendTo(urls[index], text, keepalive);
      if (r.outcome !== 'failover') {
        if (r.outcome === 'sent') pool.succeeded(index);
        return r;
      }
      pool.failed(index);
      last = { outcome: 'retry', afterMs: r.afterMs };
    }
    return last;
  }

  /**
   * One attempt at one collector: `failover` when it could not take the batch (unreachable,
   * too slow, or a server error), so another one may.
   * @param {URL} url
   * @param {string} text
   * @param {boolean} keepalive
   * @returns {Promise<Outcome | { outcome: 'failover', afterMs?: number }>}
   */
  async function sendTo(url, text, keepalive) {
    /** @type {Record<string, string>} */
    const headers = { 'content-type': 'application/json' };
    if (o.key) headers['x-burn-edge-key'] = o.key;
    const signal = typeof AbortSignal?.timeout === 'function' ? AbortSignal.timeout(o.timeoutMs) : undefined;
    let response;
    try {
      response = await fetch(url.href, { method: 'POST', headers, body: text, keepalive, credentials: 'omit', mode: 'cors', signal });
    } catch (err) {
      debug(err);
      return { outcome: 'failover' };
    }
    const { status } = response;
    if (status >= 200 && status < 300) {
      response.json().then((r) => { if (r?.partialSuccess?.rejectedLogRecords) debug(r.partialSuccess); }, () => {});
      return { outcome: 'sent' };
    }
    response.body?.cancel().catch(() => {});
    if (status === 401 || status === 403) return { outcome: 'block' };
    // Too many requests from this client: another collector of the same fleet would say the same.
    if (status === 429) return { outcome: 'retry', afterMs: retryAfterMs(response.headers.get('retry-after')) };
    if (status >= 500) return { outcome: 'failover', afterMs: retryAfterMs(response.headers.get('retry-after')) };
    return { outcome: 'drop' }; // 400, 413 and other client errors: resending cannot help
  }

  /** Exponential backoff with jitter for the n-th failed attempt. */
  const backoff = (/** @type {number} */ n) => Math.min(60_000, o.retryDelayMs * 2 ** n) * (0.5 + Math.random() / 2);

  /** @param {number} ms */
  function scheduleRetry(ms) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => { pump().catch(debug); }, Math.max(0, ms));
  }

  /** Sends the queued batches that are due, oldest first; stops at the first that fails again. */
  async function pump() {
    if (pumping || blocked) return;
    pumping = true;
    try {
      const q = await queue;
      for (const batch of await q.list()) {
        if (blocked) break;
        const wait = batch.notBefore - Date.now();
        if (wait > 0) {
          scheduleRetry(wait);
          break;
        }
        const r = await send(batch.body, false);
        if (r.outcome === 'retry') {
          batch.attempts += 1;
          batch.notBefore = Date.now() + (r.afterMs ?? backoff(batch.attempts));
          await q.update(batch);
          scheduleRetry(batch.notBefore - Date.now());
          break;
        }
        await q.remove(/** @type {number} */ (batch.id));
        if (r.outcome === 'block') blocked = true;
      }
    } catch (err) {
      debug(err);
    } finally {
      pumping = false;
    }
  }

  /**
   * Sends what is buffered, then the queue.
   * @param {boolean} keepalive
   */
  async function flushNow(keepalive) {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    const pending = [];
    while (buffer.length && !blocked) {
      const records = buffer.splice(0, o.batchSize);
      const payload = body(records);
      pending.push(send(payload, keepalive).then(async (r) => {
        if (r.outcome === 'block') blocked = true;
        if (r.outcome !== 'retry') return;
        const q = await queue;
        await q.add({ body: payload, count: records.length, attempts: 0,
          notBefore: Date.now() + (r.afterMs ?? backoff(0)) });
        scheduleRetry(r.afterMs ?? backoff(0));
      }));
    }
    if (blocked) buffer = [];
    await Promise.all(pending);
    if (!keepalive) await pump();
  }

  const flush = () => flushNow(false).catch(debug);

  /** @param {Event} event */
  const onHide = (event) => {
    if (event.type === 'visibilitychange' && document.visibilityState !== 'hidden') return;
    flushNow(true).catch(debug);
  };
  const listening = typeof document !== 'undefined' && typeof addEventListener === 'function';
  if (listening) {
    document.addEventListener('visibilitychange', onHide);
    addEventListener('pagehide', onHide);
  }
  // Batches left from earlier pages go out once the page has settled.
  setTimeout(() => { pump().catch(debug); }, 0);

  /** @type {Telemetry} */
  const client = {
    enabled: true,
    installId,
    record(eventName, attributes = {}) {
      try {
        if (blocked) return;
        const ctx = { 'burn_edge.model.name': model.name, 'burn_edge.model.version': model.version,
          'burn_edge.backend': model.backend, 'burn_edge.variant': model.variant, 'burn_edge.role': model.role,
          'burn_edge.alias': model.alias, 'burn_edge.rollout.rule': model.rule, 'burn_edge.rollout.arm': model.arm };
        const record = buildRecord(eventName, { ...ctx, ...attributes });
        if (!record) {
          debug(`unknown event ${eventName}`);
          return;
        }
        buffer.push(record);
        if (buffer.length > o.maxQueue) buffer.splice(0, buffer.length - o.maxQueue);
        if (buffer.length >= o.batchSize) {
          clearTimeout(flushTimer);
          flushTimer = setTimeout(flush, 0);
        } else if (flushTimer === undefined) {
          flushTimer = setTimeout(flush, o.flushIntervalMs);
        }
      } catch (err) {
        debug(err);
      }
    },
    flush,
    feedback(predictionId, trueLabel) {
      client.record('burn_edge.feedback', { 'burn_edge.prediction_id': predictionId, 'burn_edge.true_label': trueLabel });
    },
    setModel(next) {
      model = { ...model, ...Object.fromEntries(Object.entries(next ?? {}).filter(([, v]) => v !== undefined)) };
    },
    async shutdown() {
      if (listening) {
        document.removeEventListener('visibilitychange', onHide);
        removeEventListener('pagehide', onHide);
      }
      await flush();
      clearTimeout(retryTimer);
      clearTimeout(flushTimer);
      blocked = true;
    },
  };
  return client;
}
