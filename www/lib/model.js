/**
 * @module model
 * The caller's handle on a loaded model, and what keeps it current: the observe stage
 * re-checks the channel (`rollout-watch.js`), and a new assignment is prepared beside the
 * serving version in a new engine (download, verify, cache, init, load, warm-up), then swapped
 * in atomically (blue/green): new calls go to the new engine, calls in flight finish on the old
 * one, which is closed after them. A failed preparation or a refused channel keeps the old
 * version serving (`swapfailed`). A shadow challenger runs in its own engine after the served
 * answer was returned; `interleave` runs both arms of an interleave rule.
 */
import { extras } from './assign.js';
import { examples, inputLength, runChunks } from './batch.js';
import { BurnEdgeError, NetworkError } from './errors.js';
import { imagePixels } from './image.js';
import { ranking, seededRandom, teamDraft } from './interleave.js';
import { CloudUnavailableError } from './route.js';
import { channelChanged, watch } from './rollout-watch.js';
import { errorAttributes, inferenceAttributes, uuid } from './telemetry.js';

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
 * @typedef {{ promise: Promise<Prepared>, prepared: Prepared | null, error: string | null }} Extra
 */

const DISPOSED = 'this model was disposed: call loadModel again to use it';
/** Shadow predictions waiting beyond this are skipped: a slow challenger never piles up work. */
const SHADOW_QUEUE = 4;

/** @param {unknown} err */
const message = (err) => (err instanceof Error ? err.message : String(err));

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
const slotAttributes = (slot) => ({
  'burn_edge.model.version': slot.info.version, 'burn_edge.role': 'served',
  'burn_edge.rollout.rule': slot.info.assignment?.rule ?? null, 'burn_edge.rollout.arm': slot.info.assignment?.arm ?? null,
});

/**
 * @param {{ slot: Slot, telemetry: Telemetry | null, loader: Loader, channel: ResolvedChannel | null,
 *           channelUrl?: string, alias: string, recheckInterval: number, shadow: boolean,
 *           router?: import('./route.js').Router | null, edge?: Promise<Slot> | null }} o
 *   `router`: where predictions go (route.js); `edge`: the edge's slot, once ready, replacing `slot`
 */
