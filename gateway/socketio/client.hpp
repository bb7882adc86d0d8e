#pragma once
// The Socket.IO side of one Engine.IO connection (socket.io's "Client"): decodes its frames,
// answers CONNECT for each namespace, routes the other packets to that namespace's Socket,
// and closes the connection on a protocol error or when no CONNECT came in time.
#include "gateway/engineio/socket.hpp"
#include "gateway/engineio/timer.hpp"
#include "gateway/socketio/packet.hpp"

#include <map>
#include <memory>
#include <string>

namespace nospace::socketio {

class Server;
class Socket;

class Client : public engineio::SocketObserver, public std::enable_shared_from_this<Client> {
public:
  Client(Server &server, std::shared_ptr<engineio::Socket> engine);

  void start();
  void send(const Packet &packet);
  // Closes the Engine.IO connection; every socket sees `reason`.
  void close(const std::string &reason);
  // A socket left its namespace (either side sent DISCONNECT).
  void leave(const std::string &nsp);

private:
  // engineio::SocketObserver
  void on_engine_message(std::string &&data, bool binary) override;
  void on_engine_close(const std::string &reason) override { on_close(reason); }
  void on_engine_drain() override;

  void on_connect_timeout(const boost::system::error_code &ec);
  void on_packet(Packet packet);
  void on_connect(Packet packet);
  void on_close(const std::string &reason);
  void refuse(const std::string &nsp, const std::string &message);

  Server &server_;
  std::shared_ptr<engineio::Socket> engine_;
  Decoder decoder_;
  // Only until the first CONNECT is accepted: an idle joined connection holds no timer.
  std::unique_ptr<engineio::Timer> connect_timer_;
  std::map<std::string, std::shared_ptr<Socket>> sockets_; // by namespace
  bool closed_ = false;
};

} // namespace nospace::socketio
