/**
 * @module worker-engine
 * The inference worker seen from the page, supervised. A worker that crashes (an uncaught
 * error in it, or a wasm trap, after which its wasm instance cannot be trusted) is replaced by
 * a fresh one: the runtime and the session are re-created from the bytes kept on this side
 * (the last successful `init` and `load`), then the requests the dead worker held are sent
 * again, each at most once more. More than `maxRestarts` crashes within `windowMs` and it gives
 * up: every call then rejects with a `BurnEdgeError` of code `'WORKER_CRASHED'`.
 *
 * A WebGPU session whose device is lost (the worker says so) or that traps is not restarted as
 * it was: the new worker starts the CPU build (`fallback`), loads the same weights with backend
 * `'cpu'` and re-sends the requests in flight, so none fails (`deviceLost`, `onDeviceLost`).
 *
 * Messages are `{ id, ...Request }`, replies `{ id, ok, value | error }` (see `worker.js`).
 * Keeping the runtime and weights costs one copy of each in the page; each (re)send transfers a
 * fresh copy, so nothing this side keeps is ever detached.
 */
import { BurnEdgeError, errorMessage, revive } from './errors.js';

/**
 * @typedef {import('./host.js').Request} Request
 * @typedef {{ request: Request, resolve: (v: any) => void, reject: (e: Error) => void, attempts: number,
 *             internal: boolean, sentIn: number }} Waiter `sentIn`: the generation of the worker it went to (-1: none yet)
 * @typedef {{ reason: string, restarts: number }} Restart
 * @typedef {{ at: string, reason: string, replayed: number }} DeviceLost
 * @typedef {{ glueUrl: string, wasm: ArrayBuffer }} CpuRuntime
 * @typedef {{ maxRestarts?: number, windowMs?: number, onRestart?: (restart: Restart) => void,
 *             fallback?: () => Promise<CpuRuntime>, onDeviceLost?: (lost: DeviceLost) => void }} SupervisorOptions
 *   `fallback`: the CPU build's runtime files, for leaving a lost WebGPU device
 */

const CRASHED = 'WORKER_CRASHED';
/** How long a failed WebGPU prediction waits for a device-loss report before it fails. */
export const LOSS_GRACE_MS = 250;

/**
 * A module worker running `worker.js`. Where the package is served from another origin than
 * the page, `new Worker` refuses the URL; a same-origin blob that imports it works there. Only
 * there: a page under a strict Content-Security-Policy (`worker-src 'self'`, no `blob:`)
 * serves the package from its own origin, whose URL `new Worker` takes, so no blob is made.
 * @returns {Worker}
 */
function spawnWorker() {
  // The literal `new Worker(new URL('./worker.js', import.meta.url), …)` is what bundlers
  // recognise to bundle and emit the worker: keep it in this one expression.
  try {
    return new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  } catch {
    const url = new URL('./worker.js', import.meta.url);
    const shim = new Blob([`import ${JSON.stringify(url.href)};`], { type: 'text/javascript' });
    return new Worker(URL.createObjectURL(shim), { type: 'module' });
  }
}

/**
 * What to post for `request`: the buffers the worker consumes go as fresh transferred copies.
 * @param {Request} request
 * @returns {[Request, Transferable[]]}
 */
function outgoing(request) {
  if (request.type === 'init') {
    const wasm = request.wasm.slice(0);
    return [{ ...request, wasm }, [wasm]];
  }
  if (request.type === 'load') {
    const weights = request.weights.slice(0);
    return [{ ...request, weights }, [weights]];
  }
  return [request, []]; // structured clone copies the rest; the original stays for a resend
}

/**
 * Starts the supervised worker.
 * @param {SupervisorOptions} [options]
 * @returns {import('./engine.js').Engine}
 */
