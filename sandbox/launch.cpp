#include "sandbox/launch.hpp"

#include "sandbox/network.hpp"
#include "sandbox/seccomp_filter.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif
#include <fstream>
#include <string>

namespace nospace::sandbox {

namespace {

// Where the child keeps what it needs until exec (everything else is closed).
constexpr int kErrorFd = 3; // close-on-exec: EOF in the parent means exec happened
constexpr int kSeccompSyncFd = kListenerHandoverFd; // close-on-exec: the listener's way out
// 5 is the program's memfd (kProgramFd) when there is no mount namespace.
constexpr int kGoFd = 6; // close-on-exec: the parent's second go (cgroups joined)

struct ChildFailure {
  std::int32_t step;
  std::int32_t err;
  std::int32_t detail; // index of the mount op or rlimit that failed, else -1
};

// Everything the child reads, laid out by the parent before the clone: the child allocates
// nothing and only dereferences these.
struct ChildContext {
  const LaunchPlan *plan;
  const LaunchRequest *request;
  char *const *argv;
  char *const *envp;
  int error_fd, go_fd, go_write_fd, seccomp_fd, program_memfd;
  std::uint64_t signals_not_default; // to reset before the mask opens
};

// Where fail() reports: the inherited pipe end until the fds are arranged, kErrorFd after.
// A plain global: only children write it (one at a time, see clone_child), and the parent
// never reads it.
int child_error_fd = -1;

[[noreturn]] void fail(ChildStep step, int err, int detail = -1) noexcept {
  const ChildFailure report{std::int32_t(step), std::int32_t(err), std::int32_t(detail)};
  // Best effort: if the parent is gone there is nobody to tell.
  if (child_error_fd >= 0)
    (void)!::write(child_error_fd, &report, sizeof report);
  ::_exit(127);
}

void check(ChildStep step, int err, int detail = -1) noexcept {
  if (err != 0)
    fail(step, err, detail);
}

int errno_of(bool ok) noexcept { return ok ? 0 : errno; }

// One byte from the parent on the go socket; EOF means it gave up (or died).
void wait_for_parent(int go_fd) noexcept {
  char go = 0;
  if (::read(go_fd, &go, 1) != 1)
    fail(ChildStep::WaitForParent, errno ? errno : EPIPE);
}

// The signals the launcher ignores or catches (bit N-1 for signal N), from its
// /proc/thread-self/status: the child resets only those (a syscall costs ~2 us on this VM,
// all 64 would be a tenth of a start). Every signal when that cannot be read.
std::uint64_t signals_not_default() {
  std::ifstream status("/proc/thread-self/status");
  std::uint64_t mask = 0;
  int found = 0;
  for (std::string line; std::getline(status, line);)
    if (line.rfind("SigIgn:", 0) == 0 || line.rfind("SigCgt:", 0) == 0) {
      mask |= std::strtoull(line.c_str() + 7, nullptr, 16);
      ++found;
    }
  return found == 2 ? mask : ~std::uint64_t(0);
}

int reset_signals(std::uint64_t not_default) noexcept {
  // The launcher may ignore SIGPIPE or block signals; the program starts from the defaults.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG && sig <= 64; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP && (not_default >> (sig - 1) & 1))
      ::sigaction(sig, &dfl, nullptr); // glibc's internal signals refuse: harmless
  sigset_t none;
  sigemptyset(&none);
  return errno_of(::sigprocmask(SIG_SETMASK, &none, nullptr) == 0);
}

// Moves the fds the child keeps to their fixed numbers and closes every other one, so no
// launcher fd (listening socket, other runs' pipes, the policy file) reaches the program.
int arrange_fds(const ChildContext &c) noexcept {
  const LaunchRequest &r = *c.request;
  int null_fd = -1;
  if (r.stdin_fd < 0 || r.stdout_fd < 0 || r.stderr_fd < 0) {
    null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0)
      return errno;
  }
  // Lift every source above the targets first, so no dup3 overwrites a source still needed.
  int from[7] = {r.stdin_fd < 0 ? null_fd : r.stdin_fd,
                 r.stdout_fd < 0 ? null_fd : r.stdout_fd,
                 r.stderr_fd < 0 ? null_fd : r.stderr_fd,
                 c.error_fd,
                 c.seccomp_fd,
                 c.program_memfd,
                 c.go_fd};
  for (int &fd : from)
    if (fd >= 0 && (fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 16)) < 0)
      return errno;
  for (int target = 0; target < 7; ++target) {
    if (from[target] < 0) {
      ::close(target); // unused slot (no seccomp, no memfd): whatever the launcher had there
      continue;
    }
    // 0-2 and the program survive exec; the others must not.
    const int flags = target <= 2 || target == kProgramFd ? 0 : O_CLOEXEC;
    if (::dup3(from[target], target, flags) < 0)
      return errno;
  }
  return errno_of(::syscall(SYS_close_range, 7, ~0U, 0) == 0);
}

