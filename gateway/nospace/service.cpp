#include "gateway/nospace/service.hpp"

#include <csignal>

namespace nospace::gateway {

using nlohmann::json;

Connection::Connection(NospaceService &service, std::shared_ptr<ClientChannel> channel,
                       std::string ip, std::string socket_id)
    : service_(service), channel_(std::move(channel)), ip_(std::move(ip)),
      socket_id_(std::move(socket_id)) {}

void Connection::refuse(const std::string &session_id, const std::string &message, bool send_status,
                        const Ack &ack) {
  channel_->emit("nospace_stderr", {{"sessionId", session_id}, {"data", message + "\n"}});
  if (send_status)
    channel_->emit("nospace_execution_status",
                   {{"sessionId", session_id}, {"status", "error"}, {"reason", "refused"}});
  if (ack)
    ack({{"error", message}});
  service_.log().write("request-refused",
                       {{"socket", socket_id_}, {"ip", ip_}, {"error", message}});
}

void Connection::on_run(const json &args, bool compile, const Ack &ack) {
  const Policy &policy = service_.policy();
  auto parsed = compile ? parse_compile(args, policy) : parse_run(args, policy);
  // A refused run still gets a session id of its own, so the client can tell it apart.
  if (!parsed.value) {
    refuse(new_session_id(), parsed.error, true, ack);
    return;
  }
  // One session per connection: the new request replaces the running one. Its slot is
  // released first, so replacing a run never counts against the client's own limit.
  if (current_ && !current_->ended()) {
    previous_id_ = current_->id();
    current_->kill();
  }
  if (auto refusal = service_.limits().admit_run(ip_)) {
    refuse(new_session_id(),
           std::string(compile ? "nospace_compile" : "nospace_run") + " refused: " + *refusal, true,
           ack);
    return;
  }
  current_ =
      Session::create(service_.context(), channel_, ip_, socket_id_, std::move(*parsed.value));
  if (ack)
    ack({{"sessionId", current_->id()}});
  current_->start();
}

std::shared_ptr<Session> Connection::own_session(const std::string &id) const {
  if (current_ && current_->id() == id)
    return current_;
  return nullptr;
}

std::shared_ptr<Session> Connection::target_session(const char *event, const std::string &id,
                                                    const std::string *parse_error,
                                                    const Ack &ack) {
  const bool own = own_session(id) || (!id.empty() && id == previous_id_);
  if (parse_error) {
    refuse(id, *parse_error, !own, ack);
    return nullptr;
  }
  auto session = own_session(id);
  if (!session)
    refuse(id,
           own ? std::string(event) + ": session " + id + " is no longer running"
               : std::string(event) + ": no session " + quote(id) + " on this connection",
           !own, ack);
  return session;
}

void Connection::on_stdin(const json &args, const Ack &ack) {
  auto parsed = parse_stdin(args, service_.policy());
  const std::string id = parsed.value ? parsed.value->session_id : requested_session_id(args);
  auto session = target_session("nospace_stdin", id, parsed.value ? nullptr : &parsed.error, ack);
  if (!session)
    return;
  if (auto error = session->write_stdin(std::move(parsed.value->data))) {
    refuse(id, *error, false, ack);
    return;
  }
  if (ack)
    ack({{"sessionId", id}});
}

void Connection::on_kill(const json &args, const Ack &ack) {
  auto parsed = parse_kill(args);
  const std::string id = parsed.value ? parsed.value->session_id : requested_session_id(args);
  auto session = target_session("nospace_kill", id, parsed.value ? nullptr : &parsed.error, ack);
  if (!session)
    return;
  if (session->ended()) {
    refuse(id, "nospace_kill: session " + id + " is no longer running", false, ack);
    return;
  }
  session->kill();
  if (ack)
    ack({{"sessionId", id}});
}

void Connection::on_drain() {
  if (current_)
    current_->drained();
}

void Connection::on_disconnect(const std::string &reason) {
  if (current_)
    current_->abandon();
  current_.reset();
  service_.limits().release_connection(ip_);
  service_.log().write("disconnect", {{"socket", socket_id_}, {"ip", ip_}, {"reason", reason}});
}

NospaceService::NospaceService(boost::asio::io_context &io, const Policy &policy,
                               RunLauncher &launcher, RunLog &log)
    : policy_(policy), log_(log),
      limits_(policy.limits), context_{io, policy, launcher, limits_, log},
      client_address_(policy.server.trusted_proxies) {
  // Writing to the stdin pipe of a program that exited must be an error, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
}

} // namespace nospace::gateway
