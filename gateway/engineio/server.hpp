#pragma once
// The Engine.IO v4 server: both transports (HTTP long-polling and WebSocket, directly or as an
// upgrade) on one port and one path, the handshake and its error codes, CORS and the Origin
// allowlist. Requests outside Config::path go to on_http handlers (health, metrics, static).
// Everything runs on ONE io_context thread: no locks, callbacks are never concurrent.

#include "gateway/engineio/socket.hpp"
#include "gateway/transport/http.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nospace::transport {
class Listener;
}

namespace nospace::engineio {

using transport::HttpRequest;
using transport::HttpResponse;

struct Config {
  std::string path = "/socket.io/";
  std::chrono::milliseconds ping_interval{25000};
  std::chrono::milliseconds ping_timeout{20000};
  std::chrono::milliseconds upgrade_timeout{10000};
  std::size_t max_payload = 1000000; // bytes: one POST body or one WebSocket message
  // Origins allowed to connect; "*" = any. Also drives CORS headers for long-polling.
  // A request without an Origin header (not a browser) is always allowed.
  std::vector<std::string> allowed_origins{"*"};
  // Bounds on what one client can make the server hold.
  std::chrono::milliseconds request_timeout{10000}; // whole HTTP request / WS handshake
  std::size_t max_buffered = 16u << 20;             // a socket's unsent bytes before it is closed
};

// Error codes of the reference server, answered as 400 (403 for Forbidden) with a JSON body
// {"code":N,"message":"..."}.
enum class ErrorCode {
  unknown_transport = 0,
  unknown_sid = 1,
  bad_handshake_method = 2,
  bad_request = 3,
  forbidden = 4,
  unsupported_protocol_version = 5,
};
const char *error_message(ErrorCode code);

class ServerImpl;

class Server {
public:
  Server(boost::asio::io_context &io, Config config);
  ~Server();
  Server(const Server &) = delete;
  Server &operator=(const Server &) = delete;

  void on_connection(std::function<void(std::shared_ptr<Socket>)> handler);
  // Requests outside Config::path: return true when handled; unhandled ones get 404.
  void on_http(std::function<bool(const HttpRequest &, HttpResponse &)> handler);

  void listen(const std::string &address, std::uint16_t port); // port 0 = any; throws on error
  std::uint16_t port() const;
  void stop_accepting();
  void close_all(); // closes every session ("server shutting down")
  std::size_t connection_count() const;
  const Config &config() const;

private:
  std::unique_ptr<ServerImpl> impl_;
};

} // namespace nospace::engineio
