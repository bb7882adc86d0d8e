#include "sandbox/seccomp_filter.hpp"

#include "common/fd_passing.hpp"
#include "common/launch_protocol.hpp"
#include "common/policy_reader.hpp"
#include "sandbox/syscall_table.hpp"

#include <seccomp.h>

#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>

namespace nospace::sandbox {

namespace {

struct CtxDeleter {
  void operator()(void *ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

int resolve(const std::string &name) {
  return seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, name.c_str());
}

// The effective rule per syscall number: the table, minus `deny`, plus `allow_extra` (which
// also lifts an argument condition: naming clone there allows every clone).
std::map<int, SyscallRule> effective_rules(const SeccompPolicy &policy, const std::string &source) {
  auto fail = [&](const char *key, const std::string &why) {
    throw PolicyError(source + ": sandbox.seccomp." + key + ": " + why);
  };
  auto checked = [&](const char *key, const std::string &name) {
    int nr = resolve(name);
    if (nr < 0) // __NR_SCMP_ERROR, or a pseudo-syscall this architecture does not have
      fail(key, "unknown syscall '" + name + "'");
    return nr;
  };
  std::map<int, SyscallRule> rules;
  for (const SyscallEntry &entry : default_syscall_table()) {
    int nr = resolve(entry.name);
    if (nr < 0)
      throw std::logic_error(std::string("syscall table: unknown syscall ") + entry.name);
    rules[nr] = entry.rule;
  }
  for (const std::string &name : policy.allow_extra)
    rules[checked("allow_extra", name)] = SyscallRule::allow;
  for (const std::string &name : policy.deny) {
    if (std::find(policy.allow_extra.begin(), policy.allow_extra.end(), name) !=
        policy.allow_extra.end())
      fail("deny", "'" + name + "' is also in allow_extra");
    // The child makes these under the filter on its way to the exec: refused, the launch
    // would fail on every run.
    if (name == "execve" || name == "write" || name == "exit_group" || name == "dup3")
      fail("deny", "'" + name + "' cannot be denied: the launcher " +
                       (name == "execve" ? "execs the interpreter"
                        : name == "dup3" ? "puts the run's stdio in place"
                                         : "reports a failed exec") +
                       " after loading the filter");
    rules.erase(checked("deny", name));
  }
  return rules;
}

void add_rules(void *ctx, const std::map<int, SyscallRule> &rules) {
  for (const auto &[nr, rule] : rules) {
    int rc = 0;
    switch (rule) {
    case SyscallRule::allow: rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0); break;
    case SyscallRule::allow_if_no_newns:
      rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                            SCMP_A0(SCMP_CMP_MASKED_EQ, clone_namespace_flags(), 0));
      break;
    case SyscallRule::allow_tty_queries:
      // Whole 64-bit equality: the kernel truncates the request to 32 bits, so a request with
      // junk in the high half would otherwise slip past a 32-bit comparison (TIOCSTI tricks).
      for (unsigned long request : allowed_ioctl_requests())
        if (rc == 0)
          rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A1(SCMP_CMP_EQ, request));
      break;
    case SyscallRule::fail_enosys: rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0); break;
    }
    if (rc != 0)
      throw std::runtime_error("seccomp: cannot add a rule for " + syscall_name(nr) + ": " +
                               std::strerror(-rc));
  }
}

// libseccomp 2.5.4 can only export to an fd: write into a memfd and read the program back.
std::vector<sock_filter> export_bpf(void *ctx) {
  UniqueFd memfd(memfd_create("nospace-seccomp-bpf", MFD_CLOEXEC));
  if (!memfd)
    throw std::runtime_error(std::string("seccomp: memfd_create: ") + std::strerror(errno));
  if (int rc = seccomp_export_bpf(ctx, memfd.get()); rc != 0)
    throw std::runtime_error(std::string("seccomp: export: ") + std::strerror(-rc));
  off_t size = lseek(memfd.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0 || size > BPF_MAXINSNS * 8)
    throw std::runtime_error("seccomp: the exported program has an odd size");
  std::vector<sock_filter> program(size / sizeof(sock_filter));
  if (pread(memfd.get(), program.data(), size, 0) != size)
    throw std::runtime_error("seccomp: cannot read the exported program back");
  return program;
}

