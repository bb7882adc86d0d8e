#include "gateway/socketio/server.hpp"

#include "gateway/engineio/server.hpp"
#include "gateway/socketio/client.hpp"

namespace nospace::socketio {

std::optional<std::string> Namespace::check(const Socket &socket) const {
  for (const auto &middleware : middlewares_)
    if (auto refusal = middleware(socket))
      return refusal;
  return std::nullopt;
}

void Namespace::admit(const std::shared_ptr<Socket> &socket) {
  sockets_[socket->id()] = socket;
  if (on_connection_)
    on_connection_(socket);
}

Server::Server(boost::asio::io_context &io, engineio::Server &engine, Config config)
    : io_(io), engine_(engine), config_(std::move(config)) {
  of("/");
  engine_.on_connection([this](std::shared_ptr<engineio::Socket> socket) {
    auto client = std::make_shared<Client>(*this, std::move(socket));
    clients_[client.get()] = client;
    client->start();
  });
}

Server::~Server() {
  engine_.on_connection([](std::shared_ptr<engineio::Socket> socket) { socket->close(); });
}

Namespace &Server::of(const std::string &name) {
  auto &slot = namespaces_[name];
  if (!slot)
    slot = std::make_unique<Namespace>(name);
  return *slot;
}

Namespace *Server::find(const std::string &name) {
  auto it = namespaces_.find(name);
  return it == namespaces_.end() ? nullptr : it->second.get();
}

void Server::report_protocol_error(const engineio::Socket &socket, const std::string &message) {
  if (on_protocol_error_)
    on_protocol_error_(socket, message);
}

} // namespace nospace::socketio
