// A hostile program for the escape battery (tests/escape): one static binary, one way out per
// subcommand. Static so it needs nothing from the host inside the sandbox's minimal root.
//
//   hostile CASE [ARGS...]
//
// Each case prints what it tries ("try: ...") and then what happened, one line each:
//   "escaped: DETAIL"   the attempt worked (what a sandbox must prevent)
//   "blocked: ERRNO"    the kernel refused it with an error
// A case that the sandbox's seccomp filter stops prints only its "try:" line: the run is killed
// and its result names the syscall. tests/escape/escape_test.cpp documents, per case, what the
// sandbox must do and how the same case is shown to work without it.
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Read by `vmread` from another process running this same non-PIE binary (same address).
const char hostile_secret[] = "hostile-secret-0123456789";

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

// The outcome of one syscall: escaped when it returned >= 0, blocked with the errno otherwise.
static int outcome(long rc, const char *what) {
  if (rc >= 0)
    say("escaped: %s", what);
  else
    say("blocked: %s", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
  return 0;
}

static uint64_t fnv1a(const unsigned char *data, size_t len) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; ++i)
    h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

// forkbomb MAX: children park in pause(); stops at the first failed fork or at MAX (a cap so a
// broken sandbox cannot hurt the host), kills its children, prints how many it made.
static int forkbomb(int max) {
  pid_t *kids = calloc((size_t)max, sizeof(pid_t));
  int made = 0, err = 0;
  say("try: fork until it fails (at most %d)", max);
  for (; made < max; ++made) {
    pid_t pid = fork();
    if (pid < 0) {
      err = errno;
      break;
    }
    if (pid == 0) {
      pause();
      _exit(0);
    }
    kids[made] = pid;
  }
  say("made: %d", made);
  for (int i = 0; i < made; ++i)
    kill(kids[i], SIGKILL);
  for (int i = 0; i < made; ++i)
    waitpid(kids[i], NULL, 0);
  if (err)
    say("blocked: %s", strerrorname_np(err));
  else
    say("escaped: made all %d", max);
  return 0;
}

// membomb MB: touches MB MiB, one MiB at a time.
static int membomb(long mb) {
  say("try: allocate and touch %ld MiB", mb);
  for (long i = 0; i < mb; ++i) {
    char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      say("blocked: %s after %ld MiB", strerrorname_np(errno), i);
      return 0;
    }
    for (int j = 0; j < (1 << 20); j += 4096)
      p[j] = 1;
  }
  say("escaped: touched %ld MiB", mb);
  return 0;
}

// filltmp DIR MB: writes DIR/nospace-hostile-fill up to MB MiB or the first error.
static int filltmp(const char *dir, long mb) {
  char path[4096];
  snprintf(path, sizeof path, "%s/nospace-hostile-fill", dir);
  signal(SIGXFSZ, SIG_IGN); // RLIMIT_FSIZE then gives EFBIG instead of a signal
  say("try: fill %s with %ld MiB", path, mb);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0)
    return outcome(-1, "");
  static char block[1 << 20];
  memset(block, 'x', sizeof block);
  long long total = 0;
  for (long i = 0; i < mb; ++i) {
    ssize_t n = write(fd, block, sizeof block);
    if (n < 0) {
      say("wrote: %lld", total);
      return outcome(-1, "");
    }
    total += n;
    if (n < (ssize_t)sizeof block) {
      say("wrote: %lld", total);
      say("blocked: short write");
      return 0;
    }
  }
  say("wrote: %lld", total);
  say("escaped: wrote all %ld MiB", mb);
  return 0;
}

// bigwrite MB: one write() of MB MiB to stdout.
static int bigwrite(long mb) {
  size_t size = (size_t)mb << 20;
  char *p = malloc(size);
  if (!p)
    return 3;
  memset(p, 'y', size);
  fprintf(stderr, "try: one write of %ld MiB\n", mb);
  ssize_t n = write(1, p, size);
  fprintf(stderr, "wrote: %zd\n", n);
  return 0;
}

// connect PORT: a TCP connection to the host's 127.0.0.1:PORT.
static int connect_port(int port) {
  say("try: connect to 127.0.0.1:%d", port);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return outcome(-1, "");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return outcome(connect(fd, (struct sockaddr *)&addr, sizeof addr), "connected");
}

