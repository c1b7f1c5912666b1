#!/usr/bin/env bash
# Builds the two browser runtimes into pkg/:
#   pkg/cpu/     CPU-only (Burn flex, wasm SIMD)  - what a page without WebGPU downloads
#   pkg/webgpu/  WebGPU backend + CPU fallback
# cargo (wasm32, release) -> wasm-bindgen (--target web) -> wasm-opt (npm binaryen) -> size table.
#   pkg/cpu-ndarray/  only on request: the CPU build on Burn's older ndarray kernels, to compare
# Usage: scripts/build-wasm.sh [all|cpu|webgpu|ndarray]
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
wasm_opt="node_modules/.bin/wasm-opt"
[ -x "$wasm_opt" ] || { echo "missing $wasm_opt: run 'npm ci' (scripts/setup.sh does)" >&2; exit 1; }

build() {
  local name="$1" features="$2"
  echo "==> building pkg/$name (features: $features)"
  cargo build --lib --release --target wasm32-unknown-unknown --no-default-features --features "$features"
  rm -rf "pkg/$name" && mkdir -p "pkg/$name"
  wasm-bindgen --target web --out-dir "pkg/$name" --out-name burn_edge \
    "$target_dir/wasm32-unknown-unknown/release/burn_edge.wasm"
  "$wasm_opt" -O3 "pkg/$name/burn_edge_bg.wasm" -o "pkg/$name/burn_edge_bg.wasm"
}

case "$which" in
  all) build cpu cpu-flex; build webgpu cpu-flex,webgpu ;;
  cpu) build cpu cpu-flex ;;
  webgpu) build webgpu cpu-flex,webgpu ;;
  ndarray) build cpu-ndarray cpu-ndarray ;;
  *) echo "usage: $0 [all|cpu|webgpu|ndarray]" >&2; exit 2 ;;
esac
node scripts/wasm-sizes.mjs
