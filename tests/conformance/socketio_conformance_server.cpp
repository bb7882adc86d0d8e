// socketio-conformance-server: the Socket.IO v5 server configured the way the official
// Socket.IO protocol test suite (socket.io-protocol/test-suite) expects its reference server,
// built from the same libraries as the gateway. See docs/conformance.md.
//   socketio-conformance-server [--port N] [--address A] [--allowed-origin O]...
//                               [--max-payload BYTES] [--ping-interval MS] [--ping-timeout MS]
//                               [--connect-timeout MS] [--engineio-echo]
// Prints "listening PORT" once ready (port 0 picks a free one).
#include "gateway/engineio/server.hpp"
#include "gateway/socketio/server.hpp"
#include "tests/conformance/engineio_echo.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace nospace;
using json = nlohmann::json;

struct Options {
  std::uint16_t port = 3000;
  std::string address = "127.0.0.1";
  std::vector<std::string> allowed_origins{"*"};
  std::optional<std::size_t> max_payload;
  std::optional<std::chrono::milliseconds> ping_interval, ping_timeout; // bench/socketio
  std::chrono::milliseconds connect_timeout{1000};
  bool engineio_echo = false;
};

// The reference server's handlers, plus a few events only our end-to-end tests send
// (tests/e2e/socketio.test.mjs); the official suite never sends them.
void attach_handlers(socketio::Namespace &nsp) {
  nsp.on_connection([](std::shared_ptr<socketio::Socket> socket) {
    socket->emit("auth", json::array({socket->auth()}));
    socketio::Socket *raw = socket.get(); // handlers are dropped on disconnect: no cycle
    socket->on("message", [raw](json args, socketio::Ack) { raw->emit("message-back", args); });
    socket->on("message-with-ack", [](json args, socketio::Ack ack) {
      if (ack)
        ack(std::move(args));
    });
    // Server-to-client ack: asks the client to acknowledge, then reports what came back.
    socket->on("request-ack", [raw](json args, socketio::Ack) {
      std::weak_ptr<socketio::Socket> weak = raw->shared_from_this();
      raw->emit_with_ack("ack-me", args, [weak](json reply) {
        if (auto self = weak.lock())
          self->emit("ack-result", reply);
      });
    });
    socket->on("disconnect-me", [raw](json, socketio::Ack) { raw->disconnect(); });
    socket->on("drop-connection", [raw](json, socketio::Ack) { raw->close_connection(); });
  });
}

Options parse_options(int argc, char **argv) {
  Options options;
  bool origins_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--engineio-echo") {
      options.engineio_echo = true;
      continue;
    }
    if (i + 1 >= argc)
      throw std::invalid_argument("option '" + flag + "' needs a value");
    const std::string value = argv[++i];
    if (flag == "--port")
      options.port = static_cast<std::uint16_t>(std::stoul(value));
    else if (flag == "--address")
      options.address = value;
    else if (flag == "--max-payload")
      options.max_payload = std::stoul(value);
    else if (flag == "--ping-interval")
      options.ping_interval = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--ping-timeout")
      options.ping_timeout = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--connect-timeout")
      options.connect_timeout = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--allowed-origin") {
      if (!origins_given)
        options.allowed_origins.clear();
      origins_given = true;
      options.allowed_origins.push_back(value);
    } else
      throw std::invalid_argument("unknown option '" + flag + "'");
  }
  return options;
}

} // namespace

int main(int argc, char **argv) {
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "socketio-conformance-server: %s\n", error.what());
    return 2;
  }

  // The Engine.IO timings of the reference server; the echo mode only changes the path.
  engineio::Config config = conformance::engineio_echo_config();
  if (!options.engineio_echo)
    config.path = "/socket.io/";
  config.allowed_origins = options.allowed_origins;
  if (options.max_payload)
    config.max_payload = *options.max_payload;
  if (options.ping_interval)
    config.ping_interval = *options.ping_interval;
  if (options.ping_timeout)
    config.ping_timeout = *options.ping_timeout;

  boost::asio::io_context io;
  engineio::Server engine(io, config);
  std::optional<socketio::Server> sio;
  if (options.engineio_echo) {
    conformance::attach_engineio_echo(engine);
  } else {
    sio.emplace(io, engine, socketio::Config{options.connect_timeout});
    attach_handlers(sio->of("/"));
    attach_handlers(sio->of("/custom"));
    // Refuses every CONNECT whose auth lacks {"token":"secret"}: a refused handshake.
    auto &guarded = sio->of("/guarded");
    guarded.use([](const socketio::Socket &socket) -> std::optional<std::string> {
      if (socket.auth().value("token", "") != "secret")
        return "Not authorized";
      return std::nullopt;
    });
    attach_handlers(guarded);
  }

  try {
    engine.listen(options.address, options.port);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "socketio-conformance-server: listen on %s:%u: %s\n",
                 options.address.c_str(), unsigned(options.port), error.what());
    return 1;
  }
  std::printf("listening %u\n", unsigned(engine.port()));
  std::fflush(stdout);

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code &, int) {
    engine.stop_accepting();
    engine.close_all();
    io.stop();
  });
  io.run();
  return 0;
}
