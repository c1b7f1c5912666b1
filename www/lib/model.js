/**
 * @module model
 * The caller's handle on a loaded model. What keeps it current comes by `import()` when used:
 * the re-check watch and hot swap (`rollout-watch.js`: a new assignment is prepared beside the
 * serving version in a new engine, then swapped in atomically), imported once the handle is
 * made (with `recheckInterval: 0`, at the first `recheck()`); the engines of a channel's shadow
 * and interleave rules (`pool.js`), loaded only for a channel that has such rules; `interleave()`
 * (`interleave.js`), predictions on the cloud (`route.js`) and `predictBatch`'s chunking
 * (`batch.js`).
 */
import { BurnEdgeError } from './errors.js';

/**
 * @typedef {import('./prepare.js').Prepared} Prepared
 * @typedef {import('./assign.js').Assignment} Assignment
 * @typedef {import('./assign.js').Channel} Channel
 * @typedef {import('./locate.js').ResolvedChannel} ResolvedChannel
 * @typedef {import('./telemetry.js').Telemetry} Telemetry
 * @typedef {{ prepared: Prepared, info: Record<string, any>, inflight: number, retired: boolean, labels: string[],
 *             classes: number, schema: string }} Slot
 *   (before the edge is ready with a route to the cloud: a slot whose engine has the runtime, no session)
 * @typedef {{ resolve: () => Promise<ResolvedChannel>, select: (channel: Channel) => Promise<Assignment | null>,
 *             prepare: (version: string, options: { remember: boolean }) => Promise<Prepared>,
 *             describe: (prepared: Prepared, assignment: Assignment | null) => Record<string, any>,
 *             served: (assignment: Assignment) => Promise<void>, setContext: (slot: Slot) => void }} Loader
 * @typedef {{ from: string, to: string, reason: string, swapMs: number, at: string }} Swap
 * @typedef {{ slot: Slot, telemetry: Telemetry | null, events: typeof import('./telemetry.js'), loader: Loader, channel: ResolvedChannel | null,
 *           channelUrl?: string, alias: string, recheckInterval: number, shadow: boolean,
 *           router?: import('./route.js').Router | null, edge?: Promise<Slot> | null }} ModelOptions
 *   `events`: telemetry's attribute builders (used only with `telemetry`, loaded with it); `router`:
 *   where predictions go (route.js); `edge`: the edge's slot, once ready, replacing `slot`
 * @typedef {{ o: ModelOptions, telemetry: Telemetry | null, events: typeof import('./telemetry.js'), loader: Loader,
 *             router: import('./route.js').Router | null, current: Slot, disposed: boolean, channel: Channel | null,
 *             last: { etag: string | null, text: string | null }, swaps: Swap[],
 *             rolloutError: { code: string, message: string, at: string } | null,
 *             pool: import('./pool.js').Pool | null, lastPredictionId: string | null,
 *             credit: ((picked: number) => string | null) | null,
 *             use: (slot: Slot, request: import('./host.js').Request) => Promise<any>,
 *             emit: (type: string, detail: Record<string, unknown>) => void, configure: () => Promise<void>,
 *             predict: (input: Float32Array) => Promise<Float32Array> }} Handle
 *   The handle's state, shared with the modules that come by `import()`; `credit`: credits the arm
 *   of the last interleaved list's picked item (interleave.js).
 */

export const DISPOSED = 'this model was disposed: call loadModel again to use it';

/**
 * @param {Prepared} prepared
 * @param {Record<string, any>} info
 * @returns {Slot}
 */
export function slotFor(prepared, info) {
  const labels = Array.isArray(prepared.manifest.labels) ? prepared.manifest.labels : [];
  return { prepared, info, inflight: 0, retired: false, labels, classes: labels.length,
    schema: JSON.stringify(prepared.manifest.input ?? null) };
}

/**
 * The rollout attributes of events about `slot`'s predictions (null clears the context's).
 * @param {Slot} slot
 */
export const slotAttributes = (slot) => ({
  'burn_edge.model.version': slot.info.version, 'burn_edge.role': 'served',
  'burn_edge.rollout.rule': slot.info.assignment?.rule ?? null, 'burn_edge.rollout.arm': slot.info.assignment?.arm ?? null,
});

/**
 * The handle; it resolves once the engines a shadow or interleave rule needs are starting.
 * @param {ModelOptions} o
 */
