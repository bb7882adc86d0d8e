#!/usr/bin/env bash
# nospace service benchmark (figures, not a timed test): nospace-gateway with every run
# sandboxed against a Node.js baseline built like the original playground (npm socket.io +
# child_process.spawn, no sandbox), same fixture interpreter, real socket.io-client.
#   bench/nospace/run.sh [BUILD_DIR]    (default: build; run as root like the gateway)
# LATENCY_RUNS, RATE_SECONDS and FLOOD_MB tune the cases.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
[[ -d bench/node_modules/socket.io ]] || (cd bench && npm ci)
exec node bench/nospace/bench.mjs "$PWD/$build"
