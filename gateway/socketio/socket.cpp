#include "gateway/socketio/socket.hpp"

#include "gateway/engineio/socket.hpp"
#include "gateway/socketio/client.hpp"

#include <algorithm>
#include <stdexcept>

namespace nospace::socketio {

namespace {

nlohmann::json event_packet_data(const std::string &event, nlohmann::json args) {
  if (is_reserved_event(event))
    throw std::invalid_argument("emit: \"" + event + "\" is a reserved event name");
  if (!args.is_array())
    throw std::invalid_argument("emit: the arguments of \"" + event + "\" must be an array");
  args.insert(args.begin(), event);
  return args;
}

} // namespace

void Ack::operator()(nlohmann::json args) const {
  if (!state_ || state_->sent)
    return;
  state_->sent = true;
  if (auto socket = state_->socket.lock())
    socket->send_ack(state_->id, std::move(args));
}

Socket::Socket(std::string id, std::string nsp, nlohmann::json auth,
               std::shared_ptr<engineio::Socket> engine, std::weak_ptr<Client> client)
    : id_(std::move(id)), nsp_(std::move(nsp)), auth_(std::move(auth)), engine_(std::move(engine)),
      client_(std::move(client)) {}

const nlohmann::json &Socket::auth() const {
  static const nlohmann::json none = nlohmann::json::object();
  return auth_.is_null() ? none : auth_;
}

const std::string &Socket::remote_address() const { return engine_->remote_address(); }

std::size_t Socket::buffered_amount() const { return engine_->buffered_amount(); }

void Socket::emit(const std::string &event, nlohmann::json args) {
  if (!connected_)
    return;
  send_packet({PacketType::event, nsp_, std::nullopt, event_packet_data(event, std::move(args))});
}

void Socket::emit_with_ack(const std::string &event, nlohmann::json args, AckHandler on_ack) {
  if (!connected_)
    return;
  std::uint64_t id = next_ack_id_++;
  send_packet({PacketType::event, nsp_, id, event_packet_data(event, std::move(args))});
  pending_acks_[id] = std::move(on_ack);
}

void Socket::on(const std::string &event, EventHandler handler) {
  for (auto &[name, existing] : handlers_) {
    if (name == event) {
      existing = std::move(handler);
      return;
    }
  }
  handlers_.reserve(handlers_.size() + 1); // exactly: no spare capacity per socket
  handlers_.emplace_back(event, std::move(handler));
}

void Socket::on_disconnect(DisconnectHandler handler) { on_disconnect_ = std::move(handler); }

void Socket::on_drain(std::function<void()> handler) { on_drain_ = std::move(handler); }

void Socket::handle_drain() {
  if (connected_ && on_drain_) {
    auto callback = on_drain_; // the handler may replace or clear itself
    callback();
  }
}

void Socket::send_ack(std::uint64_t id, nlohmann::json args) {
  if (!connected_)
    return;
  if (!args.is_array())
    args = nlohmann::json::array({std::move(args)});
  send_packet({PacketType::ack, nsp_, id, std::move(args)});
}

void Socket::send_packet(const Packet &packet) {
  if (auto client = client_.lock())
    client->send(packet);
}

void Socket::handle_packet(Packet packet) {
  auto self = shared_from_this(); // a handler may disconnect us
  switch (packet.type) {
  case PacketType::event:
  case PacketType::binary_event: {
    nlohmann::json &name = packet.data[0];
    std::string event = name.is_string() ? name.get<std::string>() : name.dump();
    auto handler = std::find_if(handlers_.begin(), handlers_.end(),
                                [&event](const auto &entry) { return entry.first == event; });
    if (handler == handlers_.end())
      return;
    packet.data.erase(packet.data.begin());
    Ack ack;
    if (packet.id)
      ack = Ack(std::make_shared<Ack::State>(Ack::State{weak_from_this(), *packet.id, false}));
    auto callback = handler->second; // the handler may replace itself
    callback(std::move(packet.data), std::move(ack));
    return;
  }
  case PacketType::ack:
  case PacketType::binary_ack: {
    auto pending = pending_acks_.find(*packet.id);
    if (pending == pending_acks_.end())
      return; // unknown or already answered: ignored, as socket.io does
    auto callback = std::move(pending->second);
    pending_acks_.erase(pending);
    callback(std::move(packet.data));
    return;
  }
  case PacketType::disconnect:
    if (auto client = client_.lock())
      client->leave(nsp_);
    handle_close("client namespace disconnect");
    return;
  case PacketType::connect:
  case PacketType::connect_error:
    return; // CONNECT is the client's business; a client never sends CONNECT_ERROR
  }
}

void Socket::disconnect() {
  if (!connected_)
    return;
  auto self = shared_from_this();
  send_packet({PacketType::disconnect, nsp_, std::nullopt,
               nlohmann::json(nlohmann::json::value_t::discarded)});
  if (auto client = client_.lock())
    client->leave(nsp_);
  handle_close("server namespace disconnect");
}

void Socket::close_connection() {
  if (auto client = client_.lock())
    client->close("server namespace disconnect");
}

void Socket::handle_close(const std::string &reason) {
  if (!connected_)
    return;
  connected_ = false;
  pending_acks_.clear();
  // Handlers often capture this socket's shared_ptr: drop them so the cycle breaks.
  handlers_ = {};
  on_drain_ = nullptr;
  auto on_disconnect = std::move(on_disconnect_);
  on_disconnect_ = nullptr;
  if (on_disconnect)
    on_disconnect(reason);
}

} // namespace nospace::socketio
