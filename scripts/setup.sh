#!/usr/bin/env bash
# Installs what a fresh machine lacks, and nothing it already has:
# Chromium + chromedriver, ClickHouse and nginx (apt; the collector's ClickHouse sink and the
# CDN edge are tested against real servers), Python's onnx, numpy and onnxruntime (pip: the benchmark networks
# and their ONNX Runtime reference outputs, scripts/bench-models.py), the wasm32 target, wasm-bindgen-cli at the version in
# Cargo.lock, and the npm packages (binaryen's wasm-opt, playwright-core, typescript).
#   scripts/setup.sh          everything the tests need
#   scripts/setup.sh --start  only what `npm start` needs to build and serve the demo (no browser,
#                             database or Python: a first run is minutes shorter)
#   scripts/setup.sh --start-no-bindgen
#                             the same but wasm-bindgen-cli, which start.sh installs beside the
#                             first cargo builds (only build-wasm.sh's step after cargo needs it)
#   scripts/setup.sh --bindgen  only wasm-bindgen-cli
set -euo pipefail
cd "$(dirname "$0")/.."
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
for_tests=1 bindgen=1 rest=1
case "${1:-}" in
  --start) for_tests=0 ;;
  --start-no-bindgen) for_tests=0 bindgen=0 ;;
  --bindgen) for_tests=0 rest=0 ;;
  "") ;;
  *) echo "usage: $0 [--start|--start-no-bindgen|--bindgen]" >&2; exit 2 ;;
esac

# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock exactly.
install_bindgen() {
  local want have
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [ "$have" != "$want" ]; then
    echo "==> cargo install wasm-bindgen-cli $want (have: ${have:-none})"
    # Not --locked: its lock file pins crates newer than some registry mirrors carry. In a
    # temporary target directory, not a shared CARGO_TARGET_DIR that a build beside it holds.
    env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli --version "$want"
  fi
}
if [ "$rest" = 0 ]; then
  install_bindgen
  exit 0
fi

if [ "$for_tests" = 1 ]; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  [ -x /usr/sbin/clickhouse-server ] || command -v clickhouse >/dev/null || missing+=(clickhouse-server)
  # nginx: the CDN-edge test runs deploy/nginx-cdn.conf in front of `burn-edge serve`.
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi

  # Pinned: scripts/bench-models.py writes the same ONNX bytes with these versions.
  if ! python3 -c 'import onnx, numpy, onnxruntime' 2>/dev/null; then
    echo "==> pip install onnx numpy onnxruntime"
    python3 -m pip install --quiet --disable-pip-version-check onnx==1.23.2 numpy==2.4.6 onnxruntime==1.32.0
  fi
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "==> rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [ "$bindgen" = 1 ]; then install_bindgen; fi

if [ ! -x node_modules/.bin/wasm-opt ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund
fi
