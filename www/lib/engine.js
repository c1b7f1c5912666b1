/**
 * @module engine
 * The page's side of the runtime host: a supervised module Worker by default
 * (`worker-engine.js`: restarted and replayed when it crashes), or the host in this thread
 * (`worker: false`). Either way calls are promises that settle with the host's reply.
 */
import { BurnEdgeError, revive } from './errors.js';
import { createHost, describeError } from './host.js';

export { startWorker } from './worker-engine.js';

/**
 * @typedef {import('./host.js').Request} Request
 * @typedef {{ call: (request: Request, transfer?: Transferable[]) => Promise<any>,
 *             close: (reason: string) => void, readonly restarts: number }} Engine
 *   `transfer`: buffers of `request` the caller hands over (the engine may keep them);
 *   `restarts`: how often a crashed worker was replaced.
 */

/**
 * The host in this thread, for pages that cannot or need not start a worker.
 * @returns {Engine}
 */
export function startInline() {
  const host = createHost();
  /** @type {Error | null} */
  let closed = null;
  return {
    restarts: 0,
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
