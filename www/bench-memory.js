/**
 * @module bench-memory
 * A classic script loaded before any module of a benchmark page: it records every WebAssembly
 * memory the page's runtimes use, whether created in JS (ONNX Runtime Web's emscripten glue
 * makes its shared memory with `new WebAssembly.Memory`) or exported by an instance
 * (wasm-bindgen's modules export theirs), so both systems' wasm heaps are measured the same way.
 * `window.wasmMemoryBytes()` sums their current sizes; a wasm memory never shrinks, so after a
 * run that is the run's peak.
 */
(() => {
  /** @type {Set<WebAssembly.Memory>} */
  const memories = new Set();
  const W = WebAssembly;
  /** @param {WebAssembly.Instance} instance */
  const fromExports = (instance) => {
    for (const value of Object.values(instance.exports)) if (value instanceof W.Memory) memories.add(value);
    return instance;
  };
  W.Memory = new Proxy(W.Memory, {
    construct(target, args, newTarget) {
      const memory = Reflect.construct(target, args, newTarget);
      memories.add(memory);
      return memory;
    },
  });
  W.Instance = new Proxy(W.Instance, {
    construct(target, args, newTarget) {
      return fromExports(Reflect.construct(target, args, newTarget));
    },
  });
  /** @param {any} result */
  const seen = (result) => fromExports(result instanceof W.Instance ? result : result.instance) && result;
  const instantiate = W.instantiate;
  /** @type {any} */ (W).instantiate = (/** @type {any[]} */ ...args) => instantiate.apply(W, /** @type {any} */ (args)).then(seen);
  const streaming = W.instantiateStreaming;
  if (streaming) /** @type {any} */ (W).instantiateStreaming = (/** @type {any[]} */ ...args) => streaming.apply(W, /** @type {any} */ (args)).then(seen);
  /** @type {any} */ (window).wasmMemoryBytes = () => [...memories].reduce((n, m) => n + m.buffer.byteLength, 0);
})();
