#include "sandbox/syscall_table.hpp"

#include <linux/sched.h>
#include <sys/ioctl.h>
#include <termios.h>

namespace nospace::sandbox {

namespace {

using enum SyscallRule;

// "nospace20" marks the syscalls measured on the real interpreter (DESIGN.md); "error path"
// the ones its panics and stack overflows add. The rest say who needs them.
constexpr SyscallEntry kTable[] = {
    // Process start: the kernel's execve, the dynamic loader and libc's start-up.
    {"execve", allow,
     "nospace20: the launcher's exec of the interpreter; a program's own "
     "execs reach only the read-only binaries bound into the sandbox"},
    {"arch_prctl", allow, "nospace20: libc sets up thread-local storage (ARCH_SET_FS)"},
    {"set_tid_address", allow, "nospace20: libc start-up (thread id for futex wake on exit)"},
    {"set_robust_list", allow, "nospace20: libc start-up (robust futex list of this thread)"},
    {"rseq", allow, "nospace20: glibc registers restartable sequences at start-up"},
    {"prlimit64", allow,
     "nospace20: the Rust runtime reads the stack limit; raising a hard "
     "limit needs CAP_SYS_RESOURCE, which no run has"},
    {"getrlimit", allow, "older libcs' spelling of reading a limit"},
    {"readlink", allow, "static glibc resolves /proc/self/exe at start-up"},
    {"readlinkat", allow, "the *at spelling of readlink"},
    {"access", allow, "nospace20: the loader checks /etc/ld.so.preload"},
    {"faccessat", allow, "the *at spelling of access"},
    {"faccessat2", allow, "glibc's current spelling of faccessat"},
    // Memory.
    {"brk", allow, "nospace20: heap"},
    {"mmap", allow,
     "nospace20: heap and loading libraries; bounded by RLIMIT_AS and the "
     "memory cgroup"},
    {"munmap", allow, "nospace20: heap"},
    {"mprotect", allow, "nospace20: the loader's RELRO and the stack guard page"},
    {"mremap", allow, "error path: growing a large allocation (RUST_BACKTRACE panic)"},
    {"madvise", allow, "allocators return memory with MADV_DONTNEED/MADV_FREE"},
    // Files: the sandbox's own read-only root and its /tmp are all a program can reach.
    {"openat", allow,
     "nospace20: the program file, libraries; the mount namespace decides what "
     "exists and the read-only root what is writable"},
    {"open", allow, "the legacy spelling of openat (older static binaries)"},
    {"close", allow, "nospace20: the fds it opened"},
    {"close_range", allow, "libc closes inherited fds before exec with it"},
    {"read", allow, "nospace20: program file and stdin"},
    {"readv", allow, "the vector form of read, used by some libcs' stdio"},
    {"pread64", allow, "nospace20: the loader reads ELF headers"},
    {"write", allow, "nospace20: stdout and stderr (the launcher enforces the output limit)"},
    {"writev", allow, "the vector form of write (musl's stdio writes with it)"},
    {"pwrite64", allow, "positioned write into a file the program opened in /tmp"},
    {"lseek", allow, "error path: reading debug info for a backtrace; stdio seeks"},
    {"newfstatat", allow, "nospace20: stat of the program file and libraries"},
    {"fstat", allow, "the fd form of stat (older libcs)"},
    {"stat", allow, "the legacy path form of stat"},
    {"lstat", allow, "the legacy path form of lstat"},
    {"statx", allow, "nospace20: Rust's std::fs metadata"},
    {"getdents64", allow, "listing a directory of the sandbox's own root or /tmp"},
    {"getcwd", allow, "error path: backtraces print paths relative to it"},
    {"chdir", allow, "changes only this process's view of its own sandbox"},
    {"fchdir", allow, "the fd form of chdir"},
    {"ftruncate", allow, "a program's own scratch files in /tmp (size-limited tmpfs)"},
    {"fsync", allow, "a program's own scratch files in /tmp"},
    {"fdatasync", allow, "a program's own scratch files in /tmp"},
    {"unlink", allow, "removing a program's own scratch files in /tmp"},
    {"unlinkat", allow, "the *at spelling of unlink and rmdir"},
    {"mkdir", allow, "directories in /tmp (the rest of the root is read-only)"},
    {"mkdirat", allow, "the *at spelling of mkdir"},
    {"rmdir", allow, "removing a program's own directories in /tmp"},
    {"rename", allow, "renaming within /tmp (atomic writes)"},
    {"renameat", allow, "the *at spelling of rename"},
    {"umask", allow, "affects only files this process creates"},
    // File descriptors.
    {"dup", allow, "duplicates an fd the process already holds"},
    {"dup2", allow, "duplicates an fd the process already holds"},
    {"dup3", allow, "duplicates an fd the process already holds"},
    {"fcntl", allow, "flags of its own fds (O_NONBLOCK, FD_CLOEXEC); locks only on /tmp files"},
    {"pipe", allow, "a pipe between the program's own processes"},
    {"pipe2", allow, "a pipe between the program's own processes"},
    {"ioctl", allow_tty_queries,
     "libc's isatty (TCGETS) and terminal size queries; every request that changes a terminal "
     "(TIOCSTI pushes input into it) or a device is refused"},
    {"poll", allow, "nospace20: Rust's std checks fds 0-2 are open at start-up"},
    {"ppoll", allow, "the timed, signal-safe form of poll"},
    {"select", allow, "the older form of poll"},
    {"pselect6", allow, "the signal-safe form of select"},
    // Signals, threads, time.
    {"rt_sigaction", allow,
     "nospace20: the Rust runtime's SIGSEGV/SIGBUS stack-overflow "
     "handlers. A SIGSYS handler cannot rescue a refused syscall: "
     "refusals are reported to the launcher, not signalled"},
    {"rt_sigprocmask", allow, "error path: abort() blocks signals"},
    {"rt_sigreturn", allow, "returning from any signal handler"},
    {"rt_sigsuspend", allow, "waiting for a signal"},
    {"pause", allow, "waiting for a signal"},
    {"sigaltstack", allow, "nospace20: the stack-overflow handler runs on an alternate stack"},
    {"restart_syscall", allow, "the kernel restarts an interrupted sleep with it"},
    {"futex", allow, "error path: a panic takes locks; any threaded runtime"},
    {"gettid", allow, "error path: a panic names its thread"},
    {"getpid", allow, "error path: abort() signals itself"},
    {"tgkill", allow,
     "error path: abort() raises SIGABRT on itself; the pid namespace keeps "
     "signals inside the run"},
    {"sched_getaffinity", allow, "nospace20: Rust's std asks how many CPUs it may use"},
    {"sched_yield", allow, "spin locks; affects only this process"},
    {"getrandom", allow, "nospace20: hash map seeds"},
    {"clock_gettime", allow, "reading clocks (normally served by the vDSO)"},
    {"clock_getres", allow, "reading clocks"},
    {"gettimeofday", allow, "reading clocks"},
    {"time", allow, "reading clocks"},
    {"clock_nanosleep", allow, "sleeping; the wall-clock limit still ends the run"},
    {"nanosleep", allow, "sleeping; the wall-clock limit still ends the run"},
    {"getrusage", allow, "a process's own CPU time"},
    {"times", allow, "a process's own CPU time"},
    {"uname", allow,
     "libc and runtimes read the kernel version; the hostname is the "
     "sandbox's own (uts namespace)"},
    {"getuid", allow, "reading ids inside the user namespace"},
    {"geteuid", allow, "reading ids inside the user namespace"},
    {"getgid", allow, "reading ids inside the user namespace"},
    {"getegid", allow, "reading ids inside the user namespace"},
    {"getppid", allow, "reading ids inside the pid namespace"},
    {"exit", allow, "ending a thread"},
    {"exit_group", allow, "nospace20: ending the process"},
    // Child processes. Contained by the pid namespace (nothing outlives the run), pids.max and
    // RLIMIT_NPROC (no fork bomb), the run's own uid (no signalling anyone else).
    {"clone", allow_if_no_newns,
     "fork and threads (posix_spawn, a runtime's worker threads); CLONE_NEW* flags are refused so "
     "a program cannot make namespaces of its own"},
    {"clone3", fail_enosys,
     "glibc tries clone3 first and falls back to clone on ENOSYS; the "
     "flags of clone3 sit behind a pointer seccomp cannot inspect"},
    {"fork", allow, "the legacy form of clone without flags"},
    {"vfork", allow, "the legacy form of clone(CLONE_VM|CLONE_VFORK)"},
    {"wait4", allow, "reaping the program's own children"},
    {"waitid", allow, "reaping the program's own children"},
    {"kill", allow, "signals reach only processes of the run: its own pid namespace and uid"},
    {"setsid", allow, "a new session inside the run's pid namespace, which still holds it"},
    {"setpgid", allow, "process groups inside the run's pid namespace"},
    {"getpgid", allow, "process groups inside the run's pid namespace"},
    {"getpgrp", allow, "process groups inside the run's pid namespace"},
    {"getsid", allow, "sessions inside the run's pid namespace"},
};

constexpr ExcludedSyscall kExcluded[] = {
    {"socket", "no network: a run has only loopback in its namespace, and the interpreter never "
               "opens a socket; raw sockets and netlink are refused with it"},
    {"socketpair", "no sockets at all (pipes cover talking to its own children)"},
    {"connect", "no network"},
    {"bind", "no network"},
    {"ptrace", "inspecting or controlling another process"},
    {"process_vm_readv", "reading another process's memory"},
    {"process_vm_writev", "writing another process's memory"},
    {"mount", "the mount table is the launcher's to set up"},
    {"umount2", "could uncover what the launcher's mounts hide"},
    {"pivot_root", "the root is the launcher's to choose"},
    {"chroot", "the root is the launcher's to choose"},
    {"unshare", "new namespaces are the launcher's to create (user namespaces widen the kernel's "
                "attack surface)"},
    {"setns", "joining another namespace"},
    {"setuid", "ids are set by the launcher before the filter is loaded"},
    {"setgid", "ids are set by the launcher before the filter is loaded"},
    {"setresuid", "ids are set by the launcher before the filter is loaded"},
    {"setresgid", "ids are set by the launcher before the filter is loaded"},
    {"setgroups", "ids are set by the launcher before the filter is loaded"},
    {"capset", "capabilities are dropped by the launcher before the filter is loaded"},
    {"prctl", "no_new_privs and the dropped capabilities are set before the filter; nothing a "
              "program needs is left there"},
    {"seccomp", "stacking more filters is not needed by any interpreter"},
    {"keyctl", "kernel keyrings are shared across namespaces"},
    {"add_key", "kernel keyrings are shared across namespaces"},
    {"request_key", "kernel keyrings are shared across namespaces"},
    {"bpf", "loading BPF programs: a large kernel attack surface"},
    {"perf_event_open", "performance counters leak information and have had many kernel bugs"},
    {"userfaultfd", "makes kernel races easy to win; a favourite of exploits"},
    {"io_uring_setup", "io_uring bypasses seccomp for the operations it performs"},
    {"io_uring_enter", "io_uring bypasses seccomp for the operations it performs"},
    {"io_uring_register", "io_uring bypasses seccomp for the operations it performs"},
    {"clock_settime", "setting the host's clock"},
    {"clock_adjtime", "adjusting the host's clock"},
    {"settimeofday", "setting the host's clock"},
    {"adjtimex", "adjusting the host's clock"},
    {"reboot", "rebooting or halting the machine"},
    {"kexec_load", "replacing the running kernel"},
    {"init_module", "loading kernel modules"},
    {"finit_module", "loading kernel modules"},
    {"delete_module", "unloading kernel modules"},
    {"mknod", "creating device nodes"},
    {"mknodat", "creating device nodes"},
    {"chmod", "no program needs to change modes; refusing it blocks making files setuid"},
    {"fchmod", "as chmod"},
    {"chown", "files belong to the run's uid; nothing to give away"},
    {"swapon", "host memory configuration"},
    {"sethostname", "the uts namespace's name is the launcher's to set"},
    {"open_by_handle_at", "opens files by handle, bypassing the mount namespace (shocker)"},
    {"name_to_handle_at", "half of open_by_handle_at"},
    {"kcmp", "compares kernel objects of other processes"},
    {"personality", "READ_IMPLIES_EXEC and other legacy execution domains"},
    {"iopl", "raw I/O port access"},
    {"ioperm", "raw I/O port access"},
    {"memfd_create", "anonymous executable files: no interpreter needs them"},
    {"execveat", "executing an fd (a memfd) instead of a bound binary"},
    {"pidfd_open", "handles on processes; not needed"},
    {"pidfd_getfd", "stealing another process's fds"},
    {"fanotify_init", "watching file systems"},
    {"inotify_init1", "watching file systems; not needed"},
    {"acct", "process accounting of the host"},
    {"quotactl", "disk quotas of the host"},
    {"move_pages", "NUMA placement of other processes' memory"},
    {"migrate_pages", "NUMA placement of other processes' memory"},
    {"lookup_dcookie", "kernel profiling"},
    {"vmsplice", "page-cache tricks used by several exploits (Dirty Pipe); not needed"},
    {"splice", "as vmsplice"},
};

// The ioctl requests that only read state: isatty() and terminal sizes, bytes waiting on a
// pipe, and the fd flags fcntl() also offers.
constexpr unsigned long kIoctlRequests[] = {TCGETS,  TIOCGWINSZ, FIONREAD,
                                            FIONBIO, FIOCLEX,    FIONCLEX};

} // namespace

std::span<const SyscallEntry> default_syscall_table() { return kTable; }

std::span<const ExcludedSyscall> excluded_syscalls() { return kExcluded; }

// CLONE_NEWTIME is not among them: its bit is part of clone()'s exit-signal byte, and the
// kernel accepts it only from clone3 and unshare, both refused.
unsigned long clone_namespace_flags() {
  return CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
         CLONE_NEWPID | CLONE_NEWNET;
}

std::span<const unsigned long> allowed_ioctl_requests() { return kIoctlRequests; }

} // namespace nospace::sandbox
