#!/usr/bin/env bash
# The one command for bringing your own ONNX model to burn-edge:
#   scripts/add-model.sh <model.onnx> --name <id> --spec <spec.json> [--version V] [--alias A]
#                        [--signing-key PATH] [--runtime all|cpu|webgpu]
#   (or: npm run add-model -- <model.onnx> --name <id> --spec <spec.json> ...)
# 1. imports the ONNX file with burn-onnx (`burn-edge import-onnx`: unsupported operators are
#    named with their nodes) into crates/model/src/architectures/<folder>/generated.rs, and
#    writes that folder's mod.rs (id, input shape from the spec, outputs = the spec's labels)
#    unless it exists (edit it freely: it is kept);
# 2. registers the folder in crates/model/src/architectures/mod.rs (one line between the
#    `// architectures: begin/end` markers);
# 3. rebuilds the CLI (which now knows the architecture);
# 4. builds the browser runtimes containing it (scripts/build-wasm.sh <--runtime>, default all);
# 5. publishes the imported weights as version V (default 1.0.0, alias stable unless --alias is
#    given) into models/<id>/ with the spec (name, architecture, input schema, labels).
# <folder> is <id> with every character outside [a-z0-9_] turned into `_`. Running it again with
# the same file changes nothing: unchanged generated code is not rewritten, the registration is
# not repeated, and publishing the same weights again only re-applies the aliases.
# BURN_EDGE_SKIP_WASM=1 skips step 4 (a machine that builds wasm elsewhere; the tests use it).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 <model.onnx> --name <id> --spec <spec.json> [--version V] [--alias A]... [--signing-key PATH] [--runtime all|cpu|webgpu]" >&2; exit 2; }
onnx="" name="" spec="" version=1.0.0 runtime=all signing_key=""
aliases=()
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name="${2:-}"; shift 2 ;;
    --spec) spec="${2:-}"; shift 2 ;;
    --version) version="${2:-}"; shift 2 ;;
    --alias) aliases+=("${2:-}"); shift 2 ;;
    --signing-key) signing_key="${2:-}"; shift 2 ;;
    --runtime) runtime="${2:-}"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [ -z "$onnx" ] || usage; onnx="$1"; shift ;;
  esac
