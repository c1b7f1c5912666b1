/**
 * @module engine
 * The page's side of the runtime host: a supervised module Worker by default
 * (`worker-engine.js`: restarted and replayed when it crashes), or the host in this thread
 * (`worker: false`: this module, which prepare.js loads only then). Either way calls are
 * promises that settle with the host's reply. Both leave a WebGPU session whose device is lost
 * (or that traps) for the CPU build, re-sending the calls in flight (`deviceLost`).
 */
import { BurnEdgeError, errorMessage, revive } from './errors.js';
import { createHost, describeError } from './host.js';

import { LOSS_GRACE_MS } from './worker-engine.js';

/**
 * @typedef {import('./host.js').Request} Request
 * @typedef {import('./worker-engine.js').DeviceLost} DeviceLost
 * @typedef {import('./worker-engine.js').CpuRuntime} CpuRuntime
 * @typedef {{ call: (request: Request, transfer?: Transferable[]) => Promise<any>,
 *             close: (reason: string) => void, readonly restarts: number,
 *             readonly deviceLost?: DeviceLost | null, readonly session?: any }} Engine
 *   `transfer`: buffers of `request` the caller hands over (the engine may keep them);
 *   `restarts`: how often a crashed worker was replaced; `deviceLost`: set once a lost WebGPU
 *   device moved it to the CPU; `session`: the last session info a `load` answered.
 * @typedef {{ request: Request, resolve: (v: any) => void, reject: (e: Error) => void }} Call
 */

/**
 * The host in this thread, for pages that cannot or need not start a worker.
 * @param {{ fallback?: () => Promise<CpuRuntime>, onDeviceLost?: (lost: DeviceLost) => void }} [options]
 * @returns {Engine}
 */
export function startInline({ fallback, onDeviceLost } = {}) {
  /** @type {Error | null} */
  let closed = null;
  /** Calls not answered yet, re-run on the CPU host after a device loss. @type {Set<Call>} */
  const inflight = new Set();
  /** @type {Request | null} */
  let loadRequest = null;
  let backend = '';
  /** @type {any} */
  let session = null;
  /** @type {DeviceLost | null} */
  let deviceLost = null;
  /** Settles when the CPU host has its state back. @type {Promise<void> | null} */
  let switching = null;
  let host = createHost({ onDeviceLost: (loss) => toCpu(`the WebGPU device was lost (${loss.reason}: ${loss.message})`) });

  /** @param {Call} c */
  function run(c) {
    const h = host;
    h.handle(c.request).then(({ value: v }) => {
      const value = /** @type {any} */ (v);
      if (h !== host) return; // the abandoned GPU host: its answer is re-run on the CPU
      inflight.delete(c);
      if (c.request.type === 'load') {
        loadRequest = c.request;
        backend = String(value?.backend ?? '');
        session = value;
      }
      c.resolve(value);
    }, (/** @type {unknown} */ err) => {
      if (h !== host) return;
      const described = describeError(err);
      if (described.code === 'WASM_TRAP' && backend === 'webgpu' && fallback) {
        toCpu(`a wasm trap (${described.message})`);
        return;
      }
      const fail = () => {
        if (h !== host || !inflight.delete(c)) return;
        c.reject(revive(described));
      };
      // A destroyed device fails calls before its loss is announced: give the announcement a moment.
      if (backend === 'webgpu' && fallback && c.request.type === 'predict') setTimeout(fail, LOSS_GRACE_MS);
      else fail();
    });
  }

  /** A fresh host on the CPU build, given the same session; the calls in flight run there. @param {string} reason */
  function toCpu(reason) {
    if (closed || switching || backend !== 'webgpu' || !fallback || !loadRequest) return;
    const load = { .../** @type {Request & { type: 'load' }} */ (loadRequest), backend: 'cpu' };
    host = createHost();
    backend = 'cpu';
    const replay = [...inflight];
    switching = (async () => {
      const rt = await fallback();
      await host.handle({ type: 'init', glueUrl: rt.glueUrl, wasm: rt.wasm });
      session = (await host.handle(load)).value;
      loadRequest = load;
    })();
    switching.then(() => {
      deviceLost = { at: new Date().toISOString(), reason, replayed: replay.length };
      for (const c of replay) run(c);
      try {
        onDeviceLost?.(deviceLost);
      } catch { /* a listener never stops the recovery */ }
    }, (/** @type {unknown} */ err) => {
      closed = new BurnEdgeError(`the WebGPU device was lost and the CPU build could not take over: ${errorMessage(err)}`,
        { code: 'DEVICE_LOST' });
      for (const c of inflight) c.reject(closed);
      inflight.clear();
    });
  }

  return {
    restarts: 0,
    get deviceLost() {
      return deviceLost;
    },
    get session() {
      return session;
    },
    async call(request) {
      if (closed) throw closed;
      if (switching) await switching.catch(() => {});
      if (closed) throw closed;
      return new Promise((resolve, reject) => {
        const c = { request, resolve, reject };
        inflight.add(c);
        run(c);
      });
    },
    close(reason) {
      if (closed) return;
      closed = new BurnEdgeError(reason, { code: 'DISPOSED' });
      host.handle({ type: 'dispose' }).catch(() => {});
    },
  };
}
