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
import { chooseBuild } from './choose-build.js';
import { ChannelError, IntegrityError, NetworkError } from './errors.js';
import { locate, locateManifest, modelFolder, resolveChannel } from './locate.js';
import { createModel, slotFor } from './model.js';
import { prepareVersion, startEngine } from './prepare.js';
import { loadRuntimeFiles } from './runtime-files.js';
import { createSelector } from './select.js';
import { importPublicKey } from './signature.js';
import { prepareStorage } from './storage.js';
import { Store } from './store.js';

export { BurnEdgeError, ChannelError, CloudUnavailableError, IntegrityError, NetworkError, QuotaError, UnsupportedArchitectureError } from './errors.js';
export { createTelemetry } from './telemetry.js';

/**
 * @typedef {import('./download.js').Progress} Progress
 * @typedef {import('./locate.js').Located} Located
 * @typedef {{ channelUrl?: string, manifestUrl?: string, alias?: string, mirrors?: string[],
 *             backend?: 'auto' | 'webgpu' | 'cpu', runtimeBase?: string | URL, keepVersions?: number,
 *             retries?: number, retryDelay?: number, stallTimeout?: number, onProgress?: (p: Progress) => void,
 *             worker?: boolean, telemetry?: TelemetryOptions | Telemetry, publicKey?: string | CryptoKey,
 *             id?: string, attributes?: Record<string, unknown>, pin?: string, recheckInterval?: number, shadow?: boolean,
 *             route?: 'auto' | 'edge' | 'cloud', cloud?: { url: string, key?: string }, cloudBudgetMs?: number,
 *             prefer?: 'smallest' | 'fastest' | 'accurate', variant?: string }} LoadOptions
 * @typedef {import('./assign.js').Assignment} Assignment
 * @typedef {import('./prepare.js').Prepared} Prepared
 * @typedef {import('./telemetry.js').Telemetry} Telemetry
 * @typedef {import('./telemetry.js').TelemetryOptions} TelemetryOptions
 * @typedef {typeof import('./telemetry.js')} TelemetryModule
 */

// Loaded only when used (`import()`), so a page pays for what it uses: telemetry, the
// measurement of both backends (`backend: 'auto'` with WebGPU on offer), the cloud route.

/**
 * Loads a model and returns a handle to run it. With `telemetry` (options or a client from
 * `createTelemetry`) it records the load, backend fallbacks, failures and each prediction.
 * @param {LoadOptions} options
 */
export async function loadModel(options = {}) {
  /** @type {Telemetry | null} */
  let telemetry = null;
  /** Set whenever `telemetry` is. @type {TelemetryModule | null} */
  let events = null;
  try {
    if (options.telemetry) {
      events = await import('./telemetry.js');
      telemetry = events.isTelemetry(options.telemetry) ? options.telemetry : events.createTelemetry(options.telemetry);
    }
  } catch { /* telemetry never stops a load */ }
  try {
    return await load(options, telemetry, /** @type {TelemetryModule} */ (events));
  } catch (err) {
    telemetry?.record('burn_edge.error', /** @type {TelemetryModule} */ (events).errorAttributes(err));
    throw err;
  }
}

/**
 * @param {LoadOptions} options
 * @param {Telemetry | null} telemetry
 * @param {TelemetryModule} events the attribute builders, used only with `telemetry`
 */
