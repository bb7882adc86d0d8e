// The escape battery (issue 3): tests/hostile/hostile.c cases run as the interpreter under
// the shipped default policy via `nospace-sandbox run`. Every case
//   - documents and asserts what the sandbox does (the result's reason and detail, the exit,
//     the output),
//   - asserts the host is unchanged afterwards (mounts, hostname, clock, no process of the run
//     left, no file written),
//   - shows the case CAN fail: the same program escapes without the sandbox. Harmless cases run
//     plainly; the others run against a harmless target (their own mount or pid namespace,
//     a clock that cannot be set, a reboot with wrong magic) or under a policy where only the
//     layer that stops them is off.
// Needs root (the launcher's namespaces, cgroups and uid range); skips with the reason if not.
#include <catch2/catch.hpp>

#include "../unit/skip.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using nlohmann::json;

namespace {

const std::string kSandbox = NOSPACE_BUILD_ROOT "/sandbox/nospace-sandbox";
const std::string kHostile = NOSPACE_BUILD_ROOT "/tests/hostile/hostile";
const std::string kDefaultPolicy = NOSPACE_SOURCE_ROOT "/policies/default.yaml";

std::string slurp(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool exists(const std::string &path) { return access(path.c_str(), F_OK) == 0; }

// A scratch directory of the test on the host, removed at exit.
struct ScratchDir {
  std::string path;
  ScratchDir() {
    char tmpl[] = "/tmp/nospace-escape-XXXXXX";
    if (mkdtemp(tmpl))
      path = tmpl;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path.empty())
      std::filesystem::remove_all(path, ignored);
  }
};

const std::string &scratch() {
  static const ScratchDir dir;
  REQUIRE_FALSE(dir.path.empty());
  return dir.path;
}

// The default policy with one line changed: only that layer differs.
std::string policy_variant(const std::string &name, const std::string &from,
                           const std::string &to) {
  std::string text = slurp(kDefaultPolicy);
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
  std::string path = scratch() + "/" + name + ".yaml";
  std::ofstream(path) << text;
  return path;
}

const std::string &short_wall_policy() {
  static const std::string p = policy_variant("wall", "    wall_ms: 30000", "    wall_ms: 1000");
  return p;
}
const std::string &short_cpu_policy() {
  static const std::string p = policy_variant("cpu", "    cpu_ms: 10000", "    cpu_ms: 1000");
  return p;
}
const std::string &no_seccomp_policy() {
  static const std::string p = policy_variant("noseccomp", "  seccomp:\n    enabled: true",
                                              "  seccomp:\n    enabled: false");
  return p;
}
const std::string &no_cgroup_policy() {
  static const std::string p = policy_variant("nocgroup", "    mode: best-effort", "    mode: off");
  return p;
}

struct Outcome {
  int status = -1; // wait status of the process we started
  std::string out; // its stdout
  std::string err; // its stderr
  json result;     // nospace-sandbox's result (sandboxed runs only)
  bool timed_out = false;

