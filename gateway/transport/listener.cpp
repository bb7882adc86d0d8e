// The websocketpp side of the transport. Built as C++17 (see meson.build).
#include "gateway/transport/listener.hpp"

#include "gateway/transport/websocketpp_config.hpp"

#include <boost/asio/post.hpp>

#include <stdexcept>

namespace nospace::transport {

namespace {

HttpRequest read_request(const ConnectionPtr &con) {
  HttpRequest out;
  const auto &req = con->get_request();
  out.method = req.get_method();
  out.target = req.get_uri();
  for (const auto &[name, value] : req.get_headers())
    out.headers.emplace_back(name, value);
  out.body = req.get_body();
  boost::system::error_code ec;
  const auto remote = con->get_raw_socket().remote_endpoint(ec);
  if (!ec) {
    const auto address = remote.address();
    out.remote_address = address.is_v6() && address.to_v6().is_v4_mapped()
                             ? address.to_v6().to_v4().to_string()
                             : address.to_string();
  }
  return out;
}

// Fills websocketpp's response. websocketpp serves one request per connection, so every
// response says so (Node's keep-alive agent otherwise reuses the closed socket: ECONNRESET).
void write_response(const ConnectionPtr &con, HttpResponse &&response, bool head) {
  con->set_status(static_cast<websocketpp::http::status_code::value>(response.status));
  for (auto &[name, value] : response.headers)
    con->replace_header(name, value);
  con->replace_header("Connection", "close");
  if (head) {
    con->set_body(std::string{});
  } else {
    con->set_body(response.body);
  }
}

class HttpExchangeImpl final : public HttpExchange {
public:
  HttpExchangeImpl(ConnectionPtr con, HttpRequest &&request)
      : con_(std::move(con)), request_(std::move(request)) {}

  HttpRequest &request() override { return request_; }
  bool responded() const override { return responded_; }

  void respond(HttpResponse &&response) override {
    if (responded_)
      return;
    responded_ = true;
    write_response(con_, std::move(response), request_.method == "HEAD");
    // Inside the http handler websocketpp writes the response when the handler returns;
    // a deferred one is sent now.
    if (deferred_) {
      websocketpp::lib::error_code ec;
      con_->send_http_response(ec);
    }
    con_.reset();
  }

  // Called by the http handler once the upper layer has had the request.
  void defer_if_pending() {
    if (responded_)
      return;
    deferred_ = true;
    con_->defer_http_response();
  }

private:
  ConnectionPtr con_;
  HttpRequest request_;
  bool responded_ = false;
  bool deferred_ = false;
};

} // namespace

class WsConnectionImpl final : public WsConnection {
public:
  explicit WsConnectionImpl(ConnectionPtr con) : con_(std::move(con)) { con_->owner = this; }
  ~WsConnectionImpl() override {
    con_->owner = nullptr;
    if (is_open()) {
      websocketpp::lib::error_code ec;
      con_->close(websocketpp::close::status::going_away, "", ec);
    }
  }

  void send(std::string_view prefix, std::string_view data, bool binary) override {
    if (!is_open())
      return;
    const auto op = binary ? websocketpp::frame::opcode::binary : websocketpp::frame::opcode::text;
    auto message = con_->get_message(op, prefix.size() + data.size());
    message->append_payload(prefix.data(), prefix.size());
    message->append_payload(data.data(), data.size());
    con_->send(message);
  }

  void close(std::uint16_t code, const std::string &reason) override {
    if (!is_open())
      return;
    websocketpp::lib::error_code ec;
    con_->close(code, reason, ec);
  }

  std::size_t buffered_amount() const override { return con_->get_buffered_amount(); }
  bool is_open() const override { return con_->get_state() == websocketpp::session::state::open; }

  // websocketpp saw the connection end: tell the observer once, then forget it.
  void closed() {
    con_->owner = nullptr;
    auto observer = this->observer.lock();
    this->observer.reset();
    if (observer)
      observer->on_ws_close(*this); // may destroy this object
  }

private:
  ConnectionPtr con_;
};

class ListenerImpl {
public:
  ListenerImpl(boost::asio::io_context &io, Limits limits, Handlers handlers)
      : handlers_(std::move(handlers)) {
    configure_endpoint(endpoint_, io, limits);
  }

  // websocketpp copies these handlers into every connection, and connections can outlive the
  // listener (a response still being written): they hold a weak reference and check it.
  void clear_handlers() { handlers_ = Handlers{}; }

  void install_handlers(const std::shared_ptr<ListenerImpl> &self) {
    std::weak_ptr<ListenerImpl> weak = self;
    endpoint_.set_http_handler([weak](websocketpp::connection_hdl hdl) {
      if (auto self = weak.lock())
        self->on_http(hdl);
    });
    endpoint_.set_validate_handler([weak](websocketpp::connection_hdl hdl) {
      auto self = weak.lock();
      return self && self->on_validate(hdl);
    });
    endpoint_.set_open_handler([weak](websocketpp::connection_hdl hdl) {
      if (auto self = weak.lock())
        self->on_open(hdl);
    });
    endpoint_.set_message_handler(
        [weak](websocketpp::connection_hdl hdl, Endpoint::message_ptr msg) {
          if (auto self = weak.lock())
            self->on_message(hdl, msg);
        });
    endpoint_.set_close_handler([weak](websocketpp::connection_hdl hdl) {
      if (auto self = weak.lock())
        self->on_close(hdl);
    });
  }