// readfile PATH...: reads each file; prints its size and FNV-1a hash when it could.
static int readfiles(int n, char **paths) {
  static unsigned char buf[1 << 20];
  for (int i = 0; i < n; ++i) {
    say("try: read %s", paths[i]);
    int fd = open(paths[i], O_RDONLY);
    ssize_t len = fd < 0 ? -1 : read(fd, buf, sizeof buf);
    if (len < 0) {
      outcome(-1, "");
      continue;
    }
    char what[4200];
    snprintf(what, sizeof what, "read %s %zd bytes hash %016llx", paths[i], len,
             (unsigned long long)fnv1a(buf, (size_t)len));
    outcome(0, what);
    close(fd);
  }
  return 0;
}

// writefile PATH...: creates (or opens for writing) each path.
static int writefiles(int n, char **paths) {
  for (int i = 0; i < n; ++i) {
    say("try: write %s", paths[i]);
    int fd = open(paths[i], O_WRONLY | O_CREAT, 0600);
    if (fd >= 0 && write(fd, "pwned\n", 6) != 6)
      fd = -1;
    char what[4200];
    snprintf(what, sizeof what, "wrote %s", paths[i]);
    outcome(fd, what);
  }
  return 0;
}

static int ptrace_pid(pid_t pid) {
  say("try: ptrace attach to %d", pid);
  long rc = ptrace(PTRACE_ATTACH, pid, 0, 0);
  outcome(rc, "attached");
  if (rc == 0) {
    waitpid(pid, NULL, 0);
    ptrace(PTRACE_DETACH, pid, 0, 0);
  }
  return 0;
}

static int vmread(pid_t pid) {
  char copy[sizeof hostile_secret] = {0};
  struct iovec local = {copy, sizeof copy};
  struct iovec remote = {(void *)hostile_secret, sizeof copy};
  say("try: process_vm_readv from %d", pid);
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  return outcome(n == (ssize_t)sizeof copy && strcmp(copy, hostile_secret) == 0 ? 0 : -1,
                 "read another process's memory");
}

// killall: a sentinel child of its own, then kill(-1, SIGKILL); says whether the sentinel died.
static int killall(void) {
  pid_t sentinel = fork();
  if (sentinel == 0) {
    pause();
    _exit(0);
  }
  say("try: kill(-1, SIGKILL)");
  long rc = kill(-1, SIGKILL);
  int status = 0;
  waitpid(sentinel, &status, 0);
  say("own sentinel: %s", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? "killed" : "alive");
  return outcome(rc, "kill(-1) delivered");
}

static int mount_case(const char *dir) {
  say("try: mount tmpfs on %s", dir);
  long rc = mount("none", dir, "tmpfs", 0, NULL);
  outcome(rc, "mounted");
  if (rc == 0)
    umount2(dir, MNT_DETACH);
  return 0;
}

static int umount_case(const char *dir) {
  say("try: umount2 %s", dir);
  return outcome(umount2(dir, MNT_DETACH), "unmounted");
}

static int pivot_case(void) {
  say("try: pivot_root(\".\", \".\")");
  return outcome(syscall(SYS_pivot_root, ".", "."), "pivoted");
}

static int unshare_case(void) {
  say("try: unshare(CLONE_NEWUSER | CLONE_NEWNS)");
  return outcome(unshare(CLONE_NEWUSER | CLONE_NEWNS), "new namespaces");
}

static int setns_case(const char *path) {
  int fd = open(path, O_RDONLY);
  say("try: setns(%s)", path);
  return outcome(setns(fd, 0), "joined");
}

static int setuid_case(void) {
  say("try: setuid(0)");
  return outcome(setuid(0), "uid 0");
}

static int keyctl_case(void) {
  say("try: keyctl(KEYCTL_GET_KEYRING_ID, session)");
  return outcome(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 1),
                 "keyring");
}

static int bpf_case(void) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  say("try: bpf(BPF_MAP_CREATE)");
  return outcome(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr), "bpf map");
}

static int perf_case(void) {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.exclude_kernel = 1;
  say("try: perf_event_open(task clock, self)");
  return outcome(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0), "perf event");
}

