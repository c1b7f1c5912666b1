/**
 * @module fetch
 * Fetching one resource from a list of mirrors: a network error or 5xx moves on to the next
 * mirror at once, rounds over the mirrors repeat with exponential backoff and jitter, and a
 * 4xx (other than 408/429) rules that mirror out, since asking again would get the same answer.
 */
import { BurnEdgeError, IntegrityError, NetworkError } from './errors.js';

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

/**
 * Fetches from the first mirror that answers and lets `consume` read the body; an error in
 * `consume` (a broken stream, bad JSON) counts as that mirror failing, except an
 * IntegrityError, which rules that mirror out and is thrown if no mirror has good bytes.
 * @template T
 * @param {string[]} urls candidates in order
 * @param {{ what: string, retries: number, retryDelay: number, init?: RequestInit,
 *           consume: (response: Response, url: string) => Promise<T> }} options
 * @returns {Promise<{ value: T, url: string }>}
 */
export async function fetchFromMirrors(urls, { what, retries, retryDelay, init, consume }) {
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
        response = await fetch(url, init);
      } catch (err) {
        attempts.push(`${url}: ${err instanceof Error ? err.message : err}`);
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
        attempts.push(`${url}: ${err instanceof Error ? err.message : err}`);
      }
    }
  }
  if (integrity) throw integrity;
  throw new NetworkError({ what, mirrors: urls, attempts, lastStatus });
}
