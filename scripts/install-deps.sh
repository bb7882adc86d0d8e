#!/usr/bin/env bash
# Installs every build, test and run dependency on Debian 12 (bookworm), as root.
# Idempotent: when everything is present it only checks and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: compiler, meson, and the libraries named in DESIGN.md.
# Test: Node.js + npm for the socket.io-client end-to-end suite, clang for the fuzzers,
# bubblewrap for the launcher benchmark baseline, nginx for the scale-out test,
# python3 for the test summary (meson needs it anyway).
packages=(
  g++ clang meson ninja-build pkg-config cmake python3 clang-format
  libboost-dev libboost-system-dev libwebsocketpp-dev libyaml-cpp-dev
  libseccomp-dev libcap-dev catch2 nlohmann-json3-dev
  bubblewrap nginx-light iproute2 procps
)
# Node.js may come from Debian (nodejs + npm) or from another vendor's nodejs that bundles npm
# and conflicts with Debian's npm: only ask for them when the commands are missing.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The end-to-end tests and benchmarks use the real npm packages, pinned by committed lockfiles.
for dir in tests/e2e bench; do
  [ -f "$dir/package-lock.json" ] || continue
  stamp="$dir/node_modules/.lock-stamp"
  if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
    echo "install-deps: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$stamp"
  fi
done

# The gateway drops to this user when started as root (server.user in the policy).
if [ "$(id -u)" = 0 ] && ! getent passwd nospace >/dev/null; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin nospace
fi
