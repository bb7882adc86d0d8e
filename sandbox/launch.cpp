#include "sandbox/launch.hpp"

#include "common/fd_passing.hpp"
#include "common/launch_protocol.hpp"
#include "sandbox/network.hpp"
#include "sandbox/seccomp_filter.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/fsuid.h>
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
#include <utility>

namespace nospace::sandbox {

namespace {

// Where the child keeps what it needs until exec (everything else is closed).
constexpr int kErrorFd = 3; // close-on-exec: EOF in the parent means exec happened
constexpr int kSeccompSyncFd = kListenerHandoverFd; // close-on-exec: the listener's way out
// 5 is the program's memfd (kProgramFd) when there is no mount namespace.
constexpr int kGoFd = kRunHandoverFd; // close-on-exec: the parent's go bytes, then the run

// A record on the report socket: the step that failed, or kTmpRecord (with the run's /tmp).
struct ChildFailure {
  std::int32_t step;
  std::int32_t err;
  std::int32_t detail; // index of the mount op or rlimit that failed, else -1
};
constexpr std::int32_t kTmpRecord = -1;

// Everything the child reads. The child allocates nothing and only dereferences these.
struct ChildContext {
  // Laid out by the parent before the clone:
  const LaunchPlan *plan;
  const RunIdentity *identity;
  int error_fd, go_fd, go_write_fd, seccomp_fd;
  // Written by the parent before its second go byte:
  std::uint64_t signals_not_default; // to reset before the mask opens
  // Written by the parent before it sends the run:
  char *const *argv;
  char *const *envp;
  bool program_memfd; // the run brings the program as a fourth fd (no mount namespace)
};

// Where fail() reports: the inherited socket end until the fds are arranged, kErrorFd after.
// A plain global: only children write it, one at a time (the supervisor prepares a child
// only when no other is between its clone and its run), and the parent never reads it.
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

// The run: one byte carrying its stdio (and the program's memfd) as SCM_RIGHTS, received
// close-on-exec. EOF means the parent gave up on this child (or died).
constexpr int kRunFds = 4;

int receive_run(int go_fd, int (&fds)[kRunFds], int expected) noexcept {
  char byte = 0;
  std::size_t count = 0;
  const long n = receive_with_fds(go_fd, &byte, 1, fds, kRunFds, &count);
  if (n < 0)
    return int(-n);
  if (n == 0)
    return EPIPE;
  return count == std::size_t(expected) ? 0 : EPROTO;
}

// The run's stdio onto 0, 1, 2 and the program's memfd onto kProgramFd (all kept across the
// exec); the received copies are close-on-exec and go with it.
int install_run_fds(const int (&fds)[kRunFds], int count) noexcept {
  for (int i = 0; i < count; ++i) {
    const int target = i < 3 ? i : kProgramFd;
    if (::dup3(fds[i], target, 0) < 0)
      return errno;
  }
  return 0;
}

// The run message: one byte carrying `fds` (see receive_run). Returns 0 or errno.
int send_run(int go_fd, const std::vector<int> &fds) noexcept {
  const char byte = 1;
  return send_with_fds(go_fd, &byte, 1, fds.data(), fds.size());
}

// One record from the report socket, with the fd a kTmpRecord carries. False on EOF or a
// short read (the child died).
bool receive_record(int report_fd, ChildFailure &record, UniqueFd &fd) {
  int received = -1;
  std::size_t count = 0;
  const long n =
      receive_with_fds(report_fd, &record, sizeof record, &received, 1, &count, MSG_WAITALL);
  if (count == 1)
    fd.reset(received);
  return n == long(sizeof record);
}

// The program file in the run's /tmp, written by the launcher. With a user namespace as real
// root it writes as the run's host ids: the tmpfs belongs to the run's user namespace, where
// uid 0 has no mapping (files of unmapped ids fail, EOVERFLOW), and the file is then the
// run's own, as if the child had written it. Not subject to the run's RLIMIT_FSIZE; the
// tmpfs size limit applies. Returns 0 or errno.
int write_program_file(int tmp_dir, const std::string &text, const RunIdentity &id) {
  if (text.empty())
    return 0;
  const bool as_run = id.user_namespace && id.host_root;
  if (as_run) {
    ::setfsgid(id.host_gid);
    ::setfsuid(id.host_uid);
  }
  UniqueFd file(::openat(tmp_dir, std::strrchr(kProgramPath, '/') + 1,
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444));
  const int open_error = file ? 0 : errno;
  if (as_run) {
    ::setfsuid(0);
    ::setfsgid(0);
  }
  if (open_error != 0)
    return open_error;
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(file.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? errno : EIO;
    done += std::size_t(n);
  }
  return 0;
}

bool make_socket_pair(UniqueFd &parent, UniqueFd &child) noexcept {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return false;
  parent.reset(pair[0]);
  child.reset(pair[1]);
  return true;
}

// The launcher's CPUs and those of them other than the one it runs on now; false when there
// is no other.
bool other_cpus(cpu_set_t &all, cpu_set_t &others) noexcept {
  const int here = ::sched_getcpu();
  if (here < 0 || ::sched_getaffinity(0, sizeof all, &all) != 0)
    return false;
  others = all;
  CPU_CLR(here, &others);
  return CPU_COUNT(&others) > 0;
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
  // glibc's own signals (32 to SIGRTMIN - 1) are skipped: its sigaction refuses them, and
  // would set the errno this child shares with the launcher while the launcher goes on.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG && sig <= 64; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP && (sig < 32 || sig >= SIGRTMIN) &&
        (not_default >> (sig - 1) & 1))
      ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  return errno_of(::sigprocmask(SIG_SETMASK, &none, nullptr) == 0);
}

// Moves the fds the child keeps to their fixed numbers and closes every other one, so no
// launcher fd (listening socket, other runs' pipes, the policy file) reaches the program.
// 0-2 stay as inherited until the run brings its own stdio (install_run_fds).
int arrange_fds(const ChildContext &c) noexcept {
  // Lift every source above the targets first, so no dup3 overwrites a source still needed.
  int from[3] = {c.error_fd, c.seccomp_fd, c.go_fd};
  const int to[3] = {kErrorFd, kSeccompSyncFd, kGoFd};
  for (int &fd : from)
    if (fd >= 0 && (fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 16)) < 0)
      return errno;
  for (int i = 0; i < 3; ++i) {
    if (from[i] < 0) {
      ::close(to[i]); // no seccomp: whatever the launcher had there
      continue;
    }
    if (::dup3(from[i], to[i], O_CLOEXEC) < 0)
      return errno;
  }
  ::close(kProgramFd); // the run brings its own, if any
  return errno_of(::syscall(SYS_close_range, 7, ~0U, 0) == 0);
}

