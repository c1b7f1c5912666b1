/**
 * @module burn-edge
 * The package's entry: `loadModel` resolves a model on a CDN (channel → version → manifest),
 * verifies the channel's and the manifest's Ed25519 signatures against the page's pinned
 * `publicKey`, checks that this runtime (itself verified against hashes pinned in the package)
 * can run it, downloads its files with progress, verifies their SHA-256 before use, caches them
 * for offline use, and runs inference in a Web Worker.
 */
import { chooseBuild } from './choose-build.js';
import { checkFilePaths, getFiles } from './files.js';
import { startInline, startWorker } from './engine.js';
import { imagePixels } from './image.js';
import { BurnEdgeError, IntegrityError, NetworkError } from './errors.js';
import { lastGood, locate, modelFolder } from './locate.js';
import { loadRuntimeFiles } from './runtime-files.js';
import { importPublicKey } from './signature.js';
import { prepareStorage } from './storage.js';
import { Store } from './store.js';
import { createTelemetry, errorAttributes, fallbackAttributes, inferenceAttributes, isTelemetry, loadAttributes,
  uuid } from './telemetry.js';

export { BurnEdgeError, IntegrityError, NetworkError, QuotaError, UnsupportedArchitectureError } from './errors.js';
export { createTelemetry } from './telemetry.js';

/**
 * @typedef {import('./download.js').Progress} Progress
 * @typedef {import('./locate.js').Located} Located
 * @typedef {{ channelUrl?: string, manifestUrl?: string, alias?: string, mirrors?: string[],
 *             backend?: 'auto' | 'webgpu' | 'cpu', runtimeBase?: string | URL, keepVersions?: number,
 *             retries?: number, retryDelay?: number, stallTimeout?: number, onProgress?: (p: Progress) => void,
 *             worker?: boolean, telemetry?: TelemetryOptions | Telemetry, publicKey?: string | CryptoKey }} LoadOptions
 * @typedef {import('./telemetry.js').Telemetry} Telemetry
 * @typedef {import('./telemetry.js').TelemetryOptions} TelemetryOptions
 */

