#!/usr/bin/env bash
# Builds the two browser runtimes into pkg/:
#   pkg/cpu/     CPU-only (burn-edge's kernels + Burn flex, wasm SIMD) - what a page without
#                WebGPU downloads; burn_edge_relaxed{.js,_bg.wasm} beside burn_edge{.js,_bg.wasm}
#                is the same runtime with relaxed SIMD's fused multiply-add, loaded where the
#                browser validates relaxed SIMD (each module has its own glue: wasm-bindgen's
#                closure shims are numbered per module)
#   pkg/webgpu/  WebGPU backend + CPU fallback
# cargo (wasm32, release) -> wasm-bindgen (--target web) -> wasm-opt (npm binaryen) -> size table.
#   pkg/cpu-ndarray/  only on request: the CPU build on Burn's older ndarray kernels, to compare
# Usage: scripts/build-wasm.sh [all|cpu|webgpu|ndarray]
# BURN_EDGE_QUICK_WASM=1 (set by scripts/test.sh) trades size and speed for build time: parallel
# codegen, no LTO, wasm-opt -O1. The tests check behaviour, not size; `npm run build` and
# `npm start` ship the fully optimised builds.
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
wasm_opt="node_modules/.bin/wasm-opt"
[ -x "$wasm_opt" ] || { echo "missing $wasm_opt: run 'npm ci' (scripts/setup.sh does)" >&2; exit 1; }

opt_level=-O3
if [ "${BURN_EDGE_QUICK_WASM:-0}" = 1 ]; then
  export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_LTO=false
  opt_level=-O1
  echo "==> quick wasm builds (BURN_EDGE_QUICK_WASM=1): not the shipped sizes"
fi

# scripts/start.sh installs wasm-bindgen-cli beside the first cargo build, holding this lock
# until it is done: only the step after cargo needs it.
wait_for_bindgen() {
  if [ -n "${BURN_EDGE_BINDGEN_LOCK:-}" ]; then flock "$BURN_EDGE_BINDGEN_LOCK" true; fi
  command -v wasm-bindgen >/dev/null \
    || { echo "wasm-bindgen is not installed: scripts/setup.sh installs it${BURN_EDGE_BINDGEN_LOCK:+ (log: target/wasm-bindgen-install.log)}" >&2; exit 1; }
}

build() {
  local name="$1" features="$2"
  echo "==> building pkg/$name (features: $features)"
  cargo build --lib --release --target wasm32-unknown-unknown --no-default-features --features "$features"
  wait_for_bindgen
  rm -rf "pkg/$name" && mkdir -p "pkg/$name"
  wasm-bindgen --target web --out-dir "pkg/$name" --out-name burn_edge \
    "$target_dir/wasm32-unknown-unknown/release/burn_edge.wasm"
  "$wasm_opt" "$opt_level" "pkg/$name/burn_edge_bg.wasm" -o "pkg/$name/burn_edge_bg.wasm"
}

# The relaxed-SIMD variant of pkg/cpu, with its own glue.
build_relaxed() {
  echo "==> building pkg/cpu/burn_edge_relaxed (features: cpu-flex,relaxed-simd)"
  cargo build --lib --release --target wasm32-unknown-unknown --no-default-features --features cpu-flex,relaxed-simd
  wait_for_bindgen
  wasm-bindgen --target web --out-dir pkg/cpu --out-name burn_edge_relaxed \
    "$target_dir/wasm32-unknown-unknown/release/burn_edge.wasm"
  "$wasm_opt" "$opt_level" --enable-simd --enable-relaxed-simd pkg/cpu/burn_edge_relaxed_bg.wasm -o pkg/cpu/burn_edge_relaxed_bg.wasm
}

case "$which" in
  all) build cpu cpu-flex; build_relaxed; build webgpu cpu-flex,webgpu ;;
  cpu) build cpu cpu-flex; build_relaxed ;;
  webgpu) build webgpu cpu-flex,webgpu ;;
  ndarray) build cpu-ndarray cpu-ndarray ;;
  *) echo "usage: $0 [all|cpu|webgpu|ndarray]" >&2; exit 2 ;;
esac
node scripts/wasm-sizes.mjs
# The package's size report: the JS shell against its 15 KB brotli budget, glue, wasm.
node scripts/package-sizes.mjs

# Pin the runtime files' hashes into the package (the loader verifies glue and wasm against them).
node scripts/runtime-integrity.mjs