  ~ListenerImpl() { stop_accepting(); }

  void listen(const std::string &address, std::uint16_t port) {
    boost::system::error_code bec;
    const auto ip = boost::asio::ip::make_address(address, bec);
    if (bec)
      throw std::runtime_error("listen: invalid address '" + address + "'");
    websocketpp::lib::error_code ec;
    endpoint_.listen(boost::asio::ip::tcp::endpoint(ip, port), ec);
    if (ec)
      throw std::runtime_error("listen on " + address + ":" + std::to_string(port) + ": " +
                               ec.message());
    endpoint_.start_accept(ec);
    if (ec)
      throw std::runtime_error("accept on " + address + ": " + ec.message());
  }

  std::uint16_t port() const {
    boost::system::error_code ec;
    auto endpoint = const_cast<Endpoint &>(endpoint_).get_local_endpoint(ec);
    return ec ? 0 : endpoint.port();
  }

  void stop_accepting() {
    if (!endpoint_.is_listening())
      return;
    websocketpp::lib::error_code ec;
    endpoint_.stop_listening(ec);
  }

private:
  void on_http(websocketpp::connection_hdl hdl) {
    auto con = endpoint_.get_con_from_hdl(hdl);
    HttpRequest request = read_request(con);
    // websocketpp would read a chunked body as no body, and waits for the body of an
    // `Expect: 100-continue` request without ever sending the 100: refuse both clearly.
    if (request.header("Transfer-Encoding")) {
      write_response(con, {411, {}, "chunked request bodies are not supported\n"}, false);
      return;
    }
    if (request.header("Expect")) {
      write_response(con, {417, {}, "Expect is not supported\n"}, false);
      return;
    }
    if (!handlers_.on_http) { // shutting down
      write_response(con, {503, {}, "shutting down\n"}, false);
      return;
    }
    auto exchange = std::make_shared<HttpExchangeImpl>(con, std::move(request));
    handlers_.on_http(exchange);
    exchange->defer_if_pending();
  }

  bool on_validate(websocketpp::connection_hdl hdl) {
    auto con = endpoint_.get_con_from_hdl(hdl);
    if (!handlers_.on_ws_validate) { // shutting down
      con->set_status(websocketpp::http::status_code::service_unavailable);
      return false;
    }
    HttpResponse refusal;
    refusal.status = 400;
    if (handlers_.on_ws_validate(read_request(con), refusal))
      return true;
    write_response(con, std::move(refusal), false);
    return false;
  }

  void on_open(websocketpp::connection_hdl hdl) {
    auto con = endpoint_.get_con_from_hdl(hdl);
    HttpRequest request = read_request(con); // the upper layer's copy
    release_handshake(*con);
    auto ws = std::make_shared<WsConnectionImpl>(con);
    if (handlers_.on_ws_open)
      handlers_.on_ws_open(ws, std::move(request));
    // else: ws goes out of scope here and closes the connection
  }

  void on_message(websocketpp::connection_hdl hdl, Endpoint::message_ptr msg) {
    auto con = endpoint_.get_con_from_hdl(hdl);
    WsConnectionImpl *owner = con->owner;
    if (!owner)
      return;
    if (auto observer = owner->observer.lock())
      observer->on_ws_message(*owner, std::move(msg->get_raw_payload()),
                              msg->get_opcode() == websocketpp::frame::opcode::binary);
  }

  void on_close(websocketpp::connection_hdl hdl) {
    auto con = endpoint_.get_con_from_hdl(hdl);
    if (WsConnectionImpl *owner = con->owner)
      owner->closed();
  }

  Handlers handlers_;
  Endpoint endpoint_;
};

Listener::Listener(boost::asio::io_context &io, Limits limits, Handlers handlers)
    : io_(io), impl_(std::make_shared<ListenerImpl>(io, limits, std::move(handlers))) {
  impl_->install_handlers(impl_);
}

// The endpoint's pending accept completes (aborted) after stop_accepting, and its handler
// uses the endpoint: it is freed only after that handler ran, by a handler queued behind it.
// (The Listener must go before its io_context.)
Listener::~Listener() {
  impl_->stop_accepting();
  impl_->clear_handlers(); // they point into the owner, which is going away
  boost::asio::post(io_, [impl = std::move(impl_)] {});
}
void Listener::listen(const std::string &address, std::uint16_t port) {
  impl_->listen(address, port);
}
std::uint16_t Listener::port() const { return impl_->port(); }
void Listener::stop_accepting() { impl_->stop_accepting(); }

} // namespace nospace::transport