int write_program(const LaunchRequest &r) noexcept {
  if (r.program.empty())
    return 0;
  const int fd = ::open(kProgramPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0)
    return errno;
  const char *data = r.program.data();
  std::size_t left = r.program.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      return err;
    }
    data += n;
    left -= std::size_t(n);
  }
  return errno_of(::close(fd) == 0);
}

int mount_op_index(const MountPlan &plan, const MountOp *op) noexcept {
  if (op == nullptr)
    return -1;
  if (op >= plan.before_pivot.data() && op < plan.before_pivot.data() + plan.before_pivot.size())
    return int(op - plan.before_pivot.data());
  return int(plan.before_pivot.size() + (op - plan.after_pivot.data()));
}

// THE CHECKLIST, child side. Runs right after the clone, inside every new namespace, still
// holding every capability of its new user namespace. The order is the point:
[[noreturn]] void child_main(const ChildContext &c) noexcept {
  const LaunchPlan &plan = *c.plan;
  const LaunchRequest &req = *c.request;
  child_error_fd = c.error_fd;
  // Our copy of the go socket's parent end: with it open, a dead parent would never read as
  // EOF.
  ::close(c.go_write_fd);
  // 1. Die with the launcher: an orphaned run would escape its limits. First, so nothing
  //    below can outlive a launcher that dies mid-launch.
  check(ChildStep::ParentDeathSignal, errno_of(::prctl(PR_SET_PDEATHSIG, SIGKILL) == 0));
  // 2. Signal dispositions and mask back to the defaults the program expects. Until here
  //    every signal is blocked (clone_child): no launcher handler runs in this process.
  check(ChildStep::Signals, reset_signals(c.signals_not_default));
  //    A session of its own: no controlling terminal (so no TIOCSTI into the caller's
  //    terminal, no SIGHUP/SIGINT from it), and a process group the supervisor can kill.
  check(ChildStep::Session, errno_of(::setsid() >= 0));
  // 3. Only stdio, the report pipe, the seccomp hand-over, the program's memfd and the go
  //    socket remain. Steps 2 and 3 create nothing, so they go on while the parent writes the
  //    id maps.
  check(ChildStep::FileDescriptors, arrange_fds(c));
  child_error_fd = kErrorFd;
  // 4. Wait until the parent has written the id maps: before that this process has no
  //    valid uid inside, and mounts would be created by an unmapped id. EOF instead of the
  //    byte means the parent gave up (or died): stop.
  wait_for_parent(kGoFd);
  //    With a user namespace, switch to the run's ids now, before anything is created:
  //    a launcher that is real root is still host uid 0 here, which is unmapped inside, and
  //    files and mounts made by an unmapped id fail (EOVERFLOW). This keeps every capability:
  //    they come from creating the namespace, not from the uid, and the kernel clears them
  //    only on a change away from the namespace's uid 0, which is not mapped. Step 10 drops
  //    them. Without a user namespace the ids change late (step 9): a real root would lose
  //    the capabilities the mounts need.
  if (plan.namespaces.user)
    check(ChildStep::Identity, apply_identity(req.identity));
  // 5. The minimal root: private propagation, tmpfs root with read-only binds, /tmp, /proc,
  //    /dev, pivot_root, old root detached, root read-only. Needs CAP_SYS_ADMIN in the new
  //    user namespace, so before the ids and capabilities go.
  if (plan.namespaces.mount) {
    const MountOp *failed = nullptr;
    if (int err = apply_mounts(plan.mounts, &failed))
      fail(ChildStep::Mounts, err, mount_op_index(plan.mounts, failed));
    // 6. The program text into the run's own /tmp: after the mounts (it must land on the
    //    run's tmpfs, not the host), before the rlimits (RLIMIT_FSIZE would cut it short).
    check(ChildStep::ProgramFile, write_program(req));
  }
  // 7. Hostname and loopback need CAP_SYS_ADMIN / CAP_NET_ADMIN in the new namespaces.
  if (plan.namespaces.uts)
    check(ChildStep::Hostname,
          errno_of(::sethostname(plan.hostname.data(), plan.hostname.size()) == 0));
  if (plan.namespaces.network && !plan.share_network)
    check(ChildStep::Loopback, apply_loopback_up());
  // 8. rlimits: lowering needs no privilege; after the program file (see 6), and while
  //    setrlimit is still allowed (seccomp comes last).
  {
    const RlimitEntry *failed = nullptr;
    if (int err = apply_rlimits(plan.rlimits, &failed))
      fail(ChildStep::Rlimits, err, int(failed - plan.rlimits.data()));
  }
  // 9. Ids: groups, gid, uid (setgroups and setresgid need CAP_SETGID: before the drop).
  //     Without a user namespace the child is real root until here: the bounding set and
  //     securebits go first (they need CAP_SETPCAP, which the switch to a non-zero uid
  //     takes away).
  if (!plan.namespaces.user) {
    check(ChildStep::Capabilities, plan.capabilities->apply_bounding());
    check(ChildStep::Identity, apply_identity(req.identity));
  }
  // 10. Every capability, every set. After the ids (they needed CAP_SETUID/SETGID).
  if (plan.namespaces.user)
    check(ChildStep::Capabilities, plan.capabilities->apply_bounding());
  check(ChildStep::Capabilities, plan.capabilities->apply_sets());
  // The parent-death signal is cleared by credential changes; set it again now that they
  //    are done (prctl is not in the seccomp allowlist, so it cannot come later).
  check(ChildStep::ParentDeathSignal, errno_of(::prctl(PR_SET_PDEATHSIG, SIGKILL) == 0));
  // 11. Wait until the parent has put this process into the run's cgroups (it does so
  //     while the steps above run): nothing the program does may escape their limits.
  wait_for_parent(kGoFd);
  //     no_new_privs: exec can never gain privileges (setuid bits, file capabilities); also
  //     what lets an unprivileged process load a seccomp filter.
  check(ChildStep::NoNewPrivs, errno_of(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0));
  // 12. seccomp LAST: with the ids set and the capabilities gone, the allowlist need not
  //     permit setresuid, capset or prctl. Sends the listener to the parent on the way.
  if (plan.seccomp != nullptr)
    check(ChildStep::Seccomp, plan.seccomp->apply_in_child(true));
  // 13. exec. The report pipe closes on success; the parent reads EOF.
  ::execve(c.argv[0], c.argv, c.envp);
  fail(ChildStep::Exec, errno);
}

