/**
 * @module rollout-watch
 * The observe stage: re-checks the channel every `interval` ms and whenever the page becomes
 * visible again (interval 0: neither, only explicit re-checks), with a conditional request
 * (`If-None-Match` with the last ETag, past the HTTP cache) so an unchanged channel costs a 304
 * and no signature fetch. Checks never overlap; a failing one only waits for the next. A new
 * assignment is prepared beside the serving version in a new engine (download, verify, cache,
 * init, load, warm-up), then swapped in atomically (blue/green): new calls go to the new engine,
 * calls in flight finish on the old one, which is closed after them. A failed preparation or a
 * refused channel keeps the old version serving (`swapfailed`). model.js imports this module
 * once the handle is made (with `recheckInterval: 0`, at the first `recheck()`).
 */
import { errorMessage, NetworkError } from './errors.js';
import { DISPOSED, slotAttributes, slotFor } from './model.js';

/**
 * @typedef {import('./model.js').Handle} Handle
 * @typedef {import('./assign.js').Channel} Channel
 * @typedef {import('./assign.js').Assignment} Assignment
 * @typedef {import('./locate.js').ResolvedChannel} ResolvedChannel
 * @typedef {import('./prepare.js').Prepared} Prepared
 */

/**
 * Asks whether the channel at `url` changed since `etag`: `{ changed: false }` on 304 or the
 * same text as last verified, else `{ changed: true }` (the caller fetches and verifies it, from
 * the mirrors too, so a primary that fails also counts as "look again").
 * @param {string} url
 * @param {{ etag: string | null, text: string | null }} last
 * @returns {Promise<{ changed: boolean, etag: string | null }>}
 */
export async function channelChanged(url, last) {
  /** @type {Record<string, string>} */
  const headers = last.etag ? { 'if-none-match': last.etag } : {};
  let response;
  try {
    response = await fetch(url, { cache: 'no-store', headers });
  } catch {
    return { changed: true, etag: last.etag }; // the primary is down: the full check tries the mirrors
  }
  if (response.status === 304) return { changed: false, etag: last.etag };
  if (!response.ok) {
    response.body?.cancel().catch(() => {});
    return { changed: true, etag: last.etag };
  }
  const etag = response.headers.get('etag');
  const text = await response.text().catch(() => null);
  return { changed: text === null || text !== last.text, etag };
}

/**
 * Runs `check` on an interval and when the page becomes visible; with interval 0 only `now()` runs it.
 * @param {{ interval: number, check: () => Promise<unknown> }} o
 * @returns {{ now: () => Promise<void>, stop: () => void }}
 */
export function watch({ interval, check }) {
  /** @type {Promise<void> | null} */
  let running = null;
  /** A check asked for while one runs: it starts after, so it sees what changed meanwhile. @type {Promise<void> | null} */
  let queued = null;
  let stopped = false;
  /** @returns {Promise<void>} */
  const now = () => {
    if (stopped) return Promise.resolve();
    if (running) {
      queued ??= running.then(() => { queued = null; return now(); });
      return queued;
    }
    running = check().then(() => {}, () => {}).finally(() => { running = null; });
    return running;
  };
  const timer = interval > 0 ? setInterval(now, interval) : undefined;
  const onVisible = () => { if (document.visibilityState === 'visible') now(); };
  // Interval 0 means no automatic re-check at all, so no visibility re-check either.
  const listening = interval > 0 && typeof document !== 'undefined';
  if (listening) document.addEventListener('visibilitychange', onVisible);
  return {
    now,
    stop() {
      stopped = true;
      clearInterval(timer);
      if (listening) document.removeEventListener('visibilitychange', onVisible);
    },
  };
}

/**
 * A refused channel or a failed preparation: `rolloutError`, telemetry and `swapfailed`; the old
 * version keeps serving.
 * @param {Handle} h
 * @param {unknown} err
 * @param {string | null} to
 */
