#pragma once
// The Engine.IO server's request routing (private to the engineio library): verifies each
// request the way the reference server does, then hands it to its session.

#include "gateway/engineio/server.hpp"
#include "gateway/engineio/session.hpp"
#include "gateway/transport/listener.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace nospace::engineio {

class ServerImpl {
public:
  ServerImpl(boost::asio::io_context &io, Config config);
  ~ServerImpl();

  boost::asio::io_context &io() { return io_; }
  const Config &config() const { return config_; }

  void listen(const std::string &address, std::uint16_t port) { listener_.listen(address, port); }
  std::uint16_t port() const { return listener_.port(); }
  void stop_accepting() { listener_.stop_accepting(); }
  void close_all();
  std::size_t connection_count() const { return sessions_.size(); }

  std::function<void(std::shared_ptr<Socket>)> on_connection;
  std::vector<std::function<bool(const HttpRequest &, HttpResponse &)>> http_handlers;

  // Called by sessions.
  void remove(const std::string &id) { sessions_.erase(id); }
  void watch_drain(std::shared_ptr<Session> session);
  // CORS headers for a long-polling response to a request with that Origin header.
  void add_cors(const std::string *origin, HttpResponse &response) const;
  void add_cors(const transport::HttpRequest &request, HttpResponse &response) const {
    add_cors(request.header("Origin"), response);
  }

private:
  struct Query {
    const std::string *transport = nullptr, *sid = nullptr, *eio = nullptr;
    std::vector<std::pair<std::string, std::string>> params;
  };
  static Query read_query(std::string_view query);
  bool origin_allowed(const std::string *origin) const;
  HttpResponse error_response(const transport::HttpRequest &request, ErrorCode code) const;
  std::optional<ErrorCode> verify(const transport::HttpRequest &request, const Query &query,
                                  bool websocket) const;

  void on_http(std::shared_ptr<transport::HttpExchange> exchange);
  void on_engine_http(const std::shared_ptr<transport::HttpExchange> &exchange);
  void on_app_http(const std::shared_ptr<transport::HttpExchange> &exchange);
  bool on_ws_validate(const transport::HttpRequest &request, HttpResponse &refusal);
  void on_ws_open(std::shared_ptr<transport::WsConnection> ws, transport::HttpRequest &&request);
  std::shared_ptr<Session> create_session(transport::HttpRequest &&request);
  void do_drain_check();

  boost::asio::io_context &io_;
  Config config_;
  // Keyed by a view of the session's own id (a session lives as long as its entry): no
  // second copy of the 20-character id per session.
  std::unordered_map<std::string_view, std::shared_ptr<Session>> sessions_;
  std::vector<std::weak_ptr<Session>> drain_watch_;
  boost::asio::steady_timer drain_timer_;
  bool drain_timer_armed_ = false;
  std::shared_ptr<char> alive_ = std::make_shared<char>(); // see do_drain_check
  transport::Listener listener_;
};

std::string new_session_id();

} // namespace nospace::engineio
