#pragma once
// The `--engineio-echo` mode of socketio-conformance-server: bare Engine.IO configured the way
// the official Engine.IO protocol test suite expects its reference server (path /engine.io/,
// pingInterval 300, pingTimeout 200, maxPayload 1000000, CORS for any origin), sending every
// message back as it came, text or binary.

#include "gateway/engineio/server.hpp"

namespace nospace::conformance {

engineio::Config engineio_echo_config();
// Echoes every message of every session of `server`.
void attach_engineio_echo(engineio::Server &server);

} // namespace nospace::conformance
