#pragma once
// The network edge: one listening TCP socket served by websocketpp on Boost.Asio, exposed as
// small handles so no other code includes websocketpp (0.8.2 builds only as C++17).
//
// websocketpp's HTTP side is patched up here: every response carries `Connection: close`
// (it serves one request per connection), chunked request bodies are refused with 411 (it
// would ignore them), `Expect: 100-continue` is refused with 417 (it never sends the interim
// 100), and HEAD responses carry no body.

#include "gateway/transport/http.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace nospace::transport {

struct Limits {
  std::size_t max_body = 1000000;    // HTTP request body (413 above it)
  std::size_t max_message = 1000000; // one WebSocket message (closed with 1009 above it)
  // Time allowed to send a complete request (headers and body) or WebSocket handshake:
  // bounds slowloris-style trickling. Headers are bounded by websocketpp at 16000 bytes (431).
  std::chrono::milliseconds request_timeout{10000};
};

// One HTTP request awaiting its response. respond() may be called later (long-polling);
// the handle keeps the connection alive until then.
class HttpExchange {
public:
  virtual ~HttpExchange() = default;
  virtual HttpRequest &request() = 0;
  virtual void respond(HttpResponse &&response) = 0; // only the first call counts
  virtual bool responded() const = 0;
};

class WsConnection;

// Told what happens on a WsConnection, on the io_context thread.
class WsObserver {
public:
  virtual void on_ws_message(WsConnection &from, std::string &&data, bool binary) = 0;
  virtual void on_ws_close(WsConnection &from) = 0; // once, when the connection is gone

protected:
  ~WsObserver() = default;
};

// One open WebSocket connection.
class WsConnection {
public:
  virtual ~WsConnection() = default;
  // Sends prefix + data as one text or binary message (two parts: no concatenation copy).
  virtual void send(std::string_view prefix, std::string_view data, bool binary) = 0;
  virtual void close(std::uint16_t code, const std::string &reason) = 0;
  virtual std::size_t buffered_amount() const = 0; // bytes queued, not yet written
  virtual bool is_open() const = 0;

  // Set by the owner right after on_ws_open, held weakly (the owner usually owns this
  // connection). One pointer rather than two std::function objects with their captures on the
  // heap: there is one per connection, and 10,000 connections are the design point.
  std::weak_ptr<WsObserver> observer;
};

struct Handlers {
  std::function<void(std::shared_ptr<HttpExchange>)> on_http;
  // A WebSocket upgrade request: return true to accept; otherwise fill `refusal`.
  std::function<bool(const HttpRequest &, HttpResponse &refusal)> on_ws_validate;
  // The accepted connection with the request it was opened by.
  std::function<void(std::shared_ptr<WsConnection>, HttpRequest &&)> on_ws_open;
};

class ListenerImpl;

class Listener {
public:
  Listener(boost::asio::io_context &io, Limits limits, Handlers handlers);
  ~Listener();
  Listener(const Listener &) = delete;
  Listener &operator=(const Listener &) = delete;

  void listen(const std::string &address, std::uint16_t port); // throws std::runtime_error
  std::uint16_t port() const;
  void stop_accepting();

private:
  boost::asio::io_context &io_;
  std::shared_ptr<ListenerImpl> impl_;
};

} // namespace nospace::transport
