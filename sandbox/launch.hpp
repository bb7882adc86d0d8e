#pragma once
// The launch sequence of one run: the ONE place that holds the order of the privileged steps
// (launch.cpp, launch()). Everything that may allocate or fail with a message is prepared
// before the clone (LaunchPlan once per policy and interpreter, LaunchRequest once per run);
// after the clone the child only makes syscalls and reports a failure as {step, errno} on a
// close-on-exec pipe.

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

// The path of the program file inside a run: written into the run's own /tmp before the ids
// drop, gone with the run. Without a mount namespace: the memfd at kProgramFd.
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

// Per run, built in the parent.
struct LaunchRequest {
  std::vector<std::string> argv; // "{program}" already replaced
  std::vector<std::string> env;
  std::string program; // the program text ("" = none)
  RunIdentity identity;
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1; // borrowed; dup'ed onto 0, 1, 2
  // In the parent while the child builds its root, before it may exec (the cgroups are
  // joined here). Returns "" or what failed; a failure stops the start.
  std::function<std::string(pid_t)> from_parent;
};

// The steps after the clone, in order; a start-failed report names one.
enum class ChildStep : int {
  ParentDeathSignal,
  WaitForParent,
  Signals,
  Session,
  FileDescriptors,
  Mounts,
  ProgramFile,
  Hostname,
  Loopback,
  Rlimits,
  Identity,
  Capabilities,
  NoNewPrivs,
  Seccomp,
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

// Clones the child with the policy's namespaces and runs the whole launch order (launch.cpp).
// Returns once the child has exec'd the program or failed; never throws for a per-run
// failure (Launched::failure says what failed).
Launched launch(const LaunchPlan &plan, const LaunchRequest &request);

// SIGKILL through the pidfd, then waits until the process is reaped.
void kill_and_reap(int pidfd);

} // namespace nospace::sandbox
