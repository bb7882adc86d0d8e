#!/usr/bin/env bash
# Installs what is missing, builds, and starts the gateway with the default policy (or the
# policy given as the first argument). Extra arguments go to nospace-gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh build
policy=${1:-policies/default.yaml}
shift || true
exec build/gateway/nospace-gateway --policy "$policy" "$@"
