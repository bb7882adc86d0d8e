// The service on a Socket.IO namespace: kept apart from service.cpp so that the sessions and
// their tests do not need the Socket.IO server.
#include "gateway/engineio/socket.hpp"
#include "gateway/nospace/service.hpp"
#include "gateway/socketio/server.hpp"

namespace nospace::gateway {

using nlohmann::json;

namespace {

// A Socket.IO socket as the sessions see it.
class SocketChannel : public ClientChannel {
public:
  explicit SocketChannel(std::weak_ptr<socketio::Socket> socket) : socket_(std::move(socket)) {}
  void emit(const std::string &event, json payload) override {
    if (auto s = socket_.lock())
      s->emit(event, json::array({std::move(payload)}));
  }
  std::size_t buffered_amount() const override {
    auto s = socket_.lock();
    return s ? s->buffered_amount() : 0;
  }

private:
  std::weak_ptr<socketio::Socket> socket_;
};

Connection::Ack ack_of(socketio::Ack ack) {
  if (!ack)
    return {};
  return [ack](json result) { ack(json::array({std::move(result)})); };
}

} // namespace

void NospaceService::attach(socketio::Namespace &nsp) {
  auto client_of = [this](const socketio::Socket &socket) {
    return client_address_(socket.remote_address(),
                           socket.engine().handshake().header("x-forwarded-for"));
  };
  nsp.use([this, client_of](const socketio::Socket &socket) -> std::optional<std::string> {
    const std::string ip = client_of(socket);
    auto refusal = limits_.check_connection(ip);
    if (refusal)
      log_.write("connect-refused", {{"ip", ip}, {"error", *refusal}});
    return refusal;
  });
  nsp.on_connection([this, client_of](std::shared_ptr<socketio::Socket> socket) {
    const std::string ip = client_of(*socket);
    if (auto refusal = limits_.admit_connection(ip)) {
      log_.write("connect-refused", {{"ip", ip}, {"error", *refusal}});
      socket->disconnect();
      return;
    }
    auto connection = std::make_shared<Connection>(*this, std::make_shared<SocketChannel>(socket),
                                                   ip, socket->id());
    log_.write(
        "connect",
        {{"socket", socket->id()}, {"ip", ip}, {"transport", socket->engine().transport_name()}});
    // The handlers hold the connection; the socket holds the handlers; a disconnect ends it.
    socket->on("nospace_run", [connection](json args, socketio::Ack ack) {
      connection->on_run(args, false, ack_of(ack));
    });
    socket->on("nospace_compile", [connection](json args, socketio::Ack ack) {
      connection->on_run(args, true, ack_of(ack));
    });
    socket->on("nospace_stdin", [connection](json args, socketio::Ack ack) {
      connection->on_stdin(args, ack_of(ack));
    });
    socket->on("nospace_kill", [connection](json args, socketio::Ack ack) {
      connection->on_kill(args, ack_of(ack));
    });
    std::weak_ptr<Connection> weak = connection;
    socket->on_drain([weak] {
      if (auto c = weak.lock())
        c->on_drain();
    });
    socket->on_disconnect(
        [connection](const std::string &reason) { connection->on_disconnect(reason); });
  });
}

} // namespace nospace::gateway
