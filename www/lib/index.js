/**
 * @module burn-edge
 * The package's entry: `loadModel` resolves a model on a CDN (channel → version → manifest),
 * verifies the channel's and the manifest's Ed25519 signatures against the page's pinned
 * `publicKey`, checks that this runtime (itself verified against hashes pinned in the package)
 * can run it, downloads its files with progress, verifies their SHA-256 before use, caches them
 * for offline use, and runs inference in a Web Worker. The stages each have their module:
 * resolve (`locate.js`) → select (`select.js`, `assign.js`) → fetch/verify/cache and start
 * (`prepare.js`) → observe (`model.js`, `rollout-watch.js`: re-checks, hot swaps, shadow).
 */
import { ChannelError } from './assign.js';
import { deviceKey, prepareByMeasurement } from './backend-choice.js';
import { chooseBuild } from './choose-build.js';
import { inputLength } from './batch.js';
import { BurnEdgeError, IntegrityError, NetworkError } from './errors.js';
import { lastGood, locate, locateManifest, modelFolder, resolveChannel } from './locate.js';
import { createModel, slotFor } from './model.js';
import { prepareVersion, startEngine } from './prepare.js';
import { loadRuntimeFiles } from './runtime-files.js';
import { CloudUnavailableError, cloudClient, createRouter } from './route.js';
import { createSelector } from './select.js';
import { importPublicKey } from './signature.js';
import { prepareStorage } from './storage.js';
import { Store } from './store.js';
import { createTelemetry, errorAttributes, fallbackAttributes, installIdentity, isTelemetry, loadAttributes } from './telemetry.js';

export { BurnEdgeError, IntegrityError, NetworkError, QuotaError, UnsupportedArchitectureError } from './errors.js';
export { ChannelError } from './assign.js';
export { CloudUnavailableError } from './route.js';
export { createTelemetry } from './telemetry.js';

/**
 * @typedef {import('./download.js').Progress} Progress
 * @typedef {import('./locate.js').Located} Located
 * @typedef {{ channelUrl?: string, manifestUrl?: string, alias?: string, mirrors?: string[],
 *             backend?: 'auto' | 'webgpu' | 'cpu', runtimeBase?: string | URL, keepVersions?: number,
 *             retries?: number, retryDelay?: number, stallTimeout?: number, onProgress?: (p: Progress) => void,
 *             worker?: boolean, telemetry?: TelemetryOptions | Telemetry, publicKey?: string | CryptoKey,
 *             id?: string, attributes?: Record<string, unknown>, pin?: string, recheckInterval?: number, shadow?: boolean,
 *             route?: 'auto' | 'edge' | 'cloud', cloud?: { url: string, key?: string }, cloudBudgetMs?: number }} LoadOptions
 * @typedef {import('./assign.js').Assignment} Assignment
 * @typedef {import('./prepare.js').Prepared} Prepared
 * @typedef {import('./telemetry.js').Telemetry} Telemetry
 * @typedef {import('./telemetry.js').TelemetryOptions} TelemetryOptions
 */

/**
 * Loads a model and returns a handle to run it. With `telemetry` (options or a client from
 * `createTelemetry`) it records the load, backend fallbacks, failures and each prediction.
 * @param {LoadOptions} options
 */
export async function loadModel(options = {}) {
  /** @type {Telemetry | null} */
  let telemetry = null;
  try {
    if (options.telemetry) telemetry = isTelemetry(options.telemetry) ? options.telemetry : createTelemetry(options.telemetry);
  } catch { /* telemetry never stops a load */ }
  try {
    return await load(options, telemetry);
  } catch (err) {
    telemetry?.record('burn_edge.error', errorAttributes(err));
    throw err;
  }
}

/**
 * @param {LoadOptions} options
 * @param {Telemetry | null} telemetry
 */
