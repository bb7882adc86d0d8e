#pragma once
// The gateway's side of the nospace-sandbox service socket (common/launch_protocol.hpp): sends
// typed run and kill requests, receives each run's stdio fds and its result. Runs on the
// gateway's one io_context thread; callbacks are never concurrent.

#include "common/fd.hpp"
#include "common/launch_protocol.hpp"
#include "common/run_result.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace nospace::gateway {

using launch::LaunchRequest;

class LauncherClient {
public:
  struct Started {
    std::uint64_t run_id = 0;
    UniqueFd stdin_fd;  // write end of the program's stdin
    UniqueFd stdout_fd; // read end of its stdout
    UniqueFd stderr_fd; // read end of its stderr
  };
  using StartedHandler = std::function<void(std::string error, Started started)>;
  using FinishedHandler = std::function<void(const RunResult &result)>;

  // `socket`: a connected SOCK_SEQPACKET socket to `nospace-sandbox service`.
  LauncherClient(boost::asio::io_context &io, UniqueFd socket);
  LauncherClient(const LauncherClient &) = delete;
  LauncherClient &operator=(const LauncherClient &) = delete;
  // Closes the socket (the launcher then kills every run this client started); no callback
  // runs after destruction.
  ~LauncherClient();

  // on_started runs once: error empty and the fds on success, else the launcher's reason (or
  // why the request could not be sent). on_finished runs exactly once per request that
  // started, after on_started. If the launcher goes away, requests not yet started get an
  // error and started ones a result with reason "killed", detail "launcher connection lost".
  // Never calls either handler from inside start().
  void start(const LaunchRequest &request, StartedHandler on_started, FinishedHandler on_finished);

  // reason: "killed" or "output-limit". Unknown or finished ids are ignored (by the launcher).
  void kill(std::uint64_t run_id, const std::string &reason);

  bool connected() const;
  std::size_t pending() const; // requests whose on_finished (or failed on_started) is due

  // Called once when the connection to the launcher is lost, after the handlers above.
  void on_disconnect(std::function<void(const std::string &why)> handler);

private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Starts `sandbox_binary service --policy POLICY --socket-fd 3` with one end of a new
// SOCK_SEQPACKET socketpair as its fd 3, and returns the other end. Called by the gateway's
// main before it drops privileges, so the launcher keeps what it needs (root) and the gateway
// keeps only this socket. Throws std::system_error when the pair or the process cannot be made.
UniqueFd spawn_launcher(const std::string &policy_path, const std::string &sandbox_binary);

// When running as root: switch for good to `user` (its uid, its primary gid, no supplementary
// groups), leaving no capability in any set (bounding and ambient included), then set
// PR_SET_NO_NEW_PRIVS. Verifies that regaining root fails. Not root: sets no_new_privs only.
// Throws std::runtime_error naming the step that failed (or a missing / root user).
void drop_privileges(const std::string &user);

} // namespace nospace::gateway
