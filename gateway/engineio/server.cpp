#include "gateway/engineio/server_impl.hpp"

#include <nlohmann/json.hpp>

#include <strings.h>
#include <sys/random.h>

#include <algorithm>

namespace nospace::engineio {
namespace {

transport::Limits limits_from(const Config &config) {
  transport::Limits limits;
  // Bodies up to twice maxPayload are read so the session can be closed the way the reference
  // server closes it (413 + "transport error"); anything larger is refused by the transport.
  limits.max_body = config.max_payload * 2;
  limits.max_message = config.max_payload;
  limits.request_timeout = config.request_timeout;
  return limits;
}

bool handshake_only(std::string_view name) {
  static constexpr std::string_view names[] = {
      "Connection",
      "Upgrade",
      "Content-Length",
      "Content-Type",
      "Sec-WebSocket-Key",
      "Sec-WebSocket-Version",
      "Sec-WebSocket-Extensions",
      "Sec-WebSocket-Protocol",
      "Accept-Encoding",
      "Cache-Control",
      "Pragma",
  };
  for (std::string_view candidate : names)
    if (candidate.size() == name.size() &&
        strncasecmp(candidate.data(), name.data(), name.size()) == 0)
      return true;
  return false;
}

bool under_path(std::string_view path, const std::string &prefix) {
  if (path.substr(0, prefix.size()) == prefix)
    return true;
  // "/socket.io" for "/socket.io/"
  return !prefix.empty() && prefix.back() == '/' && path == prefix.substr(0, prefix.size() - 1);
}

} // namespace

const char *error_message(ErrorCode code) {
  switch (code) {
  case ErrorCode::unknown_transport: return "Transport unknown";
  case ErrorCode::unknown_sid: return "Session ID unknown";
  case ErrorCode::bad_handshake_method: return "Bad handshake method";
  case ErrorCode::bad_request: return "Bad request";
  case ErrorCode::forbidden: return "Forbidden";
  case ErrorCode::unsupported_protocol_version: return "Unsupported protocol version";
  }
  return "Bad request";
}

// 15 random bytes as URL-safe base64, like the reference server's base64id: 120 bits, so a
// session cannot be guessed and hijacked.
std::string new_session_id() {
  unsigned char bytes[15];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0)
      got += std::size_t(n);
  }
  std::string id;
  append_base64(id, std::string_view(reinterpret_cast<const char *>(bytes), sizeof bytes));
  std::replace(id.begin(), id.end(), '+', '-');
  std::replace(id.begin(), id.end(), '/', '_');
  return id;
}

ServerImpl::ServerImpl(boost::asio::io_context &io, Config config)
    : io_(io), config_(std::move(config)), drain_timer_(io),
      listener_(io, limits_from(config_),
                transport::Handlers{
                    [this](std::shared_ptr<transport::HttpExchange> e) { on_http(std::move(e)); },
                    [this](const transport::HttpRequest &r, HttpResponse &refusal) {
                      return on_ws_validate(r, refusal);
                    },
                    [this](std::shared_ptr<transport::WsConnection> ws,
                           transport::HttpRequest &&r) { on_ws_open(std::move(ws), std::move(r)); },
                }) {}

ServerImpl::~ServerImpl() {
  listener_.stop_accepting();
  close_all();
}

void ServerImpl::close_all() {
  auto sessions = sessions_; // shutdown() removes from sessions_
  for (auto &[id, session] : sessions)
    session->shutdown("server shutting down");
}

ServerImpl::Query ServerImpl::read_query(std::string_view query) {
  Query q;
  q.params = transport::parse_query(query);
  for (const auto &[key, value] : q.params) {
    if (key == "transport" && !q.transport)
      q.transport = &value;
    if (key == "sid" && !q.sid)
      q.sid = &value;
    if (key == "EIO" && !q.eio)
      q.eio = &value;
  }
  return q;
}

