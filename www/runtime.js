/**
 * @module runtime
 * Loads the right burn-edge wasm build for this browser: the WebGPU build only when a WebGPU
 * adapter exists, so a page without WebGPU never downloads the larger module.
 */

import { chooseBuild } from './lib/choose-build.js';
import { moduleFiles } from './lib/wasm-module.js';

export { chooseBuild };

/** @typedef {import('./lib/choose-build.js').BackendPreference} BackendPreference */

/** @type {Map<string, Promise<any>>} */
const modules = new Map();

/**
 * Imports and initialises one wasm build once per page (the CPU build's relaxed-SIMD module
 * where the browser has relaxed SIMD, unless `simd` is `'baseline'`).
 * @param {'webgpu' | 'cpu'} build
 * @param {string} [base] URL of the folder holding `cpu/` and `webgpu/`
 * @param {'auto' | 'baseline'} [simd]
 */
export function loadBuild(build, base = '/pkg', simd = 'auto') {
  let loaded = modules.get(build);
  if (!loaded) {
    const files = moduleFiles(build, simd);
    loaded = import(`${base}/${build}/${files.glue}`).then(async (mod) => {
      await mod.default({ module_or_path: `${base}/${build}/${files.wasm}` });
      return mod;
    });
    modules.set(build, loaded);
  }
  return loaded;
}

/**
 * Creates a model session from a weights URL.
 * @param {{ weightsUrl: string, backend?: BackendPreference, base?: string }} options
 */
export async function createSession({ weightsUrl, backend = 'auto', base }) {
  const build = await chooseBuild(backend);
  const [mod, response] = await Promise.all([loadBuild(build, base), fetch(weightsUrl)]);
  if (!response.ok) throw new Error(`fetching weights ${weightsUrl} failed: HTTP ${response.status}`);
  const weights = new Uint8Array(await response.arrayBuffer());
  const session = await mod.createSession(weights, backend);
  return { session, build, prepareDigit: mod.prepareDigit };
}
