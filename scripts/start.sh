#!/usr/bin/env bash
# The main job: install what is missing, build both wasm runtimes and the CLI, then serve the
# demo and print its URL. Extra arguments go to `burn-edge serve` (e.g. --addr 127.0.0.1:9000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-wasm.sh all
cargo build --release -p burn-edge-cli
cli="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')/release/burn-edge"
bash scripts/import-models.sh "$cli"
exec "$cli" serve "$@"
