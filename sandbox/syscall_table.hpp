#pragma once
// The seccomp allowlist as a table: every syscall a sandboxed program may make, each with the
// reason it is there, plus the syscalls knowingly left out and why. seccomp_filter.cpp turns
// the table (adjusted by sandbox.seccomp.allow_extra / deny) into a BPF program.
//
// The base is what the real nospace20 was measured to make (DESIGN.md: ordinary runs and the
// error paths: panics, RUST_BACKTRACE, stack overflow), plus what the dynamic loader, a static
// libc start-up and the project's own test interpreter need, plus a few harmless neighbours of
// those (readv next to read, ppoll next to poll). Everything else is refused, and refused means
// the run is killed and the syscall named in its result.

#include <span>

namespace nospace::sandbox {

enum class SyscallRule {
  allow,             // allowed with any arguments
  allow_if_no_newns, // clone: allowed unless a CLONE_NEW* flag is set in its flags (arg 0)
  allow_tty_queries, // ioctl: only requests that read terminal/fd state (no TIOCSTI, ...)
  fail_enosys,       // clone3: fails with ENOSYS (its flags sit behind a pointer seccomp
                     // cannot read); libc then falls back to clone, which is checked
};

struct SyscallEntry {
  const char *name; // as libseccomp names it (seccomp_syscall_resolve_name)
  SyscallRule rule;
  const char *reason;
};

struct ExcludedSyscall {
  const char *name;
  const char *reason;
};

// The default allowlist, in the order of the table in syscall_table.cpp.
std::span<const SyscallEntry> default_syscall_table();

// Syscalls deliberately not in the table, with why. Not exhaustive (everything not in the
// table is refused); these are the ones a reader might expect to see allowed or that an escape
// would reach for first. The escape battery (tests/escape) tries many of them.
std::span<const ExcludedSyscall> excluded_syscalls();

// The CLONE_NEW* flags clone() may not carry.
unsigned long clone_namespace_flags();

// The ioctl requests allow_tty_queries lets through.
std::span<const unsigned long> allowed_ioctl_requests();

} // namespace nospace::sandbox
