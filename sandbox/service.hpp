#pragma once
// `nospace-sandbox service`: the launcher's side of the gateway socket. Reads typed requests
// (common/launch_protocol.hpp), validates them again against the policy, builds the
// interpreter's argv itself, starts runs on the Supervisor, hands each run's stdio back as
// fds and reports its result. A gateway connection that goes away takes its runs with it.

#include "common/fd.hpp"
#include "common/launch_protocol.hpp"
#include "common/policy.hpp"
#include "sandbox/event_loop.hpp"
#include "sandbox/supervisor.hpp"

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nospace::sandbox {

struct ServiceOptions {
  std::string policy_path;
  int socket_fd = -1;               // --socket-fd N: an inherited, connected socketpair end
  std::string listen_path;          // --listen PATH: a Unix socket the gateway connects to
  std::optional<uid_t> gateway_uid; // --gateway-uid UID: the only uid accepted on PATH
};

// The arguments after `service`. Throws std::invalid_argument with a usage message.
ServiceOptions parse_service_options(const std::vector<std::string> &args);

// The `service` subcommand for sandbox/main.cpp: args are those after "service". Returns the
// process exit status (0 when the gateway closed the connection and every run was reaped).
int service_command(const std::vector<std::string> &args);

class Service {
public:
  Service(EventLoop &loop, Supervisor &supervisor, const Policy &policy);
  Service(const Service &) = delete;
  Service &operator=(const Service &) = delete;
  ~Service();

  // Serves one gateway connection (already known to belong to the gateway's uid).
  void add_connection(UniqueFd socket);
  // Accepts connections on a listening socket, keeping only those whose SO_PEERCRED uid is
  // `gateway_uid`.
  void listen(UniqueFd listening, uid_t gateway_uid);

  // Stops accepting and ends every connection: their runs are killed; connections() reaches 0
  // once the supervisor has reaped them all.
  void shutdown();

  std::size_t connections() const { return connections_.size(); }
  std::size_t runs() const;

private:
  struct Connection {
    UniqueFd socket;
    std::map<std::uint64_t, RunId> runs; // request id -> supervisor run
    bool closing = false;                // the gateway left; waiting for its runs to end
  };

  void on_readable(int key);
  void on_accept();
  void on_run(Connection &conn, int key, launch::RunMessage &message, UniqueFd program);
  void on_kill(Connection &conn, const launch::KillMessage &message);
  void on_finished(int key, std::uint64_t request_id, const RunResult &result);
  void reject(Connection &conn, std::uint64_t id, const std::string &why);
  void finish_without_running(Connection &conn, std::uint64_t id, std::vector<UniqueFd> ends,
                              const RunResult &result);
  bool send(Connection &conn, const launch::Bytes &bytes, const std::vector<int> &fds = {});
  void close_connection(int key);
  void erase_if_done(int key);

  EventLoop &loop_;
  Supervisor &supervisor_;
  const Policy &policy_;
  std::map<int, Connection> connections_; // keyed by the socket fd
  UniqueFd listening_;
  uid_t gateway_uid_ = 0;
};

} // namespace nospace::sandbox