static int userfaultfd_case(void) {
  say("try: userfaultfd");
  return outcome(syscall(SYS_userfaultfd, O_CLOEXEC), "userfaultfd");
}

static int io_uring_case(void) {
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  say("try: io_uring_setup(1)");
  return outcome(syscall(SYS_io_uring_setup, 1, &params), "io_uring");
}

// tiocsti [pty]: pushes a character into the input of fd 0, or of a pty of its own.
static int tiocsti_case(int own_pty) {
  int fd = 0;
  if (own_pty) {
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0)
      return outcome(-1, "");
    fd = open(ptsname(master), O_RDWR | O_NOCTTY);
  }
  char c = 'x';
  say("try: ioctl(TIOCSTI)");
  return outcome(ioctl(fd, TIOCSTI, &c), "pushed terminal input");
}

// clock_settime CLOCK: sets CLOCK (realtime in the sandbox; monotonic, which always fails
// with EINVAL, to show the call reaches the kernel without one) to what it reads now.
static int clock_case(const char *which) {
  clockid_t id = strcmp(which, "monotonic") == 0 ? CLOCK_MONOTONIC : CLOCK_REALTIME;
  struct timespec now;
  clock_gettime(id, &now);
  say("try: clock_settime(%s)", which);
  return outcome(clock_settime(id, &now), "clock set");
}

// reboot: with wrong magic numbers, so even a kernel that lets it through only says EINVAL.
static int reboot_case(void) {
  say("try: reboot (bad magic)");
  return outcome(syscall(SYS_reboot, 0, 0, 0, NULL), "reboot accepted");
}

// mknod PATH [fifo]: a character device (1:1, /dev/mem) or a harmless fifo.
static int mknod_case(const char *path, int fifo) {
  say("try: mknod %s", path);
  mode_t mode = fifo ? S_IFIFO | 0600 : S_IFCHR | 0600;
  long rc = mknod(path, mode, fifo ? 0 : makedev(1, 1));
  outcome(rc, "node created");
  if (rc == 0)
    unlink(path);
  return 0;
}

static int rawsock_case(void) {
  say("try: socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)");
  return outcome(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), "raw socket");
}

// daemon TOKEN MS: setsid and a double fork; the grandchild (argv carrying TOKEN, so the test
// can find it) sleeps MS milliseconds, trying to outlive the run.
static int daemon_case(char *self, const char *token, const char *ms) {
  say("try: setsid + double fork");
  pid_t child = fork();
  if (child == 0) {
    setsid();
    if (fork() == 0) {
      char *argv[] = {self, "sleep", (char *)ms, (char *)token, NULL};
      execv(self, argv);
      _exit(1);
    }
    _exit(0);
  }
  waitpid(child, NULL, 0);
  say("daemon started");
  return 0;
}

static int sleep_ms(long ms) {
  say("try: sleep %ld ms", ms);
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
  say("escaped: slept");
  return 0;
}

