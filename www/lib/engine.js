/**
 * @module engine
 * The page's side of the runtime host: a module Worker by default, or the host in this thread
 * (`worker: false`). Either way calls are promises that settle with the host's reply.
 */
import { BurnEdgeError, revive } from './errors.js';
import { createHost, describeError } from './host.js';

/**
 * @typedef {import('./host.js').Request} Request
 * @typedef {{ call: (request: Request, transfer?: Transferable[]) => Promise<any>,
 *             close: (reason: string) => void }} Engine
 */

/**
 * A module worker running `worker.js`. Where the package is served from another origin than
 * the page, `new Worker` refuses the URL; a same-origin blob that imports it works there.
 * @returns {Worker}
 */
function spawnWorker() {
  const url = new URL('./worker.js', import.meta.url);
  try {
    return new Worker(url, { type: 'module' });
  } catch {
    const shim = new Blob([`import ${JSON.stringify(url.href)};`], { type: 'text/javascript' });
    return new Worker(URL.createObjectURL(shim), { type: 'module' });
  }
}

/** @returns {Engine} */
export function startWorker() {
  const worker = spawnWorker();
  /** @type {Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>} */
  const pending = new Map();
  let nextId = 0;
  /** @type {Error | null} */
  let closed = null;

  /** @param {Error} err */
  const failAll = (err) => {
    closed ??= err;
    for (const { reject } of pending.values()) reject(err);
    pending.clear();
  };
  worker.addEventListener('message', (event) => {
    const { id, ok, value, error } = event.data;
    const waiter = pending.get(id);
    pending.delete(id);
    if (ok) waiter?.resolve(value);
    else waiter?.reject(revive(error));
  });
  // A worker script that fails to load or throws at top level would otherwise hang every call.
  worker.addEventListener('error', (event) => {
    event.preventDefault();
    failAll(new BurnEdgeError(`the inference worker failed: ${event.message || 'its script did not load'}; ` +
      'check that worker.js is served next to index.js, or pass worker: false', { code: 'WORKER' }));
  });

  return {
    call(request, transfer = []) {
      if (closed) return Promise.reject(closed);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, ...request }, transfer);
      });
    },
    close(reason) {
      if (closed) return;
      failAll(new BurnEdgeError(reason, { code: 'DISPOSED' }));
      // Free the session first; terminating also releases the wasm memory if that never answers.
      const id = nextId++;
      const freed = new Promise((resolve) => pending.set(id, { resolve, reject: resolve }));
      worker.postMessage({ id, type: 'dispose' });
      Promise.race([freed, new Promise((r) => setTimeout(r, 1000))]).then(() => worker.terminate());
    },
  };
}

/**
 * The host in this thread, for pages that cannot or need not start a worker.
 * @returns {Engine}
 */
export function startInline() {
  const host = createHost();
  /** @type {Error | null} */
  let closed = null;
  return {
    async call(request) {
      if (closed) throw closed;
      try {
        return (await host.handle(request)).value;
      } catch (err) {
        throw revive(describeError(err));
      }
    },
    close(reason) {
      if (closed) return;
      closed = new BurnEdgeError(reason, { code: 'DISPOSED' });
      host.handle({ type: 'dispose' }).catch(() => {});
    },
  };
}