  bool has_line(const std::string &line) const {
    return ("\n" + out).find("\n" + line + "\n") != std::string::npos;
  }
  bool has_prefix(const std::string &prefix) const {
    return ("\n" + out).find("\n" + prefix) != std::string::npos;
  }
};

// Runs argv with stdin from /dev/null and stdout/stderr into files; kills it after timeout.
Outcome run(const std::vector<std::string> &argv, int timeout_s = 60) {
  static int counter = 0;
  const std::string base = scratch() + "/run" + std::to_string(++counter);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (int sig : {SIGINT, SIGILL, SIGFPE, SIGSEGV, SIGTERM, SIGABRT, SIGBUS})
      signal(sig, SIG_DFL);
    setpgid(0, 0);
    int in = open("/dev/null", O_RDONLY);
    int out = open((base + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open((base + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char *> args;
    for (const auto &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  Outcome o;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (waitpid(pid, &o.status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      o.timed_out = true;
      kill(-pid, SIGKILL);
      waitpid(pid, &o.status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  o.out = slurp(base + ".out");
  o.err = slurp(base + ".err");
  unlink((base + ".out").c_str());
  unlink((base + ".err").c_str());
  return o;
}

Outcome sandboxed(const std::string &policy, std::vector<std::string> args, int timeout_s = 60) {
  const std::string result = scratch() + "/result.json";
  unlink(result.c_str());
  std::vector<std::string> argv = {kSandbox,   "run",  "--policy", policy,
                                   "--result", result, "--",       kHostile};
  argv.insert(argv.end(), args.begin(), args.end());
  Outcome o = run(argv, timeout_s);
  INFO("stdout: " << o.out.substr(0, 2000) << "\nstderr: " << o.err.substr(0, 2000));
  REQUIRE_FALSE(o.timed_out);
  std::string text = slurp(result);
  REQUIRE_FALSE(text.empty());
  o.result = json::parse(text);
  return o;
}

Outcome plainly(std::vector<std::string> prefix, std::vector<std::string> args) {
  prefix.push_back(kHostile);
  prefix.insert(prefix.end(), args.begin(), args.end());
  return run(prefix, 60);
}

// Processes running the hostile binary (other than `except`).
std::vector<pid_t> hostile_processes(const std::set<pid_t> &except = {}) {
  std::vector<pid_t> found;
  DIR *proc = opendir("/proc");
  while (dirent *e = readdir(proc)) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0 || except.count(pid))
      continue;
    char exe[4096];
    ssize_t n = readlink(("/proc/" + std::string(e->d_name) + "/exe").c_str(), exe, sizeof exe);
    if (n > 0 && std::string(exe, n) == kHostile)
      found.push_back(pid);
  }
  closedir(proc);
  return found;
}

bool cmdline_contains(const std::string &token) {
  DIR *proc = opendir("/proc");
  bool found = false;
  while (dirent *e = readdir(proc)) {
    if (atoi(e->d_name) <= 0)
      continue;
    std::string cmd = slurp("/proc/" + std::string(e->d_name) + "/cmdline");
    if (cmd.find(token) != std::string::npos)
      found = true;
  }
  closedir(proc);
  return found;
}

// What "the host is unchanged" compares.
struct HostState {
  std::set<std::string> mounts;
  std::string hostname;
  long long realtime_minus_boottime_ms = 0;
  std::set<std::string> scratch_files;

  static HostState now() {
    HostState s;
    std::istringstream lines(slurp("/proc/self/mountinfo"));
    for (std::string line; std::getline(lines, line);)
      if (line.find(" - nsfs ") == std::string::npos) // other launchers may pin namespaces
        s.mounts.insert(line);
    char name[256] = {0};
    gethostname(name, sizeof name - 1);
    s.hostname = name;
    timespec real, boot;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_BOOTTIME, &boot);
    s.realtime_minus_boottime_ms =
        (real.tv_sec - boot.tv_sec) * 1000LL + (real.tv_nsec - boot.tv_nsec) / 1000000;
    DIR *d = opendir(scratch().c_str());
    while (dirent *e = readdir(d)) {
      const std::string name = e->d_name;
      // The test's own files: run outputs, results, policy variants.
      if (name.rfind("run", 0) != 0 && name != "result.json" &&
          name.find(".yaml") == std::string::npos)
        s.scratch_files.insert(name);
    }
    closedir(d);
    return s;
  }
};

void require_host_unchanged(const HostState &before, const std::set<pid_t> &targets = {}) {
  HostState after = HostState::now();
  for (const auto &m : after.mounts)
    if (!before.mounts.count(m))
      FAIL_CHECK("a new mount on the host: " << m);
  CHECK(after.hostname == before.hostname);
  CHECK(std::llabs(after.realtime_minus_boottime_ms - before.realtime_minus_boottime_ms) < 2000);
  CHECK(after.scratch_files == before.scratch_files);
  CHECK(hostile_processes(targets).empty());
  CHECK_FALSE(exists("/tmp/nospace-hostile-fill"));
  CHECK_FALSE(exists("/pwned"));
  CHECK_FALSE(exists("/etc/pwned"));
}

// Root, the launcher and the hostile program are needed; "" when all are there.
std::string cannot_run_here() {
  if (geteuid() != 0)
    return "the escape battery needs root (namespaces, cgroups, uid range)";
  if (!exists(kSandbox) || !exists(kHostile))
    return "nospace-sandbox or tests/hostile/hostile is not built";
  return "";
}

#define REQUIRE_BATTERY_CAN_RUN()                                                                  \
  do {                                                                                             \
    if (auto why = cannot_run_here(); !why.empty())                                                \
      NOSPACE_SKIP(why);                                                                           \
  } while (0)

// A harmless host process for the cases that aim at "another process".
struct Target {
  pid_t pid = -1;
  Target() {
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int null = open("/dev/null", O_RDWR);
      dup2(null, 1);
      execl(kHostile.c_str(), kHostile.c_str(), "pause", nullptr);
      _exit(127);
    }
    // Until it has exec'd (its exe is the hostile binary).
    for (int i = 0; i < 500 && hostile_processes().empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ~Target() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  bool alive() const { return kill(pid, 0) == 0; }
  bool traced() const {
    std::string status = slurp("/proc/" + std::to_string(pid) + "/status");
    return status.find("TracerPid:\t0\n") == std::string::npos;
  }
};

std::string reason(const Outcome &o) { return o.result.value("reason", ""); }
std::string detail(const Outcome &o) { return o.result.value("detail", ""); }

// The shape of every syscall case: under the default policy the run is killed by seccomp and
// the result names `syscall`; the program got no further than its "try:" line.
void expect_refused(const Outcome &o, const std::string &syscall) {
  INFO("result: " << o.result.dump() << "\nstdout: " << o.out);
  CHECK(reason(o) == "seccomp");
  CHECK(detail(o) == syscall);
  CHECK(o.has_prefix("try: "));
  CHECK_FALSE(o.has_prefix("escaped: "));
  CHECK_FALSE(o.has_prefix("blocked: "));
}

} // namespace

// ---- resource exhaustion ---------------------------------------------------------------------

// Fork bomb. Expected: fork fails with EAGAIN before 64 processes (pids.max 64 in the cgroup,
// RLIMIT_NPROC 64 for the run's own uid); the program ends normally. Without the sandbox the
// same program makes all 200 children it is capped at.
TEST_CASE("escape: fork bomb is stopped by the process limits") {
  REQUIRE_BATTERY_CAN_RUN();
  auto before = HostState::now();
  auto o = sandboxed(kDefaultPolicy, {"forkbomb", "200"});
  INFO(o.out << o.result.dump());
  CHECK(reason(o) == "exited");
  CHECK(o.has_line("blocked: EAGAIN"));
  int made = -1;
  std::istringstream(o.out.substr(o.out.find("made: ") + 6)) >> made;
  CHECK(made >= 0);
  CHECK(made < 64);
  require_host_unchanged(before);

  auto free = plainly({}, {"forkbomb", "200"});
  CHECK(free.has_line("made: 200"));
  CHECK(free.has_line("escaped: made all 200"));
}

// Memory bomb. Expected: the run ends with reason memory (the cgroup's 256 MiB limit, swap
// off, OOM kill seen). With only the cgroup off, the same 512 MiB fit (RLIMIT_AS is 1 GiB):
// the cgroup is the layer that stops it.
TEST_CASE("escape: memory bomb ends with reason memory") {
  REQUIRE_BATTERY_CAN_RUN();
  auto before = HostState::now();
  auto o = sandboxed(kDefaultPolicy, {"membomb", "512"});
  INFO(o.out << o.result.dump());
  CHECK(reason(o) == "memory");
  CHECK_FALSE(o.has_prefix("escaped: "));
  CHECK(o.result.value("peak_memory_bytes", 0ull) >= (200ull << 20));
  require_host_unchanged(before);

  auto weak = sandboxed(no_cgroup_policy(), {"membomb", "512"});
  CHECK(weak.has_line("escaped: touched 512 MiB"));
}

// Filling /tmp. Expected: writing stops at the 16 MiB of the sandbox's tmpfs (ENOSPC) or
// RLIMIT_FSIZE (EFBIG), the run ends normally, and nothing lands in the host's /tmp. Without
// the sandbox, 32 MiB go into a scratch directory.
TEST_CASE("escape: filling /tmp stops at the sandbox's tmpfs size") {
  REQUIRE_BATTERY_CAN_RUN();
  auto before = HostState::now();
  auto o = sandboxed(kDefaultPolicy, {"filltmp", "/tmp", "64"});
  INFO(o.out << o.result.dump());
  CHECK(reason(o) == "exited");
  CHECK((o.has_line("blocked: ENOSPC") || o.has_line("blocked: EFBIG")));
  long long wrote = -1;
  std::istringstream(o.out.substr(o.out.find("wrote: ") + 7)) >> wrote;
  CHECK(wrote >= 0);
  CHECK(wrote <= (16ll << 20));
  require_host_unchanged(before);

  auto free = plainly({}, {"filltmp", scratch(), "32"});
  CHECK(free.has_line("escaped: wrote all 32 MiB"));
  unlink((scratch() + "/nospace-hostile-fill").c_str());
}

// One huge write to stdout. Expected: the run ends with reason output-limit and at most the
// 8 MiB limit (plus one pipe buffer) reaches our stdout. Without the sandbox all 64 MiB do.
TEST_CASE("escape: one huge write to stdout is cut at the output limit") {
  REQUIRE_BATTERY_CAN_RUN();
  auto before = HostState::now();
  auto o = sandboxed(kDefaultPolicy, {"bigwrite", "64"});
  INFO(o.result.dump());
  CHECK(reason(o) == "output-limit");
  CHECK(o.out.size() <= (8u << 20) + (1u << 20));
  require_host_unchanged(before);

  auto free = plainly({}, {"bigwrite", "64"});
  CHECK(free.out.size() == (64u << 20));
}

// ---- reaching the host -----------------------------------------------------------------------

// A TCP connection to a port the test listens on, on the host's loopback. Expected: socket()
// is refused by seccomp. With seccomp off the run's own network namespace has no route to the
// host's port (refused or unreachable). Without the sandbox it connects.
TEST_CASE("escape: connecting to the host's loopback") {
  REQUIRE_BATTERY_CAN_RUN();
  int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(server, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
  REQUIRE(listen(server, 8) == 0);
  socklen_t len = sizeof addr;
  getsockname(server, reinterpret_cast<sockaddr *>(&addr), &len);
  const std::string port = std::to_string(ntohs(addr.sin_port));

  auto before = HostState::now();
  expect_refused(sandboxed(kDefaultPolicy, {"connect", port}), "socket");
  auto weak = sandboxed(no_seccomp_policy(), {"connect", port});
  CHECK(weak.has_prefix("blocked: "));
  CHECK_FALSE(weak.has_prefix("escaped: "));
  require_host_unchanged(before);

  auto free = plainly({}, {"connect", port});
  CHECK(free.has_line("escaped: connected"));
  close(server);
}

// Reading /etc/shadow, the host's /proc/1/environ, another host process's environment (the
// test's own) and the launcher's files (its policy, a file next to it). Expected: none of the
// files is there in the sandbox's root; /proc inside shows only the run's own pid namespace, so
// whatever /proc/1/environ holds there is not the host's. Without the sandbox (root) the
// files and the test's environment are readable.
TEST_CASE("escape: reading the host's secrets") {
  REQUIRE_BATTERY_CAN_RUN();
  const std::string secret = scratch() + "/launcher-secret";
  std::ofstream(secret) << "the launcher's own file\n";
  const std::string test_environ = "/proc/" + std::to_string(getpid()) + "/environ";
  auto before = HostState::now();
  std::vector<std::string> args = {"readfile",   "/etc/shadow",  "/proc/1/environ",
                                   test_environ, kDefaultPolicy, secret};
  auto o = sandboxed(kDefaultPolicy, args);
  INFO(o.out << o.result.dump());
  CHECK(reason(o) == "exited");
  CHECK_FALSE(o.has_prefix("escaped: read /etc/shadow"));
  CHECK_FALSE(o.has_prefix("escaped: read " + kDefaultPolicy));
  CHECK_FALSE(o.has_prefix("escaped: read " + secret));

  auto free = plainly({}, args);
  INFO("plain: " << free.out);
  CHECK(free.has_prefix("escaped: read /etc/shadow"));
  CHECK(free.has_prefix("escaped: read " + secret));
  CHECK(free.has_prefix("escaped: read " + test_environ));
  // Same path, same bytes read plainly and in the sandbox = the host's data leaked.
  for (const std::string &path : {std::string("/proc/1/environ"), test_environ}) {
    auto at = free.out.find("escaped: read " + path + " ");
    if (at == std::string::npos)
      continue; // not even root reads it here (host pid 1 may belong to an outer container)
    std::string line = free.out.substr(at, free.out.find('\n', at) - at);
    INFO("host: " << line);
    CHECK_FALSE(o.has_line(line));
  }
  require_host_unchanged(before);
  unlink(secret.c_str());
}

// Writing outside /tmp: the root, /etc, the program's own (bound) binary and a host directory
// the test owns. Expected: every open for writing fails (read-only root, nothing of the host
// bound writable) and the host is untouched. Without the sandbox the scratch file is written.
TEST_CASE("escape: writing outside /tmp") {
  REQUIRE_BATTERY_CAN_RUN();
  auto before = HostState::now();
  const std::string target = scratch() + "/pwned";
  auto o = sandboxed(kDefaultPolicy, {"writefile", "/pwned", "/etc/pwned", kHostile, target});
  INFO(o.out << o.result.dump());
  CHECK(reason(o) == "exited");
  CHECK_FALSE(o.has_prefix("escaped: "));
  CHECK(o.has_prefix("blocked: "));
  CHECK_FALSE(exists(target));
  require_host_unchanged(before);

  auto free = plainly({}, {"writefile", target});
  CHECK(free.has_line("escaped: wrote " + target));
  CHECK(exists(target));
  unlink(target.c_str());
}

// ---- other processes -------------------------------------------------------------------------

// ptrace and process_vm_readv on a host process. Expected: seccomp refuses both (named). With
// seccomp off the host pid does not exist in the run's pid namespace. Without the sandbox the
// program attaches to / reads the target (a harmless `hostile pause` the test started).
TEST_CASE("escape: ptrace and process_vm_readv on another process") {
  REQUIRE_BATTERY_CAN_RUN();
  Target target;
  const std::string pid = std::to_string(target.pid);
  auto before = HostState::now();
  expect_refused(sandboxed(kDefaultPolicy, {"ptrace", pid}), "ptrace");
  expect_refused(sandboxed(kDefaultPolicy, {"vmread", pid}), "process_vm_readv");
  auto weak = sandboxed(no_seccomp_policy(), {"ptrace", pid});
  CHECK(weak.has_prefix("blocked: "));
  CHECK(target.alive());
  CHECK_FALSE(target.traced());
  require_host_unchanged(before, {target.pid});

  CHECK(plainly({}, {"ptrace", pid}).has_line("escaped: attached"));
  CHECK(plainly({}, {"vmread", pid}).has_line("escaped: read another process's memory"));
  CHECK(target.alive());
}

// kill(-1, SIGKILL). Expected: the signal reaches only the run's own processes (its pid
// namespace): its own sentinel child dies, the host's target survives, the run ends normally.
// Without the sandbox it kills everything it can: shown inside a throw-away pid namespace
// (unshare --pid --fork), never on the host.
TEST_CASE("escape: kill(-1, SIGKILL) stays inside the run") {
  REQUIRE_BATTERY_CAN_RUN();
  Target target;
  auto before = HostState::now();
  auto o = sandboxed(kDefaultPolicy, {"killall"});
  INFO(o.out << o.result.dump());
  CHECK(target.alive());
  CHECK(o.has_line("own sentinel: killed"));
  require_host_unchanged(before, {target.pid});

  auto contained = plainly({"unshare", "--pid", "--fork"}, {"killall"});
  CHECK(contained.has_line("own sentinel: killed"));
  CHECK(contained.has_line("escaped: kill(-1) delivered"));
  CHECK(target.alive());
}

// ---- refused syscalls ------------------------------------------------------------------------
// Each: under the default policy the run is killed at the syscall and the result names it.
// With only seccomp off, the next layer (no capabilities, user/pid/mount namespaces) still
// refuses it where that layer applies. Without the sandbox the call works: run plainly when
// harmless, inside a private mount namespace (unshare -m) for the mount calls.

struct SyscallCase {
  std::vector<std::string> args;   // hostile CASE ARGS (for the sandboxed run)
  std::string syscall;             // what the result must name
  bool layered;                    // with seccomp off, still "blocked:"
  std::vector<std::string> prefix; // how to run it plainly (harmlessly)
  std::vector<std::string> plain_args;
  std::string plain_line; // the line the plain run prints ("" = any answer: reached)
};

void check_syscall_case(const SyscallCase &c) {
  REQUIRE_BATTERY_CAN_RUN();
  auto before = HostState::now();
  expect_refused(sandboxed(kDefaultPolicy, c.args), c.syscall);
  if (c.layered) {
    auto weak = sandboxed(no_seccomp_policy(), c.args);
    INFO("seccomp off: " << weak.out << weak.result.dump());
    CHECK(weak.has_prefix("blocked: "));
    CHECK_FALSE(weak.has_prefix("escaped: "));
  }
  require_host_unchanged(before);
  auto free = plainly(c.prefix, c.plain_args.empty() ? c.args : c.plain_args);
  INFO("plain: " << free.out << free.err);
  if (c.plain_line.empty()) {
    CHECK((free.has_prefix("escaped: ") || free.has_prefix("blocked: ")));
  } else if (c.plain_line.rfind("escaped: ", 0) == 0 && free.has_prefix("blocked: ")) {
    // The host itself refuses it even to root (io_uring_disabled, a container's own seccomp
    // profile, ...): the call still reached the kernel, which is all this host can show.
    WARN("this host refuses '" << c.args[0] << "' even without the sandbox: " << free.out);
  } else {
    CHECK(free.has_line(c.plain_line));
  }
}

TEST_CASE("escape: mount") {
  check_syscall_case({{"mount", "/tmp"},
                      "mount",
                      true,
                      {"unshare", "-m"},
                      {"mount", scratch()},
                      "escaped: mounted"});
}
TEST_CASE("escape: umount") {
  check_syscall_case(
      {{"umount", "/proc"}, "umount2", true, {"unshare", "-m"}, {}, "escaped: unmounted"});
}
TEST_CASE("escape: pivot_root") {
  // Plainly only inside a private mount namespace, where any answer shows it reached the kernel.
  check_syscall_case({{"pivot_root"}, "pivot_root", true, {"unshare", "-m"}, {}, ""});
}
TEST_CASE("escape: unshare") {
  check_syscall_case({{"unshare"}, "unshare", false, {}, {}, "escaped: new namespaces"});
}
TEST_CASE("escape: setns") {
  check_syscall_case({{"setns", "/proc/self/ns/uts"}, "setns", true, {}, {}, "escaped: joined"});
}
TEST_CASE("escape: setuid(0)") {
  check_syscall_case({{"setuid"}, "setuid", true, {}, {}, "escaped: uid 0"});
}
TEST_CASE("escape: keyctl") {
  check_syscall_case({{"keyctl"}, "keyctl", false, {}, {}, "escaped: keyring"});
}
TEST_CASE("escape: bpf") {
  check_syscall_case({{"bpf"}, "bpf", false, {}, {}, "escaped: bpf map"});
}
TEST_CASE("escape: perf_event_open") {
  check_syscall_case(
      {{"perf_event_open"}, "perf_event_open", false, {}, {}, "escaped: perf event"});
}
TEST_CASE("escape: userfaultfd") {
  check_syscall_case({{"userfaultfd"}, "userfaultfd", false, {}, {}, "escaped: userfaultfd"});
}
TEST_CASE("escape: io_uring_setup") {
  check_syscall_case({{"io_uring_setup"}, "io_uring_setup", false, {}, {}, "escaped: io_uring"});
}
TEST_CASE("escape: ioctl TIOCSTI") {
  // Plainly against a pty of the program's own: the keystroke lands there, nowhere else.
  check_syscall_case(
      {{"tiocsti"}, "ioctl", true, {}, {"tiocsti", "pty"}, "escaped: pushed terminal input"});
}
TEST_CASE("escape: clock_settime") {
  // Never plainly on the real clock: CLOCK_MONOTONIC cannot be set, EINVAL shows the call
  // reaches the kernel. The host's clock is checked unchanged by require_host_unchanged.
  check_syscall_case({{"clock_settime", "realtime"},
                      "clock_settime",
                      true,
                      {},
                      {"clock_settime", "monotonic"},
                      "blocked: EINVAL"});
}
TEST_CASE("escape: reboot") {
  // Wrong magic numbers everywhere: even plainly the kernel answers EINVAL, nothing reboots.
  check_syscall_case({{"reboot"}, "reboot", true, {}, {}, "blocked: EINVAL"});
}
TEST_CASE("escape: mknod") {
  check_syscall_case({{"mknod", "/tmp/mem"},
                      "mknodat", // glibc's mknod() is the mknodat syscall
                      true,
                      {},
                      {"mknod", scratch() + "/fifo", "fifo"},
                      "escaped: node created"});
}
TEST_CASE("escape: open_by_handle_at (shocker)") {
  // With seccomp off, open_by_handle_at needs CAP_DAC_READ_SEARCH, which no run has.
  check_syscall_case({{"handle", kHostile}, // a file that exists inside too
                      "name_to_handle_at",
                      true,
                      {},
                      {},
                      "escaped: opened by handle"});
}
TEST_CASE("escape: raw sockets") {
  check_syscall_case({{"rawsock"}, "socket", true, {}, {}, "escaped: raw socket"});
}

// Foreign ABIs: x32 syscall numbers and the i386 int 0x80 entry. Expected: the filter's
// bad-architecture action kills the run outright (SIGSYS, reported as reason seccomp); the
// program never prints an answer. Plainly, x32 fails with ENOSYS on kernels without x32 and
// int 0x80 answers where the kernel has i386 emulation (skipped where it has none).
TEST_CASE("escape: x32 syscalls") {
  REQUIRE_BATTERY_CAN_RUN();
  auto before = HostState::now();
  auto o = sandboxed(kDefaultPolicy, {"x32"});
  INFO(o.out << o.result.dump());
  CHECK(reason(o) == "seccomp");
  CHECK(o.result.value("signal", 0) == SIGSYS);
  CHECK_FALSE(o.has_prefix("escaped: "));
  CHECK_FALSE(o.has_prefix("blocked: "));
  require_host_unchanged(before);
  auto free = plainly({}, {"x32"});
  CHECK((free.has_prefix("escaped: ") || free.has_prefix("blocked: ")));
}

TEST_CASE("escape: the i386 int 0x80 entry") {
  REQUIRE_BATTERY_CAN_RUN();
  auto free = plainly({}, {"int80"});
  if (!free.has_prefix("escaped: "))
    NOSPACE_SKIP("this kernel has no i386 syscall entry (int 0x80 faults even without a sandbox)");
  auto before = HostState::now();
  auto o = sandboxed(kDefaultPolicy, {"int80"});
  INFO(o.out << o.result.dump());
  CHECK(reason(o) == "seccomp");
  CHECK(o.result.value("signal", 0) == SIGSYS);
  CHECK_FALSE(o.has_prefix("escaped: "));
  require_host_unchanged(before);
}

// ---- outliving the run -----------------------------------------------------------------------

// setsid plus a double fork, the grandchild sleeping 3 s. Expected: the run ends when its
// program exits and the grandchild dies with the run's pid namespace: no process carrying the
// token exists afterwards. Without the sandbox the daemon is still there (the test kills it).
TEST_CASE("escape: setsid and double fork do not outlive the run") {
  REQUIRE_BATTERY_CAN_RUN();
  auto before = HostState::now();
  const std::string token = "nospace-daemon-token-" + std::to_string(getpid());
  auto o = sandboxed(kDefaultPolicy, {"daemon", token, "3000"});
  INFO(o.out << o.result.dump());
  CHECK(o.has_line("daemon started"));
  CHECK(reason(o) == "exited");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(cmdline_contains(token));
  require_host_unchanged(before);

  auto free = plainly({}, {"daemon", token + "-plain", "3000"});
  CHECK(free.has_line("daemon started"));
  CHECK(cmdline_contains(token + "-plain"));
  for (pid_t pid : hostile_processes())
    kill(pid, SIGKILL);
}

// Sleeping past the wall-clock limit (1 s in this variant of the default policy). Expected:
// reason wall-timeout after about a second. Without the sandbox the 3 s sleep completes.
TEST_CASE("escape: sleeping past the wall-clock limit") {
  REQUIRE_BATTERY_CAN_RUN();
  auto before = HostState::now();
  auto o = sandboxed(short_wall_policy(), {"sleep", "3000"});
  INFO(o.out << o.result.dump());
  CHECK(reason(o) == "wall-timeout");
  CHECK_FALSE(o.has_line("escaped: slept"));
  CHECK(o.result.value("wall_ms", 0) >= 1000);
  CHECK(o.result.value("wall_ms", 0) < 5000); // generous: a loaded CI host
  require_host_unchanged(before);

  CHECK(plainly({}, {"sleep", "3000"}).has_line("escaped: slept"));
}

// Spinning past the CPU limit (1 s in this variant). Expected: reason cpu-timeout. Without
// the sandbox 3 s of spinning complete.
TEST_CASE("escape: spinning past the CPU limit") {
  REQUIRE_BATTERY_CAN_RUN();
  auto before = HostState::now();
  auto o = sandboxed(short_cpu_policy(), {"spin", "3000"});
  INFO(o.out << o.result.dump());
  CHECK(reason(o) == "cpu-timeout");
  CHECK_FALSE(o.has_line("escaped: spun"));
  CHECK(o.result.value("cpu_ms", 0) >= 900);
  require_host_unchanged(before);

  CHECK(plainly({}, {"spin", "3000"}).has_line("escaped: spun"));
}
