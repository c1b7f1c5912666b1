/**
 * @module route
 * Hybrid routing (`route: 'auto' | 'edge' | 'cloud'`): where each prediction runs. The cloud is
 * `burn-edge serve`'s `POST {url}/v1/predict/<model>@<version>` (wire types:
 * `crates/formats/src/predict.rs`), which runs the same published weights natively on the
 * browser CPU build's code. With `'auto'` the cloud answers while the edge downloads its weights
 * and warms up, then the edge; the cloud stays when the edge's warm-up is over the budget or
 * it ran out of memory; the edge takes over (or is waited for) while the cloud is unreachable.
 */
import { BurnEdgeError, QuotaError } from './errors.js';

/**
 * @typedef {'auto' | 'edge' | 'cloud'} RouteMode
 * @typedef {{ url: string, key?: string }} CloudOptions
 * @typedef {{ mode: RouteMode, current: 'edge' | 'cloud', reason: string }} RouteInfo
 * @typedef {(flat: Float32Array, count: number) => Promise<{ probs: Float32Array, version: string, ms: number }>} CloudPredict
 */

/**
 * The parts of the predict endpoint's wire format this client relies on (the names of
 * `crates/formats/src/predict.rs`; tests/node/predict-wire.test.mjs holds them to its example).
 */
export const WIRE = /** @type {const} */ ({
  path: '/v1/predict/',
  binaryMediaType: 'application/octet-stream',
  keyHeader: 'x-burn-edge-key',
  /** Fields of the response read. */
  response: ['model', 'version', 'batch', 'outputs', 'ms'],
  /** The error body: `{ error: { code, message } }`. */
  error: ['code', 'message'],
});

/** How long an unreachable cloud is left alone before it is tried again. */
const CLOUD_RETRY_MS = 30_000;
/** A cloud request that takes longer than this counts as unreachable. */
const CLOUD_TIMEOUT_MS = 15_000;

/** The cloud could not be reached or could not answer (network, timeout, 5xx, 429): the edge may serve. */
export class CloudUnavailableError extends BurnEdgeError {
  /** @param {string} message */
  constructor(message) {
    super(message, { code: 'CLOUD_UNAVAILABLE' });
    this.name = 'CloudUnavailableError';
  }
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A client for one model version's predict endpoint.
 * @param {CloudOptions} cloud
 * @param {string} model
 * @param {string} version
 * @returns {CloudPredict}
 */
export function cloudClient(cloud, model, version) {
  const base = new URL(cloud.url, globalThis.location?.href);
  const endpoint = new URL(`${WIRE.path.slice(1)}${encodeURIComponent(model)}@${encodeURIComponent(version)}`,
    base.href.endsWith('/') ? base.href : `${base.href}/`).href;
  return async (flat, count) => {
    // The wire is little-endian f32; every browser is, but say so rather than assume it.
    let body = flat;
    if (!littleEndian) {
      const view = new DataView(new ArrayBuffer(flat.length * 4));
      flat.forEach((v, i) => view.setFloat32(i * 4, v, true));
      body = new Float32Array(view.buffer);
    }
    /** @type {Response} */
    let response;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': WIRE.binaryMediaType, ...(cloud.key ? { [WIRE.keyHeader]: cloud.key } : {}) },
        body: /** @type {BodyInit} */ (/** @type {unknown} */ (body)),
        signal: AbortSignal.timeout(CLOUD_TIMEOUT_MS),
      });
    } catch (err) {
      throw new CloudUnavailableError(`the cloud at ${base.origin} is unreachable: ${err instanceof Error ? err.message : err}`);
    }
    /** @type {any} */
    const json = await response.json().catch(() => null);
    if (!response.ok) {
      const detail = json?.error ? `${json.error.code}: ${json.error.message}` : `HTTP ${response.status}`;
      if (response.status >= 500 || response.status === 429 || response.status === 408) {
        throw new CloudUnavailableError(`the cloud could not answer (${detail})`);
      }
      throw new BurnEdgeError(`the cloud refused the prediction (${detail})`, { code: `CLOUD_${String(json?.error?.code ?? response.status).toUpperCase()}` });
    }
    const outputs = json?.outputs;
    if (!Array.isArray(outputs) || outputs.length !== count || !outputs.every((o) => Array.isArray(o))) {
      throw new CloudUnavailableError(`the cloud answered ${Array.isArray(outputs) ? outputs.length : 'no'} outputs for ${count} examples`);
    }
    const classes = outputs[0]?.length ?? 0;
    const probs = new Float32Array(count * classes);
    outputs.forEach((o, i) => probs.set(o, i * classes));
    return { probs, version: String(json.version), ms: Number(json.ms) };
  };
}