export async function createModel(o) {
  const { telemetry, loader } = o;
  const router = o.router ?? null;
  const target = new EventTarget();
  const gone = () => Promise.reject(new BurnEdgeError(DISPOSED, { code: 'DISPOSED' }));
  /** @type {Promise<import('./pool.js').Pool> | null} */
  let pooling = null;
  /** @type {Promise<{ now: () => Promise<void>, stop: () => void }> | null} */
  let watcher = null;

  /** @type {Handle} */
  const h = {
    o, telemetry, events: o.events, loader, router, current: o.slot, disposed: false,
    channel: o.channel?.channel ?? null, last: { etag: o.channel?.etag ?? null, text: o.channel?.text ?? null },
    swaps: [], rolloutError: null, pool: null, lastPredictionId: null, credit: null,
    /** A call on `slot`'s engine, counted so a retired engine closes after its last call. */
    use(slot, request) {
      slot.inflight += 1;
      return slot.prepared.engine.call(request).finally(() => {
        slot.inflight -= 1;
        if (slot.retired && slot.inflight === 0) slot.prepared.engine.close('replaced by a newer version');
      });
    },
    emit(type, detail) {
      try {
        target.dispatchEvent(new CustomEvent(type, { detail }));
      } catch { /* a listener never breaks the model */ }
    },
    /** Starts (or stops) the engines the channel's shadow and interleave rules need. */
    async configure() {
      const r = h.channel?.rollout;
      if (!pooling && !(r?.shadow?.length || r?.interleave?.length)) return;
      pooling ??= import('./pool.js').then((m) => (h.pool = m.createPool(h)));
      // pool.js not loading leaves the shadow off (it is best effort); the next change tries again.
      (await pooling.catch(() => { pooling = null; }))?.configure();
    },
    predict: (input) => model.predict(input),
  };

  /** The re-check watch, imported on first use. */
  const watching = () => {
    watcher ??= import('./rollout-watch.js').then((m) => m.watchChannel(h));
    watcher.catch(() => { watcher = null; }); // a failed import is tried again at the next recheck()
    return watcher;
  };
  /** @param {Float32Array} input */
  const onCloud = (input) => import('./route.js').then((m) => m.predictCloud(h, input));

  const model = {
    /**
     * Class probabilities for a batch of inputs (copied to the worker; the result is transferred).
     * @param {Float32Array} input
     * @returns {Promise<Float32Array>}
     */
    predict(input) {
      if (h.disposed) return gone();
      if (!(input instanceof Float32Array)) return Promise.reject(new TypeError('predict takes a Float32Array'));
      if (router && router.pick() === 'cloud') return onCloud(input);
      if (router && !router.edgeIsReady) return router.waitEdge().then(() => model.predict(input));
      const slot = h.current;
      // Sampled before the call, so the copy is of what was asked, whatever the caller does next.
      const copy = telemetry && h.pool?.sample(input);
      const t = performance.now();
      return h.use(slot, { type: 'predict', input }).then((/** @type {Float32Array} */ probs) => {
        if (!telemetry) return probs;
        const latency = performance.now() - t;
        const id = h.events.uuid();
        try {
          h.lastPredictionId = id;
          telemetry.record('burn_edge.inference', { ...h.events.inferenceAttributes(probs, slot.classes || probs.length, latency, id),
            ...slotAttributes(slot), 'burn_edge.route': 'edge' });
        } catch { /* telemetry never fails a prediction */ }
        // After the answer is handed back: the shadow never delays it.
        if (copy) setTimeout(() => h.pool?.runShadow(copy, id), 0);
        return probs;
      }, (/** @type {unknown} */ err) => {
        telemetry?.record('burn_edge.error', { ...h.events.errorAttributes(err), ...slotAttributes(slot) });
        // Out of memory on the edge under route 'auto': the cloud answers this one and the next ones.
        if (router?.edgeOutOfMemory(err)) return onCloud(input);
        throw err;
      });
    },
    /**
     * Probabilities for many examples, in chunks (`chunkSize`, default 32), each chunk one
     * `predict` (one worker round trip); `onProgress({ done, total })` after each; an aborted
     * `signal` rejects with an `AbortError` and sends no further chunk.
     * @param {Float32Array | Float32Array[]} inputs an array of inputs, or one Float32Array of n inputs
     * @param {import('./batch.js').BatchOptions} [options]
     * @returns {Promise<Float32Array[]>}
     */
    async predictBatch(inputs, options = {}) {
      if (h.disposed) return gone();
      const { examples, inputLength, runChunks } = await import('./batch.js');
      const items = examples(inputs, inputLength(h.current.prepared.manifest));
      return runChunks(items, (flat) => model.predict(flat), options);
    },
    /** Class names from the manifest, index = output position. */
    get labels() {
      return [...h.current.labels];
    },
    /** Id of the last prediction that telemetry recorded (for `feedback`); null without telemetry. */
    get lastPredictionId() {
      return h.lastPredictionId;
    },
    /**
     * Reports the true label of a prediction (`feedback(predictionId, trueLabel)`), or which item
     * of the last interleaved list was picked (`feedback({ picked: index })`: credits the arm that
     * contributed it, `burn_edge.interleave`; returns that arm). A no-op without telemetry.
     * @param {string | { picked: number }} prediction
     * @param {number} [trueLabel]
     * @returns {string | null | undefined}
     */
    feedback(prediction, trueLabel) {
      if (typeof prediction === 'object' && prediction !== null) return h.credit?.(prediction.picked) ?? null;
      telemetry?.feedback(prediction, /** @type {number} */ (trueLabel));
      return undefined;
    },
    /**
     * One top-`k` list drawn from both arms of the channel's interleave rule by team draft.
     * @param {Float32Array} input one sample
     * @param {number} [k]
     * @param {{ seed?: string }} [options] the coin's seed (default: fresh per call)
     * @returns {Promise<import('./interleave.js').InterleavedItem[]>}
     */
    async interleave(input, k = 5, { seed } = {}) {
      if (h.disposed) return gone();
      return (await import('./interleave.js')).interleaveArms(h, input, k, seed);
    },
    /**
     * Model input from RGBA pixels (e.g. ImageData.data) of any size.
     * @param {Uint8Array | Uint8ClampedArray} rgba
     * @param {number} width
     * @param {number} height
     * @returns {Promise<Float32Array>}
     */
    prepareDigit(rgba, width, height) {
      if (h.disposed) return gone();
      const bytes = new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength);
      return h.use(h.current, { type: 'prepareDigit', rgba: bytes, width, height });
    },
    /**
     * Model input from any image, resized, cropped and ordered per the manifest's input schema.
     * @param {import('./image.js').ImageSource} source
     * @returns {Promise<Float32Array>}
     */
    async prepareImage(source) {
      if (h.disposed) return gone();
      const { imagePixels } = await import('./image.js');
      const { rgba, width, height } = await imagePixels(source);
      const slot = h.current;
      return h.use(slot, { type: 'prepareImage', rgba, width, height, schema: slot.schema });
    },
    /**
     * The `top` most likely labels for one image, best first.
     * @param {import('./image.js').ImageSource} source
     * @param {{ top?: number }} [options]
     * @returns {Promise<{ index: number, label: string, probability: number }[]>}
     */
    async classifyImage(source, { top = 5 } = {}) {
      const labels = h.current.labels;
      const probs = await model.predict(await model.prepareImage(source));
      return [...probs].map((probability, index) => ({ index, label: labels[index] ?? String(index), probability }))
        .sort((x, y) => y.probability - x.probability).slice(0, top);
    },
    /**
     * The runtime's wasm memory in bytes now and right after the session was created (null for
     * both outside wasm); it never shrinks, so a growing `now` between predictions is a leak.
     * @returns {Promise<{ afterCreation: number | null, now: number | null }>}
     */
    async memory() {
      if (h.disposed) return gone();
      return h.current.prepared.engine.call({ type: 'memory' });
    },
    /** Re-checks the channel now; resolves once any swap it caused is done. */
    recheck() {
      if (h.disposed || !o.channelUrl) return Promise.resolve();
      return watching().then((w) => w.now(), () => {});
    },
    /** What runs, where it came from, and where it ran (a copy). */
    info() {
      const engine = h.current.prepared.engine;
      // After a lost WebGPU device the CPU build's session serves: its info replaces the first one's.
      const lost = engine.deviceLost ?? null;
      const moved = lost ? { ...engine.session, backend: 'cpu', deviceLost: lost, runtime: { ...h.current.info.runtime, build: 'cpu' } } : { deviceLost: null };
      return structuredClone({ ...h.current.info, ...moved, workerRestarts: engine.restarts, swaps: h.swaps, rolloutError: h.rolloutError,
        ...(h.pool?.info() ?? { shadow: null, interleave: null }),
        route: router?.info() ?? { mode: 'edge', current: 'edge', reason: 'route "edge"' } });
    },
    /** Frees the sessions and stops the workers; later calls reject with code `DISPOSED`. */
    dispose() {
      if (h.disposed) return;
      h.disposed = true;
      watcher?.then((w) => w.stop(), () => {});
      h.current.prepared.engine.close(DISPOSED);
      h.pool?.dispose();
    },
  };

  // With a route to the cloud the handle comes before the edge; route.js swaps the edge's slot in
  // (its failure is handled there, not reported as unhandled meanwhile).
  const edge = o.edge;
  edge?.catch(() => {});
  if (edge) import('./route.js').then((m) => m.adoptEdge(h, edge));
  await h.configure();
  if (o.channelUrl && o.recheckInterval > 0) watching();
  // The handle is an EventTarget ('swap', 'swapfailed') with the methods above.
  Object.defineProperties(target, Object.getOwnPropertyDescriptors(model));
  return /** @type {EventTarget & typeof model} */ (target);
}
