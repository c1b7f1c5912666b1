/**
 * @module fetch
 * Fetching one resource from a list of mirrors: a network error or 5xx moves on to the next
 * mirror at once, rounds over the mirrors repeat with exponential backoff and jitter, and a
 * 4xx (other than 408/429) rules that mirror out, since asking again would get the same answer.
 * A mirror that stalls (no answer, or no body bytes, for `stallTimeout` ms) counts as failing,
 * so a CDN that accepts connections and then hangs cannot hang the load.
 */
import { BurnEdgeError, errorMessage, IntegrityError, NetworkError } from './errors.js';

/**
 * The same resource under every mirror: `url` first, then each mirror with the model folder's
 * prefix replaced. A URL outside the folder has no alternatives.
 * @param {string} url absolute URL under `folder`
 * @param {string} folder the primary model folder, ending in `/`
 * @param {string[]} mirrors alternative model folders
 */
export function candidates(url, folder, mirrors) {
  if (!url.startsWith(folder)) return [url];
  const rest = url.slice(folder.length);
  const others = mirrors.map((m) => new URL(rest, m.endsWith('/') ? m : `${m}/`).href);
  return [...new Set([url, ...others])];
}

/** @param {number} status */
const retriable = (status) => status >= 500 || status === 408 || status === 429;

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Default for `stallTimeout`: long enough for a slow mobile link between two chunks. */
export const STALL_TIMEOUT_MS = 20_000;

/**
 * `fetch` that aborts when nothing arrives for `stallMs`: neither the response head nor, after
 * it, a chunk of the body. The body it returns re-arms the timer on every chunk.
 * @param {string} url
 * @param {RequestInit | undefined} init
 * @param {number} [stallMs]
 * @returns {Promise<Response>}
 */
export async function fetchWithStallTimeout(url, init, stallMs = STALL_TIMEOUT_MS) {
  const controller = new AbortController();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error(`no data for ${stallMs} ms`)), stallMs);
  };
  arm();
  let response;
  try {
    response = await fetch(url, { ...init, signal: controller.signal });
  } catch (err) {
    clearTimeout(timer);
    throw controller.signal.aborted ? controller.signal.reason : err;
  }
  if (!response.body) {
    clearTimeout(timer);
    return response;
  }
  arm();
  const watched = response.body.pipeThrough(new TransformStream({
    transform(chunk, out) { arm(); out.enqueue(chunk); },
    flush() { clearTimeout(timer); },
  }));
  return new Response(watched, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * Fetches from the first mirror that answers and lets `consume` read the body; an error in
 * `consume` (a broken stream, bad JSON) counts as that mirror failing, except an
 * IntegrityError, which rules that mirror out and is thrown if no mirror has good bytes.
 * @template T
 * @param {string[]} urls candidates in order
 * @param {{ what: string, retries: number, retryDelay: number, init?: RequestInit, stallTimeout?: number,
 *           consume: (response: Response, url: string) => Promise<T> }} options
 * @returns {Promise<{ value: T, url: string }>}
 */
export async function fetchFromMirrors(urls, { what, retries, retryDelay, init, consume, stallTimeout = STALL_TIMEOUT_MS }) {
  /** @type {Set<string>} */
  const ruledOut = new Set();
  /** @type {string[]} */
  const attempts = [];
  /** @type {number | undefined} */
  let lastStatus;
  /** @type {IntegrityError | undefined} */
  let integrity;
  for (let round = 0; round <= retries && ruledOut.size < urls.length; round++) {
    // Full jitter around an exponential step spreads clients that failed together.
    if (round > 0) await sleep(retryDelay * 2 ** (round - 1) * (0.5 + Math.random()));
    for (const url of urls) {
      if (ruledOut.has(url)) continue;
      /** @type {Response} */
      let response;
      try {
        response = await fetchWithStallTimeout(url, init, stallTimeout);
      } catch (err) {
        attempts.push(`${url}: ${errorMessage(err)}`);
        continue;
      }
      if (!response.ok) {
        lastStatus = response.status;
        attempts.push(`${url}: HTTP ${response.status}`);
        if (!retriable(response.status)) ruledOut.add(url);
        response.body?.cancel().catch(() => {});
        continue;
      }
      try {
        return { value: await consume(response, url), url };
      } catch (err) {
        if (err instanceof IntegrityError) {
          integrity = err;
          ruledOut.add(url);
        } else if (err instanceof BurnEdgeError) {
          throw err;
        }
        attempts.push(`${url}: ${errorMessage(err)}`);
      }
    }
  }
  if (integrity) throw integrity;
  throw new NetworkError({ what, mirrors: urls, attempts, lastStatus });
}
