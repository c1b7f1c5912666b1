/**
 * @module choose-build
 * Which wasm build a browser gets: the WebGPU build only when a WebGPU adapter exists, so a
 * page without WebGPU never downloads the larger module.
 */

/** @typedef {'auto' | 'webgpu' | 'cpu'} BackendPreference */

/**
 * Which build to load: `'webgpu'` when the browser offers an adapter and the caller may use it.
 * @param {BackendPreference} preference
 * @returns {Promise<'webgpu' | 'cpu'>}
 */
export async function chooseBuild(preference) {
  if (preference === 'cpu') return 'cpu';
  const gpu = /** @type {any} */ (navigator).gpu;
  if (!gpu) return preference === 'webgpu' ? 'webgpu' : 'cpu'; // forced: let the runtime say why
  try {
    const adapter = await gpu.requestAdapter();
    return adapter || preference === 'webgpu' ? 'webgpu' : 'cpu';
  } catch {
    return preference === 'webgpu' ? 'webgpu' : 'cpu';
  }
}
