/**
 * @module prepare
 * The fetch/verify/cache and start stages for one version, reusable: the first load prepares
 * the version it serves, a hot swap the next one, shadow and interleaving a second one beside
 * it. An engine (a supervised worker, or the host inline) is started and its runtime
 * initialised; then the version's manifest is checked by that runtime, which also chooses the one
 * weights variant to fetch; its files are fetched and
 * verified (or read from the cache), recorded in the cache index, its session loaded, and one
 * prediction run on zeros of the manifest's input shape so the first real one is not the slow one.
 */
import { BurnEdgeError, errorMessage } from './errors.js';
import { checkFilePaths, getFiles } from './files.js';
import { startWorker } from './worker-engine.js';

/**
 * @typedef {import('./engine.js').Engine} Engine
 * @typedef {import('./locate.js').Located} Located
 * @typedef {{ build: string, source: string, url: string, version: string }} RuntimeInfo
 * @typedef {{ glueUrl: string, wasm: ArrayBuffer, source: string }} RuntimeFiles
 * @typedef {{ engine: Engine, runtime: Promise<RuntimeInfo>, wasmCompileMs: () => number }} StartedEngine
 * @typedef {import('./files.js').FilesContext & { backend: 'auto' | 'webgpu' | 'cpu', keepVersions: number, alias?: string,
 *             prefer?: string, variant?: string }} PrepareContext
 *   `prefer` / `variant`: which weights variant to fetch (the runtime chooses: `chooseWeights`)
 * @typedef {{ engine: Engine, target: Located, manifest: any, files: import('./files.js').VerifiedFile[],
 *             session: Record<string, any>, runtime: RuntimeInfo, evicted: string[], variant?: string, warnings: string[],
 *             phases: { downloadMs: number, backendInitMs: number, warmupMs: number, totalMs: number },
 *             choice?: import('./backend-choice.js').BackendChoice }} Prepared
 *   `totalMs`: from the call to the version being ready (the runtime's start included); `choice`:
 *   the backend chosen by measurement (`backend: 'auto'` with WebGPU on offer, the first load only).
 */

/**
 * The host in this thread (`worker: false`, engine.js), which loads on first use: calls wait for it.
 * @param {{ fallback?: () => Promise<RuntimeFiles>, onDeviceLost?: (lost: import('./worker-engine.js').DeviceLost) => void }} supervision
 * @returns {Engine}
 */
function inlineEngine(supervision) {
  /** @type {Engine | null} */
  let engine = null;
  const started = import('./engine.js').then((m) => (engine = m.startInline(supervision)));
  return {
    call: (request, transfer) => started.then((e) => e.call(request, transfer)),
    close: (reason) => { started.then((e) => e.close(reason), () => {}); },
    restarts: 0,
    get deviceLost() {
      return engine?.deviceLost ?? null;
    },
    get session() {
      return engine?.session;
    },
  };
}

/**
 * Starts an engine and initialises its runtime once the runtime files are there.
 * @param {{ worker: boolean, build: string, runtimeFiles: Promise<RuntimeFiles>, onRestart?: (r: { reason: string }) => void,
 *           fallback?: () => Promise<RuntimeFiles>, onDeviceLost?: (lost: import('./worker-engine.js').DeviceLost) => void }} o
 *   `fallback`: the CPU build's files, for a WebGPU engine whose device is lost
 * @returns {StartedEngine}
 */
export function startEngine(o) {
  const supervision = { fallback: o.fallback, onDeviceLost: o.onDeviceLost };
  const engine = o.worker ? startWorker({ onRestart: o.onRestart, ...supervision }) : inlineEngine(supervision);
  let compileMs = 0;
  const runtime = o.runtimeFiles.then(async (rt) => {
    const t = performance.now();
    // The worker engine posts a copy of the wasm bytes, so the same files start many engines.
    const { runtimeVersion } = await engine.call({ type: 'init', glueUrl: rt.glueUrl, wasm: rt.wasm },
      o.worker ? [] : [rt.wasm]);
    compileMs = performance.now() - t;
    return { build: o.build, source: rt.source, url: rt.glueUrl, version: runtimeVersion };
  });
  runtime.catch(() => {}); // awaited by prepareVersion; this only silences the interim rejection
  return { engine, runtime, wasmCompileMs: () => compileMs };
}

