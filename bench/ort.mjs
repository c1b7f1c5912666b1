// @module bench/ort: ONNX Runtime Web's files, copied from node_modules into pkg/vendor/ort/
// (build output, gitignored) so the benchmark pages load them from our own server, no CDN.
import { copyFileSync, mkdirSync } from 'node:fs';

const dist = 'node_modules/onnxruntime-web/dist';

/** The files each ORT flavour needs in the page: ES module, its wasm loader and the wasm. */
export const ortFiles = {
  wasm: ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'],
  webgpu: ['ort.webgpu.min.mjs', 'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'],
};

/** Copies every ORT file into pkg/vendor/ort/. */
export function vendorOrt() {
  mkdirSync('pkg/vendor/ort', { recursive: true });
  for (const f of [...ortFiles.wasm, ...ortFiles.webgpu]) copyFileSync(`${dist}/${f}`, `pkg/vendor/ort/${f}`);
}
