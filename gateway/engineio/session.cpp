#include "gateway/engineio/session.hpp"
#include "gateway/engineio/server_impl.hpp"

#include <nlohmann/json.hpp>

#include <boost/asio/post.hpp>

namespace nospace::engineio {
namespace {

std::size_t live_sessions = 0;

HttpResponse payload_response(std::string body) {
  HttpResponse response;
  response.set_header("Content-Type", "text/plain; charset=UTF-8");
  response.body = std::move(body);
  return response;
}

} // namespace

std::size_t Socket::live_count() { return live_sessions; }

Session::Session(ServerImpl &server, std::string id, Handshake &&handshake)
    : server_(server), id_(std::move(id)), handshake_(std::move(handshake)), timer_(server.io()) {
  ++live_sessions;
}

Session::~Session() { --live_sessions; }

const char *Session::transport_name() const { return ws_ ? "websocket" : "polling"; }

std::size_t Session::buffered_amount() const {
  return queued_bytes_ + (ws_ ? ws_->buffered_amount() : 0);
}

Session::Callbacks &Session::callbacks() {
  if (!callbacks_)
    callbacks_ = std::make_unique<Callbacks>();
  return *callbacks_;
}

void Session::on_message(std::function<void(std::string, bool)> handler) {
  callbacks().on_message = std::move(handler);
}
void Session::on_close(std::function<void(const std::string &)> handler) {
  callbacks().on_close = std::move(handler);
}
void Session::on_drain(std::function<void()> handler) { callbacks().on_drain = std::move(handler); }
void Session::set_observer(std::weak_ptr<SocketObserver> observer) {
  observer_ = std::move(observer);
}

std::string Session::open_packet(bool upgrades) const {
  const Config &config = server_.config();
  nlohmann::json open{
      {"sid", id_},
      {"upgrades", upgrades ? nlohmann::json::array({"websocket"}) : nlohmann::json::array()},
      {"pingInterval", config.ping_interval.count()},
      {"pingTimeout", config.ping_timeout.count()},
      {"maxPayload", config.max_payload},
  };
  return open.dump();
}

// The handshake GET is answered at once with the open packet; the heartbeat starts.
void Session::start_polling(std::shared_ptr<transport::HttpExchange> handshake_request) {
  HttpResponse response = payload_response('0' + open_packet(true));
  server_.add_cors(handshake_.header("Origin"), response);
  handshake_request->respond(std::move(response));
  do_ping_wait();
  if (server_.on_connection)
    server_.on_connection(shared_from_this());
}

void Session::start_websocket(std::shared_ptr<transport::WsConnection> ws) {
  ws_ = std::move(ws);
  ws_->observer = shared_from_this();
  ws_->send("0", open_packet(false), false);
  do_ping_wait();
  if (server_.on_connection)
    server_.on_connection(shared_from_this());
}

// ---- sending ----

void Session::send(std::string data, bool binary) {
  if (state_ != State::open)
    return;
  queued_bytes_ += data.size();
  draining_ = true;
  queue(PacketType::message, std::move(data), binary);
  if (buffered_amount() > server_.config().max_buffered)
    fail("transport error");
}

void Session::queue(PacketType type, std::string data, bool binary) {
  queue_.push_back(Packet{type, std::move(data), binary});
  schedule_flush();
}

// Sends queued packets once per turn of the event loop, so several send() calls in one
// handler share one long-polling response.
void Session::schedule_flush() {
  if (flush_scheduled_)
    return;
  flush_scheduled_ = true;
  boost::asio::post(server_.io(), [self = shared_from_this()] {
    self->flush_scheduled_ = false;
    self->flush();
  });
}

void Session::flush() {
  if (state_ == State::closed)
    return;
  if (ws_) {
    for (auto &packet : queue_) {
      if (packet.binary) {
        ws_->send({}, packet.data, true);
      } else {
        const char type = static_cast<char>(packet.type);
        ws_->send(std::string_view(&type, 1), packet.data, false);
      }
    }
    release_queue();
    maybe_drained();
    return;
  }
  if (poll_ && (!queue_.empty() || state_ == State::closing))
    respond_poll(nullptr);
}

// Answers the held GET with everything queued, plus `trailer` (a close or noop packet).
void Session::respond_poll(const char *trailer) {
  if (!poll_)
    return;
  if (trailer)
    queue_.push_back(Packet{static_cast<PacketType>(trailer[0]), {}, false});
  if (state_ == State::closing)
    queue_.push_back(Packet{PacketType::close, {}, false});
  if (queue_.empty())
    queue_.push_back(Packet{PacketType::noop, {}, false});
  HttpResponse response = payload_response(encode_payload(queue_));
  release_queue();
  server_.add_cors(poll_->request(), response);
  auto poll = std::move(poll_);
  poll_.reset();
  poll->respond(std::move(response));
  if (state_ == State::closing) {
    finalize(close_reason_);
    return;
  }
  maybe_drained();
}

// Sent packets leave no storage behind: most sessions are idle most of the time, and a
// vector keeps its capacity after clear().
void Session::release_queue() {
  std::vector<Packet>().swap(queue_);
  queued_bytes_ = 0;
}

void Session::maybe_drained() {
  if (!draining_)
    return;
  if (ws_ && ws_->buffered_amount() > 0) {
    if (!in_drain_watch_) {
      in_drain_watch_ = true;
      server_.watch_drain(shared_from_this());
    }
    return;
  }
  if (queued_bytes_ > 0)
    return;
  draining_ = false;
  if (auto observer = observer_.lock())
    observer->on_engine_drain();
  else if (callbacks_ && callbacks_->on_drain)
    callbacks_->on_drain();
}

bool Session::check_drained() {
  if (state_ == State::closed || !ws_ || ws_->buffered_amount() == 0) {
    in_drain_watch_ = false;
    if (state_ != State::closed)
      maybe_drained();
    return !in_drain_watch_;
  }
  return false;
}

// ---- long-polling ----

void Session::handle_poll(std::shared_ptr<transport::HttpExchange> exchange) {
  if (poll_) {
    // Two concurrent GETs: the reference server treats this as a broken client and closes
    // the session; the held GET gets the close packet, the new one a 400.
    HttpResponse response = payload_response("");
    response.status = 400;
    response.set_header("Content-Type", "application/json");
    response.body = R"({"code":3,"message":"Bad request"})";
    server_.add_cors(exchange->request(), response);
    exchange->respond(std::move(response));
    fail("transport error");
    return;
  }
  poll_ = std::move(exchange);
  // Answer at once when there is something to say; while an upgrade is being probed, at
  // once with a noop so the client can pause polling and complete the upgrade.
  if (!queue_.empty() || state_ == State::closing || upgrading_)
    respond_poll(nullptr);
}

void Session::handle_post(std::shared_ptr<transport::HttpExchange> exchange) {
  auto &request = exchange->request();
  HttpResponse response;
  server_.add_cors(request, response);
  if (!request.header("Content-Length")) {
    response.status = 411;
    exchange->respond(std::move(response));
    fail("transport error");
    return;
  }
  if (request.body.size() > server_.config().max_payload) {
    response.status = 413;
    exchange->respond(std::move(response));
    fail("transport error");
    return;
  }
  std::vector<Packet> packets;
  const char *error = decode_payload(request.body, packets);
  if (error) {
    // The reference server answers "ok" and then closes; the protocol test suite prefers a
    // 400, which tells a hand-written client what went wrong.
    response.status = 400;
    response.set_header("Content-Type", "application/json");
    response.body = R"({"code":3,"message":"Bad request"})";
  } else {
    response.set_header("Content-Type", "text/html");
    response.body = "ok";
  }
  exchange->respond(std::move(response));
  auto self = shared_from_this(); // handlers may close the session
  for (auto &packet : packets) {
    if (state_ != State::open)
      return;
    on_packet(std::move(packet));
  }
  if (error && state_ == State::open)
    fail("parse error");
}

// ---- WebSocket ----

void Session::on_ws_message(transport::WsConnection &from, std::string &&data, bool binary) {
  if (&from == probe_.get())
    on_probe_frame(std::move(data), binary);
  else if (&from == ws_.get())
    on_ws_frame(std::move(data), binary);
}

void Session::on_ws_close(transport::WsConnection &from) {
  if (&from == probe_.get())
    abort_upgrade();
  else if (&from == ws_.get())
    fail("transport close");
}

void Session::on_ws_frame(std::string &&data, bool binary) {
  if (binary) {
    on_packet(Packet{PacketType::message, std::move(data), true});
    return;
  }
  Packet packet;
  if (decode_packet(data, packet)) {
    fail("parse error");
    return;
  }
  on_packet(std::move(packet));
}

void Session::on_packet(Packet &&packet) {
  if (state_ != State::open)
    return;
  switch (packet.type) {
  case PacketType::message:
    if (auto observer = observer_.lock())
      observer->on_engine_message(std::move(packet.data), packet.binary);
    else if (callbacks_ && callbacks_->on_message)
      callbacks_->on_message(std::move(packet.data), packet.binary);
    break;
  case PacketType::pong: on_pong(); break;
  case PacketType::close: fail("transport close"); break;
  default: break; // open, ping, upgrade, noop: nothing to do on an established session
  }
}

// ---- upgrade: probe, upgrade, noop ----

void Session::begin_upgrade(std::shared_ptr<transport::WsConnection> ws) {
  probe_ = std::move(ws);
  probe_->observer = shared_from_this();
  std::weak_ptr<Session> weak = weak_from_this();
  upgrade_timer_ = std::make_unique<Timer>(server_.io());
  upgrade_timer_->expires_after(server_.config().upgrade_timeout);
  upgrade_timer_->async_wait([weak](const boost::system::error_code &ec) {
    if (ec)
      return;
    if (auto self = weak.lock())
      self->abort_upgrade();
  });
}

void Session::on_probe_frame(std::string &&data, bool binary) {
  if (!binary && data == "2probe" && !upgrading_) {
    probe_->send("3", "probe", false);
    upgrading_ = true;
    // Release a held GET so the client can pause its polling transport.
    if (poll_)
      respond_poll(nullptr);
    return;
  }
  if (!binary && data == "5" && upgrading_) {
    finish_upgrade();
    return;
  }
  abort_upgrade(); // anything else on a probe is a broken client
}

void Session::finish_upgrade() {
  upgrade_timer_.reset();
  upgrading_ = false;
  // The client paused polling before sending the upgrade packet, so a GET still held gets a
  // noop; everything queued from now on goes out on the WebSocket, once.
  if (poll_)
    respond_poll(nullptr);
  ws_ = std::move(probe_); // its observer is this session already
  probe_.reset();
  flush();
}

void Session::abort_upgrade() {
  upgrade_timer_.reset();
  upgrading_ = false;
  if (!probe_)
    return;
  auto probe = std::move(probe_);
  probe_.reset();
  probe->observer.reset();
  probe->close(1000, "");
}

// ---- heartbeat ----

void Session::do_ping_wait() {
  timer_.expires_after(server_.config().ping_interval);
  timer_.async_wait([weak = weak_from_this()](const boost::system::error_code &ec) {
    if (ec)
      return;
    if (auto self = weak.lock())
      self->on_ping_due();
  });
}

void Session::on_ping_due() {
  if (state_ != State::open)
    return;
  awaiting_pong_ = true;
  queue(PacketType::ping, {}, false);
  timer_.expires_after(server_.config().ping_timeout);
  timer_.async_wait([weak = weak_from_this()](const boost::system::error_code &ec) {
    if (ec)
      return;
    if (auto self = weak.lock())
      self->fail("ping timeout");
  });
}

void Session::on_pong() {
  if (!awaiting_pong_)
    return;
  awaiting_pong_ = false;
  do_ping_wait();
}

// ---- closing ----

// Server-side close: deliver what is queued, then the close packet (long-polling) or the
// WebSocket close. A polling client without a held GET gets them on its next GET, or
// within pingTimeout the session is dropped anyway.
void Session::close() {
  if (state_ != State::open)
    return;
  abort_upgrade();
  if (ws_) {
    flush();
    ws_->close(1000, "");
    finalize("forced close");
    return;
  }
  state_ = State::closing;
  if (poll_) {
    respond_poll(nullptr);
    return;
  }
  timer_.expires_after(server_.config().ping_timeout);
  timer_.async_wait([weak = weak_from_this()](const boost::system::error_code &ec) {
    if (ec)
      return;
    if (auto self = weak.lock())
      self->finalize("forced close");
  });
}

void Session::shutdown(const char *reason) {
  if (state_ == State::closed)
    return;
  abort_upgrade();
  if (ws_) {
    flush();
    ws_->close(1001, "");
  } else if (poll_) {
    state_ = State::closing;
    close_reason_ = reason;
    auto self = shared_from_this();
    respond_poll(nullptr); // finalizes
    return;
  }
  finalize(reason);
}

// The transport went away or broke the protocol: the client is told with a close packet
// when a GET is held (long-polling) and the WebSocket is closed.
void Session::fail(const std::string &reason) {
  if (state_ == State::closed)
    return;
  abort_upgrade();
  if (poll_) {
    queue_.clear();
    auto poll = std::move(poll_);
    poll_.reset();
    // A client that sent a close packet gets its held GET ended with a noop (as the
    // reference server does); any other failure tells it with a close packet.
    HttpResponse response = payload_response(reason == "transport close" ? "6" : "1");
    server_.add_cors(poll->request(), response);
    poll->respond(std::move(response));
  }
  if (ws_)
    ws_->close(reason == "ping timeout" ? 1000 : 1002, "");
  finalize(reason);
}

// Frees everything: timers, queue, transports, handlers (which may hold shared_ptrs back to
// this session through the layer above), then reports the close.
void Session::finalize(const std::string &reason) {
  if (state_ == State::closed)
    return;
  state_ = State::closed;
  auto self = shared_from_this();
  timer_.cancel();
  upgrade_timer_.reset();
  release_queue();
  if (poll_) {
    auto poll = std::move(poll_);
    poll_.reset();
    poll->respond(payload_response("1"));
  }
  if (ws_) {
    ws_->observer.reset();
    ws_.reset();
  }
  server_.remove(id_);
  auto observer = observer_.lock();
  observer_.reset();
  auto callbacks = std::move(callbacks_);
  if (observer)
    observer->on_engine_close(reason);
  else if (callbacks && callbacks->on_close)
    callbacks->on_close(reason);
}

} // namespace nospace::engineio