/**
 * Zeros of the manifest's input shape (one sample), or null when it declares none.
 * @param {any} manifest
 */
function zeros(manifest) {
  const shape = manifest?.input?.shape;
  if (!Array.isArray(shape) || !shape.length || !shape.every((d) => Number.isInteger(d) && d > 0)) return null;
  const n = shape.reduce((a, b) => a * b, 1);
  return n <= 1 << 26 ? new Float32Array(n) : null;
}

/**
 * Prepares `target` on `started`: check, files, cache index, session, warm-up.
 * @param {Located} target
 * @param {StartedEngine} started
 * @param {PrepareContext} ctx
 * @param {{ remember?: boolean }} [options] `remember: false` leaves the cache index alone (a shadow)
 * @returns {Promise<Prepared>}
 */
export async function prepareVersion(target, started, ctx, { remember = true } = {}) {
  const { engine } = started;
  const begun = performance.now();
  const runtime = await started.runtime;
  // The runtime is the authority on what it can run (architecture, minRuntimeVersion, schema).
  const manifest = JSON.parse(target.manifest);
  checkFilePaths(Array.isArray(manifest.files) ? manifest.files : [], target.manifestUrl, ctx.folder);
  // One weights variant, the one this device runs best for the page's preference: the others
  // are never downloaded.
  const { file } = /** @type {{ file: number }} */ (await engine.call({ type: 'check', manifest: target.manifest,
    prefer: ctx.prefer, variant: ctx.variant }));
  const wanted = manifest.files.filter((/** @type {any} */ f, /** @type {number} */ i) => f.role !== 'weights' || i === file);
  let t = performance.now();
  const files = await getFiles(wanted, target.manifestUrl, ctx);
  const downloadMs = performance.now() - t;
  /** @type {string[]} */
  let evicted = [];
  if (remember) {
    try {
      evicted = await ctx.store.remember(ctx.folder, {
        version: manifest.version, alias: ctx.alias, manifestUrl: target.manifestUrl,
        manifest: target.manifest, signature: target.signature, files: files.map((f) => f.entry.sha256),
        verifiedAt: new Date().toISOString(),
      }, ctx.keepVersions);
    } catch (err) {
      ctx.warnings.push(`could not update the model cache index: ${errorMessage(err)}`);
    }
  }
  const weights = files.find((f) => f.entry.role === 'weights');
  if (!weights) throw new BurnEdgeError(`${target.manifestUrl} lists no weights file`, { code: 'INVALID_MANIFEST' });
  const buffer = /** @type {ArrayBuffer} */ (weights.bytes.buffer);
  t = performance.now();
  const session = await engine.call({ type: 'load', weights: buffer, backend: ctx.backend, architecture: manifest.architecture }, [buffer]);
  const backendInitMs = performance.now() - t;
  t = performance.now();
  const input = zeros(manifest);
  let warmupMs = 0;
  if (input) {
    try {
      await engine.call({ type: 'predict', input });
      warmupMs = performance.now() - t;
    } catch (err) {
      // A model that refuses zeros still serves real inputs; only the first one is slower.
      ctx.warnings.push(`the warm-up prediction failed: ${errorMessage(err)}`);
    }
  }
  return { engine, target, manifest, files, session, runtime, evicted, warnings: ctx.warnings,
    variant: /** @type {{ variant?: string }} */ (weights.entry).variant, phases: { downloadMs, backendInitMs, warmupMs, totalMs: performance.now() - begun } };
}
