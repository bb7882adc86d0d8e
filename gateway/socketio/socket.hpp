#pragma once
// One Socket.IO socket: a client's connection to one namespace over one Engine.IO session.
// Everything runs on the gateway's single io_context thread; no callback is ever concurrent.
#include "gateway/socketio/packet.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace nospace::engineio {
class Socket;
}

namespace nospace::socketio {

class Client;
class Socket;

// The acknowledgement callback handed to an event handler when the client asked for one.
// Empty (false) when it did not. Calling it sends an ACK with the given argument array; only
// the first call counts (copies share that), and calls after a disconnect are ignored.
class Ack {
public:
  Ack() = default;
  explicit operator bool() const { return static_cast<bool>(state_); }
  void operator()(nlohmann::json args = nlohmann::json::array()) const;

private:
  friend class Socket;
  struct State {
    std::weak_ptr<Socket> socket;
    std::uint64_t id = 0;
    bool sent = false;
  };
  explicit Ack(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

class Socket : public std::enable_shared_from_this<Socket> {
public:
  using EventHandler = std::function<void(nlohmann::json args, Ack ack)>;
  using AckHandler = std::function<void(nlohmann::json args)>;
  using DisconnectHandler = std::function<void(const std::string &reason)>;

  // Created by the server when a CONNECT is accepted; applications receive it in
  // Namespace::on_connection.
  Socket(std::string id, std::string nsp, nlohmann::json auth,
         std::shared_ptr<engineio::Socket> engine, std::weak_ptr<Client> client);

  const std::string &id() const { return id_; }
  const std::string &nsp() const { return nsp_; }
  // The CONNECT payload: always an object, {} when the client sent none.
  const nlohmann::json &auth() const;
  const std::string &remote_address() const;
  engineio::Socket &engine() const { return *engine_; }
  bool connected() const { return connected_; }

  // `args` is a JSON array of the event's arguments; binary_t values anywhere inside travel
  // as attachments. Emitting on a disconnected socket does nothing.
  void emit(const std::string &event, nlohmann::json args = nlohmann::json::array());
  void emit_with_ack(const std::string &event, nlohmann::json args, AckHandler on_ack);

  // One handler per event name (a later call replaces it). Events without a handler are
  // dropped (their ack, if any, is never sent, as with socket.io).
  void on(const std::string &event, EventHandler handler);
  void on_disconnect(DisconnectHandler handler);
  // Called when the connection's unsent data (buffered_amount()) went back to 0: resume
  // emitting after backpressure. Every namespace of the connection is told.
  void on_drain(std::function<void()> handler);

  // Leaves this namespace ("server namespace disconnect"); the Engine.IO session stays.
  void disconnect();
  // Closes the whole Engine.IO connection, and with it every namespace of that client.
  void close_connection();

  // Bytes handed to the transport and not yet written out (the whole connection's queue).
  std::size_t buffered_amount() const;

  // Per-socket application state.
  std::shared_ptr<void> &data() { return data_; }

  // Called by the server's per-connection Client.
  void handle_packet(Packet packet);
  void handle_close(const std::string &reason);
  void handle_drain();
  void send_packet(const Packet &packet);

private:
  friend class Ack;
  void send_ack(std::uint64_t id, nlohmann::json args);

  std::string id_, nsp_;
  nlohmann::json auth_; // null when the client sent none: an empty object is a heap block
  std::shared_ptr<engineio::Socket> engine_;
  std::weak_ptr<Client> client_;
  bool connected_ = true;
  std::uint64_t next_ack_id_ = 0;
  std::map<std::uint64_t, AckHandler> pending_acks_;
  // A short list, searched in order: sockets are many and their handlers few, and a hash map
  // costs a node per handler plus its buckets (about 250 bytes more for five handlers).
  std::vector<std::pair<std::string, EventHandler>> handlers_;
  DisconnectHandler on_disconnect_;
  std::function<void()> on_drain_;
  std::shared_ptr<void> data_;
};

} // namespace nospace::socketio
