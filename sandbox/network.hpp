#pragma once
// The network a run sees: a namespace with nothing but a loopback interface.
//
// Two ways to get one (sandbox.namespaces.share_network):
// - shared (default when the launcher is real root): one empty network namespace created at
//   start-up and joined by every run. Creating a network namespace is the slowest part of a
//   clone (about 0.4 ms here, and a kernel-wide lock); joining costs nothing. Its loopback
//   stays DOWN: runs share the namespace, so an up loopback (or abstract Unix sockets, which
//   are per network namespace and which seccomp refuses) would be a channel between runs. A
//   run cannot change it: the namespace belongs to the host's user namespace, where the run
//   holds no capability.
// - per run: a new namespace in the clone, its loopback brought up by the child (private, so
//   harmless and what a program expecting 127.0.0.1 needs). Rootless mode always uses this:
//   an unprivileged launcher cannot create a namespace owned by the host.

#include "common/fd.hpp"

namespace nospace::sandbox {

class SharedNetworkNamespace {
public:
  // Creates the namespace (a short-lived helper process unshares it; its /proc/PID/ns/net
  // is kept open). Throws std::system_error naming the step.
  static SharedNetworkNamespace create();

  // In the parent, around the clone: the child inherits the namespace its parent is in,
  // and setns must happen before the child's user namespace exists (after that the child
  // lacks CAP_SYS_ADMIN over a namespace owned by the host). enter() then leave() back to
  // the launcher's own namespace; both return 0 or errno. Single-threaded callers only.
  int enter() const noexcept;
  int leave() const noexcept;

  int fd() const { return shared_.get(); }

private:
  UniqueFd shared_;
  UniqueFd home_;
};

// In the child, in its own new network namespace: sets the loopback interface up.
int apply_loopback_up() noexcept;

} // namespace nospace::sandbox