// The run's /tmp (after pivot_root), as an O_PATH fd sent to the parent on the report
// socket in a record of step kTmpRecord. Returns 0 or errno.
int hand_over_tmp() noexcept {
  const int tmp = ::open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (tmp < 0)
    return errno;
  const ChildFailure record{kTmpRecord, 0, -1};
  const int err = send_with_fds(kErrorFd, &record, sizeof record, &tmp, 1);
  ::close(tmp);
  return err;
}

int mount_op_index(const MountPlan &plan, const MountOp *op) noexcept {
  if (op == nullptr)
    return -1;
  if (op >= plan.before_pivot.data() && op < plan.before_pivot.data() + plan.before_pivot.size())
    return int(op - plan.before_pivot.data());
  return int(plan.before_pivot.size() + (op - plan.after_pivot.data()));
}

int rlimit_index(const LaunchPlan &plan, const RlimitEntry *entry) noexcept {
  return int(entry - plan.rlimits.data());
}

// THE CHECKLIST, child side. Runs right after the clone, inside every new namespace, still
// holding every capability of its new user namespace. The order is the point. Steps 1-13
// need nothing of the run and happen when the child is prepared; 14-15 once the run is here.
// Never returns (it execs or fails), but is not declared [[noreturn]]: AddressSanitizer checks
// the stack at every call of a noreturn function and warns, as this stack is not the
// thread's it knows of.
void child_main(const ChildContext &c) noexcept {
  const LaunchPlan &plan = *c.plan;
  const RunIdentity &identity = *c.identity;
  child_error_fd = c.error_fd;
  // Our copy of the go socket's parent end: with it open, a dead parent would never read as
  // EOF.
  ::close(c.go_write_fd);
  // 1. Die with the launcher: an orphaned run would escape its limits. First, so nothing
  //    below can outlive a launcher that dies mid-launch.
  check(ChildStep::ParentDeathSignal, errno_of(::prctl(PR_SET_PDEATHSIG, SIGKILL) == 0));
  // 2. A session of its own: no controlling terminal (so no TIOCSTI into the caller's
  //    terminal, no SIGHUP/SIGINT from it), and a process group the supervisor can kill.
  check(ChildStep::Session, errno_of(::setsid() >= 0));
  // 3. Only the report socket, the seccomp hand-over and the go socket remain (stdio comes
  //    with the run). Steps 2 and 3 create nothing, so they go on while the parent writes
  //    the id maps.
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
  //    only on a change away from the namespace's uid 0, which is not mapped. Step 9 drops
  //    them. Without a user namespace the ids change late (step 8): a real root would lose
  //    the capabilities the mounts need.
  if (plan.namespaces.user)
    check(ChildStep::Identity, apply_identity(identity));
  // 5. The minimal root: private propagation, tmpfs root with read-only binds, /tmp, /proc,
  //    /dev, pivot_root, old root detached, root read-only. Needs CAP_SYS_ADMIN in the new
  //    user namespace, so before the ids and capabilities go. Then the run's /tmp goes to
  //    the parent, which writes the program file there when the run comes: by then this
  //    process is under its filter.
  if (plan.namespaces.mount) {
    const MountOp *failed = nullptr;
    if (int err = apply_mounts(plan.mounts, &failed))
      fail(ChildStep::Mounts, err, mount_op_index(plan.mounts, failed));
    check(ChildStep::TmpHandover, hand_over_tmp());
  }
  // 6. Hostname and loopback need CAP_SYS_ADMIN / CAP_NET_ADMIN in the new namespaces.
  if (plan.namespaces.uts)
    check(ChildStep::Hostname,
          errno_of(::sethostname(plan.hostname.data(), plan.hostname.size()) == 0));
  if (plan.namespaces.network && !plan.share_network)
    check(ChildStep::Loopback, apply_loopback_up());
  // 7. rlimits: lowering needs no privilege; while setrlimit is still allowed (seccomp comes
  //    later). The file size limit does not apply to the program file: the parent writes it.
  {
    const RlimitEntry *failed = nullptr;
    if (int err = apply_rlimits(plan.rlimits, &failed))
      fail(ChildStep::Rlimits, err, rlimit_index(plan, failed));
  }
  // 8. Ids: groups, gid, uid (setgroups and setresgid need CAP_SETGID: before the drop).
  //    Without a user namespace the child is real root until here: the bounding set and
  //    securebits go first (they need CAP_SETPCAP, which the switch to a non-zero uid
  //    takes away).
  if (!plan.namespaces.user) {
    check(ChildStep::Capabilities, plan.capabilities->apply_bounding());
    check(ChildStep::Identity, apply_identity(identity));
  }
  // 9. Every capability, every set. After the ids (they needed CAP_SETUID/SETGID).
  if (plan.namespaces.user)
    check(ChildStep::Capabilities, plan.capabilities->apply_bounding());
  check(ChildStep::Capabilities, plan.capabilities->apply_sets());
  //    The parent-death signal is cleared by credential changes; set it again now that they
  //    are done (prctl is not in the seccomp allowlist, so it cannot come later).
  check(ChildStep::ParentDeathSignal, errno_of(::prctl(PR_SET_PDEATHSIG, SIGKILL) == 0));
  // 10. Wait until the parent has put this process into the run's cgroups (it does so
  //     while the steps above run): nothing the program does may escape their limits.
  wait_for_parent(kGoFd);
  // 11. Signal dispositions and mask back to the defaults the program expects; which ones
  //     the launcher set, the parent found out meanwhile. Until here every signal is blocked
  //     (clone_child): no launcher handler runs in this process.
  check(ChildStep::Signals, reset_signals(c.signals_not_default));
  // 12. no_new_privs: exec can never gain privileges (setuid bits, file capabilities); also
  //     what lets an unprivileged process load a seccomp filter.
  check(ChildStep::NoNewPrivs, errno_of(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0));
  // 13. seccomp: with the ids set and the capabilities gone, the allowlist need not permit
  //     setresuid, capset or prctl. Sends the listener to the parent on the way. Loaded
  //     before the run comes, so a prepared child has it in place already; what is left
  //     (recvmsg on the go socket, dup3, execve) the filter always allows.
  if (plan.seccomp != nullptr)
    check(ChildStep::Seccomp, plan.seccomp->apply_in_child(true));
  // 14. The run: its stdio (and program memfd) onto 0, 1, 2 (and 5). From here on the
  //     parent's context holds the run's argv and environment.
  {
    int fds[kRunFds];
    const int count = c.program_memfd ? 4 : 3;
    check(ChildStep::WaitForRun, receive_run(kGoFd, fds, count));
    check(ChildStep::Stdio, install_run_fds(fds, count));
  }
  // 15. exec. The report socket closes on success; the parent reads EOF.
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

// The child's stack. The child needs a few KiB (no recursion, no allocation); the canary at
// the far end catches any growth towards it.
constexpr std::size_t kChildStackBytes = 64 * 1024;
constexpr std::size_t kStackCanaryBytes = 256;
constexpr unsigned char kStackCanary = 0xa5;

struct ChildStack {
  alignas(64) unsigned char bytes[kChildStackBytes];

#ifdef __SANITIZE_ADDRESS__
  // The child's frames poisoned their redzones in the shadow memory it shares with us;
  // whatever reuses this memory next must not inherit them.
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

int child_entry(void *context) {
  child_main(*static_cast<const ChildContext *>(context));
  return 127;
}

// CLONE_VM: the child shares the parent's memory until its exec, as posix_spawn's does. A
// copy of the address space (fork) costs page-table copies and copy-on-write faults on both
// sides, a millisecond and more per run on a VM where a page fault costs ~12 us. Sharing is
// safe because the child writes nothing the parent reads: everything it needs is laid out
// in its ChildContext (by the parent, before the go byte or run message that lets it read
// each part), it allocates nothing, and every signal is blocked until it has reset the
// dispositions (no parent handler runs on shared memory). errno is shared too; the child
// reads it only right after its own failed call.
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

// What a prepared child reads and the parent's ends of its sockets. Heap-allocated, and
// freed only once the child has exec'd (a new address space) or been reaped: the child
// runs on `stack` and reads `context`.
struct PreparedLaunch::State {
  std::shared_ptr<const LaunchPlan> plan;
  LaunchSetup setup;
  ChildContext context{};
  cpu_set_t launcher_cpus, elsewhere;
  bool moved = false;           // the child runs on `elsewhere` until it has its run
  UniqueFd report, go, seccomp; // the parent's ends
  pid_t pid = -1;
  UniqueFd pidfd;
  std::string failure; // the start failed already (the child has been reaped)
  ChildStack stack;

  ~State() {
    if (pidfd)
      kill_and_reap(pidfd.get());
  }
};

PreparedLaunch::PreparedLaunch(std::unique_ptr<State> state) : state_(std::move(state)) {}
PreparedLaunch::PreparedLaunch(PreparedLaunch &&) noexcept = default;
PreparedLaunch &PreparedLaunch::operator=(PreparedLaunch &&) noexcept = default;
PreparedLaunch::~PreparedLaunch() = default;
pid_t PreparedLaunch::pid() const { return state_ ? state_->pid : -1; }

// After a failed start: the child shares the launcher's memory, so it must be gone (not just
// signalled) before what it reads is freed.
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
  case ChildStep::WaitForRun: return "wait-for-run";
  case ChildStep::Signals: return "signals";
  case ChildStep::Stdio: return "stdio";
  case ChildStep::Session: return "session";
  case ChildStep::FileDescriptors: return "file-descriptors";
  case ChildStep::Mounts: return "mounts";
  case ChildStep::TmpHandover: return "tmp-handover";
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

// THE CHECKLIST, parent side, part one: what happens before the clone, the clone, and what
// the parent does for the child afterwards. The child's half is child_main above.
PreparedLaunch prepare_launch(std::shared_ptr<const LaunchPlan> plan_ptr, LaunchSetup setup) {
  auto state = std::make_unique<PreparedLaunch::State>();
  PreparedLaunch::State &s = *state;
  s.plan = std::move(plan_ptr);
  s.setup = std::move(setup);
  const LaunchPlan &plan = *s.plan;
  auto failed = [&](const std::string &what, int err) {
    if (s.pidfd) {
      kill_and_reap(s.pidfd.get());
      s.pidfd.reset();
    }
    s.failure = what + ": " + std::strerror(err);
    return PreparedLaunch(std::move(state));
  };
  // 1. Three socket pairs, each end close-on-exec:
  //    - report: a failed step's record, or EOF once the exec happened. A socket, not a pipe:
  //      a pipe's close wakes the reader with the hint that the waker is about to sleep, and
  //      the scheduler then queues the launcher behind the program that just started;
  //    - go: the parent's two go bytes, then the run (sending to a child that has already
  //      failed must not raise SIGPIPE, which MSG_NOSIGNAL avoids on a socket only);
  //    - seccomp: the filter's listener, sent by the child on its way to the exec.
  UniqueFd report_child, go_child, seccomp_child;
  if (!make_socket_pair(s.report, report_child) || !make_socket_pair(s.go, go_child) ||
      (plan.seccomp != nullptr && !make_socket_pair(s.seccomp, seccomp_child)))
    return failed("prepare: socketpair", errno);
  // 2. Everything the child reads before its run is laid out now: it must not allocate.
  //    It does its part on a CPU other than the launcher's while the launcher writes its id
  //    maps and joins its cgroups, and wakes the launcher with its exec there: this VM
  //    shares no cache between CPUs, so the scheduler would otherwise queue each behind the
  //    other on one CPU. A placement hint only: start_launch gives it all the launcher's
  //    CPUs back once it has its run (the launcher may: it owns the child's user namespace;
  //    without one it would need CAP_SYS_NICE, so the child is not moved), and with a single
  //    CPU nothing moves.
  s.moved = plan.namespaces.user && other_cpus(s.launcher_cpus, s.elsewhere);
  s.context.plan = &plan;
  s.context.identity = &s.setup.identity;
  s.context.error_fd = report_child.get();
  s.context.go_fd = go_child.get();
  s.context.go_write_fd = s.go.get();
  s.context.seccomp_fd = seccomp_child.get();
  s.context.signals_not_default = ~std::uint64_t(0);
  // 3. The namespaces come with the clone itself (one syscall, and the pid namespace needs
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
  const pid_t pid = clone_child(flags, s.context, s.stack, &pidfd);
  const int clone_errno = errno;
  if (join_network && plan.network->leave() != 0) {
    // The launcher itself would stay in the empty namespace: nothing sensible goes on.
    std::perror("nospace-sandbox: setns back to the launcher's network namespace");
    std::abort();
  }
  if (pid < 0)
    return failed("clone", clone_errno);
  s.pid = pid;
  s.pidfd.reset(pidfd);
  report_child.reset();
  go_child.reset();
  seccomp_child.reset();
  // 4. Off the launcher's CPU (see 2; failing that, it stays where it is), then, while the
  //    child arranges its fds: the id maps (only a process outside the new user namespace
  //    may write them).
  if (s.moved)
    ::sched_setaffinity(pid, sizeof s.elsewhere, &s.elsewhere);
  if (ns.user) {
    const char *what = "";
    if (int err = write_id_maps_from_parent(pid, s.setup.identity, &what))
      return failed(std::string("id-maps: ") + what, err);
  }
  // 5. Let the child go, then join the cgroups while it builds its root (a v1 cgroup move
  //    costs ~0.1 ms per hierarchy here) and find the signals it must reset (reading /proc
  //    costs ~60 us); the second byte lets it read them and go on to wait for its run. A
  //    child that failed a step has ended: its report says which (start_launch reads it).
  auto send_go = [&] {
    const char byte = 1;
    return ::send(s.go.get(), &byte, 1, MSG_NOSIGNAL) == 1;
  };
  const bool child_went_on = send_go();
  if (child_went_on && s.setup.from_parent) {
    const std::string problem = s.setup.from_parent(pid);
    s.setup.from_parent = nullptr; // what it captured need not outlive this call
    if (!problem.empty()) {
      kill_and_reap(s.pidfd.get());
      s.pidfd.reset();
      s.failure = problem;
      return PreparedLaunch(std::move(state));
    }
  }
  s.context.signals_not_default = signals_not_default();
  if (child_went_on)
    send_go();
  return PreparedLaunch(std::move(state));
}

// THE CHECKLIST, parent side, part two: the run goes to the prepared child, which takes its
// last steps (child_main, 14-15) and execs.
Launched start_launch(PreparedLaunch &&prepared, const RunInput &input) {
  // Owned here from now on: when this returns the child has exec'd or is reaped.
  const std::unique_ptr<PreparedLaunch::State> state = std::move(prepared.state_);
  PreparedLaunch::State &s = *state;
  const LaunchPlan &plan = *s.plan;
  Launched out;
  out.pid = s.pid;
  auto finish = [&](std::string failure) {
    out.failure = std::move(failure);
    if (!out.failure.empty() && s.pidfd)
      kill_and_reap(s.pidfd.get());
    out.pidfd = std::move(s.pidfd);
    if (!s.stack.intact()) {
      std::fputs("nospace-sandbox: the launch child outgrew its stack\n", stderr);
      std::abort();
    }
    return std::move(out);
  };
  if (!s.failure.empty())
    return finish(s.failure);
  if (input.argv.empty())
    return finish("prepare: empty argv");
  // 1. The run's strings, where the child reads them once the run message is in (they live
  //    until this returns, after the exec).
  const std::vector<char *> argv = c_strings(input.argv), envp = c_strings(input.env);
  s.context.argv = argv.data();
  s.context.envp = envp.data();
  s.context.program_memfd = !plan.namespaces.mount;
  // 2. With a mount namespace, the program file goes into the run's /tmp, which the child
  //    sent once its root was built. A failure record or EOF instead: it failed or died.
  if (plan.namespaces.mount) {
    ChildFailure record{};
    UniqueFd tmp;
    if (!receive_record(s.report.get(), record, tmp))
      return finish("go: the child ended before its exec, unreported");
    if (record.step != kTmpRecord)
      return finish(describe_failure(plan, record));
    if (int err = write_program_file(tmp.get(), input.program, s.setup.identity))
      return finish(std::string("program-file: ") + std::strerror(err));
  }
  // 3. The seccomp listener, sent by the child when it loaded the filter (before it waits
  //    for its run). Taken now: a syscall the filter refused on the child's way to the exec
  //    must end the launch (step 6), not leave both waiting.
  if (plan.seccomp != nullptr) {
    out.seccomp_listener = SeccompFilter::receive_listener(s.seccomp.get(), true);
    if (!out.seccomp_listener) {
      ChildFailure record{};
      UniqueFd none;
      if (receive_record(s.report.get(), record, none) && record.step != kTmpRecord)
        return finish(describe_failure(plan, record));
      return finish(std::string("seccomp: the listener did not arrive: ") + std::strerror(errno));
    }
  }
  // 4. Its fds: stdio (/dev/null where the caller gave none) and, without a mount namespace
  //    (so no private /tmp), the program in a sealed memfd.
  UniqueFd null_fd, program_memfd;
  auto or_null = [&](int fd) {
    if (fd >= 0)
      return fd;
    if (!null_fd)
      null_fd.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    return null_fd.get();
  };
  std::vector<int> fds = {or_null(input.stdin_fd), or_null(input.stdout_fd),
                          or_null(input.stderr_fd)};
  if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0)
    return finish(std::string("prepare: /dev/null: ") + std::strerror(errno));
  if (s.context.program_memfd) {
    program_memfd = launch::make_program_memfd(input.program);
    if (!program_memfd)
      return finish(std::string("prepare: program memfd: ") + std::strerror(errno));
    fds.push_back(program_memfd.get());
  }
  // 5. The run message. A child that has already failed a step has closed its end: the
  //    send fails with EPIPE, and its report says why. Any other failure leaves the child
  //    waiting: it is killed. Then every CPU of the launcher for it again (see
  //    prepare_launch, step 2): it runs already, where it was woken.
  const int send_error = send_run(s.go.get(), fds);
  if (send_error != 0 && send_error != EPIPE)
    return finish(std::string("run: sending its fds to the child: ") + std::strerror(send_error));
  if (s.moved)
    ::sched_setaffinity(s.pid, sizeof s.launcher_cpus, &s.launcher_cpus);
  // 6. EOF: the exec happened. A record: the step that failed. A readable listener first: the
  //    child was refused a syscall before its exec and waits for an answer.
  pollfd waits[2] = {{s.report.get(), POLLIN, 0}, {out.seccomp_listener.get(), POLLIN, 0}};
  while (::poll(waits, out.seccomp_listener ? 2 : 1, -1) < 0 && errno == EINTR) {
  }
  if (waits[0].revents == 0 && (waits[1].revents & POLLIN))
    return finish("seccomp: the filter refused a syscall of the launch itself, before the exec");
  ChildFailure f{};
  ssize_t n;
  do
    n = ::read(s.report.get(), &f, sizeof f);
  while (n < 0 && errno == EINTR);
  if (n == ssize_t(sizeof f))
    return finish(describe_failure(plan, f));
  if (send_error != 0)
    return finish("go: the child ended before its exec, unreported");
  return finish("");
}

} // namespace nospace::sandbox