const DISPOSED = 'this model was disposed: call loadModel again to use it';

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
  const phases = { manifestMs: 0, downloadMs: 0, wasmCompileMs: 0, backendInitMs: 0 };
  const since = (/** @type {number} */ t) => performance.now() - t;
  const base = globalThis.location?.href;
  // An option passed as undefined means "the default", as if it were left out.
  const given = /** @type {LoadOptions} */ (Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
  const o = {
    alias: 'stable', backend: /** @type {'auto' | 'webgpu' | 'cpu'} */ ('auto'), keepVersions: 2, retries: 3,
    retryDelay: 250, worker: true, ...given,
    channelUrl: options.channelUrl && new URL(options.channelUrl, base).href,
    manifestUrl: options.manifestUrl && new URL(options.manifestUrl, base).href,
    mirrors: (options.mirrors ?? []).map((m) => new URL(m, base).href),
    runtimeBase: new URL(options.runtimeBase ?? '../../pkg/', options.runtimeBase ? base : import.meta.url).href,
  };
  const folder = modelFolder(o);
  // The publisher's key, pinned by the page: without it nothing but the weights is verified.
  const trust = o.publicKey ? await importPublicKey(o.publicKey) : null;
  const [store, storage, build] = await Promise.all([Store.open(), prepareStorage(), chooseBuild(o.backend)]);
  // A crashed worker is replaced and replayed (worker-engine.js); each restart is an error event.
  const onRestart = (/** @type {{ reason: string }} */ r) =>
    telemetry?.record('burn_edge.error', { 'error.type': 'WORKER_RESTARTED', 'error.message': r.reason });
  const engine = o.worker ? startWorker({ onRestart }) : startInline();
  try {
    // The runtime downloads while the channel and manifest are resolved.
    const runtimeReady = loadRuntimeFiles(o.runtimeBase, build, o).then(async (rt) => {
      const t = performance.now();
      const { runtimeVersion } = await engine.call({ type: 'init', glue: rt.glue, glueUrl: rt.glueUrl, wasm: rt.wasm }, [rt.wasm]);
      phases.wasmCompileMs = since(t);
      return { build, source: rt.source, url: rt.glueUrl, version: runtimeVersion };
    });
    runtimeReady.catch(() => {}); // awaited below; this only silences the interim rejection
    const locating = performance.now();
    /** @type {Located | null} */
    let located = null;
    /** @type {IntegrityError | null} */
    let refused = null;
    try {
      located = await locate({ ...o, trust }, store);
    } catch (err) {
      // A channel or manifest that fails verification: the last good version may still serve.
      if (!(err instanceof IntegrityError)) throw err;
      refused = err;
    }
    phases.manifestMs = since(locating);
    const runtime = await runtimeReady;
    /** @type {string[]} */
    const warnings = [];
    if (!trust) {
      warnings.push('loaded without publicKey: the channel and manifest were not verified (only the weights\' hashes); ' +
        'pass the publisher\'s key (burn-edge keygen) to refuse a tampered or unsigned release');
    }
    const ctx = { folder, mirrors: o.mirrors, retries: o.retries, retryDelay: o.retryDelay, stallTimeout: o.stallTimeout, store, storage,
      onProgress: o.onProgress, warnings };

    /** @param {Located} target */
    const prepare = async (target) => {
      // The runtime is the authority on what it can run (architecture, minRuntimeVersion, schema).
      const manifest = JSON.parse(target.manifest);
      checkFilePaths(Array.isArray(manifest.files) ? manifest.files : [], target.manifestUrl, folder);
      await engine.call({ type: 'check', manifest: target.manifest });
      const t = performance.now();
      const files = await getFiles(manifest.files, target.manifestUrl, ctx);
      phases.downloadMs = since(t);
      return { target, manifest, files };
    };

    let chosen;
    /** @type {{ reason: string, message: string, wanted: string } | null} */
    let fallback = null;
    try {
      if (refused || !located) throw refused;
      chosen = await prepare(located);
    } catch (err) {
      // A bad or unreachable new version must not take down an app that ran the last good one
      // (with a key: one whose stored signature still verifies).
      if (!(err instanceof IntegrityError || err instanceof NetworkError)) throw err;
      const previous = await lastGood(store, folder, { alias: o.alias, trust }, located?.manifestUrl);
      if (!previous) throw err;
      fallback = { reason: err.code, message: err.message,
        wanted: located?.version ?? located?.manifestUrl ?? refused?.wanted ?? (o.channelUrl ? o.alias : o.manifestUrl ?? '') };
      chosen = await prepare({ manifestUrl: previous.manifestUrl, manifest: previous.manifest, signature: previous.signature,
        version: previous.version, served: { ...located?.served, manifest: 'cache' }, offline: located?.offline ?? null });
    }
    const { target, manifest, files } = chosen;

    /** @type {string[]} */
    let evicted = [];
    try {
      evicted = await store.remember(folder, {
        version: manifest.version, alias: o.channelUrl ? o.alias : undefined, manifestUrl: target.manifestUrl,
        manifest: target.manifest, signature: target.signature, files: files.map((f) => f.entry.sha256),
        verifiedAt: new Date().toISOString(),
      }, o.keepVersions);
    } catch (err) {
      warnings.push(`could not update the model cache index: ${err instanceof Error ? err.message : err}`);
    }

    const weights = files.find((f) => f.entry.role === 'weights');
    if (!weights) throw new BurnEdgeError(`${target.manifestUrl} lists no weights file`, { code: 'INVALID_MANIFEST' });
    const buffer = /** @type {ArrayBuffer} */ (weights.bytes.buffer);
    const initing = performance.now();
    const session = await engine.call({ type: 'load', weights: buffer, backend: o.backend, architecture: manifest.architecture }, [buffer]);
    phases.backendInitMs = since(initing);

    const info = {
      ...session,
      worker: o.worker,
      model: manifest.name, version: manifest.version, architecture: manifest.architecture,
      alias: o.channelUrl ? o.alias : undefined,
      source: files.some((f) => f.source === 'network') ? 'network' : 'cache',
      offline: Boolean(target.offline),
      offlineReason: target.offline?.message,
      fallback,
      signed: Boolean(trust),
      keyId: trust?.keyId ?? null,
      channelUrl: o.channelUrl, manifestUrl: target.manifestUrl, served: target.served,
      files: files.map((f) => ({ path: f.entry.path, role: f.entry.role, sha256: f.entry.sha256, size: f.entry.size,
        source: f.source, url: f.url })),
      runtime,
      storage,
      evicted,
      warnings,
      loadMs: Math.round(performance.now() - started),
    };
    if (telemetry) {
      telemetry.setModel({ name: manifest.name, version: manifest.version, backend: session.backend,
        variant: /** @type {{ variant?: string }} */ (weights.entry).variant, role: info.alias, runtimeVersion: runtime.version });
      telemetry.record('burn_edge.model.load', loadAttributes(info, { ...phases, readyMs: since(started) }));
      if (o.backend === 'auto') for (const a of fallbackAttributes(session)) telemetry.record('burn_edge.backend.fallback', a);
    }
    return handle(engine, info, telemetry, manifest);
  } catch (err) {
    engine.close('loading failed');
    throw err;
  }
}