std::string describe_failure(const LaunchPlan &plan, const ChildFailure &f) {
  std::string what = step_name(ChildStep(f.step));
  if (ChildStep(f.step) == ChildStep::Mounts) {
    const auto &b = plan.mounts.before_pivot, &a = plan.mounts.after_pivot;
    if (f.detail < 0)
      what += " (pivot_root)";
    else if (std::size_t(f.detail) < b.size())
      what += " (" + b[f.detail].describe() + ")";
    else if (std::size_t(f.detail) - b.size() < a.size())
      what += " (" + a[f.detail - b.size()].describe() + ")";
  } else if (ChildStep(f.step) == ChildStep::Rlimits && f.detail >= 0 &&
             std::size_t(f.detail) < plan.rlimits.size()) {
    what += std::string(" (") + plan.rlimits[f.detail].name + ")";
  }
  return what + ": " + std::strerror(f.err);
}

std::vector<char *> c_strings(const std::vector<std::string> &strings) {
  std::vector<char *> out;
  for (const auto &s : strings)
    out.push_back(const_cast<char *>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// The child's stack lives in launch()'s own frame, which outlives the child's use of it
// (launch() returns once the child has exec'd, a new address space, or has been reaped).
// Inside the parent's stack its pages are already present, and AddressSanitizer, which
// tracks one stack per thread, accepts a child running there. The child needs a few KiB
// (no recursion, no allocation); the canary at the far end catches any growth towards it.
constexpr std::size_t kChildStackBytes = 128 * 1024;
constexpr std::size_t kStackCanaryBytes = 256;
constexpr unsigned char kStackCanary = 0xa5;

struct ChildStack {
  alignas(64) unsigned char bytes[kChildStackBytes];

#ifdef __SANITIZE_ADDRESS__
  // The child's frames poisoned their redzones in the shadow memory it shares with us; the
  // functions the launcher calls next reuse these addresses.
  ~ChildStack() { __asan_unpoison_memory_region(bytes, sizeof bytes); }
#endif

  void *top() { return bytes + kChildStackBytes; }
  void arm() { std::memset(bytes, kStackCanary, kStackCanaryBytes); }
  bool intact() const {
    for (std::size_t i = 0; i < kStackCanaryBytes; ++i)
      if (bytes[i] != kStackCanary)
        return false;
    return true;
  }
};

int child_entry(void *context) { child_main(*static_cast<const ChildContext *>(context)); }

// CLONE_VM: the child shares the parent's memory until its exec, as posix_spawn's does. A
// copy of the address space (fork) costs page-table copies and copy-on-write faults on both
// sides, a millisecond and more per run on a VM where a page fault costs ~12 us. Sharing is
// safe because the child writes nothing the parent reads: everything it needs is laid out
// before the clone (ChildContext), it allocates nothing, and every signal is blocked until
// it has reset the dispositions (no parent handler runs on shared memory). errno is shared
// too; the child reads it only right after its own failed call while the parent, between
// the clone and the go byte, makes only calls that succeed (or it kills the child).
pid_t clone_child(int flags, const ChildContext &context, ChildStack &stack, int *pidfd) {
  stack.arm();
  sigset_t all, saved;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  const pid_t pid = ::clone(child_entry, stack.top(), flags | CLONE_VM | CLONE_PIDFD | SIGCHLD,
                            const_cast<ChildContext *>(&context), pidfd);
  const int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  errno = clone_errno;
  return pid;
}

} // namespace

// After a failed start: the child shares launch()'s memory, so it must be gone (not just
// signalled) before launch() returns and frees what it reads.
void kill_and_reap(int pidfd) {
  ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  siginfo_t info{};
  while (::waitid(P_PIDFD, id_t(pidfd), &info, WEXITED) != 0 && errno == EINTR) {
  }
}

const char *step_name(ChildStep step) {
  switch (step) {
  case ChildStep::ParentDeathSignal: return "parent-death-signal";
  case ChildStep::WaitForParent: return "wait-for-parent";
  case ChildStep::Signals: return "signals";
  case ChildStep::Session: return "session";
  case ChildStep::FileDescriptors: return "file-descriptors";
  case ChildStep::Mounts: return "mounts";
  case ChildStep::ProgramFile: return "program-file";
  case ChildStep::Hostname: return "hostname";
  case ChildStep::Loopback: return "loopback";
  case ChildStep::Rlimits: return "rlimits";
  case ChildStep::Identity: return "identity";
  case ChildStep::Capabilities: return "capabilities";
  case ChildStep::NoNewPrivs: return "no-new-privs";
  case ChildStep::Seccomp: return "seccomp";
  case ChildStep::Exec: return "exec";
  }
  return "unknown-step";
}

// THE CHECKLIST, parent side: what happens before the clone, the clone, and what the parent
// does for the child afterwards. The child's half is child_main above.
Launched launch(const LaunchPlan &plan, const LaunchRequest &req) {
  Launched out;
  auto failed = [&](const std::string &what, int err) {
    out.failure = what + ": " + std::strerror(err);
    return std::move(out);
  };
  // 1. Everything the child reads is laid out now: it must not allocate after the clone.
  const std::vector<char *> argv = c_strings(req.argv), envp = c_strings(req.env);
  if (req.argv.empty())
    return failed("prepare: empty argv", EINVAL);
  // 2. The report pipe (close-on-exec: EOF = exec done), the go socket (a socket: sending to
  //    a child that has already failed must not raise SIGPIPE), the seccomp socket.
  Pipe report;
  if (!make_pipe(report, O_CLOEXEC))
    return failed("prepare: pipe", errno);
  UniqueFd go_parent, go_child;
  {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
      return failed("prepare: socketpair", errno);
    go_parent.reset(pair[0]);
    go_child.reset(pair[1]);
  }
  UniqueFd seccomp_parent, seccomp_child;
  if (plan.seccomp != nullptr) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
      return failed("prepare: socketpair", errno);
    seccomp_parent.reset(pair[0]);
    seccomp_child.reset(pair[1]);
  }
  // 3. Without a mount namespace there is no private /tmp: the program goes in a sealed memfd.
  UniqueFd program_memfd;
  if (!plan.namespaces.mount && !req.program.empty()) {
    program_memfd.reset(::memfd_create("program", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!program_memfd || ::write(program_memfd.get(), req.program.data(), req.program.size()) !=
                              ssize_t(req.program.size()))
      return failed("prepare: program memfd", errno ? errno : EIO);
    ::fcntl(program_memfd.get(), F_ADD_SEALS,
            F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
  }
  const ChildContext ctx{&plan,
                         &req,
                         argv.data(),
                         envp.data(),
                         report.write.get(),
                         go_child.get(),
                         go_parent.get(),
                         seccomp_child.get(),
                         program_memfd.get(),
                         signals_not_default()};
  // 4. The namespaces come with the clone itself (one syscall, and the pid namespace needs
  //    the child to be its first process). The shared network namespace is joined by the
  //    parent around the clone: setns must precede the child's user namespace.
  int flags = 0;
  const NamespacePolicy &ns = plan.namespaces;
  flags |= ns.user ? CLONE_NEWUSER : 0;
  flags |= ns.pid ? CLONE_NEWPID : 0;
  flags |= ns.mount ? CLONE_NEWNS : 0;
  flags |= ns.network && !plan.share_network ? CLONE_NEWNET : 0;
  flags |= ns.ipc ? CLONE_NEWIPC : 0;
  flags |= ns.uts ? CLONE_NEWUTS : 0;
  flags |= ns.cgroup ? CLONE_NEWCGROUP : 0;
  const bool join_network = ns.network && plan.share_network;
  if (join_network)
    if (int err = plan.network->enter())
      return failed("network: setns into the shared namespace", err);
  int pidfd = -1;
  ChildStack stack;
  const pid_t pid = clone_child(flags, ctx, stack, &pidfd);
  const int clone_errno = errno;
  if (join_network && plan.network->leave() != 0) {
    // The launcher itself would stay in the empty namespace: nothing sensible goes on.
    std::perror("nospace-sandbox: setns back to the launcher's network namespace");
    std::abort();
  }
  if (pid < 0)
    return failed("clone", clone_errno);
  out.pid = pid;
  out.pidfd.reset(pidfd);
  report.write.reset();
  go_child.reset();
  seccomp_child.reset();
  // 5. From the parent, while the child waits: the id maps (only a process outside the new
  //    user namespace may write them).
  auto abort_child = [&](const std::string &what, int err) {
    kill_and_reap(out.pidfd.get());
    return failed(what, err);
  };
  if (ns.user) {
    const char *what = "";
    if (int err = write_id_maps_from_parent(pid, req.identity, &what))
      return abort_child(std::string("id-maps: ") + what, err);
  }
  // 6. Let the child go, then join the cgroups while it builds its root (a v1 cgroup move
  //    costs ~0.1 ms per hierarchy here); the second byte lets it go on to its exec. The
  //    child works meanwhile: one that failed a step has ended, its report says which.
  auto send_go = [&] {
    const char byte = 1;
    return ::send(go_parent.get(), &byte, 1, MSG_NOSIGNAL) == 1;
  };
  bool child_went_on = send_go();
  if (child_went_on && req.from_parent) {
    const std::string problem = req.from_parent(pid);
    if (!problem.empty()) {
      kill_and_reap(out.pidfd.get());
      out.failure = problem;
      return out;
    }
  }
  child_went_on = child_went_on && send_go();
  // 7. EOF: the exec happened. A record: the step that failed.
  ChildFailure f{};
  ssize_t n;
  do
    n = ::read(report.read.get(), &f, sizeof f);
  while (n < 0 && errno == EINTR);
  if (n == ssize_t(sizeof f))
    out.failure = describe_failure(plan, f);
  else if (!child_went_on)
    out.failure = "go: the child ended before its exec, unreported";
  // 8. The seccomp listener, sent before the exec: already waiting in the socket. Without
  //    it the run would go unreported: it does not run.
  if (out.failure.empty() && plan.seccomp != nullptr) {
    out.seccomp_listener = SeccompFilter::receive_listener(seccomp_parent.get(), false);
    if (!out.seccomp_listener)
      out.failure = std::string("seccomp: the listener did not arrive: ") + std::strerror(errno);
  }
  if (!out.failure.empty())
    kill_and_reap(out.pidfd.get());
  if (!stack.intact()) {
    std::fputs("nospace-sandbox: the launch child outgrew its stack\n", stderr);
    std::abort();
  }
  return out;
}

} // namespace nospace::sandbox
