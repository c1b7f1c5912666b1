/**
 * @module worker
 * The inference worker: the page fetches and verifies, this thread runs the wasm runtime so
 * inference never blocks the page. Messages are `{ id, ...Request }`; replies
 * `{ id, ok, value | error }`, with result buffers transferred, not copied. A lost WebGPU device
 * is announced unasked, `{ event: 'deviceLost', reason, message }`: the page moves to the CPU.
 */
import { createHost, describeError } from './host.js';

const host = createHost({ onDeviceLost: (loss) => self.postMessage({ event: 'deviceLost', ...loss }) });

self.addEventListener('message', async (/** @type {MessageEvent} */ event) => {
  const { id, ...request } = event.data;
  try {
    const { value, transfer } = await host.handle(request);
    self.postMessage({ id, ok: true, value }, { transfer });
  } catch (err) {
    self.postMessage({ id, ok: false, error: describeError(err) });
  }
});
