// How one command starts both processes (docs/architecture.md, "Start-up and privileges"):
// the gateway starts as root, spawns the launcher with one end of a socketpair, then drops to
// server.user for good before it opens any port or reads any byte from the network.
#include "gateway/launcher/launcher_client.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

extern char **environ;

namespace nospace::gateway {

namespace {

[[noreturn]] void fail_step(const std::string &step, int err) {
  throw std::runtime_error("drop_privileges: " + step + ": " + std::strerror(err));
}

void set_no_new_privs() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    fail_step("PR_SET_NO_NEW_PRIVS", errno);
}

// True when the process holds no capability in its effective, permitted or inheritable set.
bool holds_no_capability() {
  cap_t now = cap_get_proc();
  cap_t none = cap_init();
  bool empty = now && none && cap_compare(now, none) == 0;
  cap_free(now);
  cap_free(none);
  return empty;
}

} // namespace

UniqueFd spawn_launcher(const std::string &policy_path, const std::string &sandbox_binary) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::system_error(errno, std::generic_category(), "spawn_launcher: socketpair");
  UniqueFd ours(sv[0]), theirs(sv[1]);
  // The launcher's end becomes its fd 3 (dup2 clears close-on-exec on the copy); every other
  // gateway fd is close-on-exec, so the launcher inherits nothing else of the gateway.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, theirs.get(), 3);
  std::vector<std::string> args{sandbox_binary, "service",     "--policy",
                                policy_path,    "--socket-fd", "3"};
  std::vector<char *> argv;
  for (auto &a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  int err = ::posix_spawn(&pid, sandbox_binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0)
    throw std::system_error(err, std::generic_category(),
                            "spawn_launcher: starting " + sandbox_binary);
  // The launcher is not waited for: when it exits the gateway sees its socket close and can
  // no longer run anything; when the gateway exits the launcher sees EOF, kills every run and
  // exits.
  return ours;
}

void drop_privileges(const std::string &user) {
  if (::geteuid() != 0) {
    set_no_new_privs();
    return;
  }
  errno = 0;
  passwd *pw = ::getpwnam(user.c_str());
  if (!pw)
    throw std::runtime_error("drop_privileges: server.user '" + user +
                             "' does not exist (create it or set server.user)");
  if (pw->pw_uid == 0 || pw->pw_gid == 0)
    throw std::runtime_error("drop_privileges: server.user '" + user +
                             "' is root; the gateway must not keep root");
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  // Bounding and ambient sets first, while CAP_SETPCAP is still held: afterwards nothing,
  // not even a setuid-root binary (no_new_privs stops those too), can bring a capability back.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap)
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      fail_step("PR_CAPBSET_DROP", errno);
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
    fail_step("PR_CAP_AMBIENT_CLEAR_ALL", errno);
  // Groups before ids: after setresuid there is no CAP_SETGID left to change them.
  if (::setgroups(0, nullptr) != 0)
    fail_step("setgroups", errno);
  if (::setresgid(gid, gid, gid) != 0)
    fail_step("setresgid", errno);
  // With all three uids non-zero and keep-caps off (the default), the kernel clears the
  // permitted, effective and ambient capability sets here.
  if (::setresuid(uid, uid, uid) != 0)
    fail_step("setresuid", errno);
  if (::setresuid(0, 0, 0) == 0)
    throw std::runtime_error("drop_privileges: root could be regained after setresuid");
  if (!holds_no_capability())
    throw std::runtime_error("drop_privileges: capabilities remain after setresuid");
  set_no_new_privs();
}

} // namespace nospace::gateway