/** @param {unknown} err */
function outOfMemory(err) {
  if (err instanceof QuotaError) return true;
  const e = /** @type {any} */ (err);
  return err instanceof RangeError || /out of memory|memory access out of bounds|allocat|Array buffer allocation/i.test(String(e?.message ?? err));
}

/** @param {unknown} err */
const words = (err) => (err instanceof Error ? err.message : String(err));

/**
 * The routing state of one model handle.
 * @param {{ mode: RouteMode, budgetMs: number, cloud: CloudPredict | null }} o
 */
export function createRouter({ mode, budgetMs, cloud }) {
  /** @type {RouteInfo} */
  let state = { mode, current: mode === 'edge' ? 'edge' : 'cloud',
    reason: mode === 'edge' ? 'route "edge"' : mode === 'cloud' ? 'route "cloud"' : 'the edge is not ready yet (weights downloading, session warming up)' };
  let edgeReady = mode === 'edge';
  /** Why the edge cannot serve, once its preparation failed. @type {unknown} */
  let edgeError = null;
  let cloudDownUntil = 0;
  /** @type {{ resolve: () => void, reject: (e: unknown) => void }[]} */
  let waiting = [];
  /** @param {'edge' | 'cloud'} current @param {string} reason */
  const set = (current, reason) => { state = { mode, current, reason }; };

  return {
    mode,
    /** @returns {RouteInfo} */
    info: () => ({ ...state }),
    /** Where the next prediction goes. @returns {'edge' | 'cloud'} */
    pick() {
      if (mode !== 'auto') return state.current;
      if (state.current === 'edge' && !edgeReady && !edgeError && Date.now() >= cloudDownUntil && cloud) {
        set('cloud', 'the cloud is reachable again and the edge is not ready');
      }
      return state.current;
    },
    /** @returns {CloudPredict} */
    get cloud() {
      if (!cloud) throw new BurnEdgeError('no cloud configured: pass cloud: { url, key }', { code: 'NO_CLOUD' });
      return cloud;
    },
    /** The edge session is ready; its warm-up took `warmupMs`. @param {number} warmupMs */
    edgeReady(warmupMs) {
      edgeReady = true;
      if (mode === 'auto') {
        if (Date.now() < cloudDownUntil && state.current === 'edge') {
          set('edge', state.reason.replace('; waiting for the edge', '')); // the cloud's absence is still why
        } else if (warmupMs > budgetMs && Date.now() >= cloudDownUntil) {
          set('cloud', `the edge is too slow: its warm-up prediction took ${Math.round(warmupMs)} ms, over cloudBudgetMs (${budgetMs} ms)`);
        } else {
          set('edge', 'the edge is ready');
        }
      }
      for (const w of waiting) w.resolve();
      waiting = [];
    },
    /** The edge could not be prepared. @param {unknown} err */
    edgeFailed(err) {
      edgeError = err;
      if (mode === 'auto') {
        set('cloud', outOfMemory(err) ? `the edge ran out of memory (${words(err)})` : `the edge could not load (${words(err)})`);
      }
      for (const w of waiting) w.reject(err);
      waiting = [];
    },
    /** The cloud failed with `err`: the edge serves (or is waited for) for a while. @param {unknown} err */
    cloudFailed(err) {
      cloudDownUntil = Date.now() + CLOUD_RETRY_MS;
      if (mode === 'auto' && !edgeError) set('edge', `the cloud is unreachable (${words(err)})${edgeReady ? '' : '; waiting for the edge'}`);
    },
    /** A prediction on the edge failed for lack of memory: the cloud takes the next ones. @param {unknown} err */
    edgeOutOfMemory(err) {
      if (mode !== 'auto' || !outOfMemory(err) || !cloud || Date.now() < cloudDownUntil) return false;
      set('cloud', `the edge ran out of memory (${words(err)})`);
      return true;
    },
    /** Resolves once the edge can serve; rejects when it failed. @returns {Promise<void>} */
    waitEdge() {
      if (edgeReady) return Promise.resolve();
      if (edgeError) return Promise.reject(edgeError);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    get edgeIsReady() {
      return edgeReady;
    },
  };
}

/** @typedef {ReturnType<typeof createRouter>} Router */
