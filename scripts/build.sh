#!/usr/bin/env bash
# Configures (once) and builds a build directory. Usage: build.sh [DIR [MESON-SETUP-ARGS...]]
# Default: build/, an optimised release build.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" "$@" >"/tmp/nospace-meson-setup.$$.log" 2>&1 || {
    cat "/tmp/nospace-meson-setup.$$.log"
    exit 1
  }
  rm -f "/tmp/nospace-meson-setup.$$.log"
fi
ninja -C "$dir" >"$dir/ninja.log" 2>&1 || {
  grep -E -B2 -A12 'FAILED|error' "$dir/ninja.log" | head -80
  echo "build.sh: the build in $dir failed; full log in $dir/ninja.log" >&2
  exit 1
}
