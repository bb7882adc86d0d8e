// The seccomp filter on the real kernel: each case forks a child that loads the filter (with
// no_new_privs, as the launch sequence does) and then tries what the case is about. The parent
// checks how the child ended and, for the reporting variant, what the listener said.
#include <catch2/catch.hpp>

#include "common/policy_reader.hpp"
#include "sandbox/seccomp_filter.hpp"
#include "sandbox/syscall_table.hpp"
#include "skip.hpp"

#include <seccomp.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <functional>
#include <set>
#include <string>

using nospace::SeccompPolicy;
using nospace::UniqueFd;
using nospace::sandbox::SeccompFilter;

namespace {

// Runs `body` in a forked child under the filter; the child's exit code is what body returns.
// With `report`, the filter is the USER_NOTIF one and `refused` gets what the listener said.
struct ChildEnd {
  int status = 0;
  std::string refused; // the syscall named by the listener ("" if none)
};

// Catch2's fatal-signal handlers must not run in a forked child (it would report and carry on
// with the other test cases there).
void reset_catch_handlers() {
  for (int sig : {SIGINT, SIGILL, SIGFPE, SIGSEGV, SIGTERM, SIGABRT, SIGBUS})
    signal(sig, SIG_DFL);
}

ChildEnd run_filtered(const SeccompFilter &filter, bool report, std::function<int()> body) {
  int sv[2] = {-1, -1};
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd parent_end(sv[0]), child_end(sv[1]);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    reset_catch_handlers();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
      _exit(120);
    // The reporting filter lets the listener out on kListenerHandoverFd only.
    if (report && dup2(child_end.get(), nospace::sandbox::kListenerHandoverFd) < 0)
      _exit(122);
    if (filter.apply_in_child(report) != 0)
      _exit(121);
    _exit(body());
  }
  child_end.reset();
  ChildEnd end;
  UniqueFd pidfd(int(syscall(SYS_pidfd_open, pid, 0)));
  REQUIRE(pidfd.valid());
  if (report && filter.enabled()) {
    UniqueFd listener = SeccompFilter::receive_listener(parent_end.get(), true);
    REQUIRE(listener.valid());
    // Wait for either a refusal or the child's end (the listener hangs up when it exits).
    pollfd fds[2] = {{listener.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    REQUIRE(poll(fds, 2, 10000) > 0);
    if (auto name = nospace::sandbox::read_refusal(listener.get())) {
      end.refused = *name;
      kill(pid, SIGKILL);
    }
  }
  REQUIRE(waitpid(pid, &end.status, 0) == pid);
  return end;
}

int exit_code(const ChildEnd &end) { return WIFEXITED(end.status) ? WEXITSTATUS(end.status) : -1; }
int signal_of(const ChildEnd &end) { return WIFSIGNALED(end.status) ? WTERMSIG(end.status) : 0; }

const SeccompFilter &default_filter() {
  static const SeccompFilter filter = SeccompFilter::compile(SeccompPolicy{});
  return filter;
}

bool allowed_by_table(const std::string &name) {
  for (const auto &entry : nospace::sandbox::default_syscall_table())
    if (entry.name == name)
      return entry.rule != nospace::sandbox::SyscallRule::fail_enosys;
  return false;
}

} // namespace

TEST_CASE("the table allows every syscall nospace20 was measured to make, error paths included") {
  // DESIGN.md, "The nospace20 interpreter": a default that kills it on any of these is broken.
  const char *measured[] = {"access",
                            "arch_prctl",
                            "brk",
                            "close",
                            "execve",
                            "exit_group",
                            "getrandom",
                            "gettid",
                            "mmap",
                            "mprotect",
                            "munmap",
                            "newfstatat",
                            "openat",
                            "poll",
                            "pread64",
                            "prlimit64",
                            "read",
                            "rseq",
                            "rt_sigaction",
                            "sched_getaffinity",
                            "set_robust_list",
                            "set_tid_address",
                            "sigaltstack",
                            "statx",
                            "write",
                            "futex",
                            "getcwd",
                            "lseek",
                            "mremap",
                            "getpid",
                            "rt_sigprocmask",
                            "tgkill"};
  for (const char *name : measured) {
    INFO(name);
    CHECK(allowed_by_table(name));
  }
}

TEST_CASE("every table entry and every excluded syscall is a real syscall, listed once") {
  std::set<std::string> seen;
  for (const auto &entry : nospace::sandbox::default_syscall_table()) {
    INFO(entry.name);
    CHECK(seccomp_syscall_resolve_name(entry.name) >= 0);
    CHECK(std::string(entry.reason).size() > 10);
    CHECK(seen.insert(entry.name).second);
  }
  for (const auto &entry : nospace::sandbox::excluded_syscalls()) {
    INFO(entry.name);
    CHECK(seccomp_syscall_resolve_name(entry.name) >= 0);
    CHECK(seen.count(entry.name) == 0); // excluded means not in the table
    CHECK(std::string(entry.reason).size() > 5);
  }
}

TEST_CASE("unknown syscall names in the policy are errors naming the key") {
  SeccompPolicy policy;
  policy.allow_extra = {"getpid", "no_such_call"};
  CHECK_THROWS_WITH(SeccompFilter::compile(policy, "p.yaml"),
                    "p.yaml: sandbox.seccomp.allow_extra: unknown syscall 'no_such_call'");
  policy = {};
  policy.deny = {"socketcall"}; // an i386 syscall: not one of this architecture
  CHECK_THROWS_WITH(SeccompFilter::compile(policy, "p.yaml"),
                    "p.yaml: sandbox.seccomp.deny: unknown syscall 'socketcall'");
  policy = {};
  policy.allow_extra = {"socket"};
  policy.deny = {"socket"};
  CHECK_THROWS_WITH(SeccompFilter::compile(policy, "p.yaml"),
                    "p.yaml: sandbox.seccomp.deny: 'socket' is also in allow_extra");
  // The launch child makes these under the filter, on its way to the exec.
  policy = {};
  policy.deny = {"execve"};
  CHECK_THROWS_WITH(SeccompFilter::compile(policy, "p.yaml"),
                    "p.yaml: sandbox.seccomp.deny: 'execve' cannot be denied: the launcher execs "
                    "the interpreter after loading the filter");
  policy.deny = {"dup3"};
  CHECK_THROWS_WITH(SeccompFilter::compile(policy, "p.yaml"),
                    "p.yaml: sandbox.seccomp.deny: 'dup3' cannot be denied: the launcher puts "
                    "the run's stdio in place after loading the filter");
  for (const char *name : {"write", "exit_group"}) {
    policy.deny = {name};
    CHECK_THROWS_WITH(SeccompFilter::compile(policy, "p.yaml"),
                      "p.yaml: sandbox.seccomp.deny: '" + std::string(name) +
                          "' cannot be denied: the launcher reports a failed exec after loading "
                          "the filter");
  }
  policy = {};
  policy.enabled = false;
  policy.deny = {"bogus"}; // checked even when the filter is off
  CHECK_THROWS_AS(SeccompFilter::compile(policy, "p.yaml"), nospace::PolicyError);
}

TEST_CASE("syscall_name names native numbers") {
  CHECK(nospace::sandbox::syscall_name(SYS_mount) == "mount");
  CHECK(nospace::sandbox::syscall_name(SYS_keyctl) == "keyctl");
  CHECK(nospace::sandbox::syscall_name(99999) == "syscall-99999");
}

TEST_CASE("allowed syscalls work and a refused one is reported by name, without running") {
  auto end = run_filtered(default_filter(), true, [] {
    if (getppid() <= 0 || write(STDOUT_FILENO, "", 0) != 0)
      return 2;
    syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, nullptr);
    return 3; // reached only if the refused syscall returned
  });
  CHECK(end.refused == "mount");
  CHECK(signal_of(end) == SIGKILL);
}