export function createModel(o) {
  const { telemetry, loader } = o;
  const router = o.router ?? null;
  const target = new EventTarget();
  let current = o.slot;
  let disposed = false;
  /** @type {string | null} */
  let lastPredictionId = null;
  /** @type {{ id: string, rule: string, list: { index: number, arm: string }[] } | null} */
  let lastInterleave = null;
  /** @type {Swap[]} */
  const swaps = [];
  /** @type {{ code: string, message: string, at: string } | null} */
  let rolloutError = null;
  /** Engines for versions beside the served one (shadow, interleave), by version. @type {Map<string, Extra>} */
  const pool = new Map();
  /** @type {import('./assign.js').ShadowRule | null} */
  let shadowRule = null;
  /** @type {import('./assign.js').InterleaveRule | null} */
  let interleaveRule = null;
  const shadowStats = { runs: 0, failures: 0, skipped: 0, inflight: 0 };
  /** @type {Channel | null} */
  let channel = o.channel?.channel ?? null;
  const last = { etag: o.channel?.etag ?? null, text: o.channel?.text ?? null };
  const gone = () => Promise.reject(new BurnEdgeError(DISPOSED, { code: 'DISPOSED' }));

  /**
   * A call on `slot`'s engine, counted so a retired engine closes after its last call.
   * @param {Slot} slot
   * @param {import('./host.js').Request} request
   */
  function use(slot, request) {
    slot.inflight += 1;
    return slot.prepared.engine.call(request).finally(() => {
      slot.inflight -= 1;
      if (slot.retired && slot.inflight === 0) slot.prepared.engine.close('replaced by a newer version');
    });
  }

  /** Starts (or stops) the engines the channel's shadow and interleave rules need. */
  function configure() {
    const { shadow, interleave } = channel ? extras(channel, o.alias) : { shadow: null, interleave: null };
    shadowRule = o.shadow && shadow && shadow.challenger !== current.info.version ? shadow : null;
    interleaveRule = interleave;
    const wanted = new Set([shadowRule?.challenger, ...(interleave?.arms ?? []).map((a) => a.version)]
      .filter((v) => v && v !== current.info.version));
    for (const version of /** @type {Set<string>} */ (wanted)) {
      if (pool.has(version)) continue;
      /** @type {Extra} */
      const entry = { promise: loader.prepare(version, { remember: false }), prepared: null, error: null };
      entry.promise.then((p) => {
        if (pool.get(version) === entry && !disposed) entry.prepared = p;
        else p.engine.close('no longer needed');
      }, (err) => {
        entry.error = message(err);
        telemetry?.record('burn_edge.error', { ...errorAttributes(err), 'burn_edge.model.version': version, 'burn_edge.role': 'shadow' });
      });
      pool.set(version, entry);
    }
    for (const [version, entry] of pool) {
      if (wanted.has(version)) continue;
      pool.delete(version);
      entry.prepared?.engine.close('no longer needed');
    }
  }

  /**
   * Re-runs a served input on the shadow engine; only logged, never returned, never thrown.
   * @param {Float32Array} input
   * @param {string} servedId
   */
  function runShadow(input, servedId) {
    const rule = shadowRule;
    const extra = rule ? pool.get(rule.challenger)?.prepared : null;
    if (!extra || !telemetry) return;
    shadowStats.inflight += 1;
    const t = performance.now();
    extra.engine.call({ type: 'predict', input }).then((/** @type {Float32Array} */ probs) => {
      shadowStats.runs += 1;
      const labels = Array.isArray(extra.manifest.labels) ? extra.manifest.labels.length : 0;
      telemetry.record('burn_edge.inference', { ...inferenceAttributes(probs, labels || probs.length, performance.now() - t, uuid()),
        'burn_edge.model.version': extra.manifest.version, 'burn_edge.backend': extra.session.backend, 'burn_edge.variant': extra.variant,
        'burn_edge.role': 'shadow', 'burn_edge.shadow.of': servedId, 'burn_edge.rollout.rule': null, 'burn_edge.rollout.arm': null,
        'burn_edge.route': 'edge' });
    }, (/** @type {unknown} */ err) => {
      shadowStats.failures += 1;
      telemetry.record('burn_edge.error', { ...errorAttributes(err), 'burn_edge.model.version': extra.manifest.version,
        'burn_edge.role': 'shadow', 'burn_edge.rollout.rule': null, 'burn_edge.rollout.arm': null });
    }).finally(() => { shadowStats.inflight -= 1; });
  }

  /**
   * @param {string} type
   * @param {Record<string, unknown>} detail
   */
  const emit = (type, detail) => {
    try {
      target.dispatchEvent(new CustomEvent(type, { detail }));
    } catch { /* a listener never breaks the model */ }
  };

  /** @param {unknown} err @param {string | null} to */
  function refuse(err, to) {
    const e = /** @type {any} */ (err);
    rolloutError = { code: String(e?.code ?? 'ERROR'), message: message(err), at: new Date().toISOString() };
    telemetry?.record('burn_edge.error', { ...errorAttributes(err), ...slotAttributes(current) });
    if (to) {
      telemetry?.record('burn_edge.swap', { 'burn_edge.swap.from': current.info.version, 'burn_edge.swap.to': to,
        'burn_edge.swap.ms': 0, 'burn_edge.swap.reason': `failed: ${rolloutError.message}` });
    }
    emit('swapfailed', { from: current.info.version, to, reason: rolloutError.code, message: rolloutError.message });
  }

  /** One re-check of the channel: a new assignment is prepared and swapped in. */
  async function check() {
    if (disposed || !o.channelUrl) return;
    const probe = await channelChanged(o.channelUrl, last);
    last.etag = probe.etag;
    // A ramp moves coverage with time alone: an unchanged channel is assigned again.
    const ramped = (/** @type {Channel | null} */ c) => Boolean(c?.rollout?.rules?.some((r) => r.ramp?.length));
    if ((!probe.changed && !ramped(channel)) || disposed) return;
    /** @type {ResolvedChannel | null} */
    let resolved = null;
    /** @type {Assignment | null} */
    let assignment;
    try {
      if (probe.changed) resolved = await loader.resolve();
      const next = resolved?.channel ?? channel;
      if (!next) return;
      assignment = await loader.select(next);
    } catch (err) {
      if (err instanceof NetworkError) return; // unreachable now: the next check tries again
      // Forget the refused channel's ETag too: a 304 for it must not hide the fixed one (a
      // channel caught between its write and its signature's is verified again next time).
      last.etag = null;
      last.text = null;
      refuse(err, null);
      return;
    }
    if (resolved) {
      const same = resolved.text === last.text;
      last.text = resolved.text;
      last.etag = resolved.etag ?? last.etag;
      channel = resolved.channel;
      if (same && !rolloutError && !ramped(channel)) return;
      rolloutError = null;
    }
    const seen = performance.now();
    if (!assignment || disposed) return;
    if (assignment.version === current.info.version) {
      const before = current.info.assignment;
      current.info = { ...current.info, assignment };
      if (before?.rule !== assignment.rule || before?.arm !== assignment.arm || before?.kind !== assignment.kind) {
        loader.setContext(current);
        await loader.served(assignment);
      }
      configure();
      return;
    }
    const from = current.info.version;
    const reason = assignment.kind === 'kill' ? 'kill' : assignment.kind === 'pin' ? 'pin' : 'channel';
    /** @type {Prepared} */
    let prepared;
    try {
      prepared = await loader.prepare(assignment.version, { remember: true });
    } catch (err) {
      // Forget the ETag: the next check tries this version again (a download can succeed later).
      last.etag = null;
      last.text = null;
      refuse(err, assignment.version);
      return;
    }
    if (disposed) {
      prepared.engine.close(DISPOSED);
      return;
    }
    const next = slotFor(prepared, loader.describe(prepared, assignment));
    const old = current;
    current = next;
    old.retired = true;
    if (old.inflight === 0) old.prepared.engine.close('replaced by a newer version');
    const swapMs = performance.now() - seen;
    const swap = { from, to: assignment.version, reason, swapMs, at: new Date().toISOString() };
    swaps.push(swap);
    if (swaps.length > 50) swaps.shift();
    loader.setContext(current);
    telemetry?.record('burn_edge.swap', { 'burn_edge.swap.from': from, 'burn_edge.swap.to': assignment.version,
      'burn_edge.swap.ms': swapMs, 'burn_edge.swap.reason': reason, 'burn_edge.rollout.rule': assignment.rule,
      'burn_edge.rollout.arm': assignment.arm });
    emit('swap', { ...swap, assignment });
    configure();
    await loader.served(assignment);
  }

  const watcher = watch({ interval: o.channelUrl ? o.recheckInterval : 0, check });
  configure();

  // With a route to the cloud the handle comes before the edge: its slot replaces the first one.
  o.edge?.then((slot) => {
    if (disposed) {
      slot.prepared.engine.close(DISPOSED);
      return;
    }
    const old = current;
    current = slot;
    if (old.prepared.engine !== slot.prepared.engine) {
      old.retired = true;
      if (old.inflight === 0) old.prepared.engine.close('the edge is ready');
    }
    loader.setContext(current);
    router?.edgeReady(slot.prepared.phases.warmupMs);
    configure();
  }, (err) => {
    router?.edgeFailed(err);
    telemetry?.record('burn_edge.error', { ...errorAttributes(err), ...slotAttributes(current) });
  });

  /**
   * One prediction on the server (`route` cloud); an unreachable cloud under `route: 'auto'`
   * hands it to the edge.
   * @param {Float32Array} input
   * @returns {Promise<Float32Array>}
   */
  async function predictCloud(input) {
    const r = /** @type {import('./route.js').Router} */ (router);
    const slot = current;
    const n = inputLength(slot.prepared.manifest);
    if (n && input.length % n !== 0) throw new TypeError(`predict: ${input.length} values are not a whole number of inputs of ${n}`);
    const t = performance.now();
    /** @type {Float32Array} */
    let probs;
    try {
      ({ probs } = await r.cloud(input, n ? input.length / n : 1));
    } catch (err) {
      if (err instanceof CloudUnavailableError && r.mode === 'auto') {
        r.cloudFailed(err);
        if (r.pick() === 'edge') return model.predict(input);
      }
      telemetry?.record('burn_edge.error', { ...errorAttributes(err), ...slotAttributes(slot) });
      throw err;
    }
    try {
      const id = uuid();
      lastPredictionId = telemetry ? id : lastPredictionId;
      telemetry?.record('burn_edge.inference', { ...inferenceAttributes(probs, slot.classes || probs.length, performance.now() - t, id),
        ...slotAttributes(slot), 'burn_edge.backend': 'cpu', 'burn_edge.route': 'cloud' });
    } catch { /* telemetry never fails a prediction */ }
    return probs;
  }

  const model = {
    /**
     * Class probabilities for a batch of inputs (copied to the worker; the result is transferred).
     * @param {Float32Array} input
     * @returns {Promise<Float32Array>}
     */
    predict(input) {
      if (disposed) return gone();
      if (!(input instanceof Float32Array)) return Promise.reject(new TypeError('predict takes a Float32Array'));
      if (router && router.pick() === 'cloud') return predictCloud(input);
      if (router && !router.edgeIsReady) return router.waitEdge().then(() => model.predict(input));
      const slot = current;
      if (!telemetry) {
        return use(slot, { type: 'predict', input }).catch((/** @type {unknown} */ err) => {
          if (router?.edgeOutOfMemory(err)) return predictCloud(input);
          throw err;
        });
      }
      // Sampled before the call, so the copy is of what was asked, whatever the caller does next.
      const shadowing = shadowRule && pool.get(shadowRule.challenger)?.prepared && telemetry.enabled
        ? Math.random() < shadowRule.sampleRate : false;
      let copy = null;
      if (shadowing && shadowStats.inflight < SHADOW_QUEUE) copy = input.slice();
      else if (shadowing) shadowStats.skipped += 1;
      const t = performance.now();
      return use(slot, { type: 'predict', input }).then((/** @type {Float32Array} */ probs) => {
        const latency = performance.now() - t;
        const id = uuid();
        try {
          lastPredictionId = id;
          telemetry.record('burn_edge.inference', { ...inferenceAttributes(probs, slot.classes || probs.length, latency, id),
            ...slotAttributes(slot), 'burn_edge.route': 'edge' });
        } catch { /* telemetry never fails a prediction */ }
        // After the answer is handed back: the shadow never delays it.
        if (copy) {
          const input2 = copy;
          setTimeout(() => runShadow(input2, id), 0);
        }
        return probs;
      }, (/** @type {unknown} */ err) => {
        telemetry.record('burn_edge.error', { ...errorAttributes(err), ...slotAttributes(slot) });
        // Out of memory on the edge under route 'auto': the cloud answers this one and the next ones.
        if (router?.edgeOutOfMemory(err)) return predictCloud(input);
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
      if (disposed) return gone();
      const items = examples(inputs, inputLength(current.prepared.manifest));
      return runChunks(items, (flat) => model.predict(flat), options);
    },
    /** Class names from the manifest, index = output position. */
    get labels() {
      return [...current.labels];
    },
    /** Id of the last prediction that telemetry recorded (for `feedback`); null without telemetry. */
    get lastPredictionId() {
      return lastPredictionId;
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
      if (typeof prediction === 'object' && prediction !== null) {
        const item = lastInterleave?.list.find((x) => x.index === prediction.picked);
        if (!lastInterleave || !item) return null;
        telemetry?.record('burn_edge.interleave', { 'burn_edge.rollout.rule': lastInterleave.rule,
          'burn_edge.interleave.winner': item.arm, 'burn_edge.prediction_id': lastInterleave.id });
        return item.arm;
      }
      telemetry?.feedback(prediction, /** @type {number} */ (trueLabel));
      return undefined;
    },
    /**
     * One top-`k` list drawn from both arms of the channel's interleave rule by team draft.
     * @param {Float32Array} input one sample
     * @param {number} [k]
     * @param {{ seed?: string }} [options] the coin's seed (default: fresh per call)
     */
    async interleave(input, k = 5, { seed } = {}) {
      if (disposed) return gone();
      const rule = interleaveRule;
      if (!rule) {
        throw new BurnEdgeError(`the channel has no interleave rule for alias "${o.alias}": start one ` +
          '(burn-edge rollout interleave start) or use predict', { code: 'NO_INTERLEAVE' });
      }
      const slot = current;
      /** @param {{ version: string }} arm @returns {Promise<Float32Array>} */
      const run = async (arm) => {
        if (arm.version === slot.info.version) return use(slot, { type: 'predict', input });
        const extra = pool.get(arm.version);
        if (!extra) throw new BurnEdgeError(`version ${arm.version} is not prepared`, { code: 'NO_INTERLEAVE' });
        const p = await extra.promise;
        return p.engine.call({ type: 'predict', input });
      };
      const [a, b] = await Promise.all([run(rule.arms[0]), run(rule.arms[1])]);
      const classes = slot.classes || Math.min(a.length, b.length);
      const id = uuid();
      const drawn = teamDraft(ranking(a.subarray(0, classes)), ranking(b.subarray(0, classes)), k, seededRandom(seed ?? id),
        [rule.arms[0].name, rule.arms[1].name]);
      const list = drawn.map(({ item, team }) => ({ index: item, label: slot.labels[item] ?? String(item),
        probability: (team === rule.arms[0].name ? a : b)[item], arm: team }));
      lastInterleave = { id, rule: rule.key, list };
      return list;
    },
    /**
     * Model input from RGBA pixels (e.g. ImageData.data) of any size.
     * @param {Uint8Array | Uint8ClampedArray} rgba
     * @param {number} width
     * @param {number} height
     * @returns {Promise<Float32Array>}
     */
    prepareDigit(rgba, width, height) {
      if (disposed) return gone();
      const bytes = new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength);
      return use(current, { type: 'prepareDigit', rgba: bytes, width, height });
    },
    /**
     * Model input from any image, resized, cropped and ordered per the manifest's input schema.
     * @param {import('./image.js').ImageSource} source
     * @returns {Promise<Float32Array>}
     */
    async prepareImage(source) {
      if (disposed) return gone();
      const { rgba, width, height } = await imagePixels(source);
      const slot = current;
      return use(slot, { type: 'prepareImage', rgba, width, height, schema: slot.schema });
    },
    /**
     * The `top` most likely labels for one image, best first.
     * @param {import('./image.js').ImageSource} source
     * @param {{ top?: number }} [options]
     * @returns {Promise<{ index: number, label: string, probability: number }[]>}
     */
    async classifyImage(source, { top = 5 } = {}) {
      const labels = current.labels;
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
      if (disposed) return gone();
      return current.prepared.engine.call({ type: 'memory' });
    },
    /** Re-checks the channel now; resolves once any swap it caused is done. */
    recheck() {
      return watcher.now();
    },
    /** What runs, where it came from, and where it ran (a copy). */
    info() {
      const shadowVersion = shadowRule?.challenger ?? null;
      const engine = current.prepared.engine;
      // After a lost WebGPU device the CPU build's session serves: its info replaces the first one's.
      const lost = engine.deviceLost ?? null;
      const moved = lost ? { ...engine.session, backend: 'cpu', deviceLost: lost, runtime: { ...current.info.runtime, build: 'cpu' } } : { deviceLost: null };
      return structuredClone({ ...current.info, ...moved, workerRestarts: engine.restarts, swaps, rolloutError,
        shadow: shadowRule ? { version: shadowVersion, sampleRate: shadowRule.sampleRate,
          ready: Boolean(shadowVersion && pool.get(shadowVersion)?.prepared), error: (shadowVersion && pool.get(shadowVersion)?.error) ?? null,
          runs: shadowStats.runs, failures: shadowStats.failures, skipped: shadowStats.skipped } : null,
        interleave: interleaveRule ? { rule: interleaveRule.key, arms: interleaveRule.arms } : null,
        route: router?.info() ?? { mode: 'edge', current: 'edge', reason: 'route "edge"' } });
    },
    /** Frees the sessions and stops the workers; later calls reject with code `DISPOSED`. */
    dispose() {
      if (disposed) return;
      disposed = true;
      watcher.stop();
      current.prepared.engine.close(DISPOSED);
      for (const entry of pool.values()) {
        entry.prepared?.engine.close(DISPOSED);
        entry.promise.then((p) => p.engine.close(DISPOSED), () => {});
      }
      pool.clear();
    },
  };
  // The handle is an EventTarget ('swap', 'swapfailed') with the methods above.
  Object.defineProperties(target, Object.getOwnPropertyDescriptors(model));
  return /** @type {EventTarget & typeof model} */ (target);
}
