/**
 * @module runtime-files
 * Fetches the wasm runtime: the wasm module network-first with a cache fallback, so an updated
 * runtime is picked up online and the last one still starts offline, and its wasm-bindgen glue.
 * Of the CPU build's two runtimes the browser gets the relaxed-SIMD one where it validates.
 *
 * Both files run in the page's origin, so both are verified against SHA-256 hashes pinned in
 * the package (`pkg/<build>/integrity.json`, written by scripts/runtime-integrity.mjs at build
 * time) before use and before caching, and the cached module again when read. The pins are
 * found relative to this module, never under `runtimeBase`: a CDN that serves the runtime
 * cannot also vouch for it.
 *
 * Verified before use under a strict Content-Security-Policy (`script-src 'self'`, no `blob:`,
 * no `eval`): the wasm is compiled from the very bytes that were hashed, so nothing can change
 * in between. JavaScript cannot be run from verified bytes under that policy, only imported by
 * URL, and a server can tell a `fetch` from a module import (`Sec-Fetch-Dest`) and answer them
 * differently. So the glue is never taken from `runtimeBase` (an untrusted CDN could pass the
 * check and then serve other code to the import): it is the package's own file, imported from
 * where the package's modules are (`'self'` allows it), trusted exactly as far as `worker.js`
 * that imports it. Its bytes are still checked against the pin before the import, which refuses
 * a package folder whose glue is not the one built with its wasm (tampered, or half updated).
 * Online a tampered network copy is refused outright; a verified one is cached, so an offline
 * start checks that copy again and the app's service worker answers the import from it (sw.js
 * imports the cached glue first). `runtimeBase` moves the wasm,
 * the big file, which is what a CDN is for.
 *
 * The package's own files are named by literal `new URL('…', import.meta.url)` expressions, the
 * one form bundlers (Vite, webpack 5, Parcel) find, emit and rename: a URL built from a variable
 * would leave them behind in node_modules.
 */
import { readAtMost, sha256Hex } from './download.js';
import { IntegrityError } from './errors.js';
import { fetchFromMirrors, fetchWithStallTimeout } from './fetch.js';
import { moduleFiles } from './wasm-module.js';

const CACHE_NAME = 'burn-edge-runtime-v1';

/**
 * @typedef {{ build: 'cpu' | 'webgpu', glueUrl: string, wasm: ArrayBuffer, source: 'network' | 'cache' }} RuntimeFiles
 *   `glueUrl`: the verified glue, to import; `source`: where the wasm came from
 * @typedef {{ sha256: string, size: number }} Pin
 */

/**
 * The package's own runtime files of one build, by file name.
 * @param {'cpu' | 'webgpu'} build
 * @returns {Record<string, URL>}
 */
function packaged(build) {
  return build === 'cpu' ? {
    'integrity.json': new URL('../../pkg/cpu/integrity.json', import.meta.url),
    'burn_edge.js': new URL('../../pkg/cpu/burn_edge.js', import.meta.url),
    'burn_edge_bg.wasm': new URL('../../pkg/cpu/burn_edge_bg.wasm', import.meta.url),
    'burn_edge_relaxed.js': new URL('../../pkg/cpu/burn_edge_relaxed.js', import.meta.url),
    'burn_edge_relaxed_bg.wasm': new URL('../../pkg/cpu/burn_edge_relaxed_bg.wasm', import.meta.url),
  } : {
    'integrity.json': new URL('../../pkg/webgpu/integrity.json', import.meta.url),
    'burn_edge.js': new URL('../../pkg/webgpu/burn_edge.js', import.meta.url),
    'burn_edge_bg.wasm': new URL('../../pkg/webgpu/burn_edge_bg.wasm', import.meta.url),
  };
}

/**
 * The package's pinned hashes for one build: network first (a rebuilt package brings new
 * ones), else the copy cached with the runtime, so an offline start still verifies.
 * @param {'cpu' | 'webgpu'} build
 * @param {Cache | null} cache
 * @returns {Promise<Record<string, Pin>>}
 */
async function pinnedHashes(build, cache) {
  const url = packaged(build)['integrity.json'].href;
  /** @type {any} */
  let pins = null;
  try {
    const response = await fetchWithStallTimeout(url, { cache: 'no-cache' });
    if (response.ok) {
      pins = await response.clone().json();
      await cache?.put(url, response).catch(() => {});
    }
  } catch { /* offline: the cached copy below */ }
  pins ??= await cache?.match(url, { ignoreVary: true }).then((r) => r?.json()).catch(() => null);
  if (pins?.schemaVersion !== 1 || typeof pins.files !== 'object' || pins.files === null) {
    throw new IntegrityError({ file: `pkg/${build}/integrity.json`, url, reason: 'the package has no pinned hashes for ' +
      'its runtime, so the runtime cannot be verified: build it with scripts/build-wasm.sh (or run ' +
      'node scripts/runtime-integrity.mjs on an existing pkg/)' });
  }
  return pins.files;
}

