#!/usr/bin/env bash
# Builds and runs the launcher benchmark: bench/launcher/run.sh [BUILD-DIR [RUNS]]
# Needs root (the default policy's per-run uids and cgroups) and bwrap (Debian: bubblewrap).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
ninja -C "$build" bench/launcher/launcher-bench bench/launcher/exit-at-once \
  bench/launcher/exit-at-once-dynamic sandbox/nospace-sandbox >/dev/null
exec "$build/bench/launcher/launcher-bench" "${2:-500}"