// A request without Origin is not from a browser and cannot be a cross-site request.
bool ServerImpl::origin_allowed(const std::string *origin) const {
  if (!origin)
    return true;
  for (const auto &allowed : config_.allowed_origins)
    if (allowed == "*" || allowed == *origin)
      return true;
  return false;
}

void ServerImpl::add_cors(const std::string *origin, HttpResponse &response) const {
  if (origin && origin_allowed(origin)) {
    response.set_header("Access-Control-Allow-Origin", *origin);
    response.set_header("Access-Control-Allow-Credentials", "true");
    response.set_header("Vary", "Origin");
  } else if (!origin && std::find(config_.allowed_origins.begin(), config_.allowed_origins.end(),
                                  "*") != config_.allowed_origins.end()) {
    response.set_header("Access-Control-Allow-Origin", "*");
  }
}

HttpResponse ServerImpl::error_response(const transport::HttpRequest &request,
                                        ErrorCode code) const {
  HttpResponse response;
  response.status = code == ErrorCode::forbidden ? 403 : 400;
  response.body = nlohmann::json{{"code", int(code)}, {"message", error_message(code)}}.dump();
  response.set_header("Content-Type", "application/json");
  add_cors(request, response);
  return response;
}

// The reference server's checks, in its order.
std::optional<ErrorCode> ServerImpl::verify(const transport::HttpRequest &request,
                                            const Query &query, bool websocket) const {
  if (!query.transport || (*query.transport != "polling" && *query.transport != "websocket"))
    return ErrorCode::unknown_transport;
  if (!origin_allowed(request.header("Origin")))
    return ErrorCode::forbidden;
  if (query.sid) {
    auto it = sessions_.find(*query.sid);
    if (it == sessions_.end())
      return ErrorCode::unknown_sid;
    const Session &session = *it->second;
    if (websocket) {
      // An upgrade: only from long-polling, only once at a time.
      if (*query.transport != "websocket" || !session.can_upgrade())
        return ErrorCode::bad_request;
    } else if (*query.transport != "polling" || !session.is_polling()) {
      return ErrorCode::bad_request;
    }
    return std::nullopt;
  }
  if (request.method != "GET")
    return ErrorCode::bad_handshake_method;
  if ((*query.transport == "websocket") != websocket)
    return ErrorCode::bad_request;
  if (!query.eio || *query.eio != "4")
    return ErrorCode::unsupported_protocol_version;
  return std::nullopt;
}

void ServerImpl::on_http(std::shared_ptr<transport::HttpExchange> exchange) {
  if (under_path(exchange->request().path(), config_.path))
    on_engine_http(exchange);
  else
    on_app_http(exchange);
}

void ServerImpl::on_app_http(const std::shared_ptr<transport::HttpExchange> &exchange) {
  HttpResponse response;
  for (auto &handler : http_handlers) {
    if (handler(exchange->request(), response)) {
      exchange->respond(std::move(response));
      return;
    }
    response = HttpResponse{};
  }
  response.status = 404;
  response.set_header("Content-Type", "text/plain");
  response.body = "Not Found\n";
  exchange->respond(std::move(response));
}

void ServerImpl::on_engine_http(const std::shared_ptr<transport::HttpExchange> &exchange) {
  auto &request = exchange->request();
  if (request.method == "OPTIONS") { // CORS preflight
    HttpResponse response;
    if (!origin_allowed(request.header("Origin"))) {
      exchange->respond(error_response(request, ErrorCode::forbidden));
      return;
    }
    response.status = 204;
    add_cors(request, response);
    response.set_header("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE");
    if (const std::string *asked = request.header("Access-Control-Request-Headers"))
      response.set_header("Access-Control-Allow-Headers", *asked);
    exchange->respond(std::move(response));
    return;
  }
  Query query = read_query(request.query());
  if (auto error = verify(request, query, false)) {
    exchange->respond(error_response(request, *error));
    return;
  }
  if (!query.sid) {
    auto session = create_session(std::move(request));
    session->start_polling(exchange);
    return;
  }
  auto session = sessions_.at(*query.sid);
  if (request.method == "GET")
    session->handle_poll(exchange);
  else if (request.method == "POST")
    session->handle_post(exchange);
  else
    exchange->respond(error_response(request, ErrorCode::bad_request));
}

