/**
 * @module runtime-files
 * Fetches the wasm runtime (wasm-bindgen glue + module) network-first with a cache fallback,
 * so an updated runtime is picked up online and the last one still starts offline. Glue and
 * module come from the same place: a fresh glue with a stale module would not link. Of the CPU
 * build's two runtimes the browser gets the relaxed-SIMD one where it validates.
 *
 * Both files run in the page's origin, so both are verified against SHA-256 hashes pinned in
 * the package (`pkg/<build>/integrity.json`, written by scripts/runtime-integrity.mjs at build
 * time) before use and before caching, and cached copies again when read. The pins are found
 * relative to this module, never under `runtimeBase`: a CDN that serves the runtime cannot
 * also vouch for it.
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
 * @typedef {{ build: 'cpu' | 'webgpu', glue: string, glueUrl: string, wasm: ArrayBuffer,
 *             source: 'network' | 'cache' }} RuntimeFiles
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
 * @param {string | undefined} runtimeBase URL of the folder holding `cpu/` and `webgpu/`;
 *   undefined: the package's own files
 * @param {'cpu' | 'webgpu'} build
 * @param {{ retries: number, retryDelay: number, stallTimeout?: number }} options
 * @returns {Promise<RuntimeFiles>}
 */
export async function loadRuntimeFiles(runtimeBase, build, { retries, retryDelay, stallTimeout }) {
  const files = moduleFiles(build);
  const own = packaged(build);
  const base = runtimeBase && new URL(`${build}/`, runtimeBase.endsWith('/') ? runtimeBase : `${runtimeBase}/`);
  const glueUrl = (base ? new URL(files.glue, base) : own[files.glue]).href;
  const wasmUrl = (base ? new URL(files.wasm, base) : own[files.wasm]).href;
  /** @type {Cache | null} */
  const cache = await caches.open(CACHE_NAME).catch(() => null);
  const pins = await pinnedHashes(build, cache);
  /** @type {RequestInit} */
  const init = { cache: 'no-cache' }; // revalidate: the runtime files are not content-addressed

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
  /** @param {Uint8Array} glue @param {Uint8Array} wasm @param {'network' | 'cache'} source */
  const result = (glue, wasm, source) => ({ build, glue: new TextDecoder().decode(glue), glueUrl,
    wasm: /** @type {ArrayBuffer} */ (wasm.buffer), source });
  /** Stores verified bytes only. @param {Uint8Array} glue @param {Uint8Array} wasm */
  const store = (glue, wasm) => Promise.all([
    cache?.put(glueUrl, new Response(/** @type {Uint8Array<ArrayBuffer>} */ (glue), { headers: { 'content-type': 'text/javascript' } })),
    cache?.put(wasmUrl, new Response(/** @type {Uint8Array<ArrayBuffer>} */ (wasm), { headers: { 'content-type': 'application/wasm' } })),
  ]).catch(() => {});

  /** @type {IntegrityError | null} */
  let tampered = null;
  const fresh = await Promise.all([fetchWithStallTimeout(glueUrl, init, stallTimeout), fetchWithStallTimeout(wasmUrl, init, stallTimeout)])
    .catch(() => null);
  if (fresh && fresh.every((r) => r.ok)) {
    try {
      const [glue, wasm] = await Promise.all([verified(fresh[0], files.glue, glueUrl), verified(fresh[1], files.wasm, wasmUrl)]);
      await store(glue, wasm);
      return result(glue, wasm, 'network');
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      tampered = err; // the verified copy in the cache, if any, still serves
    }
  }
  const cached = await Promise.all([glueUrl, wasmUrl].map((url) => cache?.match(url, { ignoreVary: true })));
  if (cached[0] && cached[1]) {
    try {
      const [glue, wasm] = await Promise.all([verified(cached[0], files.glue, 'the cache'), verified(cached[1], files.wasm, 'the cache')]);
      return result(glue, wasm, 'cache');
    } catch {
      // Storage rot, or a runtime cached by an older package: drop it and fetch again.
      await Promise.all([cache?.delete(glueUrl), cache?.delete(wasmUrl)]).catch(() => {});
    }
  }
  if (tampered) throw tampered;
  // Nothing cached: a transient failure deserves the usual retries before giving up.
  const options = { retries, retryDelay, init, stallTimeout };
  const [glue, wasm] = await Promise.all([
    fetchFromMirrors([glueUrl], { ...options, what: `the runtime ${glueUrl}`, consume: (r) => verified(r, files.glue, glueUrl) }),
    fetchFromMirrors([wasmUrl], { ...options, what: `the runtime ${wasmUrl}`, consume: (r) => verified(r, files.wasm, wasmUrl) }),
  ]);
  await store(glue.value, wasm.value);
  return result(glue.value, wasm.value, 'network');
}
