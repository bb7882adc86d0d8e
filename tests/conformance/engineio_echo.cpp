#include "tests/conformance/engineio_echo.hpp"

#include <memory>

namespace nospace::conformance {

engineio::Config engineio_echo_config() {
  engineio::Config config;
  config.path = "/engine.io/";
  config.ping_interval = std::chrono::milliseconds(300);
  config.ping_timeout = std::chrono::milliseconds(200);
  config.max_payload = 1000000;
  config.allowed_origins = {"*"};
  return config;
}

void attach_engineio_echo(engineio::Server &server) {
  server.on_connection([](std::shared_ptr<engineio::Socket> socket) {
    // A weak pointer: the handler is owned by the socket itself.
    std::weak_ptr<engineio::Socket> weak = socket;
    socket->on_message([weak](std::string data, bool binary) {
      if (auto self = weak.lock())
        self->send(std::move(data), binary);
    });
  });
}

} // namespace nospace::conformance
