#!/usr/bin/env bash
# wasm-bindgen tests in headless Chromium, run twice: with a WebGPU adapter
# (--enable-unsafe-webgpu, SwiftShader) and without one (the CPU fallback).
set -euo pipefail
cd "$(dirname "$0")/.."
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}"
for mode in webgpu nowebgpu; do
  echo "==> browser tests, $mode"
  export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/tests/webdriver-$mode.json"
  if [ "$mode" = webgpu ]; then export BURN_EDGE_EXPECT_WEBGPU=1; else export BURN_EDGE_EXPECT_WEBGPU=0; fi
  cargo test --target wasm32-unknown-unknown --features webgpu --test web
done
