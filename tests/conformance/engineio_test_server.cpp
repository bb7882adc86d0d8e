// engineio-test-server: the Engine.IO echo server with every limit on the command line, for
// the raw HTTP/WebSocket tests (tests/e2e/engineio_raw.test.mjs) that need a small
// maxPayload, a short request timeout or a restricted Origin allowlist.
//   engineio-test-server [--port N] [--path P] [--ping-interval MS] [--ping-timeout MS]
//     [--upgrade-timeout MS] [--max-payload BYTES] [--request-timeout MS] [--origin O]...
// Prints "listening PORT" once ready. "stats" on stdin prints the live session counts;
// a message "close" makes the server close that session; "bulk N" sends N numbered messages.
#include "tests/conformance/engineio_echo.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

namespace {

using namespace nospace;

void read_commands(boost::asio::posix::stream_descriptor &in, boost::asio::streambuf &buf,
                   engineio::Server &server) {
  boost::asio::async_read_until(
      in, buf, '\n', [&](const boost::system::error_code &ec, std::size_t) {
        if (ec)
          return;
        std::istream stream(&buf);
        std::string line;
        std::getline(stream, line);
        if (line == "stats")
          std::printf("sessions %zu live %zu\n", server.connection_count(),
                      engineio::Socket::live_count());
        std::fflush(stdout);
        read_commands(in, buf, server);
      });
}

} // namespace

int main(int argc, char **argv) {
  engineio::Config config = conformance::engineio_echo_config();
  std::uint16_t port = 0;
  bool origins_given = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--port")
      port = std::uint16_t(std::stoul(value));
    else if (flag == "--path")
      config.path = value;
    else if (flag == "--ping-interval")
      config.ping_interval = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--ping-timeout")
      config.ping_timeout = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--upgrade-timeout")
      config.upgrade_timeout = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--max-payload")
      config.max_payload = std::stoul(value);
    else if (flag == "--request-timeout")
      config.request_timeout = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--origin") {
      if (!origins_given)
        config.allowed_origins.clear();
      origins_given = true;
      config.allowed_origins.push_back(value);
    } else {
      std::fprintf(stderr, "engineio-test-server: unknown option '%s'\n", flag.c_str());
      return 2;
    }
  }
  boost::asio::io_context io;
  engineio::Server server(io, config);
  server.on_connection([](std::shared_ptr<engineio::Socket> socket) {
    std::weak_ptr<engineio::Socket> weak = socket;
    socket->on_message([weak](std::string data, bool binary) {
      auto self = weak.lock();
      if (!self)
        return;
      if (!binary && data == "close") {
        self->close();
      } else if (!binary && data.rfind("bulk ", 0) == 0) {
        const int n = std::stoi(data.substr(5));
        for (int k = 0; k < n; ++k)
          self->send(std::to_string(k), false);
      } else {
        self->send(std::move(data), binary);
      }
    });
  });
  server.listen("127.0.0.1", port);
  std::printf("listening %u\n", unsigned(server.port()));
  std::fflush(stdout);
  boost::asio::posix::stream_descriptor in(io, ::dup(0));
  boost::asio::streambuf buf;
  read_commands(in, buf, server);
  io.run();
}