async function load(options, telemetry) {
  const started = performance.now();
  /** Phase timings for telemetry (ms). */
  const phases = { manifestMs: 0, downloadMs: 0, wasmCompileMs: 0, backendInitMs: 0, warmupMs: 0 };
  const since = (/** @type {number} */ t) => performance.now() - t;
  const base = globalThis.location?.href;
  // An option passed as undefined means "the default", as if it were left out.
  const given = /** @type {LoadOptions} */ (Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
  const o = {
    alias: 'stable', backend: /** @type {'auto' | 'webgpu' | 'cpu'} */ ('auto'), route: /** @type {'auto' | 'edge' | 'cloud'} */ ('edge'),
    keepVersions: 2, retries: 3,
    retryDelay: 250, worker: true, recheckInterval: 60_000, shadow: true, ...given,
    channelUrl: options.channelUrl && new URL(options.channelUrl, base).href,
    manifestUrl: options.manifestUrl && new URL(options.manifestUrl, base).href,
    mirrors: (options.mirrors ?? []).map((m) => new URL(m, base).href),
    // Unset: the package's own runtime files, each found by a literal URL (runtime-files.js).
    runtimeBase: options.runtimeBase ? new URL(options.runtimeBase, base).href : undefined,
  };
  const folder = modelFolder(o);
  // The publisher's key, pinned by the page: without it nothing but the weights is verified.
  const trust = o.publicKey ? await importPublicKey(o.publicKey) : null;
  let [store, storage, build] = await Promise.all([Store.open(), prepareStorage(), chooseBuild(o.backend)]);
  // With WebGPU on offer, 'auto' measures both builds (or recalls the last measurement here).
  const measuring = o.backend === 'auto' && build === 'webgpu';
  const device = measuring ? deviceKey() : null;
  // A crashed worker is replaced and replayed (worker-engine.js); each restart is an error event.
  const onRestart = (/** @type {{ reason: string }} */ r) =>
    telemetry?.record('burn_edge.error', { 'error.type': 'WORKER_RESTARTED', 'error.message': r.reason });
  // A lost WebGPU device moves the engine to the CPU build (worker-engine.js, engine.js).
  const onDeviceLost = (/** @type {import('./worker-engine.js').DeviceLost} */ lost) => {
    telemetry?.setModel({ backend: 'cpu' });
    telemetry?.record('burn_edge.device.lost', { 'burn_edge.device_lost.reason': lost.reason, 'burn_edge.device_lost.to': 'cpu',
      'burn_edge.device_lost.replayed': lost.replayed });
  };
  // The runtime downloads while the channel and manifest are resolved; every engine starts from it.
  /** @type {Map<string, Promise<import('./runtime-files.js').RuntimeFiles>>} */
  const runtimes = new Map();
  const runtimeFor = (/** @type {'cpu' | 'webgpu'} */ b) => {
    let files = runtimes.get(b);
    if (!files) {
      files = loadRuntimeFiles(o.runtimeBase, b, o);
      files.catch(() => {});
      runtimes.set(b, files);
    }
    return files;
  };
  const engineFor = (/** @type {'cpu' | 'webgpu'} */ b) => startEngine({ worker: o.worker, build: b, runtimeFiles: runtimeFor(b), onRestart,
    fallback: b === 'webgpu' ? () => runtimeFor('cpu') : undefined, onDeviceLost });
  // Measuring starts its engines once the version is known (a remembered choice starts one only);
  // the small CPU runtime downloads meanwhile.
  if (measuring) runtimeFor('cpu');
  /** @type {import('./prepare.js').StartedEngine | null} */
  let first = measuring ? null : engineFor(build);
  const locateOptions = { ...o, trust };
  const alias = o.channelUrl ? o.alias : undefined;
  const selector = o.channelUrl
    ? createSelector({ store, folder, alias: o.alias, id: o.id ?? telemetry?.installId ?? installIdentity, attributes: o.attributes,
      pin: o.pin, pageUrl: base })
    : null;
  try {
    const locating = performance.now();
    /** @type {import('./locate.js').Located | null} */
    let located = null;
    /** @type {IntegrityError | ChannelError | null} */
    let refused = null;
    try {
      located = await locate(locateOptions, store, selector?.select);
    } catch (err) {
      // A channel or manifest that fails verification, or a rollout section that is invalid:
      // the last good version may still serve.
      if (!(err instanceof IntegrityError || err instanceof ChannelError)) throw err;
      refused = err;
    }
    phases.manifestMs = since(locating);
    /** @type {string[]} */
    const warnings = [];
    if (!trust) {
      warnings.push('loaded without publicKey: the channel and manifest were not verified (only the weights\' hashes); ' +
        'pass the publisher\'s key (burn-edge keygen) to refuse a tampered or unsigned release');
    }
    const ctx = { folder, mirrors: o.mirrors, retries: o.retries, retryDelay: o.retryDelay, stallTimeout: o.stallTimeout, store, storage,
      onProgress: o.onProgress, warnings, backend: o.backend, keepVersions: o.keepVersions, alias };

    /** @type {Prepared} */
    let prepared;
    /** @type {{ reason: string, message: string, wanted: string } | null} */
    let fallback = null;
    /** @type {Assignment | null} */
    let assignment = located?.assignment ?? null;
    /** The backend chosen by measurement, per prepared version. @type {WeakMap<Prepared, import('./backend-choice.js').BackendChoice>} */
    const choices = new WeakMap();
    /** Where predictions go (route.js); null for route 'edge'. @type {import('./route.js').Router | null} */
    let router = null;
    /** With a route to the cloud: the edge's preparation, going on after loadModel returned. @type {Promise<Prepared> | null} */
    let edgeWork = null;
    /**
     * Prepares `l` on the edge: on the measured-faster build, or on `first`.
     * @param {import('./locate.js').Located} l
     * @returns {Promise<Prepared>}
     */
    const prepareEdge = async (l) => {
      if (!measuring) return prepareVersion(l, /** @type {import('./prepare.js').StartedEngine} */ (first), ctx);
      const measured = await prepareByMeasurement(l, ctx, engineFor, await /** @type {Promise<string>} */ (device));
      build = measured.choice.chosen;
      choices.set(measured.prepared, measured.choice);
      return measured.prepared;
    };
    try {
      if (refused || !located) throw refused;
      if (o.route !== 'edge') router = await routeFor(o, located);
      if (router && router.pick() === 'cloud') {
        // The cloud answered: the handle comes now; the edge prepares behind it (route 'auto').
        first ??= engineFor('cpu');
        const l = located;
        if (o.route === 'auto') {
          edgeWork = prepareEdge(l);
          edgeWork.catch(() => {});
        }
        prepared = await provisional(l, first, warnings);
      } else {
        prepared = await prepareEdge(located);
        first = { engine: prepared.engine, runtime: Promise.resolve(prepared.runtime), wasmCompileMs: first?.wasmCompileMs ?? (() => 0) };
        router?.edgeReady(prepared.phases.warmupMs);
      }
    } catch (err) {
      // A bad or unreachable new version must not take down an app that ran the last good one
      // (with a key: one whose stored signature still verifies).
      if (!(err instanceof IntegrityError || err instanceof NetworkError || err instanceof ChannelError)) throw err;
      const previous = await lastGood(store, folder, { alias: o.alias, trust }, located?.manifestUrl);
      if (!previous) throw err;
      fallback = { reason: err.code, message: err.message,
        wanted: located?.version ?? located?.manifestUrl ?? (refused instanceof IntegrityError ? refused.wanted : undefined) ??
          (o.channelUrl ? o.alias : o.manifestUrl ?? '') };
      const servedBefore = /** @type {Assignment | undefined} */ ((await store.index(folder)).served?.[o.alias]);
      assignment = servedBefore?.version === previous.version ? servedBefore : null;
      located = { manifestUrl: previous.manifestUrl, manifest: previous.manifest, signature: previous.signature,
        version: previous.version, served: { ...located?.served, manifest: 'cache' }, offline: located?.offline ?? null,
        channel: located?.channel ?? null };
      if (!first) first = engineFor(build = 'cpu'); // measuring failed: the last good version is served plainly
      prepared = await prepareVersion(located, first, ctx);
    }
    phases.downloadMs = prepared.phases.downloadMs;
    phases.backendInitMs = prepared.phases.backendInitMs;
    phases.warmupMs = prepared.phases.warmupMs;
    phases.wasmCompileMs = /** @type {import('./prepare.js').StartedEngine} */ (first).wasmCompileMs();
    if (o.channelUrl && !assignment) {
      assignment = { version: prepared.manifest.version, alias: o.alias, rule: null, kind: 'alias', arm: null, bucket: null, bucketVersion: null };
    }
    const target = /** @type {import('./locate.js').Located} */ (located);

    /**
     * What `info()` says about a prepared version.
     * @param {Prepared} p
     * @param {Assignment | null} a
     */
    const describe = (p, a) => ({
      ...p.session,
      worker: o.worker,
      model: p.manifest.name, version: p.manifest.version, architecture: p.manifest.architecture,
      alias,
      assignment: a,
      source: p.files.some((f) => f.source === 'network') ? 'network' : 'cache',
      offline: Boolean(p.target.offline),
      offlineReason: p.target.offline?.message,
      fallback: p === prepared ? fallback : null,
      backendChoice: choices.get(p) ?? null,
      signed: Boolean(trust),
      keyId: trust?.keyId ?? null,
      channelUrl: o.channelUrl, manifestUrl: p.target.manifestUrl, served: p.target.served,
      files: p.files.map((f) => ({ path: f.entry.path, role: f.entry.role, sha256: f.entry.sha256, size: f.entry.size,
        source: f.source, url: f.url })),
      runtime: p.runtime,
      storage,
      evicted: p.evicted,
      warnings: p === prepared ? warnings : [...warnings.filter((w) => w.startsWith('loaded without')), ...p.warnings],
      // A version prepared later (a hot swap) reports its own preparation time.
      loadMs: Math.round(p === prepared ? performance.now() - started : p.phases.totalMs),
    });
    const slot = slotFor(prepared, describe(prepared, assignment));

    /** @param {import('./model.js').Slot} s */
    const setContext = (s) => telemetry?.setModel({ name: s.prepared.manifest.name, version: s.prepared.manifest.version,
      backend: s.prepared.session.backend, variant: s.prepared.variant, role: 'served', alias: alias ?? null,
      rule: s.info.assignment?.rule ?? null, arm: s.info.assignment?.arm ?? null, runtimeVersion: s.prepared.runtime.version });
    /** @param {Assignment} a */
    const served = async (a) => {
      if (!selector || !(await selector.served(a).catch(() => false)) || a.rule === null || a.arm === null) return;
      telemetry?.record('burn_edge.exposure', { 'burn_edge.model.name': prepared.manifest.name, 'burn_edge.model.version': a.version,
        'burn_edge.rollout.rule': a.rule, 'burn_edge.rollout.arm': a.arm, 'burn_edge.alias': a.alias, 'burn_edge.rollout.kind': a.kind,
        'burn_edge.rollout.bucket': a.bucket, 'burn_edge.rollout.bucket_version': a.bucketVersion });
    };
    setContext(slot);
    if (telemetry) {
      telemetry.record('burn_edge.model.load', { ...loadAttributes(slot.info, { ...phases, readyMs: since(started) }),
        ...choiceAttributes(choices.get(prepared)), 'burn_edge.route': router?.info().current ?? 'edge' });
      if (o.backend === 'auto' && !choices.has(prepared) && !edgeWork && router?.info().current !== 'cloud') for (const a of fallbackAttributes(/** @type {any} */ (prepared.session))) telemetry.record('burn_edge.backend.fallback', a);
    }
    if (assignment && !target.offline) await served(assignment);

    /** @type {import('./model.js').Loader} */
    const loader = {
      resolve: () => resolveChannel({ ...locateOptions, channelUrl: /** @type {string} */ (o.channelUrl) }, store, { cache: 'no-cache' }),
      select: async (channel) => (selector ? selector.select(channel, { offline: false, cached: [] }) : null),
      async prepare(version, { remember }) {
        const t = await locateManifest(locateOptions, store, { version, modelName: prepared.manifest.name, channelServed: o.channelUrl });
        const engine = engineFor(build);
        try {
          return await prepareVersion(t, engine, { ...ctx, onProgress: undefined, warnings: [] }, { remember });
        } catch (err) {
          engine.engine.close('preparing the version failed');
          throw err;
        }
      },
      describe,
      served,
      setContext,
    };
    // The edge, when it prepares behind a cloud route, is a second load event (its own timings).
    const edge = edgeWork?.then((p) => {
      const s = slotFor(p, describe(p, assignment));
      telemetry?.record('burn_edge.model.load', { ...loadAttributes(s.info, { ...p.phases, wasmCompileMs: 0, manifestMs: phases.manifestMs,
        readyMs: since(started) }), ...choiceAttributes(choices.get(p)), 'burn_edge.route': 'edge' });
      return s;
    }) ?? null;
    return createModel({ slot, telemetry, loader, channel: target.offline ? null : target.channel ?? null, channelUrl: o.channelUrl,
      alias: o.alias, recheckInterval: o.recheckInterval, shadow: o.shadow, router, edge });
  } catch (err) {
    first?.engine.close('loading failed');
    throw err;
  }
}

/**
 * The load event's attributes for a backend chosen by measurement.
 * @param {import('./backend-choice.js').BackendChoice | undefined} c
 */
const choiceAttributes = (c) => (c ? {
  'burn_edge.backend_choice.chosen': c.chosen, 'burn_edge.backend_choice.reason': c.reason,
  'burn_edge.backend_choice.cpu_ms': c.timings.cpu, 'burn_edge.backend_choice.webgpu_ms': c.timings.webgpu,
  'burn_edge.backend_choice.cached': c.cached,
} : {});

/**
 * The router for `route: 'cloud' | 'auto'`; with 'auto' the cloud is asked once (a zero input)
 * so the handle comes early only when it answers.
 * @param {LoadOptions} o
 * @param {Located} located
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
 * A stand-in for the version while only the cloud serves: the engine has the runtime (image
 * preparation works), no session.
 * @param {Located} located
 * @param {import('./prepare.js').StartedEngine} started
 * @param {string[]} warnings
 * @returns {Promise<Prepared>}
 */
async function provisional(located, started, warnings) {
  const runtime = await started.runtime;
  return { engine: started.engine, target: located, manifest: JSON.parse(located.manifest), files: [], runtime, evicted: [], warnings,
    session: { backend: 'cloud', adapter: null, skipped: [], cpuKernels: null, plan: null, planError: null, memory: { afterCreation: null, now: null },
      thread: null },
    phases: { downloadMs: 0, backendInitMs: 0, warmupMs: 0, totalMs: 0 } };
}
