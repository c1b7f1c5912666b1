#!/usr/bin/env bash
# Imports the pretrained models that come as ONNX files in ../shared and publishes them into
# models/ (gitignored: the weights are derived from ../shared data and never committed).
# Also proves the committed generated architecture is what burn-onnx generates today, and
# signs models/mnist (scripts/sign-models.sh) and models/squeezenet with the dev key whose public
# half the demo pages pin (www/dev-key.json). Needs the full CLI (the default features).
#   scripts/import-models.sh [path/to/burn-edge]   (default: the dev build, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
cli="${1:-$target_dir/debug/burn-edge}"
[ -x "$cli" ] || cargo build -p burn-edge-cli
onnx=../shared/datasets/squeezenet/squeezenet1.1_fp32_opset16.onnx
committed=crates/model/src/architectures/squeezenet1_1/generated.rs
[ -f "$onnx" ] || { echo "missing $onnx: the datasets folder ../shared must sit beside the repository" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# burn-onnx logs every step; keep it for when the import fails.
"$cli" import-onnx "$onnx" --code "$work/squeezenet1_1.rs" --weights "$work/squeezenet1_1.bpk" > "$work/import.log" 2>&1 \
  || { tail -30 "$work/import.log" >&2; exit 1; }
tail -1 "$work/import.log"
if ! cmp -s "$work/squeezenet1_1.rs" "$committed"; then
  echo "burn-onnx now generates a different $committed:" >&2
  diff -u "$committed" "$work/squeezenet1_1.rs" | head -40 >&2
  echo "re-run: $cli import-onnx $onnx --code $committed --weights /tmp/squeezenet.bpk, and commit it" >&2
  exit 1
fi
keys=.burn-edge/keys
bash scripts/sign-models.sh "$cli"
# Publishing the same weights again only re-applies the alias (and signs).
"$cli" publish --spec models/squeezenet.model.json --weights "$work/squeezenet1_1.bpk" --version 1.0.0 --alias stable \
  --signing-key "$keys/signing.key"