/**
 * The caller's view of a loaded model.
 * @param {import('./engine.js').Engine} engine
 * @param {Record<string, unknown>} info
 * @param {Telemetry | null} telemetry
 * @param {{ labels?: string[], input?: unknown }} manifest
 */
function handle(engine, info, telemetry, manifest) {
  const labels = Array.isArray(manifest.labels) ? manifest.labels : [];
  const classes = labels.length;
  const schema = JSON.stringify(manifest.input ?? null);
  let disposed = false;
  /** @type {string | null} */
  let lastPredictionId = null;
  const gone = () => Promise.reject(new BurnEdgeError(DISPOSED, { code: 'DISPOSED' }));
  return {
    /**
     * Class probabilities for a batch of inputs (copied to the worker; the result is transferred).
     * @param {Float32Array} input
     * @returns {Promise<Float32Array>}
     */
    predict(input) {
      if (disposed) return gone();
      if (!(input instanceof Float32Array)) return Promise.reject(new TypeError('predict takes a Float32Array'));
      if (!telemetry) return engine.call({ type: 'predict', input });
      const t = performance.now();
      return engine.call({ type: 'predict', input }).then((/** @type {Float32Array} */ probs) => {
        const latency = performance.now() - t;
        try {
          lastPredictionId = uuid();
          telemetry.record('burn_edge.inference', inferenceAttributes(probs, classes || probs.length, latency, lastPredictionId));
        } catch { /* telemetry never fails a prediction */ }
        return probs;
      }, (/** @type {unknown} */ err) => {
        telemetry.record('burn_edge.error', errorAttributes(err));
        throw err;
      });
    },
    /** Class names from the manifest, index = output position. */
    get labels() {
      return [...labels];
    },
    /** Id of the last prediction that telemetry recorded (for `feedback`); null without telemetry. */
    get lastPredictionId() {
      return lastPredictionId;
    },
    /**
     * Reports the true label of a prediction (by its `lastPredictionId`); a no-op without telemetry.
     * @param {string} predictionId
     * @param {number} trueLabel
     */
    feedback(predictionId, trueLabel) {
      telemetry?.feedback(predictionId, trueLabel);
    },
    /**
     * Model input from RGBA pixels (e.g. ImageData.data) of any size.
     * @param {Uint8Array | Uint8ClampedArray} rgba
     * @param {number} width
     * @param {number} height
     * @returns {Promise<Float32Array>}
     */
    prepareDigit(rgba, width, height) {
      if (disposed) return gone();
      const bytes = new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength);
      return engine.call({ type: 'prepareDigit', rgba: bytes, width, height });
    },
    /**
     * Model input from any image (full size; resized, cropped and ordered per the manifest's
     * input schema by the runtime).
     * @param {import('./image.js').ImageSource} source
     * @returns {Promise<Float32Array>}
     */
    async prepareImage(source) {
      if (disposed) return gone();
      const { rgba, width, height } = await imagePixels(source);
      return engine.call({ type: 'prepareImage', rgba, width, height, schema });
    },
    /**
     * The `top` most likely labels for one image, best first.
     * @param {import('./image.js').ImageSource} source
     * @param {{ top?: number }} [options]
     * @returns {Promise<{ index: number, label: string, probability: number }[]>}
     */
    async classifyImage(source, { top = 5 } = {}) {
      const probs = await this.predict(await this.prepareImage(source));
      return [...probs].map((probability, index) => ({ index, label: labels[index] ?? String(index), probability }))
        .sort((a, b) => b.probability - a.probability).slice(0, top);
    },
    /** What runs, where it came from, and where it ran (a copy). */
    info() {
      return structuredClone({ ...info, workerRestarts: engine.restarts });
    },
    /** Frees the session and stops the worker; later calls reject with code `DISPOSED`. */
    dispose() {
      if (disposed) return;
      disposed = true;
      engine.close(DISPOSED);
    },
  };
}