std::vector<sock_filter> build(const std::map<int, SyscallRule> &rules, uint32_t default_action,
                               bool hand_over) {
  Ctx ctx(seccomp_init(default_action));
  if (!ctx)
    throw std::runtime_error("seccomp: libseccomp refuses the default action");
  // The filter is for the native architecture only: anything else, the i386 int 0x80 entry
  // included, is killed; libseccomp also sends x32 numbers (nr >= 0x40000000) to this action.
  if (seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) != 0)
    throw std::runtime_error("seccomp: cannot set the bad-architecture action");
  // A binary tree instead of a linear list: a hot syscall like write is found in ~7 jumps.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  add_rules(ctx.get(), rules);
  // The listener's hand-over and the run's (see the header); a table that allows sendmsg or
  // recvmsg anyway already covers them, and a policy's deny cannot take them away.
  auto hand_over_rule = [&](int nr, int fd) {
    if (!hand_over || rules.count(nr))
      return;
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 1,
                                  SCMP_A0(SCMP_CMP_EQ, std::uint64_t(fd)));
        rc != 0)
      throw std::runtime_error(std::string("seccomp: cannot add a hand-over rule: ") +
                               std::strerror(-rc));
  };
  hand_over_rule(SCMP_SYS(sendmsg), kListenerHandoverFd);
  hand_over_rule(SCMP_SYS(recvmsg), kRunHandoverFd);
  return export_bpf(ctx.get());
}

} // namespace

SeccompFilter SeccompFilter::compile(const SeccompPolicy &policy, const std::string &source) {
  SeccompFilter filter;
  // Names are checked even when the filter is off, so a typo never waits for the day it is on.
  auto rules = effective_rules(policy, source);
  filter.enabled_ = policy.enabled;
  if (!policy.enabled)
    return filter;
  filter.notify_program_ = build(rules, SCMP_ACT_NOTIFY, true);
  filter.kill_program_ = build(rules, SCMP_ACT_KILL_PROCESS, false);
  return filter;
}

int SeccompFilter::apply_in_child(bool hand_over) const noexcept {
  if (!enabled_)
    return 0;
  const auto &program = hand_over ? notify_program_ : kill_program_;
  sock_fprog fprog{static_cast<unsigned short>(program.size()),
                   const_cast<sock_filter *>(program.data())};
  if (!hand_over)
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) == 0 ? 0 : errno;
  const long listener =
      syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog);
  if (listener < 0)
    return errno;
  // From here on every syscall passes the filter: sendmsg and recvmsg on the hand-over fds
  // are allowed by the rules added for them; dup3, execve (and write and exit_group, for a
  // failed exec) cannot be denied.
  const char byte = 0;
  const int fd = int(listener);
  if (int err = send_with_fds(kListenerHandoverFd, &byte, 1, &fd, 1))
    return err; // do not run unreported
  return 0;     // the listener is close-on-exec: the program never holds it
}

UniqueFd SeccompFilter::receive_listener(int parent_end, bool wait) {
  launch::Received message = launch::receive_message(parent_end, wait ? 0 : MSG_DONTWAIT);
  if (message.fds.size() != 1) {
    // No message: the child ended (or failed a step) before it loaded the filter.
    errno = message.error != 0 ? message.error : ECHILD;
    return UniqueFd();
  }
  return std::move(message.fds.front());
}

std::string syscall_name(int nr) {
  char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
  if (!name)
    return "syscall-" + std::to_string(nr);
  std::string out(name);
  std::free(name);
  return out;
}

std::optional<std::string> read_refusal(int listener_fd) {
  pollfd pfd{listener_fd, POLLIN, 0};
  if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
    return std::nullopt;
  // Every notification raises the listener's count once, so after POLLIN the receive cannot
  // block: it returns the notification or ENOENT if the thread went away meanwhile.
  seccomp_notif notification;
  std::memset(&notification, 0, sizeof notification);
  if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_RECV, &notification) != 0)
    return std::string("unknown");
  return syscall_name(notification.data.nr);
}

} // namespace nospace::sandbox