function refuse(h, err, to) {
  const e = /** @type {any} */ (err);
  const rolloutError = { code: String(e?.code ?? 'ERROR'), message: errorMessage(err), at: new Date().toISOString() };
  h.rolloutError = rolloutError;
  h.telemetry?.record('burn_edge.error', { ...h.events.errorAttributes(err), ...slotAttributes(h.current) });
  if (to) {
    h.telemetry?.record('burn_edge.swap', { 'burn_edge.swap.from': h.current.info.version, 'burn_edge.swap.to': to,
      'burn_edge.swap.ms': 0, 'burn_edge.swap.reason': `failed: ${rolloutError.message}` });
  }
  h.emit('swapfailed', { from: h.current.info.version, to, reason: rolloutError.code, message: rolloutError.message });
}

/** A ramp moves coverage with time alone: an unchanged channel is assigned again. @param {Channel | null} c */
const ramped = (c) => Boolean(c?.rollout?.rules?.some((r) => r.ramp?.length));

/**
 * One re-check of the channel: a new assignment is prepared and swapped in.
 * @param {Handle} h
 */
async function check(h) {
  const { loader, last } = h;
  if (h.disposed || !h.o.channelUrl) return;
  const probe = await channelChanged(h.o.channelUrl, last);
  last.etag = probe.etag;
  if ((!probe.changed && !ramped(h.channel)) || h.disposed) return;
  /** @type {ResolvedChannel | null} */
  let resolved = null;
  /** @type {Assignment | null} */
  let assignment;
  try {
    if (probe.changed) resolved = await loader.resolve();
    const next = resolved?.channel ?? h.channel;
    if (!next) return;
    assignment = await loader.select(next);
  } catch (err) {
    if (err instanceof NetworkError) return; // unreachable now: the next check tries again
    // Forget the refused channel's ETag too: a 304 for it must not hide the fixed one (a
    // channel caught between its write and its signature's is verified again next time).
    last.etag = null;
    last.text = null;
    refuse(h, err, null);
    return;
  }
  if (resolved) {
    const same = resolved.text === last.text;
    last.text = resolved.text;
    last.etag = resolved.etag ?? last.etag;
    h.channel = resolved.channel;
    if (same && !h.rolloutError && !ramped(h.channel)) return;
    h.rolloutError = null;
  }
  const seen = performance.now();
  if (!assignment || h.disposed) return;
  const current = h.current;
  if (assignment.version === current.info.version) {
    const before = current.info.assignment;
    current.info = { ...current.info, assignment };
    if (before?.rule !== assignment.rule || before?.arm !== assignment.arm || before?.kind !== assignment.kind) {
      loader.setContext(current);
      await loader.served(assignment);
    }
    await h.configure();
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
    refuse(h, err, assignment.version);
    return;
  }
  if (h.disposed) {
    prepared.engine.close(DISPOSED);
    return;
  }
  // New calls go to the new engine; the old one closes after its calls in flight.
  const old = h.current;
  h.current = slotFor(prepared, loader.describe(prepared, assignment));
  old.retired = true;
  if (old.inflight === 0) old.prepared.engine.close('replaced by a newer version');
  const swapMs = performance.now() - seen;
  const swap = { from, to: assignment.version, reason, swapMs, at: new Date().toISOString() };
  h.swaps.push(swap);
  if (h.swaps.length > 50) h.swaps.shift();
  loader.setContext(h.current);
  h.telemetry?.record('burn_edge.swap', { 'burn_edge.swap.from': from, 'burn_edge.swap.to': assignment.version,
    'burn_edge.swap.ms': swapMs, 'burn_edge.swap.reason': reason, 'burn_edge.rollout.rule': assignment.rule,
    'burn_edge.rollout.arm': assignment.arm });
  h.emit('swap', { ...swap, assignment });
  await h.configure();
  await loader.served(assignment);
}

/**
 * The handle's watch: re-checks every `recheckInterval` ms and on becoming visible (0: only `now()`).
 * @param {Handle} h
 */
export function watchChannel(h) {
  const w = watch({ interval: h.o.recheckInterval, check: () => check(h) });
  if (h.disposed) w.stop(); // disposed while this module loaded
  return w;
}