/**
 * @param {string | undefined} runtimeBase URL of the folder holding `cpu/` and `webgpu/` wasm
 *   modules; undefined: the package's own
 * @param {'cpu' | 'webgpu'} build
 * @param {{ retries: number, retryDelay: number, stallTimeout?: number }} options
 * @returns {Promise<RuntimeFiles>}
 */
export async function loadRuntimeFiles(runtimeBase, build, { retries, retryDelay, stallTimeout }) {
  const files = moduleFiles(build);
  const own = packaged(build);
  const base = runtimeBase && new URL(`${build}/`, runtimeBase.endsWith('/') ? runtimeBase : `${runtimeBase}/`);
  const glueUrl = own[files.glue].href;
  const wasmUrl = (base ? new URL(files.wasm, base) : own[files.wasm]).href;
  /** @type {Cache | null} */
  const cache = await caches.open(CACHE_NAME).catch(() => null);
  const pins = await pinnedHashes(build, cache);
  /** @type {RequestInit} */
  const init = { cache: 'no-cache' }; // revalidate: the runtime files are not content-addressed
  const options = { retries, retryDelay, init, stallTimeout };

  /**
   * A runtime file's bytes, read no further than its pinned size and checked against its hash.
   * @param {Response} response
   * @param {string} name
   * @param {string} url
   */
  const verified = async (response, name, url) => {
    const pin = pins[name];
    if (!pin || typeof pin.sha256 !== 'string' || typeof pin.size !== 'number') {
      throw new IntegrityError({ file: `${build}/${name}`, url, reason: `the package pins no hash for ${build}/${name}` });
    }
    const bytes = await readAtMost(response, pin.size, { file: `${build}/${name}`, url }, undefined, pin.size);
    const actual = await sha256Hex(bytes);
    if (actual !== pin.sha256 || bytes.length !== pin.size) {
      throw new IntegrityError({ file: `${build}/${name}`, url, expected: pin.sha256, actual, size: bytes.length, expectedSize: pin.size });
    }
    return bytes;
  };
  // The glue is imported by its URL, so a tampered copy on the network is refused outright
  // (there is no other copy to import online). A verified one is cached: offline, the loader
  // checks that copy again and the service worker answers the import from it (sw.js).
  const [glue, wasm] = await Promise.all([loadVerified(glueUrl, files.glue, false), loadVerified(wasmUrl, files.wasm, true)]);
  for (const [url, file, type] of /** @type {const} */ ([[glueUrl, glue, 'text/javascript'], [wasmUrl, wasm, 'application/wasm']])) {
    if (file.source === 'network') {
      await cache?.put(url, new Response(/** @type {Uint8Array<ArrayBuffer>} */ (file.bytes), { headers: { 'content-type': type } })).catch(() => {});
    }
  }
  return { build, glueUrl, wasm: /** @type {ArrayBuffer} */ (wasm.bytes.buffer), source: wasm.source };

  /**
   * A verified runtime file: network first, else the verified cached copy, else retried
   * downloads. `tamperedFalls` lets a tampered network copy fall back to the cache (the wasm is
   * compiled from the bytes checked); the glue is imported by URL, so its tampered copy is refused.
   * @param {string} url
   * @param {string} name
   * @param {boolean} tamperedFalls
   */
  async function loadVerified(url, name, tamperedFalls) {
    /** @type {IntegrityError | null} */
    let tampered = null;
    const fresh = await fetchWithStallTimeout(url, init, stallTimeout).catch(() => null);
    if (fresh?.ok) {
      try {
        return { bytes: await verified(fresh, name, url), source: /** @type {const} */ ('network') };
      } catch (err) {
        if (!tamperedFalls || !(err instanceof IntegrityError)) throw err;
        tampered = err; // the verified copy in the cache, if any, still serves
      }
    }
    const cached = await cache?.match(url, { ignoreVary: true });
    if (cached) {
      try {
        return { bytes: await verified(cached, name, 'the cache'), source: /** @type {const} */ ('cache') };
      } catch {
        // Storage rot, or a runtime cached by an older package: drop it and fetch again.
        await cache?.delete(url).catch(() => {});
      }
    }
    if (tampered) throw tampered;
    // Nothing cached: a transient failure deserves the usual retries before giving up.
    const bytes = (await fetchFromMirrors([url], { ...options, what: `the runtime ${url}`,
      consume: (r) => verified(r, name, url) })).value;
    return { bytes, source: /** @type {const} */ ('network') };
  }
}