done
[ -n "$onnx" ] && [ -n "$name" ] && [ -n "$spec" ] || usage
[ -f "$onnx" ] || { echo "no ONNX file $onnx" >&2; exit 1; }
[ -f "$spec" ] || { echo "no spec file $spec" >&2; exit 1; }
[[ "$name" =~ ^[a-z0-9][a-z0-9._-]*$ ]] || { echo "--name $name: use lowercase letters, digits, '.', '_', '-' (it is the architecture id and the models/ folder)" >&2; exit 1; }
[ ${#aliases[@]} -gt 0 ] || aliases=(stable)
folder="${name//[^a-z0-9_]/_}"
arch_dir="crates/model/src/architectures/$folder"
list=crates/model/src/architectures/mod.rs

# What the spec says: its name and architecture must be the id; the input shape and the label
# count size the architecture.
IFS=$'\t' read -r spec_name spec_arch shape outputs < <(node -e '
  const fs = require("fs");
  const s = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const labels = fs.readFileSync(s.labels, "utf8").split("\n").filter((l) => l.trim()).length;
  console.log([s.name, s.architecture, JSON.stringify(s.input.shape).replaceAll(",", ", "), labels].join("\t"));
' "$spec")
[ "$spec_name" = "$name" ] && [ "$spec_arch" = "$name" ] \
  || { echo "$spec: \"name\" ($spec_name) and \"architecture\" ($spec_arch) must both be --name $name" >&2; exit 1; }
rank=$(( $(tr -cd ',' <<< "$shape" | wc -c) + 2 )) # the example's dimensions + the batch

target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
cli="$target_dir/debug/burn-edge"
# --workspace: the same feature set as `cargo test --workspace`, so Burn is not built twice.
[ -x "$cli" ] || cargo build --workspace

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "==> importing $onnx"
"$cli" import-onnx "$onnx" --code "$work/generated.rs" --weights "$work/weights.bpk" > "$work/import.log" 2>&1 \
  || { grep -v '^\s*$' "$work/import.log" | tail -20 >&2; exit 1; }
mkdir -p "$arch_dir"
if cmp -s "$work/generated.rs" "$arch_dir/generated.rs"; then
  echo "    $arch_dir/generated.rs is up to date"
else
  cp "$work/generated.rs" "$arch_dir/generated.rs"
  echo "    wrote $arch_dir/generated.rs"
fi
if [ ! -f "$arch_dir/mod.rs" ]; then
  # CamelCase type name from the id: mobilenet-bench -> MobilenetBench.
  type_name="$(sed -E 's/(^|[^a-zA-Z0-9])([a-z])/\U\2/g; s/[^A-Za-z0-9]//g' <<< "$folder")"
  [[ "$type_name" =~ ^[A-Z] ]] || type_name="Model$type_name"
  cat > "$arch_dir/mod.rs" <<EOF
//! \`$name\`: imported by \`scripts/add-model.sh\` from \`$(basename "$onnx")\` (burn-onnx generated
//! \`generated.rs\`; the weights are published separately under \`models/$name/\`).
#[rustfmt::skip]
mod generated;

crate::imported_architecture! { $type_name: id = "$name", input = $shape, outputs = $outputs, rank = $rank }
EOF
  echo "    wrote $arch_dir/mod.rs"
fi

grep -q '// architectures: end' "$list" || { echo "$list has no '// architectures: end' marker" >&2; exit 1; }
if grep -qE "^\s*pub mod $folder;\s*$" "$list"; then
  echo "    $folder is registered in $list"
else
  # Before the end marker, indented as it is, so the list keeps its order of addition.
  awk -v entry="pub mod $folder;" 'match($0, /^[ \t]*\/\/ architectures: end/) { indent = $0; sub(/[^ \t].*/, "", indent); print indent entry } { print }' "$list" > "$work/mod.rs"
  cp "$work/mod.rs" "$list"
  echo "    registered $folder in $list"
fi

echo "==> rebuilding the CLI"
cargo build --workspace

if [ "${BURN_EDGE_SKIP_WASM:-0}" = 1 ]; then
  echo "==> skipping the browser runtime build (BURN_EDGE_SKIP_WASM=1): run scripts/build-wasm.sh $runtime"
else
  echo "==> building the browser runtime(s): scripts/build-wasm.sh $runtime"
  scripts/build-wasm.sh "$runtime"
fi

echo "==> publishing $name $version"
publish=("$cli" publish --spec "$spec" --weights "$work/weights.bpk" --version "$version")
for a in "${aliases[@]}"; do publish+=(--alias "$a"); done
[ -z "$signing_key" ] || publish+=(--signing-key "$signing_key")
# Publishing the same weights again re-applies the aliases and stamps the channel's updatedAt;
# when the aliases were already there, the old channel (and its signature) is put back, so a
# re-run changes no file.
channel="models/$name/channel.json"
had_sig=0
if [ -f "$channel" ]; then
  cp "$channel" "$work/channel.json"
  [ ! -f "$channel.sig" ] || { cp "$channel.sig" "$work/channel.json.sig"; had_sig=1; }
fi
"${publish[@]}"
has_sig=0; [ ! -f "$channel.sig" ] || has_sig=1
if [ -f "$work/channel.json" ] && [ "$had_sig" = "$has_sig" ] && node -e '
  const fs = require("fs");
  const [a, b] = process.argv.slice(1).map((f) => ({ ...JSON.parse(fs.readFileSync(f, "utf8")), updatedAt: null }));
  process.exit(JSON.stringify(a) === JSON.stringify(b) ? 0 : 1);
' "$work/channel.json" "$channel"; then
  cp "$work/channel.json" "$channel"
  [ "$had_sig" = 0 ] || cp "$work/channel.json.sig" "$channel.sig"
  echo "    models/$name/ already had $version with these aliases: left as it was"
fi
echo "done: loadModel({ channelUrl: '/models/$name/channel.json', runtimeBase: '/pkg' }) loads it with this runtime build"
