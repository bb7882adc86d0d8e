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

  // In the child, after the ids are set (setresuid/setgroups need CAP_SETUID/CAP_SETGID) and
  // before no_new_privs and seccomp (so the filter need not allow capset or prctl). Returns
  // 0 or errno.
  int apply() const noexcept;

private:
  cap_t empty_;
};

// Whether the calling process holds no capability in any set (for tests and `check`).
bool holds_no_capabilities();

} // namespace nospace::sandbox