TEST_CASE("the killing variant kills on a refused syscall") {
  auto end = run_filtered(default_filter(), false, [] {
    syscall(SYS_keyctl, 0, 0, 0, 0, 0);
    return 3;
  });
  CHECK(signal_of(end) == SIGSYS);
}

TEST_CASE("sendmsg is allowed on the listener's hand-over fd only") {
  // The child's own hand-over went through (run_filtered got the listener); any other fd is
  // refused like any syscall outside the table.
  auto end = run_filtered(default_filter(), true, [] {
    char byte = 'x';
    iovec iov{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    sendmsg(STDOUT_FILENO, &msg, 0); // refused before the kernel looks at what fd 1 is
    return 3;
  });
  CHECK(end.refused == "sendmsg");
  CHECK(signal_of(end) == SIGKILL);
}

TEST_CASE("recvmsg is allowed on the run's hand-over fd only") {
  // On kRunHandoverFd it reaches the kernel (here: a socket with nothing to read, EAGAIN);
  // on any other fd it is refused before the kernel looks at the fd.
  int pair[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0); // made before the filter
  auto receive_on = [](int fd) {
    char byte = 0;
    iovec iov{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    return recvmsg(fd, &msg, MSG_DONTWAIT) < 0 && errno == EAGAIN ? 7 : 11;
  };
  auto handed_over = run_filtered(default_filter(), true, [&] {
    if (dup2(pair[0], nospace::sandbox::kRunHandoverFd) < 0)
      return 10;
    return receive_on(nospace::sandbox::kRunHandoverFd);
  });
  auto other = run_filtered(default_filter(), true, [&] { return receive_on(pair[0]); });
  close(pair[0]);
  close(pair[1]);
  CHECK(handed_over.refused == "");
  CHECK(exit_code(handed_over) == 7);
  CHECK(other.refused == "recvmsg");
  CHECK(signal_of(other) == SIGKILL);
}

TEST_CASE("a SIGSYS handler cannot rescue a refused syscall") {
  auto end = run_filtered(default_filter(), true, [] {
    signal(SIGSYS, SIG_IGN);
    syscall(SYS_ptrace, 0, 0, 0, 0);
    return 3;
  });
  CHECK(end.refused == "ptrace");
  CHECK(signal_of(end) == SIGKILL);
}

TEST_CASE("clone works without namespace flags and is refused with them; clone3 says ENOSYS") {
  auto forked = run_filtered(default_filter(), true, [] {
    pid_t child = fork(); // glibc: clone3 (ENOSYS) then clone(SIGCHLD)
    if (child == 0)
      _exit(7);
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child)
      return 2;
    return WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : 4;
  });
  CHECK(forked.refused == "");
  CHECK(exit_code(forked) == 0);

  auto clone3 = run_filtered(default_filter(), true, [] {
    clone_args args{};
    args.exit_signal = SIGCHLD;
    long rc = syscall(SYS_clone3, &args, sizeof args);
    if (rc == 0)
      _exit(0);
    return rc < 0 && errno == ENOSYS ? 0 : 5;
  });
  CHECK(clone3.refused == "");
  CHECK(exit_code(clone3) == 0);

  for (unsigned long flag : {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET}) {
    auto newns = run_filtered(default_filter(), true, [flag] {
      long rc = syscall(SYS_clone, flag | SIGCHLD, nullptr, nullptr, nullptr, 0);
      if (rc == 0)
        _exit(0);
      return 6;
    });
    INFO("flag " << flag);
    CHECK(newns.refused == "clone");
  }
  auto unshare = run_filtered(default_filter(), true, [] { return ::unshare(CLONE_NEWUSER); });
  CHECK(unshare.refused == "unshare");
}

TEST_CASE("ioctl: terminal queries pass, TIOCSTI is refused, also with junk in the high bits") {
  auto query = run_filtered(default_filter(), true, [] {
    termios t;
    int rc = ioctl(STDIN_FILENO, TCGETS, &t); // isatty(): any answer is fine, it was allowed
    (void)rc;
    return 0;
  });
  CHECK(query.refused == "");
  CHECK(exit_code(query) == 0);
  for (unsigned long request : {0x5412ul /* TIOCSTI */, 0x100005412ul, 0x100005401ul}) {
    auto sti = run_filtered(default_filter(), true, [request] {
      char c = 'x';
      syscall(SYS_ioctl, STDIN_FILENO, request, &c);
      return 3;
    });
    INFO("request " << std::hex << request);
    CHECK(sti.refused == "ioctl");
  }
}

TEST_CASE("x32 syscall numbers kill the process") {
  auto x32 = run_filtered(default_filter(), true, [] {
    syscall(0x40000000 | SYS_getpid);
    return 3;
  });
  CHECK(x32.refused == "");
  CHECK(signal_of(x32) == SIGSYS);
}

TEST_CASE("the i386 int 0x80 entry kills the process") {

  // Without a filter, does this kernel have the i386 entry at all? (getpid = 20 there.)
  pid_t probe = fork();
  REQUIRE(probe >= 0);
  if (probe == 0) {
    reset_catch_handlers();
    long rc;
    asm volatile("int $0x80" : "=a"(rc) : "a"(20) : "memory");
    _exit(rc == getpid() ? 0 : 1);
  }
  int status = 0;
  waitpid(probe, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    NOSPACE_SKIP("this kernel has no i386 syscall entry (int 0x80 does not answer)");
  auto i386 = run_filtered(default_filter(), true, [] {
    long rc;
    asm volatile("int $0x80" : "=a"(rc) : "a"(20) : "memory");
    return 3;
  });
  CHECK(i386.refused == "");
  CHECK(signal_of(i386) == SIGSYS);
}

TEST_CASE("allow_extra and deny adjust the table; enabled: false loads nothing") {
  SeccompPolicy policy;
  policy.allow_extra = {"socket"};
  policy.deny = {"getppid"};
  auto filter = SeccompFilter::compile(policy);
  auto sock = run_filtered(filter, true, [] {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    return fd >= 0 ? 0 : 2;
  });
  CHECK(sock.refused == "");
  CHECK(exit_code(sock) == 0);
  auto ppid = run_filtered(filter, true, [] { return getppid() > 0 ? 3 : 4; });
  CHECK(ppid.refused == "getppid");

  SeccompPolicy off;
  off.enabled = false;
  auto none = SeccompFilter::compile(off);
  CHECK_FALSE(none.enabled());
  CHECK(none.reporting_program().empty());
  auto free_run = run_filtered(none, true, [] {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    return fd >= 0 ? 0 : 2;
  });
  CHECK(exit_code(free_run) == 0);
}

TEST_CASE("the test interpreter runs every command under the default filter") {
  // fake-nospace20 is dynamically linked like the real one: loader, libc start-up, stdio,
  // sleeping, spinning, allocating, reading stdin. None of it may be refused.
  const std::string fake = NOSPACE_BUILD_ROOT "/tests/fixtures/fake-nospace20";
  if (access(fake.c_str(), X_OK) != 0)
    NOSPACE_SKIP("tests/fixtures/fake-nospace20 is not built");
  for (const char *mode : {"run", "compile"}) {
    auto end = run_filtered(default_filter(), true, [&fake, mode] {
      int null = open("/dev/null", O_RDWR);
      int program[2];
      if (null < 0 || pipe(program) != 0)
        return 90;
      const char script[] = "print hi\neprint e\nhex 41ff\nargv\nflood 10000\nsleep 5\n"
                            "spin 5\nalloc 8\ncat\nstdin_eof\nexit 0\n";
      if (write(program[1], script, sizeof script - 1) != ssize_t(sizeof script - 1))
        return 91;
      close(program[1]);
      dup2(program[0], 3);
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      if (std::string(mode) == "run")
        execl(fake.c_str(), "nospace20", "--std", "ws", "-d", "/dev/fd/3", nullptr);
      else
        execl(fake.c_str(), "nospace20", "--mode", "compile", "--std", "min", "--target", "json",
              "/dev/fd/3", nullptr);
      return 92;
    });
    INFO(mode << ": refused " << end.refused);
    CHECK(end.refused == "");
    CHECK(exit_code(end) == 0);
  }
}
