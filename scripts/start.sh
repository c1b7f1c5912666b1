#!/usr/bin/env bash
# The main job: install what the demo needs, build the CPU runtime and the CLI, serve the demo
# and print its URL; then, while the demo already runs, import SqueezeNet (the full CLI) and
# build the WebGPU runtime (pages use the CPU build until pkg/webgpu/ is there, and say so).
# Extra arguments go to `burn-edge serve` (e.g. --addr 127.0.0.1:9000).
# The CLI that serves is the `demo` profile's (unoptimised dependencies, no burn-onnx: it only
# serves the local demo); the full CLI after it is the dev-profile build (dependencies
# optimised), the same binary `npm test` drives, so `npm test` after `npm start` does not build
# it again. The runtimes
# are built the quick way too (BURN_EDGE_QUICK_WASM=1, as `npm test` builds them: no LTO,
# parallel codegen, wasm-opt -O1): only this local demo loads them. `npm run build` (or
# BURN_EDGE_QUICK_WASM=0 npm start) makes the shipped, fully optimised builds.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started )) s"; }
export BURN_EDGE_QUICK_WASM="${BURN_EDGE_QUICK_WASM:-1}"
bash scripts/setup.sh --start-no-bindgen
mkdir -p target
# wasm-bindgen-cli (minutes to compile where it is missing) installs beside the cargo builds
# below: build-wasm.sh needs it only after its cargo step and waits on this lock till then. The
# lock is held by the installer's open file; this shell closes its own copy at once.
export BURN_EDGE_BINDGEN_LOCK="$PWD/target/wasm-bindgen-install.lock"
exec 9>"$BURN_EDGE_BINDGEN_LOCK"
flock 9
bash scripts/setup.sh --bindgen > target/wasm-bindgen-install.log 2>&1 &
exec 9>&-
# The CLI compiles beside the CPU runtime (cargo locks target/debug and target/<wasm>/release
# separately): each leaves a core idle for long stretches (linking, wasm-bindgen, wasm-opt).
# This first CLI is built without burn-onnx (about a fifth of its build) and with unoptimised
# dependencies (Cargo.toml's `demo` profile): it serves MNIST; the full one, which imports
# SqueezeNet, is built after the demo is up.
cargo build -p burn-edge-cli --no-default-features --profile demo > target/cli-build.log 2>&1 &
cli_build=$!
trap 'kill "$cli_build" 2>/dev/null || true' EXIT INT TERM
bash scripts/build-wasm.sh cpu
echo "==> waiting for the CLI (log: target/cli-build.log)"
wait "$cli_build" || { tail -30 target/cli-build.log >&2; echo "the CLI did not build" >&2; exit 1; }
target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
demo_cli="$target_dir/demo/burn-edge"
cli="$target_dir/debug/burn-edge"
bash scripts/sign-models.sh "$demo_cli"

# The server keeps running this first CLI; the full one below goes to target/debug/.
"$demo_cli" serve "$@" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT INT TERM
sleep 1
echo "==> the demo is up after $(elapsed) (URL above): MNIST now; SqueezeNet once imported and the"
echo "    WebGPU runtime once built (pages run on the CPU build until then, and say so)."
echo "    Logs: target/squeezenet-import.log, target/webgpu-build.log"
# The full CLI (burn-onnx) and the WebGPU runtime build side by side, as above.
( cargo build -p burn-edge-cli && bash scripts/import-models.sh "$cli" ) > target/squeezenet-import.log 2>&1 &
import=$!
trap 'kill "$server" "$import" 2>/dev/null || true' EXIT INT TERM
if bash scripts/build-wasm.sh webgpu > target/webgpu-build.log 2>&1; then
  echo "==> the WebGPU runtime is built after $(elapsed): reload the page to use it"
else
  echo "==> the WebGPU build failed (the demo keeps running on the CPU): see target/webgpu-build.log" >&2
fi
if wait "$import"; then
  echo "==> SqueezeNet is imported and published after $(elapsed): the model switcher lists it"
else
  echo "==> importing SqueezeNet failed (MNIST keeps serving): see target/squeezenet-import.log" >&2
fi
wait "$server"
