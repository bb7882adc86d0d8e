#pragma once
// Starts and supervises many sandboxed runs on one EventLoop: the launch sequence (launch.hpp)
// for each, then wall/CPU limits, kill requests, reaping, and one RunResult per run.

#include "common/fd.hpp"
#include "common/policy.hpp"
#include "common/run_result.hpp"
#include "sandbox/event_loop.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nospace::sandbox {

struct RunSpec {
  // argv[0] = the interpreter's path on the host, bound read-only at the same path inside.
  // "{program}" in any argument is replaced by the in-sandbox path of the program file.
  std::vector<std::string> argv;
  // The program text; it reaches the sandbox through a memfd, never a host temp file.
  std::string program;
  // The child's ends of its stdio. Invalid: /dev/null.
  UniqueFd stdin_fd, stdout_fd, stderr_fd;
};

using RunId = std::uint64_t;

class Supervisor {
public:
  // Compiles what can be compiled once per policy (mount plan, library list, seccomp filter,
  // the shared network namespace). Throws std::runtime_error naming what the host lacks.
  Supervisor(EventLoop &loop, const Policy &policy);
  Supervisor(const Supervisor &) = delete;
  Supervisor &operator=(const Supervisor &) = delete;
  ~Supervisor(); // kills and reaps every run still going (their on_done is not called)

  // Never throws for a per-run failure: on_done then gets reason start-failed. on_done is
  // called exactly once, from the loop (never from inside start()).
  RunId start(RunSpec &&spec, std::function<void(const RunResult &)> on_done);

  // reason: "killed" or "output-limit". SIGTERM to the run's init, SIGKILL to the whole run
  // after sandbox.time.kill_grace_ms. Unknown or finished ids are ignored.
  void kill(RunId id, const std::string &reason);

  std::size_t running() const;

  // The pid of a run's init process on the host (0 when unknown): for tests and diagnostics.
  pid_t host_pid(RunId id) const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace nospace::sandbox
