/**
 * @module wasm-module
 * Which files of a runtime build this browser loads. The CPU build ships two runtimes, each a
 * wasm module with its wasm-bindgen glue: `burn_edge_relaxed` (fused multiply-add through
 * relaxed SIMD, faster) and `burn_edge` (baseline SIMD, every browser). A module that uses
 * relaxed SIMD does not validate at all where it is missing, so the choice is made before
 * loading, by validating an 82-byte probe module.
 */

/** `(func (result v128) (f32x4.relaxed_madd (v128.const ..) (v128.const ..) (v128.const ..)))` */
function relaxedProbe() {
  const constant = (/** @type {number} */ byte) => [0xfd, 0x0c, ...new Array(16).fill(byte)];
  const body = [0x00, ...constant(1), ...constant(2), ...constant(3), 0xfd, 0x85, 0x02, 0x0b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
    0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
    0x0a, body.length + 2, 0x01, body.length, ...body, // code section
  ]);
}

/** @type {boolean | undefined} */
let relaxed;

/** Whether this browser's WebAssembly has relaxed SIMD. */
export function hasRelaxedSimd() {
  relaxed ??= typeof WebAssembly === 'object' && WebAssembly.validate(relaxedProbe());
  return relaxed;
}

/**
 * The glue and wasm file names to load from a build's folder.
 * @param {'cpu' | 'webgpu'} build
 * @param {'auto' | 'baseline'} [simd] `'baseline'` forces the baseline module (comparisons)
 * @returns {{ glue: string, wasm: string }}
 */
export function moduleFiles(build, simd = 'auto') {
  const name = build === 'cpu' && simd === 'auto' && hasRelaxedSimd() ? 'burn_edge_relaxed' : 'burn_edge';
  return { glue: `${name}.js`, wasm: `${name}_bg.wasm` };
}
