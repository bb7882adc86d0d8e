#pragma once
// Dropping every capability: bounding set, ambient set, and the inheritable, permitted and
// effective sets (libcap), plus the securebits that keep them from coming back. The empty
// capability state is allocated once in the parent; the child only makes syscalls.

#include <sys/capability.h>

namespace nospace::sandbox {

class CapabilityDrop {
public:
  CapabilityDrop(); // throws std::system_error when libcap cannot allocate
  CapabilityDrop(const CapabilityDrop &) = delete;
  CapabilityDrop &operator=(const CapabilityDrop &) = delete;
  ~CapabilityDrop();

  // In the child, before no_new_privs and seccomp (so the filter need not allow capset or
  // prctl). Two halves, because a host-root child without a user namespace loses CAP_SETPCAP
  // when it switches ids: apply_bounding() (securebits locked, bounding set emptied; needs
  // CAP_SETPCAP) comes before that switch, apply_sets() (ambient, inheritable, permitted,
  // effective) after it. With a user namespace both run after the ids are set. 0 or errno.
  int apply_bounding() const noexcept;
  int apply_sets() const noexcept;

private:
  cap_t empty_;
};

// Whether the calling process holds no capability in any set (for tests and `check`).
bool holds_no_capabilities();

} // namespace nospace::sandbox
