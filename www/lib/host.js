/**
 * @module host
 * Owns the wasm runtime and one session; answers the loader's requests. The worker runs it,
 * and so does the page itself with `worker: false`, so both paths share one implementation.
 * Errors leave as `{ code, message }` with the runtime's own words.
 *
 * Every WebGPU device a runtime in this realm requests is watched (`GPUAdapter.prototype.
 * requestDevice` is wrapped once): Burn's WebGPU runtime panics on a lost device, so the host
 * whose session uses it reports the loss (`onDeviceLost`) and its supervisor moves inference
 * to the CPU build (`worker-engine.js`, `engine.js`).
 */

/**
 * @typedef {{ type: 'init', glueUrl: string, wasm: ArrayBuffer }
 *   | { type: 'check', manifest: string, prefer?: string, variant?: string }
 *   | { type: 'load', weights: ArrayBuffer, backend: string, architecture: string }
 *   | { type: 'predict', input: Float32Array }
 *   | { type: 'prepareDigit', rgba: Uint8Array, width: number, height: number }
 *   | { type: 'prepareImage', rgba: Uint8Array, width: number, height: number, schema: string }
 *   | { type: 'memory' }
 *   | { type: 'dispose' }} Request
 * @typedef {{ value: unknown, transfer: Transferable[] }} Reply
 */

/** @typedef {{ reason: string, message: string }} DeviceLoss */

/** WebGPU devices requested in this realm and not lost yet. @type {Set<any>} */
const devices = new Set();
/** @type {Set<(device: any, loss: DeviceLoss) => void>} */
const lostListeners = new Set();
let wrapped = false;

/** Wraps `GPUAdapter.prototype.requestDevice` (once per realm) to watch each device's `lost`. */
function watchDevices() {
  if (wrapped) return;
  wrapped = true;
  const proto = /** @type {any} */ (globalThis).GPUAdapter?.prototype;
  if (typeof proto?.requestDevice !== 'function') return;
  const original = proto.requestDevice;
  proto.requestDevice = async function requestDevice(/** @type {any[]} */ ...args) {
    const device = await original.apply(this, args);
    if (device && device.lost instanceof Promise) {
      devices.add(device);
      device.lost.then((/** @type {any} */ info) => {
        devices.delete(device);
        const loss = { reason: String(info?.reason ?? 'unknown'), message: String(info?.message || 'the WebGPU device was lost') };
        for (const listener of lostListeners) {
          try {
            listener(device, loss);
          } catch { /* one host's listener never stops another's */ }
        }
      });
    }
    return device;
  };
}

/** The WebGPU devices this realm's runtimes hold (diagnostics and tests: destroy one to simulate a loss). */
export function watchedDevices() {
  return [...devices];
}

/** An error that carries the code the page turns back into a typed error. */
class HostError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** @param {unknown} err */
const text = (err) => (err instanceof Error ? err.message : String(err));

/**
 * Turns any failure into what crosses postMessage.
 * @param {unknown} err
 * @returns {{ code: string, message: string }}
 */
export function describeError(err) {
  // A trap (a Rust panic, an allocation failure) leaves the wasm instance unusable: the page
  // restarts the worker on this code.
  const trap = typeof WebAssembly === 'object' && err instanceof WebAssembly.RuntimeError;
  return { code: err instanceof HostError ? err.code : trap ? 'WASM_TRAP' : 'RUNTIME', message: text(err) };
}

/**
 * A fresh host: no runtime, no session.
 * @param {{ onDeviceLost?: (loss: DeviceLoss) => void }} [options] called when a WebGPU device
 *   this host's runtime requested is lost
 */
export function createHost({ onDeviceLost } = {}) {
  /** @type {any} */
  let runtime = null;
  /** @type {any} */
  let session = null;
  /** Devices requested while this host loaded a session: its runtime's. @type {Set<any>} */
  const mine = new Set();
  watchDevices();
  lostListeners.add((device, loss) => {
    if (mine.delete(device)) onDeviceLost?.(loss);
  });

  const needRuntime = () => {
    if (!runtime) throw new HostError('RUNTIME', 'the runtime is not initialised');
    return runtime;
  };
  const needSession = () => {
    if (!session) throw new HostError('DISPOSED', 'no model session: it was disposed or never loaded');
    return session;
  };

  /**
   * @param {Request} request
   * @returns {Promise<Reply>}
   */
  async function handle(request) {
    switch (request.type) {
      case 'init': {
        // The glue by its URL, which the page verified against the package's pin
        // (runtime-files.js says why not from bytes); the wasm from the verified bytes.
        runtime = await import(/* @vite-ignore */ /* webpackIgnore: true */ request.glueUrl);
        await runtime.default({ module_or_path: request.wasm });
        return { value: { runtimeVersion: runtime.runtimeVersion?.() }, transfer: [] };
      }
      case 'check': {
        // The runtime checks the manifest (schema, architecture, runtime version) and chooses
        // the one weights variant to fetch.
        const rt = needRuntime();
        if (typeof rt.chooseWeights !== 'function') {
          throw new HostError('RUNTIME', 'this runtime build has no chooseWeights: rebuild pkg/ or update the package');
        }
        try {
          return { value: { file: rt.chooseWeights(request.manifest, [], request.prefer ?? 'accurate', request.variant) }, transfer: [] };
        } catch (err) {
          const code = /architecture|needs runtime/.test(text(err)) ? 'UNSUPPORTED_ARCHITECTURE' : /no weights variant|device lacks|variant pref/.test(text(err)) ? 'NO_VARIANT' : 'INVALID_MANIFEST';
          throw new HostError(code, text(err));
        }
      }
      case 'load': {
        session?.free();
        const before = new Set(devices);
        session = await needRuntime().createSession(new Uint8Array(request.weights), request.backend, request.architecture);
        for (const d of devices) if (!before.has(d)) mine.add(d);
        // Where it ran, for info(): 'DedicatedWorkerGlobalScope' in the worker, 'Window' inline.
        return { value: { ...session.info(), thread: globalThis.constructor.name }, transfer: [] };
      }
      case 'predict': {
        /** @type {Float32Array} */
        const probs = await needSession().predict(request.input);
        return { value: probs, transfer: [probs.buffer] };
      }
      case 'prepareDigit': {
        /** @type {Float32Array} */
        const input = needRuntime().prepareDigit(request.rgba, request.width, request.height);
        return { value: input, transfer: [input.buffer] };
      }
      case 'prepareImage': {
        /** @type {Float32Array} */
        const input = needRuntime().prepareImage(request.rgba, request.width, request.height, request.schema);
        return { value: input, transfer: [input.buffer] };
      }
      case 'memory': {
        return { value: needSession().info().memory, transfer: [] };
      }
      case 'dispose': {
        session?.free();
        session = null;
        return { value: null, transfer: [] };
      }
    }
  }
  return { handle };
}
