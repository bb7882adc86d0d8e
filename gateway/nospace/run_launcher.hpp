#pragma once
// What the sessions need of the sandbox launcher: the shape of LauncherClient
// (gateway/launcher/launcher_client.hpp), as an interface so that sessions are tested with a
// launcher of the test's own. main() adapts the real LauncherClient (launcher_adapter.hpp).

#include "common/fd.hpp"
#include "common/launch_protocol.hpp"
#include "common/run_result.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace nospace::gateway {

class RunLauncher {
public:
  struct Started {
    std::uint64_t run_id = 0;
    UniqueFd stdin_fd, stdout_fd, stderr_fd;
  };
  using StartedHandler = std::function<void(std::string error, Started started)>;
  using FinishedHandler = std::function<void(const RunResult &result)>;

  virtual ~RunLauncher() = default;
  // As LauncherClient::start: on_started once (an error, or the fds); on_finished exactly once
  // per run that started, after on_started; neither is called from inside start().
  virtual void start(const launch::LaunchRequest &request, StartedHandler on_started,
                     FinishedHandler on_finished) = 0;
  // reason: "killed" or "output-limit".
  virtual void kill(std::uint64_t run_id, const std::string &reason) = 0;
};

} // namespace nospace::gateway
