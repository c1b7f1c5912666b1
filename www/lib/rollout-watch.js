/**
 * @module rollout-watch
 * The observe stage: re-checks the channel every `interval` ms (0: never) and whenever the
 * page becomes visible again, with a conditional request (`If-None-Match` with the last ETag,
 * past the HTTP cache) so an unchanged channel costs a 304 and no signature fetch. Checks never
 * overlap; a failing one only waits for the next.
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
 * Runs `check` on an interval and when the page becomes visible.
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
  const listening = typeof document !== 'undefined';
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
