#pragma once
// The Socket.IO v5 server on top of an Engine.IO server: namespaces, the CONNECT handshake
// with its connectTimeout, and the per-connection packet routing (gateway/socketio/client.hpp).
#include "gateway/socketio/socket.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nospace::engineio {
class Server;
class Socket;
} // namespace nospace::engineio

namespace nospace::socketio {

struct Config {
  // An Engine.IO connection that has not joined any namespace by then is closed.
  std::chrono::milliseconds connect_timeout{45000};
  // Binary attachments one packet may announce; more is a protocol error.
  std::size_t max_attachments = 10;
};

class Namespace {
public:
  using ConnectionHandler = std::function<void(std::shared_ptr<Socket>)>;
  // Returns a message to refuse the CONNECT (sent as CONNECT_ERROR {"message": ...}).
  using Middleware = std::function<std::optional<std::string>(const Socket &)>;

  explicit Namespace(std::string name) : name_(std::move(name)) {}
  const std::string &name() const { return name_; }

  void on_connection(ConnectionHandler handler) { on_connection_ = std::move(handler); }
  void use(Middleware check) { middlewares_.push_back(std::move(check)); }

  // The sockets currently connected to this namespace, by socket id.
  const std::map<std::string, std::weak_ptr<Socket>> &sockets() const { return sockets_; }

  // Used by the server: runs the middlewares, then admits the socket.
  std::optional<std::string> check(const Socket &socket) const;
  void admit(const std::shared_ptr<Socket> &socket);
  void remove(const std::string &socket_id) { sockets_.erase(socket_id); }

private:
  std::string name_;
  ConnectionHandler on_connection_;
  std::vector<Middleware> middlewares_;
  std::map<std::string, std::weak_ptr<Socket>> sockets_;
};

class Server {
public:
  // Registers itself as `engine`'s connection handler; both must outlive every connection
  // (stop the io_context or close_all() on the engine before destroying them).
  Server(boost::asio::io_context &io, engineio::Server &engine, Config config);
  ~Server();
  Server(const Server &) = delete;
  Server &operator=(const Server &) = delete;

  // "/" exists from the start; other names are created on first use. A CONNECT to a name
  // never created here is answered with CONNECT_ERROR "Invalid namespace".
  Namespace &of(const std::string &name);
  Namespace *find(const std::string &name);

  const Config &config() const { return config_; }
  boost::asio::io_context &io() { return io_; }
  std::size_t client_count() const { return clients_.size(); }

  // Told about every connection closed for a protocol error, with the decoder's message
  // (for logs and metrics; the server itself does not log).
  void on_protocol_error(
      std::function<void(const engineio::Socket &, const std::string &message)> handler) {
    on_protocol_error_ = std::move(handler);
  }

  // Used by Client.
  void forget(const Client *client) { clients_.erase(client); }
  void report_protocol_error(const engineio::Socket &socket, const std::string &message);

private:
  boost::asio::io_context &io_;
  engineio::Server &engine_;
  Config config_;
  std::map<std::string, std::unique_ptr<Namespace>> namespaces_;
  std::map<const Client *, std::shared_ptr<Client>> clients_;
  std::function<void(const engineio::Socket &, const std::string &)> on_protocol_error_;
};

} // namespace nospace::socketio
