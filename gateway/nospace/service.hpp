#pragma once
// The nospace execution service: the nospace_* events of every client connection, one
// session per connection, admission limits, and the connection log lines.
//
// A client can only reach its own session: stdin and kill name a sessionId, and the service
// looks it up among the sessions of the same connection only, so another client's sessionId
// is as unknown as a made-up one. Every refused request gets a stderr line saying why and,
// unless it names this connection's own session (which keeps its one final status), a status
// `error` for the id it named.

#include "gateway/nospace/client_address.hpp"
#include "gateway/nospace/limits.hpp"
#include "gateway/nospace/run_log.hpp"
#include "gateway/nospace/session.hpp"

#include <nlohmann/json.hpp>

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <string>

namespace nospace::socketio {
class Namespace;
}

namespace nospace::gateway {

class NospaceService;

// One client connection's state.
class Connection {
public:
  Connection(NospaceService &service, std::shared_ptr<ClientChannel> channel, std::string ip,
             std::string socket_id);

  // `args`: the event's argument array. `ack`, when the client asked for one, receives
  // {sessionId} or {error}.
  using Ack = std::function<void(nlohmann::json result)>;
  void on_run(const nlohmann::json &args, bool compile, const Ack &ack);
  void on_stdin(const nlohmann::json &args, const Ack &ack);
  void on_kill(const nlohmann::json &args, const Ack &ack);
  void on_drain();
  void on_disconnect(const std::string &reason);

  const std::string &ip() const { return ip_; }
  const std::string &socket_id() const { return socket_id_; }

private:
  void refuse(const std::string &session_id, const std::string &message, bool send_status,
              const Ack &ack);
  // The session `id` names if it is this connection's (current or earlier).
  std::shared_ptr<Session> own_session(const std::string &id) const;
  // The session a stdin or kill request names, or nullptr once the refusal has been sent:
  // the request did not parse (`parse_error`), or names no running session of this socket.
  std::shared_ptr<Session> target_session(const char *event, const std::string &id,
                                          const std::string *parse_error, const Ack &ack);

  NospaceService &service_;
  std::shared_ptr<ClientChannel> channel_;
  std::string ip_, socket_id_;
  std::shared_ptr<Session> current_;
  std::string previous_id_; // the last replaced session, for a clear refusal
};

class NospaceService {
public:
  NospaceService(boost::asio::io_context &io, const Policy &policy, RunLauncher &launcher,
                 RunLog &log);

  // Registers the connection check (limits) and the nospace_* handlers on `nsp`.
  void attach(socketio::Namespace &nsp);

  SessionContext &context() { return context_; }
  Limits &limits() { return limits_; }
  RunLog &log() { return log_; }
  const Policy &policy() const { return policy_; }
  std::size_t connections() const { return limits_.connections(); }

private:
  const Policy &policy_;
  RunLog &log_;
  Limits limits_;
  SessionContext context_;
  ClientAddress client_address_;
};

} // namespace nospace::gateway