async function load(options, telemetry, events) {
  const started = performance.now();
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
  const choosing = measuring ? import('./backend-choice.js') : null;
  const device = choosing?.then((m) => m.deviceKey()) ?? null;
  device?.catch(() => {}); // awaited by prepareEdge; this only silences the interim rejection
  // A crashed worker is replaced and replayed (worker-engine.js); each restart is an error event.
  const onRestart = (/** @type {{ reason: string }} */ r) =>
    telemetry?.record('burn_edge.error', { 'error.type': 'WORKER_RESTARTED', 'error.message': r.reason });
  // A lost WebGPU device moves the engine to the CPU build (worker-engine.js, engine.js).
  const onDeviceLost = (/** @type {import('./worker-engine.js').DeviceLost} */ lost) => {
    telemetry?.setModel({ backend: 'cpu' });
    telemetry?.record('burn_edge.device.lost', events.deviceLostAttributes(lost));
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
    ? createSelector({ store, folder, alias: o.alias, id: o.id ?? telemetry?.installId, attributes: o.attributes,
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
    /** Phase timings for telemetry (ms); the others are the prepared version's. */
    const manifestMs = since(locating);
    /** @type {string[]} */
    const warnings = [];
    if (!trust) {
      warnings.push('loaded without publicKey: the channel and manifest were not verified (only the weights\' hashes); ' +
        'pass the publisher\'s key (burn-edge keygen) to refuse a tampered or unsigned release');
    }
    const ctx = { folder, mirrors: o.mirrors, retries: o.retries, retryDelay: o.retryDelay, stallTimeout: o.stallTimeout, store, storage,
      onProgress: o.onProgress, warnings, backend: o.backend, keepVersions: o.keepVersions, alias, prefer: o.prefer, variant: o.variant };

    /** @type {Prepared} */
    let prepared;
    /** @type {{ reason: string, message: string, wanted: string } | null} */
    let fallback = null;
    /** @type {Assignment | null} */
    let assignment = located?.assignment ?? null;
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
      const { prepareByMeasurement } = await /** @type {Promise<typeof import('./backend-choice.js')>} */ (choosing);
      const measured = await prepareByMeasurement(l, ctx, engineFor, await /** @type {Promise<string>} */ (device));
      build = measured.choice.chosen;
      return { ...measured.prepared, choice: measured.choice };
    };
    try {
      if (refused || !located) throw refused;
      // With a route to the cloud that answered, the handle comes now (route.js).
      const routed = o.route !== 'edge' ? await (await import('./route.js')).routeLoad(o, located, () => (first ??= engineFor('cpu')),
        prepareEdge, warnings) : null;
      router = routed?.router ?? null;
      edgeWork = routed?.edgeWork ?? null;
      if (routed?.prepared) {
        prepared = routed.prepared;
      } else {
        prepared = await prepareEdge(located);
        first = { engine: prepared.engine, runtime: Promise.resolve(prepared.runtime), wasmCompileMs: first?.wasmCompileMs ?? (() => 0) };
        router?.edgeReady(prepared.phases.warmupMs);
      }
    } catch (err) {
      // A bad or unreachable new version must not take down an app that ran the last good one
      // (with a key: one whose stored signature still verifies).
      if (!(err instanceof IntegrityError || err instanceof NetworkError || err instanceof ChannelError)) throw err;
      ({ located, assignment, fallback } = await (await import('./offline.js')).fallbackTarget(store, folder, locateOptions, located, err));
      if (!first) first = engineFor(build = 'cpu'); // measuring failed: the last good version is served plainly
      prepared = await prepareVersion(located, first, ctx);
    }
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
      input: p.manifest.input ?? null,
      alias,
      assignment: a,
      source: p.files.some((f) => f.source === 'network') ? 'network' : 'cache',
      offline: Boolean(p.target.offline),
      offlineReason: p.target.offline?.message,
      fallback: p === prepared ? fallback : null,
      backendChoice: p.choice ?? null,
      signed: Boolean(trust),
      keyId: trust?.keyId ?? null,
      channelUrl: o.channelUrl, manifestUrl: p.target.manifestUrl, served: p.target.served,
      variant: p.variant ?? null,
      files: p.files.map((f) => ({ path: f.entry.path, role: f.entry.role, variant: f.entry.variant, sha256: f.entry.sha256, size: f.entry.size,
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
    const setContext = (s) => telemetry?.setModel(events.slotContext(s, alias ?? null));
    /** Records what serves; a rule's arm new to this unit is an exposure. @param {Assignment} a */
    const served = async (a) => {
      if (await selector?.served(a).catch(() => false)) telemetry?.record('burn_edge.exposure', events.exposureAttributes(prepared.manifest.name, a));
    };
    setContext(slot);
    if (telemetry) {
      telemetry.record('burn_edge.model.load', events.loadAttributes(slot.info, { ...prepared.phases, manifestMs,
        wasmCompileMs: /** @type {import('./prepare.js').StartedEngine} */ (first).wasmCompileMs(), readyMs: since(started) }, prepared.choice,
        router?.info().current));
      if (o.backend === 'auto' && !prepared.choice && !edgeWork && router?.info().current !== 'cloud') for (const a of events.fallbackAttributes(/** @type {any} */ (prepared.session))) telemetry.record('burn_edge.backend.fallback', a);
    }
    if (assignment && !target.offline) await served(assignment);

    /** @type {import('./model.js').Loader} */
    const loader = {
      resolve: () => resolveChannel({ ...locateOptions, channelUrl: /** @type {string} */ (o.channelUrl) }, store, { cache: 'no-cache' }),
      select: async (channel) => selector?.select(channel) ?? null,
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
      telemetry?.record('burn_edge.model.load', events.loadAttributes(s.info, { ...p.phases, wasmCompileMs: 0, manifestMs,
        readyMs: since(started) }, p.choice));
      return s;
    }) ?? null;
    return createModel({ slot, telemetry, events, loader, channel: target.offline ? null : target.channel ?? null, channelUrl: o.channelUrl,
      alias: o.alias, recheckInterval: o.recheckInterval, shadow: o.shadow, router, edge });
  } catch (err) {
    first?.engine.close('loading failed');
    throw err;
  }
}
