#include "gateway/socketio/client.hpp"

#include "gateway/engineio/socket.hpp"
#include "gateway/socketio/server.hpp"
#include "gateway/socketio/socket.hpp"

#include <random>

namespace nospace::socketio {

namespace {

// 20 characters of base64url from 120 random bits, like socket.io's socket ids.
std::string random_socket_id() {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  static std::mt19937_64 rng{std::random_device{}()};
  std::string id;
  for (int word = 0; word < 2; ++word) {
    std::uint64_t bits = rng();
    for (int i = 0; i < 10; ++i, bits >>= 6)
      id += alphabet[bits & 63];
  }
  return id;
}

} // namespace

Client::Client(Server &server, std::shared_ptr<engineio::Socket> engine)
    : server_(server), engine_(std::move(engine)), decoder_(server.config().max_attachments),
      connect_timer_(std::make_unique<engineio::Timer>(server.io())) {}

void Client::start() {
  std::weak_ptr<Client> weak = weak_from_this();
  engine_->set_observer(weak);
  connect_timer_->expires_after(server_.config().connect_timeout);
  connect_timer_->async_wait([weak](const boost::system::error_code &ec) {
    if (auto self = weak.lock())
      self->on_connect_timeout(ec);
  });
}

void Client::on_connect_timeout(const boost::system::error_code &ec) {
  if (ec || closed_ || !sockets_.empty())
    return;
  close("connect timeout");
}

void Client::on_engine_message(std::string &&data, bool binary) {
  if (closed_)
    return;
  std::optional<Packet> packet;
  try {
    packet = binary ? decoder_.add_binary(data) : decoder_.add_text(data);
  } catch (const ProtocolError &error) {
    server_.report_protocol_error(*engine_, error.what());
    close("parse error");
    return;
  }
  if (packet)
    on_packet(std::move(*packet));
}

void Client::on_packet(Packet packet) {
  if (packet.type == PacketType::connect) {
    on_connect(std::move(packet));
    return;
  }
  // As socket.io does, packets for a namespace this client has not joined are dropped:
  // they can be in flight while a DISCONNECT crosses them.
  auto it = sockets_.find(packet.nsp);
  if (it == sockets_.end())
    return;
  auto socket = it->second; // alive through the handler, which may leave or close
  socket->handle_packet(std::move(packet));
}

void Client::on_connect(Packet packet) {
  if (sockets_.count(packet.nsp))
    return; // already joined: the client's retry crossed our answer
  Namespace *nsp = server_.find(packet.nsp);
  if (!nsp) {
    refuse(packet.nsp, "Invalid namespace");
    return;
  }
  // CONNECT data is an object when present (the parser checks); none is stored as null.
  nlohmann::json auth = packet.data.is_discarded() ? nlohmann::json() : std::move(packet.data);
  auto socket = std::make_shared<Socket>(random_socket_id(), packet.nsp, std::move(auth), engine_,
                                         weak_from_this());
  if (auto refusal = nsp->check(*socket)) {
    refuse(packet.nsp, *refusal);
    return;
  }
  sockets_[packet.nsp] = socket;
  connect_timer_.reset(); // cancels the wait
  send({PacketType::connect, packet.nsp, std::nullopt, nlohmann::json{{"sid", socket->id()}}});
  nsp->admit(socket);
}

void Client::refuse(const std::string &nsp, const std::string &message) {
  send({PacketType::connect_error, nsp, std::nullopt, nlohmann::json{{"message", message}}});
}

void Client::on_engine_drain() {
  auto sockets = sockets_; // a handler may leave its namespace
  for (auto &[name, socket] : sockets)
    socket->handle_drain();
}

void Client::send(const Packet &packet) {
  if (closed_)
    return;
  EncodedPacket encoded = encode(packet);
  engine_->send(std::move(encoded.text), false);
  for (auto &attachment : encoded.attachments)
    engine_->send(std::move(attachment), true);
}

void Client::leave(const std::string &nsp) {
  auto it = sockets_.find(nsp);
  if (it == sockets_.end())
    return;
  if (Namespace *ns = server_.find(nsp))
    ns->remove(it->second->id());
  sockets_.erase(it);
}

void Client::close(const std::string &reason) {
  if (closed_)
    return;
  auto self = shared_from_this();
  on_close(reason);
  engine_->close();
}

void Client::on_close(const std::string &reason) {
  if (closed_)
    return;
  auto self = shared_from_this(); // server_.forget() drops the last owning reference
  closed_ = true;
  connect_timer_.reset();
  auto sockets = std::move(sockets_);
  sockets_.clear();
  for (auto &[name, socket] : sockets) {
    if (Namespace *ns = server_.find(name))
      ns->remove(socket->id());
    socket->handle_close(reason);
  }
  server_.forget(this);
}

} // namespace nospace::socketio
