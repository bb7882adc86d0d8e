#pragma once
// Who a run is: inside its user namespace one unprivileged uid/gid (kInsideId), mapped to one
// host id. Real root maps a host id of the run's own (uid_range.hpp); rootless maps the
// caller's own uid/gid, the only mapping an unprivileged process may write.

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace nospace::sandbox {

// The uid and gid a program sees inside. Not 0: nothing inside is root, even by name.
constexpr std::uint32_t kInsideId = 1000;

struct RunIdentity {
  bool user_namespace = true;
  bool host_root = false; // the launcher is real root (then setgroups stays allowed)
  std::uint32_t host_uid = 0;
  std::uint32_t host_gid = 0;
  // The ids the child switches to: kInsideId with a user namespace, else the host ids.
  std::uint32_t uid() const { return user_namespace ? kInsideId : host_uid; }
  std::uint32_t gid() const { return user_namespace ? kInsideId : host_gid; }
};

// Whether the launcher is real root: uid 0 in the initial user namespace.
bool running_as_host_root();

// In the parent after clone, before the child goes on: writes uid_map, setgroups and
// gid_map of the child's user namespace. Returns 0 or errno; *what names the file.
int write_id_maps_from_parent(pid_t child, const RunIdentity &id, const char **what) noexcept;

// In the child: supplementary groups cleared (root only: a rootless gid_map requires
// setgroups to be denied), then gid, then uid. Returns 0 or errno.
int apply_identity(const RunIdentity &id) noexcept;

} // namespace nospace::sandbox
