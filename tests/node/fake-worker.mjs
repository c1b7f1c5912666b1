// A stand-in for `Worker` in node tests of the supervised worker (www/lib/worker-engine.js):
// messages are structured-cloned as postMessage does (transferred buffers detached on the
// sender's side) and handled a tick later by the subclass's `handle`; `emit` raises events the
// supervisor listens to. `installFakeWorker` puts a class in place of `globalThis.Worker`
// around each test.
import { beforeEach, afterEach } from 'node:test';

export class FakeWorkerBase extends EventTarget {
  constructor() {
    super();
    /** @type {any[]} */
    this.received = [];
    this.terminated = false;
  }

  /** @param {any} message @param {Transferable[]} [transfer] */
  postMessage(message, transfer = []) {
    const copy = structuredClone(message, { transfer });
    this.received.push(copy);
    setTimeout(() => this.handle(copy), 1);
  }

  /** @param {any} _message */
  handle(_message) {}

  /** @param {string} type @param {Record<string, unknown>} fields */
  emit(type, fields) {
    this.dispatchEvent(Object.assign(new Event(type, { cancelable: true }), fields));
  }

  terminate() {
    this.terminated = true;
  }
}

/**
 * `WorkerClass` is `globalThis.Worker` during each test; `reset` runs before each.
 * @param {Function} WorkerClass
 * @param {() => void} reset
 */
export function installFakeWorker(WorkerClass, reset) {
  /** @type {PropertyDescriptor | undefined} */
  let saved;
  beforeEach(() => {
    reset();
    saved = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
    Object.defineProperty(globalThis, 'Worker', { value: WorkerClass, configurable: true, writable: true });
  });
  afterEach(() => {
    if (saved) Object.defineProperty(globalThis, 'Worker', saved);
    else delete (/** @type {any} */ (globalThis)).Worker;
  });
}
