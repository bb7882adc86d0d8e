#include "sandbox/capabilities.hpp"

#include <linux/securebits.h>
#include <sys/prctl.h>

#include <cerrno>
#include <system_error>

namespace nospace::sandbox {

CapabilityDrop::CapabilityDrop() : empty_(cap_init()) {
  if (empty_ == nullptr)
    throw std::system_error(errno, std::generic_category(), "cap_init");
}

CapabilityDrop::~CapabilityDrop() { cap_free(empty_); }

int CapabilityDrop::apply_bounding() const noexcept {
  // Securebits first, while CAP_SETPCAP is still held: NOROOT and NO_SETUID_FIXUP (locked)
  // mean uid 0 inside never regains capabilities, not even through exec; KEEP_CAPS locked off.
  const unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                             SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                             SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0)
    return errno;
  // The bounding set limits what any later exec (a setuid or file-capability binary) can
  // gain; dropping needs CAP_SETPCAP, so it comes before the permitted set is emptied.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap)
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return errno;
  return 0;
}

int CapabilityDrop::apply_sets() const noexcept {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
    return errno;
  if (cap_set_proc(empty_) != 0)
    return errno;
  return 0;
}

bool holds_no_capabilities() {
  cap_t now = cap_get_proc();
  if (now == nullptr)
    return false;
  cap_t empty = cap_init();
  const bool none = empty != nullptr && cap_compare(now, empty) == 0;
  cap_free(empty);
  cap_free(now);
  return none;
}

} // namespace nospace::sandbox
