/**
 * @module runtime-files
 * Fetches the wasm runtime (wasm-bindgen glue + module) network-first with a cache fallback,
 * so an updated runtime is picked up online and the last one still starts offline. Glue and
 * module come from the same place: a fresh glue with a stale module would not link. Of the CPU
 * build's two runtimes the browser gets the relaxed-SIMD one where it validates.
 */
import { fetchFromMirrors } from './fetch.js';
import { moduleFiles } from './wasm-module.js';

const CACHE_NAME = 'burn-edge-runtime-v1';

/**
 * @typedef {{ build: 'cpu' | 'webgpu', glue: string, glueUrl: string, wasm: ArrayBuffer,
 *             source: 'network' | 'cache' }} RuntimeFiles
 */

/**
 * @param {string} runtimeBase URL of the folder holding `cpu/` and `webgpu/`
 * @param {'cpu' | 'webgpu'} build
 * @param {{ retries: number, retryDelay: number }} options
 * @returns {Promise<RuntimeFiles>}
 */
export async function loadRuntimeFiles(runtimeBase, build, { retries, retryDelay }) {
  const base = new URL(`${build}/`, runtimeBase.endsWith('/') ? runtimeBase : `${runtimeBase}/`);
  const files = moduleFiles(build);
  const glueUrl = new URL(files.glue, base).href;
  const wasmUrl = new URL(files.wasm, base).href;
  /** @type {Cache | null} */
  const cache = await caches.open(CACHE_NAME).catch(() => null);
  /** @type {RequestInit} */
  const init = { cache: 'no-cache' }; // revalidate: the runtime files are not content-addressed

  const fresh = await Promise.all([fetch(glueUrl, init), fetch(wasmUrl, init)]).catch(() => null);
  if (fresh && fresh.every((r) => r.ok)) {
    const [glue, wasm] = await Promise.all([fresh[0].clone().text(), fresh[1].clone().arrayBuffer()]);
    await Promise.all([cache?.put(glueUrl, fresh[0]), cache?.put(wasmUrl, fresh[1])]).catch(() => {});
    return { build, glue, glueUrl, wasm, source: 'network' };
  }
  const cached = await Promise.all([glueUrl, wasmUrl].map((url) => cache?.match(url, { ignoreVary: true })));
  if (cached[0] && cached[1]) {
    return { build, glue: await cached[0].text(), glueUrl, wasm: await cached[1].arrayBuffer(), source: 'cache' };
  }
  // Nothing cached: a transient failure deserves the usual retries before giving up.
  const options = { retries, retryDelay, init };
  const [glue, wasm] = await Promise.all([
    fetchFromMirrors([glueUrl], { ...options, what: `the runtime ${glueUrl}`, consume: (r) => r.text() }),
    fetchFromMirrors([wasmUrl], { ...options, what: `the runtime ${wasmUrl}`, consume: (r) => r.arrayBuffer() }),
  ]);
  await Promise.all([
    cache?.put(glueUrl, new Response(glue.value, { headers: { 'content-type': 'text/javascript' } })),
    cache?.put(wasmUrl, new Response(wasm.value.slice(0), { headers: { 'content-type': 'application/wasm' } })),
  ]).catch(() => {});
  return { build, glue: glue.value, glueUrl, wasm: wasm.value, source: 'network' };
}
