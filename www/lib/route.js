/**
 * @module route
 * Hybrid routing (`route: 'auto' | 'edge' | 'cloud'`): where each prediction runs. The cloud is
 * `burn-edge serve`'s `POST {url}/v1/predict/<model>@<version>` (wire types:
 * `crates/formats/src/predict.rs`), which runs the same published weights natively on the
 * browser CPU build's code. With `'auto'` the cloud answers while the edge downloads its weights
 * and warms up, then the edge; the cloud stays when the edge's warm-up is over the budget or
 * it ran out of memory; the edge takes over (or is waited for) while the cloud is unreachable.
 */
import { inputLength } from './batch.js';
import { BurnEdgeError, CloudUnavailableError, errorMessage, QuotaError } from './errors.js';
import { uuid } from './identity.js';
import { DISPOSED, slotAttributes } from './model.js';

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

export { CloudUnavailableError };

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
      throw new CloudUnavailableError(`the cloud at ${base.origin} is unreachable: ${errorMessage(err)}`);
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
        set('cloud', outOfMemory(err) ? `the edge ran out of memory (${errorMessage(err)})` : `the edge could not load (${errorMessage(err)})`);
      }
      for (const w of waiting) w.reject(err);
      waiting = [];
    },
    /** The cloud failed with `err`: the edge serves (or is waited for) for a while. @param {unknown} err */
    cloudFailed(err) {
      cloudDownUntil = Date.now() + CLOUD_RETRY_MS;
      if (mode === 'auto' && !edgeError) set('edge', `the cloud is unreachable (${errorMessage(err)})${edgeReady ? '' : '; waiting for the edge'}`);
    },
    /** A prediction on the edge failed for lack of memory: the cloud takes the next ones. @param {unknown} err */
    edgeOutOfMemory(err) {
      if (mode !== 'auto' || !outOfMemory(err) || !cloud || Date.now() < cloudDownUntil) return false;
      set('cloud', `the edge ran out of memory (${errorMessage(err)})`);
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

/**
 * The router for `route: 'cloud' | 'auto'`; with 'auto' the cloud is asked once (a zero input)
 * so the handle comes early only when it answers.
 * @param {{ route?: RouteMode, cloud?: CloudOptions, cloudBudgetMs?: number }} o loadModel's options
 * @param {import('./locate.js').Located} located
 */
async function routeFor(o, located) {
  const manifest = JSON.parse(located.manifest);
  if (!o.cloud?.url) throw new BurnEdgeError(`route "${o.route}" needs cloud: { url, key }`, { code: 'NO_CLOUD' });
  const cloud = cloudClient(o.cloud, String(manifest.name), String(manifest.version));
  const router = createRouter({ mode: /** @type {'auto' | 'cloud'} */ (o.route), budgetMs: o.cloudBudgetMs ?? 1000, cloud });
  const n = inputLength(manifest);
  if (o.route === 'auto') {
    try {
      if (!n) throw new CloudUnavailableError('the manifest has no input shape to probe the cloud with');
      await cloud(new Float32Array(n), 1);
    } catch (err) {
      router.cloudFailed(err); // the edge serves from the start
    }
  }
  return router;
}

/**
 * The start of a load with a route to the cloud (`route: 'cloud' | 'auto'`): its router, and
 * when the cloud serves first, a stand-in for the version (the engine has the runtime, so image
 * preparation works; no session) while the edge prepares behind it under 'auto' (`edgeWork`).
 * Without `prepared` the edge prepares first, as with route 'edge'.
 * @param {Parameters<typeof routeFor>[0]} o
 * @param {import('./locate.js').Located} located
 * @param {() => import('./prepare.js').StartedEngine} engine the load's engine (started on the CPU build if none yet)
 * @param {(l: import('./locate.js').Located) => Promise<Prepared>} prepareEdge
 * @param {string[]} warnings
 * @returns {Promise<{ router: Router, prepared?: Prepared, edgeWork?: Promise<Prepared> }>}
 */
export async function routeLoad(o, located, engine, prepareEdge, warnings) {
  const router = await routeFor(o, located);
  if (router.pick() !== 'cloud') return { router };
  const started = engine();
  const edgeWork = o.route === 'auto' ? prepareEdge(located) : undefined;
  edgeWork?.catch(() => {});
  const runtime = await started.runtime;
  return { router, edgeWork, prepared: { engine: started.engine, target: located, manifest: JSON.parse(located.manifest), files: [], runtime,
    evicted: [], warnings, session: { backend: 'cloud', adapter: null, skipped: [], cpuKernels: null, plan: null, planError: null,
      memory: { afterCreation: null, now: null }, thread: null },
    phases: { downloadMs: 0, backendInitMs: 0, warmupMs: 0, totalMs: 0 } } };
}

/** @typedef {import('./prepare.js').Prepared} Prepared */

/**
 * One prediction of the handle `h` on the server (`route` cloud); an unreachable cloud under
 * `route: 'auto'` hands it to the edge.
 * @param {import('./model.js').Handle} h
 * @param {Float32Array} input
 * @returns {Promise<Float32Array>}
 */
export async function predictCloud(h, input) {
  const r = /** @type {Router} */ (h.router);
  const { telemetry } = h;
  const slot = h.current;
  const n = inputLength(slot.prepared.manifest);
  if (n && input.length % n !== 0) throw new TypeError(`predict: ${input.length} values are not a whole number of inputs of ${n}`);
  const t = performance.now();
  /** @type {Float32Array} */
  let probs;
  try {
    ({ probs } = await r.cloud(input, n ? input.length / n : 1));
  } catch (err) {
    if (err instanceof CloudUnavailableError && r.mode === 'auto') {
      r.cloudFailed(err);
      if (r.pick() === 'edge') return h.predict(input);
    }
    telemetry?.record('burn_edge.error', { ...h.events.errorAttributes(err), ...slotAttributes(slot) });
    throw err;
  }
  try {
    const id = uuid();
    h.lastPredictionId = telemetry ? id : h.lastPredictionId;
    telemetry?.record('burn_edge.inference', { ...h.events.inferenceAttributes(probs, slot.classes || probs.length, performance.now() - t, id),
      ...slotAttributes(slot), 'burn_edge.backend': 'cpu', 'burn_edge.route': 'cloud' });
  } catch { /* telemetry never fails a prediction */ }
  return probs;
}

/**
 * Swaps the edge's slot into the handle `h` once the edge is ready (it prepared behind the cloud).
 * @param {import('./model.js').Handle} h
 * @param {Promise<import('./model.js').Slot>} edge
 */
export function adoptEdge(h, edge) {
  const { router } = h;
  edge.then((slot) => {
    if (h.disposed) {
      slot.prepared.engine.close(DISPOSED);
      return;
    }
    const old = h.current;
    h.current = slot;
    // The stand-in's engine is the edge's when the edge prepared on it: only another one closes.
    if (old.prepared.engine !== slot.prepared.engine) {
      old.retired = true;
      if (old.inflight === 0) old.prepared.engine.close('the edge is ready');
    }
    h.loader.setContext(h.current);
    router?.edgeReady(slot.prepared.phases.warmupMs);
    h.configure();
  }, (err) => {
    router?.edgeFailed(err);
    h.telemetry?.record('burn_edge.error', { ...h.events.errorAttributes(err), ...slotAttributes(h.current) });
  });
}