static int spin_ms(long ms) {
  say("try: spin %ld ms of CPU", ms);
  struct timespec start, now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
  volatile unsigned long x = 0;
  do {
    for (int i = 0; i < 1000000; ++i)
      x += (unsigned long)i;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
  say("escaped: spun");
  return 0;
}

// handle PATH: the "shocker" escape: a file handle for PATH, then open_by_handle_at, which
// opens by inode and so ignores the mount namespace (a forged handle reaches any file of
// that file system).
static int handle_case(const char *path) {
  struct {
    struct file_handle h;
    unsigned char bytes[MAX_HANDLE_SZ];
  } handle;
  handle.h.handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  say("try: name_to_handle_at + open_by_handle_at %s", path);
  if (name_to_handle_at(AT_FDCWD, path, &handle.h, &mount_id, 0) != 0)
    return outcome(-1, "");
  int root = open("/", O_RDONLY | O_DIRECTORY);
  return outcome(open_by_handle_at(root, &handle.h, O_RDONLY), "opened by handle");
}

// x32: getpid through the x32 syscall numbers (nr | 0x40000000), an ABI a filter written for
// x86_64 numbers might not expect.
static int x32_case(void) {
  say("try: x32 getpid");
  return outcome(syscall(0x40000000 | SYS_getpid), "x32 syscall");
}

// int80: getpid (20) through the i386 entry, int 0x80.
static int int80_case(void) {
  say("try: int 0x80 getpid");
  long rc;
  __asm__ volatile("int $0x80" : "=a"(rc) : "a"(20) : "memory");
  return outcome(rc, "i386 syscall");
}

// pause: a harmless target for ptrace, vmread and kill tests.
static int pause_case(void) {
  say("ready %d", getpid());
  while (pause() == -1) {
  }
  return 0;
}

// Started the way nospace-gateway starts an interpreter (`hostile --std L [...] FILE`), the
// case and its arguments are the words of FILE's first line: the battery through the gateway
// (tests/e2e/nospace_escape.test.mjs), where the client only controls the program text.
static int words_from_program(int *argc, char ***argv) {
  static char line[1024];
  static char *words[32];
  FILE *f = fopen((*argv)[*argc - 1], "r");
  if (!f || !fgets(line, sizeof line, f)) {
    say("cannot read the program %s", (*argv)[*argc - 1]);
    return -1;
  }
  fclose(f);
  int n = 0;
  words[n++] = (*argv)[0];
  char *save = NULL;
  for (char *w = strtok_r(line, " \n", &save); w && n < 31; w = strtok_r(NULL, " \n", &save))
    words[n++] = w;
  words[n] = NULL;
  *argc = n;
  *argv = words;
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 2 && !strcmp(argv[1], "--std") && words_from_program(&argc, &argv) != 0)
    return 2;
  const char *c = argc > 1 ? argv[1] : "";
  const char *a = argc > 2 ? argv[2] : "";
  const char *b = argc > 3 ? argv[3] : "";
  if (!strcmp(c, "forkbomb"))
    return forkbomb(atoi(a));
  if (!strcmp(c, "membomb"))
    return membomb(atol(a));
  if (!strcmp(c, "filltmp"))
    return filltmp(a, atol(b));
  if (!strcmp(c, "bigwrite"))
    return bigwrite(atol(a));
  if (!strcmp(c, "connect"))
    return connect_port(atoi(a));
  if (!strcmp(c, "readfile"))
    return readfiles(argc - 2, argv + 2);
  if (!strcmp(c, "writefile"))
    return writefiles(argc - 2, argv + 2);
  if (!strcmp(c, "ptrace"))
    return ptrace_pid(atoi(a));
  if (!strcmp(c, "vmread"))
    return vmread(atoi(a));
  if (!strcmp(c, "killall"))
    return killall();
  if (!strcmp(c, "mount"))
    return mount_case(a);
  if (!strcmp(c, "umount"))
    return umount_case(a);
  if (!strcmp(c, "pivot_root"))
    return pivot_case();
  if (!strcmp(c, "unshare"))
    return unshare_case();
  if (!strcmp(c, "setns"))
    return setns_case(a);
  if (!strcmp(c, "setuid"))
    return setuid_case();
  if (!strcmp(c, "keyctl"))
    return keyctl_case();
  if (!strcmp(c, "bpf"))
    return bpf_case();
  if (!strcmp(c, "perf_event_open"))
    return perf_case();
  if (!strcmp(c, "userfaultfd"))
    return userfaultfd_case();
  if (!strcmp(c, "io_uring_setup"))
    return io_uring_case();
  if (!strcmp(c, "tiocsti"))
    return tiocsti_case(!strcmp(a, "pty"));
  if (!strcmp(c, "clock_settime"))
    return clock_case(a);
  if (!strcmp(c, "reboot"))
    return reboot_case();
  if (!strcmp(c, "mknod"))
    return mknod_case(a, !strcmp(b, "fifo"));
  if (!strcmp(c, "rawsock"))
    return rawsock_case();
  if (!strcmp(c, "daemon"))
    return daemon_case(argv[0], a, b);
  if (!strcmp(c, "sleep"))
    return sleep_ms(atol(a));
  if (!strcmp(c, "spin"))
    return spin_ms(atol(a));
  if (!strcmp(c, "handle"))
    return handle_case(a);
  if (!strcmp(c, "x32"))
    return x32_case();
  if (!strcmp(c, "int80"))
    return int80_case();
  if (!strcmp(c, "pause"))
    return pause_case();
  fprintf(stderr, "hostile: unknown case '%s'\n", c);
  return 2;
}
