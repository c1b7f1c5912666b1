/**
 * @module pool
 * Engines for versions beside the served one: the channel's shadow challenger (its predictions
 * re-run the served inputs after the answer was returned, logged, never returned or thrown) and
 * the arms of its interleave rule (`interleave.js`). Each is prepared in its own engine, without
 * touching the cache index. model.js loads this module only for a channel with a shadow or an
 * interleave rule.
 */
import { extras } from './assign.js';
import { errorMessage } from './errors.js';
import { uuid } from './identity.js';
import { DISPOSED } from './model.js';

/**
 * @typedef {import('./prepare.js').Prepared} Prepared
 * @typedef {import('./model.js').Handle} Handle
 * @typedef {{ promise: Promise<Prepared>, prepared: Prepared | null, error: string | null }} Extra
 * @typedef {ReturnType<typeof createPool>} Pool
 */

/** Shadow predictions waiting beyond this are skipped: a slow challenger never piles up work. */
const SHADOW_QUEUE = 4;

/**
 * The pool of one handle.
 * @param {Handle} h
 */
export function createPool(h) {
  const { telemetry } = h;
  /** Engines by version. @type {Map<string, Extra>} */
  const pool = new Map();
  /** @type {import('./assign.js').ShadowRule | null} */
  let shadowRule = null;
  /** @type {import('./assign.js').InterleaveRule | null} */
  let interleaveRule = null;
  const shadowStats = { runs: 0, failures: 0, skipped: 0, inflight: 0 };

  return {
    get interleaveRule() {
      return interleaveRule;
    },
    /** Starts (or stops) the engines the channel's shadow and interleave rules need. */
    configure() {
      if (h.disposed) return;
      const served = h.current.info.version;
      const { shadow, interleave } = h.channel ? extras(h.channel, h.o.alias) : { shadow: null, interleave: null };
      shadowRule = h.o.shadow && shadow && shadow.challenger !== served ? shadow : null;
      interleaveRule = interleave;
      const wanted = new Set([shadowRule?.challenger, ...(interleave?.arms ?? []).map((a) => a.version)]
        .filter((v) => v && v !== served));
      for (const version of /** @type {Set<string>} */ (wanted)) {
        if (pool.has(version)) continue;
        /** @type {Extra} */
        const entry = { promise: h.loader.prepare(version, { remember: false }), prepared: null, error: null };
        entry.promise.then((p) => {
          if (pool.get(version) === entry && !h.disposed) entry.prepared = p;
          else p.engine.close('no longer needed');
        }, (err) => {
          entry.error = errorMessage(err);
          telemetry?.record('burn_edge.error', { ...h.events.errorAttributes(err), 'burn_edge.model.version': version, 'burn_edge.role': 'shadow' });
        });
        pool.set(version, entry);
      }
      for (const [version, entry] of pool) {
        if (wanted.has(version)) continue;
        pool.delete(version);
        entry.prepared?.engine.close('no longer needed');
      }
    },
    /**
     * A copy of a served input for the shadow, when this one is sampled and the queue has room.
     * @param {Float32Array} input
     */
    sample(input) {
      const shadowing = shadowRule && pool.get(shadowRule.challenger)?.prepared && telemetry?.enabled
        ? Math.random() < shadowRule.sampleRate : false;
      if (shadowing && shadowStats.inflight < SHADOW_QUEUE) return input.slice();
      if (shadowing) shadowStats.skipped += 1;
      return null;
    },
    /**
     * Re-runs a served input on the shadow engine; only logged, never returned, never thrown.
     * @param {Float32Array} input
     * @param {string} servedId
     */
    runShadow(input, servedId) {
      const extra = shadowRule ? pool.get(shadowRule.challenger)?.prepared : null;
      if (!extra || !telemetry) return;
      const { errorAttributes, inferenceAttributes } = h.events;
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
    },
    /**
     * An interleave arm's prepared version (not the served one).
     * @param {string} version
     * @returns {Promise<Prepared> | null}
     */
    prepared: (version) => pool.get(version)?.promise ?? null,
    /** `info()`'s shadow and interleave sections. */
    info() {
      const version = shadowRule?.challenger ?? null;
      const entry = version ? pool.get(version) : undefined;
      return {
        shadow: shadowRule ? { version, sampleRate: shadowRule.sampleRate, ready: Boolean(entry?.prepared), error: entry?.error ?? null,
          runs: shadowStats.runs, failures: shadowStats.failures, skipped: shadowStats.skipped } : null,
        interleave: interleaveRule ? { rule: interleaveRule.key, arms: interleaveRule.arms } : null,
      };
    },
    /** Closes every engine (the handle was disposed). */
    dispose() {
      for (const entry of pool.values()) {
        entry.prepared?.engine.close(DISPOSED);
        entry.promise.then((p) => p.engine.close(DISPOSED), () => {});
      }
      pool.clear();
    },
  };
}
