#pragma once
// The launch sequence of one run: the ONE place that holds the order of the privileged steps
// (launch.cpp: prepare_launch and start_launch). Everything that may allocate or fail with a
// message is prepared in the parent (LaunchPlan once per policy and interpreter, LaunchSetup
// and RunInput once per run); the child only makes syscalls and reports a failure as
// {step, errno} on a close-on-exec socket.

#include "common/fd.hpp"
#include "common/sandbox_policy.hpp"
#include "sandbox/capabilities.hpp"
#include "sandbox/mounts.hpp"
#include "sandbox/rlimits.hpp"
#include "sandbox/user_namespace.hpp"

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nospace::sandbox {

class SeccompFilter;
class SharedNetworkNamespace;

// The path of the program file inside a run: written by the launcher into the run's own /tmp
// (as the run's ids), gone with the run. Without a mount namespace: the memfd at kProgramFd.
constexpr const char *kProgramPath = "/tmp/program";
constexpr int kProgramFd = 5;

// Per policy and interpreter; immutable once built, shared by every run.
struct LaunchPlan {
  NamespacePolicy namespaces;
  bool share_network = false;                      // join `network` instead of a new one
  const SharedNetworkNamespace *network = nullptr; // when share_network
  MountPlan mounts;
  RlimitTable rlimits{};
  std::shared_ptr<const CapabilityDrop> capabilities;
  const SeccompFilter *seccomp = nullptr; // nullptr: none (seccomp.enabled false)
  std::string hostname;
};

// Known before the run, when the child is prepared: who it runs as, and what the parent does
// for the child while the child builds its root.
struct LaunchSetup {
  RunIdentity identity;
  // In the parent while the child builds its root, before it may exec (the cgroups are
  // joined here). Returns "" or what failed; a failure stops the start.
  std::function<std::string(pid_t)> from_parent;
};

// What only the run itself brings, handed to a prepared child.
struct RunInput {
  std::vector<std::string> argv; // "{program}" already replaced
  std::vector<std::string> env;
  std::string program;                               // the program text ("" = none)
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1; // borrowed; dup'ed onto 0, 1, 2
};

// The steps after the clone, in order; a start-failed report names one.
enum class ChildStep : int {
  ParentDeathSignal,
  WaitForParent,
  WaitForRun,
  Session,
  FileDescriptors,
  Mounts,
  TmpHandover,
  Hostname,
  Loopback,
  Rlimits,
  Identity,
  Capabilities,
  Signals,
  NoNewPrivs,
  Seccomp,
  Stdio,
  Exec,
};
const char *step_name(ChildStep step);

struct Launched {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd seccomp_listener; // invalid without seccomp (or when the start failed)
  // Non-empty when the start failed: "<step>: <cause>". The child has been reaped then.
  std::string failure;
};

// A child cloned with the policy's namespaces that has gone through every step of the launch
// order (launch.cpp) that does not need its run, and waits for it: its root built, its ids
// and cgroups set, its capabilities gone, its seccomp filter loaded. What is left (the program
// file, stdio, exec) takes a fraction of a start, so a child prepared between runs makes the
// next start that much faster. Destroying one that never got its run kills and reaps it.
class PreparedLaunch {
public:
  struct State;
  explicit PreparedLaunch(std::unique_ptr<State> state);
  PreparedLaunch(PreparedLaunch &&) noexcept;
  PreparedLaunch &operator=(PreparedLaunch &&) noexcept;
  ~PreparedLaunch();
  pid_t pid() const;

private:
  friend Launched start_launch(PreparedLaunch &&prepared, const RunInput &input);
  std::unique_ptr<State> state_;
};

// Clones and sets up the child; returns without waiting for it to get through its steps (a
// step that fails is reported by start_launch). Never throws for a per-run failure.
PreparedLaunch prepare_launch(std::shared_ptr<const LaunchPlan> plan, LaunchSetup setup);

// Hands the run to a prepared child and returns once it has exec'd the program or failed
// (Launched::failure says what failed; the child has been reaped then).
Launched start_launch(PreparedLaunch &&prepared, const RunInput &input);

// SIGKILL through the pidfd, then waits until the process is reaped.
void kill_and_reap(int pidfd);

} // namespace nospace::sandbox