export function startWorker({ maxRestarts = 3, windowMs = 60_000, onRestart, fallback, onDeviceLost } = {}) {
  /** @type {Map<number, Waiter>} */
  const pending = new Map();
  let nextId = 0;
  /** @type {Error | null} */
  let closed = null;
  /** What rebuilds a worker's state: the last `init` and `load` that succeeded. */
  /** @type {Request | null} */
  let initRequest = null;
  /** @type {Request | null} */
  let loadRequest = null;
  /** Crash times within the window. @type {number[]} */
  const crashes = [];
  let restarts = 0;
  /** Bumped by every crash: a replay that a newer crash overtook must not act. */
  let generation = 0;
  /** The backend of the loaded session, and the last device loss (null: none). */
  let backend = '';
  /** @type {DeviceLost | null} */
  let deviceLost = null;
  /** The last session info `load` answered (after a device loss: the CPU session's). */
  /** @type {any} */
  let session = null;
  /** Settles when the current worker has its state back; calls wait for it. */
  let ready = Promise.resolve();
  /** @type {Worker} */
  let worker = attach(spawnWorker());

  /** @param {Error} err */
  function failAll(err) {
    closed ??= err;
    for (const w of pending.values()) w.reject(err);
    pending.clear();
  }

  /** @param {number} id */
  function send(id) {
    const waiter = pending.get(id);
    if (!waiter || waiter.sentIn === generation) return;
    if (closed) {
      pending.delete(id);
      waiter.reject(closed);
      return;
    }
    const [message, transfer] = outgoing(waiter.request);
    waiter.sentIn = generation;
    worker.postMessage({ id, ...message }, transfer);
  }

  /**
   * Queues a request on the current worker; `internal` ones rebuild its state.
   * @param {Request} request
   * @param {boolean} internal
   * @returns {Promise<any>}
   */
  function enqueue(request, internal) {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { request, resolve, reject, attempts: 0, internal, sentIn: -1 });
      if (internal) send(id);
      else ready.then(() => send(id));
    });
  }

  /** @param {Worker} w */
  function attach(w) {
    w.addEventListener('message', (event) => {
      if (w !== worker) return; // a replaced worker's last words
      if (event.data?.event === 'deviceLost') {
        if (backend === 'webgpu') crash(`the WebGPU device was lost (${event.data.reason}: ${event.data.message})`, true);
        return;
      }
      const { id, ok, value, error } = event.data;
      const waiter = pending.get(id);
      if (!waiter) return;
      if (!ok && error?.code === 'WASM_TRAP' && initRequest) {
        // The waiter stays pending: it is sent again (on the CPU when the session was on WebGPU).
        crash(`a wasm trap (${error.message})`, backend === 'webgpu');
        return;
      }
      if (!ok && backend === 'webgpu' && fallback && waiter.request.type === 'predict') {
        // A destroyed device fails the calls on it before its loss is announced: wait for that
        // announcement a moment, so the call is re-sent on the CPU instead of failing.
        const gen = generation;
        setTimeout(() => {
          if (gen !== generation || pending.get(id) !== waiter) return;
          pending.delete(id);
          waiter.reject(revive(error));
        }, LOSS_GRACE_MS);
        return;
      }
      pending.delete(id);
      if (!ok) {
        waiter.reject(revive(error));
        return;
      }
      if (waiter.request.type === 'init') initRequest = waiter.request;
      if (waiter.request.type === 'load') {
        loadRequest = waiter.request;
        backend = String(value?.backend ?? '');
        session = value;
      }
      if (waiter.request.type === 'dispose') loadRequest = null;
      waiter.resolve(value);
    });
    w.addEventListener('error', (event) => {
      if (w !== worker) return;
      event.preventDefault();
      // Before the runtime ever started there is nothing to restore: the script itself is broken.
      if (!initRequest) {
        failAll(new BurnEdgeError(`the inference worker failed: ${event.message || 'its script did not load'}; ` +
          'check that worker.js is served next to index.js, or pass worker: false', { code: 'WORKER' }));
        return;
      }
      crash(`an uncaught error in the worker (${event.message || 'no message'})`);
    });
    return w;
  }

  /**
   * @param {string} reason
   * @param {boolean} [gpuLost] the WebGPU session failed: restart on the CPU build
   */
  function crash(reason, gpuLost = false) {
    if (closed) return;
    const toCpu = gpuLost && Boolean(fallback);
    const now = Date.now();
    crashes.push(now);
    while (crashes.length && crashes[0] <= now - windowMs) crashes.shift();
    worker.terminate();
    const dead = generation;
    const gen = ++generation;
    for (const [id, waiter] of pending) {
      // A replay's own requests die with the worker; the replay that sent them is abandoned.
      if (waiter.internal) {
        pending.delete(id);
        waiter.reject(new BurnEdgeError(reason, { code: CRASHED }));
        continue;
      }
      if (waiter.sentIn !== dead) continue; // never reached the dead worker: not an attempt
      if (toCpu) continue; // the GPU failed, not the request: it runs again on the CPU
      waiter.attempts += 1;
      if (waiter.attempts > 1) {
        pending.delete(id);
        waiter.reject(new BurnEdgeError(`the inference worker crashed twice on this ${waiter.request.type} request ` +
          `(last: ${reason}); it was restarted, the request was not retried again`, { code: CRASHED }));
      }
    }
    if (crashes.length > maxRestarts) {
      failAll(new BurnEdgeError(`the inference worker crashed ${crashes.length} times within ${Math.round(windowMs / 1000)} s ` +
        `(last: ${reason}); gave up restarting it: load the model again`, { code: CRASHED }));
      return;
    }
    restarts += 1;
    worker = attach(spawnWorker());
    let init = /** @type {Request} */ (initRequest);
    let load = loadRequest;
    if (toCpu) backend = 'cpu'; // a second loss report from the dead worker changes nothing
    ready = (async () => {
      if (toCpu) {
        const rt = await /** @type {() => Promise<CpuRuntime>} */ (fallback)();
        init = { type: 'init', glueUrl: rt.glueUrl, wasm: rt.wasm };
        if (load?.type === 'load') load = { ...load, backend: 'cpu' };
      }
      await enqueue(init, true);
      if (load) await enqueue(load, true);
    })().then(() => {
      if (gen !== generation) return;
      const replayed = [...pending.values()].filter((w) => !w.internal && w.sentIn === dead).length;
      for (const id of pending.keys()) send(id);
      if (toCpu) {
        deviceLost = { at: new Date().toISOString(), reason, replayed };
        try {
          onDeviceLost?.(deviceLost);
        } catch { /* a listener never stops the recovery */ }
      }
    }, (/** @type {unknown} */ err) => {
      if (gen !== generation) return;
      // The state that loaded before does not load again: nothing to retry on.
      failAll(new BurnEdgeError(`the inference worker crashed (${reason}) and could not be restored: ` +
        `${errorMessage(err)}`, { code: CRASHED }));
    });
    try {
      onRestart?.({ reason, restarts });
    } catch { /* a listener never stops the recovery */ }
  }

  return {
    call(request) {
      if (closed) return Promise.reject(closed);
      return enqueue(request, false);
    },
    get restarts() {
      return restarts;
    },
    get deviceLost() {
      return deviceLost;
    },
    get session() {
      return session;
    },
    close(reason) {
      if (closed) return;
      failAll(new BurnEdgeError(reason, { code: 'DISPOSED' }));
      // Free the session first; terminating also releases the wasm memory if that never answers.
      const w = worker;
      const id = nextId++;
      const freed = new Promise((resolve) => {
        w.addEventListener('message', (event) => { if (event.data?.id === id) resolve(undefined); });
      });
      w.postMessage({ id, type: 'dispose' });
      Promise.race([freed, new Promise((r) => setTimeout(r, 1000))]).then(() => w.terminate());
    },
  };
}
