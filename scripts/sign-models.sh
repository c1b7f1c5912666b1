#!/usr/bin/env bash
# Signs the committed MNIST model (models/mnist) with the dev key (.burn-edge/keys/, created if
# missing; gitignored like the .sig files) and writes its public half into www/dev-key.json,
# which the demo pages pin. Needs only the CLI built without burn-onnx, so `npm start` can serve
# MNIST before SqueezeNet is imported (scripts/import-models.sh signs SqueezeNet as it publishes).
#   scripts/sign-models.sh path/to/burn-edge
set -euo pipefail
cd "$(dirname "$0")/.."
cli="${1:?usage: scripts/sign-models.sh path/to/burn-edge}"
keys=.burn-edge/keys
[ -f "$keys/signing.key" ] || "$cli" keygen --out "$keys" > /dev/null
"$cli" sign models/mnist --key "$keys/signing.key"
printf '{ "publicKey": "%s" }\n' "$(tr -d '\n' < "$keys/signing.pub")" > www/dev-key.json
