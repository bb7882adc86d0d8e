#pragma once
// The seccomp filter of a run: compiled from the policy once, in the parent; installed as the
// very last step in the child, after the ids are set, every capability is dropped and
// no_new_privs is on (so the allowlist never needs setresuid, capset or prctl); its refusals
// reported to the supervisor, which kills the run and names the syscall in the RunResult.
//
// How a refusal is reported. The filter's default action is SECCOMP_RET_USER_NOTIF, not
// SECCOMP_RET_KILL_PROCESS: a plain kill leaves the parent with "killed by SIGSYS" and no way
// to learn which syscall it was, and SECCOMP_RET_TRAP tells only the program itself (which
// could install a SIGSYS handler and carry on). With USER_NOTIF the refused syscall does not
// run: the calling thread blocks in the kernel and the supervisor, holding the filter's
// listener, reads the syscall number from the notification, kills the whole run and reports
// it. The listener is created in the child when the filter is loaded (close-on-exec, so the
// program never holds it); the child sends it to the parent over a socketpair (SCM_RIGHTS)
// and execs at once: the message keeps the listener alive until the parent takes it, so
// there is no round trip (two wake-ups, ~0.2 ms per start here). For that one sendmsg, the
// reporting filter allows sendmsg on fd kListenerHandoverFd and no other: that fd is closed
// at exec, and whatever the program later gets as fd 4 (a pipe, a file) sendmsg can do no
// more than write.
//
// The filter is loaded when the child is prepared, before its run arrives (launch.hpp): the
// run's stdio then comes as SCM_RIGHTS over fd kRunHandoverFd, so the reporting filter also
// allows recvmsg on that fd and no other (closed at exec like the other), and the policy
// cannot deny dup3, which puts the stdio in place, nor execve, write and exit_group. If the
// notified thread is interrupted
// by a signal before the supervisor reads the notification, the syscall fails with EINTR and
// still never runs; the supervisor kills the run on any readable listener regardless.
// Foreign architectures (the i386 `int 0x80` path included) and x32 syscall numbers are
// killed outright (SECCOMP_RET_KILL_PROCESS): the run dies by SIGSYS, nothing to look up.

#include "common/fd.hpp"
#include "common/sandbox_policy.hpp"

#include <linux/filter.h>

#include <optional>
#include <string>
#include <vector>

namespace nospace::sandbox {

// The child's end of the socketpair over which the listener goes to the parent.
constexpr int kListenerHandoverFd = 4;
// The child's end of the socketpair over which its run arrives (launch.cpp's go socket).
constexpr int kRunHandoverFd = 6;

class SeccompFilter {
public:
  // Builds the table (syscall_table.hpp) adjusted by sandbox.seccomp.allow_extra and deny, and
  // exports it as BPF. Throws PolicyError "SOURCE: sandbox.seccomp.KEY: ..." for a syscall
  // name this architecture does not have. `source` is the policy file, for the message.
  static SeccompFilter compile(const SeccompPolicy &policy, const std::string &source = "policy");

  // sandbox.seccomp.enabled: when false, apply_in_child() does nothing and there is no
  // listener to take.
  bool enabled() const noexcept { return enabled_; }

  // In the child, before it waits for its run. Async-signal-safe: no allocation, only
  // syscalls.
  // hand_over: loads the reporting filter and sends its listener over kListenerHandoverFd
  // (one end of a socketpair, the parent holding the other; receive_listener takes it).
  // Otherwise: loads the variant whose default action is SECCOMP_RET_KILL_PROCESS (refused
  // syscalls kill the run, but cannot be named). Returns 0 or an errno; on error the child
  // must _exit.
  int apply_in_child(bool hand_over) const noexcept;

  // In the parent: the listener the child sent over the socketpair whose other end is
  // `parent_end`. With `wait`, blocks until it arrives or the child's end closes; without,
  // takes only what is already there (after the child's exec it is). Returns an invalid
  // UniqueFd with errno set when there is none.
  static UniqueFd receive_listener(int parent_end, bool wait);

  // The BPF programs, for tests and `nospace-sandbox check`.
  const std::vector<sock_filter> &reporting_program() const { return notify_program_; }
  const std::vector<sock_filter> &killing_program() const { return kill_program_; }

private:
  bool enabled_ = false;
  std::vector<sock_filter> notify_program_;
  std::vector<sock_filter> kill_program_;
};

// The name of a native syscall number ("syscall-NNN" when libseccomp does not know it).
std::string syscall_name(int nr);

// Call when the listener is readable. Returns the name of the refused syscall of the pending
// notification; "unknown" when the notification vanished before it could be read (the thread
// was interrupted or killed: it still tried a refused syscall); nullopt when nothing is
// pending (the listener is readable only because every task of the filter has exited). Never
// blocks. The caller kills the run; the notification is never answered, so the syscall never
// runs.
std::optional<std::string> read_refusal(int listener_fd);

} // namespace nospace::sandbox
