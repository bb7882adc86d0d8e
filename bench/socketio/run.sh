#!/usr/bin/env bash
# Socket.IO server benchmark (figures, not a timed test): ours against the npm socket.io
# server, through the real socket.io-client, loopback only. See bench/socketio/bench.mjs.
#   bench/socketio/run.sh [BUILD_DIR] [CONNECTIONS]     (defaults: build, 10000)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
connections=${2:-10000}
[[ -d bench/node_modules/socket.io ]] || (cd bench && npm ci)
# The client process and each server hold one descriptor per connection (plus a few): ask
# for that much, or the hard limit when that is lower (a container may forbid raising it).
want=$((connections + 1024)) hard=$(ulimit -Hn)
[[ $hard != unlimited ]] && ((hard < want)) && want=$hard
ulimit -n "$want"
exec node bench/socketio/bench.mjs "$PWD/$build/tests/conformance/socketio-conformance-server" \
  "$connections" "$PWD/$build/bench/socketio/websocketpp-floor-server"