bool ServerImpl::on_ws_validate(const transport::HttpRequest &request, HttpResponse &refusal) {
  if (!under_path(request.path(), config_.path)) {
    refusal.status = 404;
    refusal.body = "Not Found\n";
    return false;
  }
  if (auto error = verify(request, read_query(request.query()), true)) {
    refusal = error_response(request, *error);
    return false;
  }
  return true;
}

void ServerImpl::on_ws_open(std::shared_ptr<transport::WsConnection> ws,
                            transport::HttpRequest &&request) {
  Query query = read_query(request.query());
  if (query.sid) {
    auto it = sessions_.find(*query.sid);
    // The session may have closed between the handshake and now.
    if (it == sessions_.end() || !it->second->can_upgrade()) {
      ws->close(1000, "");
      return;
    }
    it->second->begin_upgrade(std::move(ws));
    return;
  }
  auto session = create_session(std::move(request));
  session->start_websocket(std::move(ws));
}

std::shared_ptr<Session> ServerImpl::create_session(transport::HttpRequest &&request) {
  Handshake handshake;
  handshake.url = std::move(request.target);
  handshake.headers = std::move(request.headers);
  // Headers that only served the HTTP exchange or the WebSocket handshake are dropped: a
  // session lives long, and at 10,000 connections every stored byte counts.
  std::erase_if(handshake.headers, [](const auto &header) { return handshake_only(header.first); });
  handshake.headers.shrink_to_fit();
  handshake.address = std::move(request.remote_address);
  auto session = std::make_shared<Session>(*this, new_session_id(), std::move(handshake));
  sessions_.emplace(session->id(), session);
  return session;
}

// websocketpp has no "written" callback, so sockets waiting for their WebSocket buffer to
// empty are polled by one timer for the whole server, only while any are waiting.
void ServerImpl::watch_drain(std::shared_ptr<Session> session) {
  drain_watch_.push_back(session);
  if (drain_timer_armed_)
    return;
  drain_timer_armed_ = true;
  do_drain_check();
}

void ServerImpl::do_drain_check() {
  drain_timer_.expires_after(std::chrono::milliseconds(2));
  // A timer that already fired runs its handler even after cancel(): check the server lives.
  drain_timer_.async_wait(
      [this, alive = std::weak_ptr<char>(alive_)](const boost::system::error_code &ec) {
        if (ec || alive.expired())
          return;
        auto watching = std::move(drain_watch_);
        drain_watch_.clear();
        for (auto &weak : watching) {
          auto session = weak.lock();
          if (session && !session->check_drained())
            drain_watch_.push_back(std::move(session));
        }
        if (drain_watch_.empty())
          drain_timer_armed_ = false;
        else
          do_drain_check();
      });
}

Server::Server(boost::asio::io_context &io, Config config)
    : impl_(std::make_unique<ServerImpl>(io, std::move(config))) {}
Server::~Server() = default;
void Server::on_connection(std::function<void(std::shared_ptr<Socket>)> handler) {
  impl_->on_connection = std::move(handler);
}
void Server::on_http(std::function<bool(const HttpRequest &, HttpResponse &)> handler) {
  impl_->http_handlers.push_back(std::move(handler));
}
void Server::listen(const std::string &address, std::uint16_t port) {
  impl_->listen(address, port);
}
std::uint16_t Server::port() const { return impl_->port(); }
void Server::stop_accepting() { impl_->stop_accepting(); }
void Server::close_all() { impl_->close_all(); }
std::size_t Server::connection_count() const { return impl_->connection_count(); }
const Config &Server::config() const { return impl_->config(); }

} // namespace nospace::engineio
