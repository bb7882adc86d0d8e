#include "sandbox/user_namespace.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace nospace::sandbox {

namespace {

int write_proc_file(pid_t pid, const char *name, const char *text) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/%s", int(pid), name);
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  const size_t len = std::strlen(text);
  int err = ::write(fd, text, len) == ssize_t(len) ? 0 : errno;
  ::close(fd);
  return err;
}

} // namespace

bool running_as_host_root() {
  if (geteuid() != 0)
    return false;
  // In the initial user namespace uid_map is the identity over the whole range.
  std::ifstream in("/proc/self/uid_map");
  unsigned long inside = 1, outside = 1, count = 0;
  in >> inside >> outside >> count;
  return in && inside == 0 && outside == 0 && count == 4294967295ul;
}

int write_id_maps_from_parent(pid_t child, const RunIdentity &id, const char **what) noexcept {
  char line[64];
  std::snprintf(line, sizeof line, "%u %u 1\n", kInsideId, id.host_uid);
  *what = "uid_map";
  if (int err = write_proc_file(child, "uid_map", line))
    return err;
  if (!id.host_root) {
    // An unprivileged writer may map its own gid only once setgroups is denied (otherwise
    // the child could drop a supplementary group that a host file denies access to).
    *what = "setgroups";
    if (int err = write_proc_file(child, "setgroups", "deny\n"))
      return err;
  }
  std::snprintf(line, sizeof line, "%u %u 1\n", kInsideId, id.host_gid);
  *what = "gid_map";
  return write_proc_file(child, "gid_map", line);
}

// Raw syscalls, not glibc's wrappers: those change the ids of every thread glibc knows of,
// by signalling them, and in the launch child (which shares the launcher's memory) glibc's
// thread list is the launcher's. The child is one thread; the kernel call changes just it.
int apply_identity(const RunIdentity &id) noexcept {
  // Root's supplementary groups (gid 0 among them) would otherwise follow the program and
  // count in host permission checks even though they are unmapped inside.
  if (id.host_root && ::syscall(SYS_setgroups, 0, nullptr) != 0)
    return errno;
  if (::syscall(SYS_setresgid, id.gid(), id.gid(), id.gid()) != 0)
    return errno;
  if (::syscall(SYS_setresuid, id.uid(), id.uid(), id.uid()) != 0)
    return errno;
  return 0;
}

} // namespace nospace::sandbox
