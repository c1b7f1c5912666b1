#!/usr/bin/env bash
# Every test: native Rust (workspace), the JS type check, wasm tests in headless Chromium with
# and without WebGPU, then the demo end to end (release wasm builds + real server + Playwright).
# Ends with one line "tests: N passed, N failed" summing every runner.
set -uo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp -d)/test.log"
status=0
step() { echo; echo "######## $*"; "$@" 2>&1 | tee -a "$log"; local rc=${PIPESTATUS[0]}; [ "$rc" = 0 ] || { echo "FAILED ($rc): $*"; status=1; }; }

bash scripts/setup.sh || exit 1
# The CLI imports SqueezeNet from ../shared (ONNX) and publishes it into models/ first: the
# native, browser and e2e tests all run the published version. The e2e tests drive this same
# dev-profile server binary (serving speed does not matter there).
step cargo build -p burn-edge-cli
step bash scripts/import-models.sh
# The benchmark networks a user would bring (ONNX, seeded weights) and ONNX Runtime's outputs on
# them: the native test holds burn-edge to 1e-4 of them, and the browser tests publish them.
step python3 scripts/bench-models.py
step cargo test --workspace
step node_modules/.bin/tsc -p jsconfig.json
step bash scripts/test-browser.sh
step env BURN_EDGE_QUICK_WASM=1 bash scripts/build-wasm.sh all
step node --test --test-reporter=spec tests/node/ tests/e2e/ tests/reliability/

# One summary over all runners: cargo/wasm-bindgen "test result:" lines and node's ℹ totals.
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ passed; [0-9]+ failed' "$log" | awk '{s+=$3} END {print s+0}')
node_pass=$(grep -Eo '^ℹ pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
node_fail=$(grep -Eo '^ℹ fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
echo
echo "tests: $((passed + node_pass)) passed, $((failed + node_fail)) failed"
exit $status
