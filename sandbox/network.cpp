#include "sandbox/network.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace nospace::sandbox {

namespace {

[[noreturn]] void throw_errno(int err, const std::string &what) {
  throw std::system_error(err, std::generic_category(), what);
}

} // namespace

SharedNetworkNamespace SharedNetworkNamespace::create() {
  SharedNetworkNamespace ns;
  ns.home_.reset(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!ns.home_)
    throw_errno(errno, "shared network namespace: open /proc/self/ns/net");
  // A helper unshares and waits; the launcher opens the helper's namespace and lets it go.
  // (unshare in the launcher itself would move the launcher.)
  Pipe ready, release;
  if (!make_pipe(ready, O_CLOEXEC) || !make_pipe(release, O_CLOEXEC))
    throw_errno(errno, "shared network namespace: pipe");
  const pid_t helper = ::fork();
  if (helper < 0)
    throw_errno(errno, "shared network namespace: fork");
  if (helper == 0) {
    // The helper's copies of the ends it does not use must go, or it never sees EOF.
    ready.read.reset();
    release.write.reset();
    char byte = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
    if (::write(ready.write.get(), &byte, 1) != 1)
      ::_exit(1);
    ::read(release.read.get(), &byte, 1);
    ::_exit(0);
  }
  ready.write.reset();
  release.read.reset();
  char byte = 0;
  const bool unshared = ::read(ready.read.get(), &byte, 1) == 1 && byte == 'y';
  int err = 0;
  if (unshared) {
    const std::string path = "/proc/" + std::to_string(helper) + "/ns/net";
    ns.shared_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    err = errno;
  }
  release.write.reset();
  ::waitpid(helper, nullptr, 0);
  if (!unshared)
    throw_errno(EPERM, "shared network namespace: unshare(CLONE_NEWNET) in the helper");
  if (!ns.shared_)
    throw_errno(err, "shared network namespace: open the helper's namespace");
  return ns;
}

int SharedNetworkNamespace::enter() const noexcept {
  return ::setns(shared_.get(), CLONE_NEWNET) == 0 ? 0 : errno;
}

int SharedNetworkNamespace::leave() const noexcept {
  return ::setns(home_.get(), CLONE_NEWNET) == 0 ? 0 : errno;
}

int apply_loopback_up() noexcept {
  const int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return errno;
  ifreq req;
  std::memset(&req, 0, sizeof req);
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  int err = 0;
  if (::ioctl(sock, SIOCGIFFLAGS, &req) != 0) {
    err = errno;
  } else {
    req.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (::ioctl(sock, SIOCSIFFLAGS, &req) != 0)
      err = errno;
  }
  ::close(sock);
  return err;
}

} // namespace nospace::sandbox
