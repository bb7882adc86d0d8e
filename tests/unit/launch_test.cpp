// The launch sequence and the supervisor on the real kernel: fake-nospace20 under
// `nospace-sandbox run` with the default policy, and a static probe (tests/fixtures/
// sandbox_probe.c) that looks at the sandbox from inside while the test looks from the host.
// Needs root and user namespaces: suite 'sandbox', not 'unit'.
#include "common/policy.hpp"
#include "sandbox/supervisor.hpp"
#include "sandbox/user_namespace.hpp"
#include "skip.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <optional>
#include <set>
#include <sstream>

using namespace nospace;
using namespace nospace::sandbox;
using std::chrono::milliseconds;

namespace {

const std::string kSandbox = NOSPACE_BUILD_ROOT "/sandbox/nospace-sandbox";
const std::string kFake = NOSPACE_BUILD_ROOT "/tests/fixtures/fake-nospace20";
const std::string kProbe = NOSPACE_BUILD_ROOT "/tests/fixtures/sandbox-probe";
const std::string kDefaultPolicy = NOSPACE_SOURCE_ROOT "/policies/default.yaml";

std::string skip_reason() {
  if (!running_as_host_root())
    return "needs real root (uid 0 in the initial user namespace)";
  return "";
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    out.append(buf, std::size_t(n));
  return out;
}

std::string temp_path(const std::string &name) {
  return "/tmp/launch_test_" + std::to_string(::getpid()) + "_" + name;
}

struct CliOutcome {
  int status = -1;
  std::string out, err;
  nlohmann::json result;
};

// `nospace-sandbox run --policy P --program F --result R -- ARGV...`, stdout and stderr
// captured separately (stderr via a file, so neither pipe can fill up and block the other).
CliOutcome run_cli_with(const std::string &policy, const std::string &program,
                        const std::vector<std::string> &argv,
                        const std::vector<std::string> &options,
                        const std::vector<std::string> &prefix = {}) {
  const std::string program_file = temp_path("program"), result_file = temp_path("result"),
                    err_file = temp_path("stderr");
  std::ofstream(program_file) << program;
  std::vector<std::string> args = {kSandbox,     "run",      "--policy",  policy, "--program",
                                   program_file, "--result", result_file, "--"};
  args.insert(args.begin() + 2, options.begin(), options.end());
  args.insert(args.end(), argv.begin(), argv.end());
  args.insert(args.begin(), prefix.begin(), prefix.end());
  std::vector<char *> cargs;
  for (auto &a : args)
    cargs.push_back(a.data());
  cargs.push_back(nullptr);
  int out_pipe[2];
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  REQUIRE(::posix_spawn(&pid, cargs[0], &actions, nullptr, cargs.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  CliOutcome o;
  o.out = read_all(out_pipe[0]);
  ::close(out_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  o.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_file);
  o.err.assign(std::istreambuf_iterator<char>(err), {});
  std::ifstream res(result_file);
  if (res)
    o.result = nlohmann::json::parse(res, nullptr, false);
  for (const auto &f : {program_file, result_file, err_file})
    ::unlink(f.c_str());
  return o;
}

CliOutcome run_cli(const std::string &policy, const std::string &program,
                   const std::vector<std::string> &argv) {
  return run_cli_with(policy, program, argv, {});
}

struct Outcome {
  RunResult result;
  std::string out;
};

// One run of the probe on a Supervisor in this process; `during` runs on the loop once the
// probe's stdout contains `wait_for` (so the test acts while the run is alive).
Outcome run_probe(const Policy &policy, const std::vector<std::string> &args,
                  const std::string &wait_for = "",
                  std::function<void(Supervisor &, RunId)> during = {}) {
  EventLoop loop;
  Supervisor supervisor(loop, policy);
  Pipe out;
  REQUIRE(make_pipe(out, O_CLOEXEC | O_NONBLOCK));
  RunSpec spec;
  spec.argv = {kProbe};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.stdout_fd = std::move(out.write);
  Outcome o;
  bool done = false, eof = false, acted = false;
  const RunId id = supervisor.start(std::move(spec), [&](const RunResult &r) {
    o.result = r;
    done = true;
  });
  loop.watch(out.read.get(), [&] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out.read.get(), buf, sizeof buf)) > 0)
      o.out.append(buf, std::size_t(n));
    if (n == 0) {
      eof = true;
      loop.unwatch(out.read.get());
    }
    if (!acted && during && o.out.find(wait_for) != std::string::npos) {
      acted = true;
      during(supervisor, id);
    }
  });
  loop.run_until([&] { return done && eof; });
  return o;
}

// The default policy with a uid range of this test process's own: other launchers on this
// host (parallel tests) allocate from the default range, and "no process of the run's uid
// is left" must not see theirs.
Policy default_policy() {
  Policy p = load_policy(kDefaultPolicy);
  p.sandbox.uid_range.first = 1000000 + std::uint32_t(::getpid() % 100000) * 16;
  p.sandbox.uid_range.count = 16;
  return p;
}

// The host uid of a process (from /proc/PID/status), or -1.
long host_uid_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Uid:", 0) == 0)
      return std::stol(line.substr(4));
  return -1;
}

// Every host process (zombies included) whose real uid is `uid`.
std::vector<pid_t> processes_of_uid(long uid) {
  std::vector<pid_t> out;
  DIR *dir = ::opendir("/proc");
  while (dirent *e = dir ? ::readdir(dir) : nullptr) {
    const pid_t pid = pid_t(std::atoi(e->d_name));
    if (pid > 0 && host_uid_of(pid) == uid)
      out.push_back(pid);
  }
  if (dir)
    ::closedir(dir);
  return out;
}

} // namespace

TEST_CASE("fake-nospace20 under `nospace-sandbox run`: output arrives, the exit code mirrors") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  const auto o = run_cli(kDefaultPolicy, "print hello\neprint oops\nexit 3\n",
                         {kFake, "--std", "standard", "{program}"});
  INFO(o.err);
  CHECK(o.status == 3);
  CHECK(o.out == "hello\n");
  CHECK(o.err == "oops\n");
  CHECK(o.result["reason"] == "exited");
  CHECK(o.result["exit_code"] == 3);
  CHECK(o.result["wall_ms"].get<int>() >= 0);
}

TEST_CASE("`nospace-sandbox run`: a program killed by a signal mirrors as 128 + signal") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  const std::string policy = temp_path("policy.yaml");
  std::ifstream in(kDefaultPolicy);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  text.replace(text.find("wall_ms: 30000"), 14, "wall_ms: 300");
  std::ofstream(policy) << text;
  const auto o = run_cli(policy, "print before\nsleep 20000\nprint after\n", {kFake, "{program}"});
  ::unlink(policy.c_str());
  CHECK(o.status == 128 + SIGKILL);
  CHECK(o.out == "before\n");
  CHECK(o.result["reason"] == "wall-timeout");
  CHECK(o.result["signal"] == SIGKILL);
}

TEST_CASE("`nospace-sandbox run`: --stdin feeds the program; output past the limit ends it") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  const std::string input = temp_path("stdin"), policy = temp_path("limit.yaml");
  std::ofstream(input) << "line one\nline two\n";
  auto o = run_cli_with(kDefaultPolicy, "cat\n", {kFake, "{program}"}, {"--stdin", input});
  CHECK(o.out == "line one\nline two\n");
  CHECK(o.result["reason"] == "exited");
  ::unlink(input.c_str());

  std::ifstream in(kDefaultPolicy);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  text.replace(text.find("output_limit: 8M"), 16, "output_limit: 4096");
  std::ofstream(policy) << text;
  o = run_cli(policy, "flood 10000000\nprint not-reached\n", {kFake, "{program}"});
  ::unlink(policy.c_str());
  CHECK(o.result["reason"] == "output-limit");
  CHECK(o.out.size() == 4096);
  CHECK(o.out.find("not-reached") == std::string::npos);
  // Either the kill lands first (128 + SIGKILL), or the program sees its next write fail
  // once the relay stops reading (it is its pid namespace's init, so SIGPIPE does not end
  // it) and fake-nospace20 exits 4 on a failed write. Both are a stopped run, never 0.
  CHECK((o.status == 128 + SIGKILL || o.status == 4));
}

TEST_CASE("rootless: an unprivileged launcher gives the same sandbox (own network namespace)") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  if (::access("/usr/bin/setpriv", X_OK) != 0)
    NOSPACE_SKIP("needs /usr/bin/setpriv (util-linux) to run the launcher as nobody");
  const auto o =
      run_cli_with(kDefaultPolicy, "", {kProbe, "id", "interfaces", "caps"}, {},
                   {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
  INFO(o.err);
  CHECK(o.out ==
        "uid=1000 gid=1000\nlo \nCapEff=0000000000000000 CapBnd=0000000000000000 NoNewPrivs=1 \n");
  CHECK(o.result["reason"] == "exited");
}

TEST_CASE("without CAP_SYS_PTRACE: runs in user namespaces work, runs without one fail to start") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  if (::access("/usr/bin/setpriv", X_OK) != 0)
    NOSPACE_SKIP("needs /usr/bin/setpriv (util-linux) to drop CAP_SYS_PTRACE");
  // The container's capability set (docs/deploy.md): the launcher owns each run's user
  // namespace, which gives it ptrace access to the run; a run without one needs the cap, and
  // a launcher lacking it says so instead of losing its CPU accounting quietly.
  const std::vector<std::string> no_ptrace = {"/usr/bin/setpriv",
                                              "--bounding-set",
                                              "-all,+setuid,+setgid,+setpcap,+sys_admin",
                                              "--inh-caps",
                                              "-all",
                                              "--nnp",
                                              "--"};
  const auto with_userns = run_cli_with(kDefaultPolicy, "", {kProbe, "id"}, {}, no_ptrace);
  INFO(with_userns.err);
  CHECK(with_userns.result["reason"] == "exited");
  const std::string policy = temp_path("no-userns.yaml");
  std::ofstream(policy) << "sandbox:\n  namespaces: {user: false}\n";
  const auto without = run_cli_with(policy, "", {kProbe, "id"}, {}, no_ptrace);
  ::unlink(policy.c_str());
  CHECK(without.result["reason"] == "start-failed");
  CHECK(without.result["detail"].get<std::string>().find("needs CAP_SYS_PTRACE") !=
        std::string::npos);
}

TEST_CASE("without a mount namespace the program text arrives as a sealed memfd") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  const std::string policy = temp_path("nomount.yaml");
  std::ifstream in(kDefaultPolicy);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  text.replace(text.find("mount: true"), 11, "mount: false");
  std::ofstream(policy) << text;
  const auto o = run_cli(policy, "print from memfd\n", {kFake, "{program}"});
  const auto fds = run_cli(policy, "x", {kProbe, "fds"});
  ::unlink(policy.c_str());
  CHECK(o.out == "from memfd\n");
  CHECK(o.result["reason"] == "exited");
  CHECK(fds.out == "0 1 2 5 \n"); // stdio and the program, nothing else
}

TEST_CASE("a program that cannot start is reported as start-failed with the cause") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  const auto o = run_cli(kDefaultPolicy, "", {"/nonexistent/nospace20"});
  CHECK(o.status == 125);
  CHECK(o.result["reason"] == "start-failed");
  CHECK(o.result["detail"].get<std::string>().find("prepare: '/nonexistent/nospace20'") == 0);
}

TEST_CASE("inside, the program is uid 1000 with no capabilities; on the host a uid of its own") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  const Policy policy = default_policy();
  long host_uid = -1;
  const auto o = run_probe(policy, {"id", "caps", "sleep", "5000"}, "NoNewPrivs",
                           [&](Supervisor &s, RunId id) {
                             host_uid = host_uid_of(s.host_pid(id));
                             s.kill(id, "killed");
                           });
  CHECK(o.out.find("uid=1000 gid=1000\n") == 0);
  CHECK(o.out.find("CapEff=0000000000000000 CapBnd=0000000000000000 NoNewPrivs=1") !=
        std::string::npos);
  CHECK(host_uid >= long(policy.sandbox.uid_range.first));
  CHECK(host_uid < long(policy.sandbox.uid_range.first + policy.sandbox.uid_range.count));
  CHECK(o.result.reason == "killed");
}

TEST_CASE("without a user namespace a root launcher runs the program as its uid-range id") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  Policy policy = default_policy();
  policy.sandbox.namespaces.user = false;
  const auto o = run_probe(policy, {"id", "caps", "write", "/x"});
  const auto first = policy.sandbox.uid_range.first;
  CHECK(o.out == "uid=" + std::to_string(first) + " gid=" + std::to_string(first) +
                     "\nCapEff=0000000000000000 CapBnd=0000000000000000 NoNewPrivs=1 \nEROFS\n");
  CHECK(o.result.reason == "exited");
}

TEST_CASE("a step that fails after the clone is start-failed naming the step and the cause") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  // A file in a directory only host root may search: the planner (root) sees it, the child
  // (already the run's uid) cannot reach it to bind it.
  const std::string dir = temp_path("private"), file = dir + "/secret";
  REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
  std::ofstream(file) << "secret\n";
  Policy policy = default_policy();
  policy.sandbox.filesystem.read_only_paths = {file};
  // Several times: the child fails while the parent is still joining it to its cgroups, and
  // the parent's next go must then meet a closed socket quietly (no SIGPIPE for this process).
  for (int i = 0; i < 20; ++i) {
    const auto o = run_probe(policy, {"id"});
    CHECK(o.result.reason == "start-failed");
    CHECK(o.result.detail == "mounts (bind " + file + "): Permission denied");
    CHECK(o.out.empty());
  }
  ::unlink(file.c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("the program starts with every signal at its default, none blocked or ignored") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  // This process (the launcher here) ignores SIGPIPE and blocks SIGUSR1 besides the handlers
  // Catch2 installs; none of it may reach the program.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_pipe {};
  ::sigaction(SIGPIPE, &ignore, &old_pipe);
  sigset_t usr1, old_mask;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ::sigprocmask(SIG_BLOCK, &usr1, &old_mask);
  const auto o = run_probe(default_policy(), {"signals"});
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  CHECK(o.out == "SigBlk=0000000000000000 SigIgn=0000000000000000 SigCgt=0000000000000000 \n");
  CHECK(o.result.reason == "exited");
}

TEST_CASE("the program holds only its stdio: no launcher fd reaches it") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  // This process holds more fds (the loop's epoll and timerfd, the pipes); none is inherited,
  // not even one sitting at a number the child keeps for itself (3-5) when that slot is
  // unused (no seccomp: no hand-over socket; a mount namespace: no memfd).
  std::vector<int> extra;
  for (int i = 0; i < 8; ++i)
    extra.push_back(::open("/dev/null", O_RDONLY)); // not close-on-exec, on purpose
  Policy policy = default_policy();
  const auto o = run_probe(policy, {"fds"});
  policy.sandbox.seccomp.enabled = false;
  const auto unfiltered = run_probe(policy, {"fds"});
  for (int fd : extra)
    ::close(fd);
  CHECK(o.out == "0 1 2 \n");
  CHECK(unfiltered.out == "0 1 2 \n");
}

TEST_CASE("when the launcher dies, its runs die with it (parent-death signal)") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  const std::string policy = temp_path("pdeath.yaml");
  const std::uint32_t uid = 1000000 + std::uint32_t(::getpid() % 100000) * 16 + 15;
  std::ifstream in(kDefaultPolicy);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  text.replace(text.find("uid_range: {first: 200000, count: 1000}"), 39,
               "uid_range: {first: " + std::to_string(uid) + ", count: 1}");
  std::ofstream(policy) << text;
  std::vector<std::string> args = {kSandbox, "run", "--policy", policy, "--",
                                   kProbe,   "id",  "sleep",    "30000"};
  std::vector<char *> cargs;
  for (auto &a : args)
    cargs.push_back(a.data());
  cargs.push_back(nullptr);
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  pid_t launcher = -1;
  REQUIRE(::posix_spawn(&launcher, cargs[0], &actions, nullptr, cargs.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  char buf[64] = "";
  CHECK(::read(out[0], buf, sizeof buf - 1) > 0); // "uid=1000 ...": the run is going
  CHECK(processes_of_uid(uid).size() == 1);
  ::kill(launcher, SIGKILL);
  ::waitpid(launcher, nullptr, 0);
  for (int i = 0; i < 200 && !processes_of_uid(uid).empty(); ++i)
    ::usleep(10000);
  CHECK(processes_of_uid(uid).empty());
  // Its stdout closes: nothing in the run holds it any more.
  CHECK(::read(out[0], buf, sizeof buf) == 0);
  ::close(out[0]);
  ::unlink(policy.c_str());
}

TEST_CASE("concurrent runs on one supervisor each get a host uid of their own and a result") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  const Policy policy = default_policy(); // a range of 16 ids
  EventLoop loop;
  Supervisor supervisor(loop, policy);
  constexpr int kRuns = 12;
  std::vector<RunId> ids;
  std::vector<RunResult> results;
  for (int i = 0; i < kRuns; ++i) {
    RunSpec spec;
    spec.argv = {kProbe, "sleep", "1500"};
    ids.push_back(
        supervisor.start(std::move(spec), [&](const RunResult &r) { results.push_back(r); }));
  }
  CHECK(supervisor.running() == kRuns);
  std::set<long> uids;
  for (RunId id : ids)
    uids.insert(host_uid_of(supervisor.host_pid(id)));
  CHECK(uids.size() == kRuns);
  CHECK(*uids.begin() >= long(policy.sandbox.uid_range.first));
  CHECK(*uids.rbegin() < long(policy.sandbox.uid_range.first + policy.sandbox.uid_range.count));
  loop.run_until([&] { return results.size() == kRuns; });
  CHECK(supervisor.running() == 0);
  for (const auto &r : results) {
    CHECK(r.reason == "exited");
    CHECK(r.exit_code == 0);
  }
  // Their ids went back to the range: as many runs again still fit in its 16 ids.
  for (int i = 0; i < kRuns; ++i) {
    RunSpec spec;
    spec.argv = {kProbe};
    supervisor.start(std::move(spec), [&](const RunResult &r) { results.push_back(r); });
  }
  loop.run_until([&] { return results.size() == 2 * kRuns; });
  for (const auto &r : results)
    CHECK(r.reason == "exited");
}

TEST_CASE("a child prepared between runs is used by the next run and gives it the same sandbox") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  const Policy policy = default_policy();
  EventLoop loop;
  Supervisor supervisor(loop, policy);
  auto run = [&](std::vector<std::string> args, pid_t *host_pid) {
    Pipe out;
    REQUIRE(make_pipe(out, O_CLOEXEC));
    RunSpec spec;
    spec.argv = {kProbe};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.stdout_fd = std::move(out.write);
    std::optional<RunResult> result;
    const RunId id = supervisor.start(std::move(spec), [&](const RunResult &r) { result = r; });
    *host_pid = supervisor.host_pid(id);
    loop.run_until([&] { return result.has_value(); });
    CHECK(result->reason == "exited");
    return read_all(out.read.get());
  };
  pid_t first = 0, second = 0;
  run({"id"}, &first);
  // Nothing starts or ends for a while: the supervisor prepares the next child meanwhile.
  std::vector<pid_t> waiting;
  for (int i = 0; i < 100 && waiting.empty(); ++i) {
    loop.run_once(std::chrono::milliseconds(10));
    for (std::uint32_t u = 0; u < policy.sandbox.uid_range.count; ++u)
      for (pid_t pid : processes_of_uid(long(policy.sandbox.uid_range.first + u)))
        waiting.push_back(pid);
  }
  REQUIRE(waiting.size() == 1);
  // Before it has its run: no capabilities, its seccomp filter loaded, not yet exec'd.
  for (int i = 0; i < 100; ++i) { // its filter comes last: give it the time to get there
    std::ifstream status("/proc/" + std::to_string(waiting[0]) + "/status");
    std::string text((std::istreambuf_iterator<char>(status)), {});
    if (text.find("Seccomp:\t2") != std::string::npos) {
      CHECK(text.find("CapEff:\t0000000000000000") != std::string::npos);
      break;
    }
    REQUIRE(i < 99);
    loop.run_once(std::chrono::milliseconds(10));
  }
  const std::string out = run({"id", "caps", "signals", "fds"}, &second);
  CHECK(second == waiting[0]);
  CHECK(second != first);
  CHECK(out == "uid=1000 gid=1000\n"
               "CapEff=0000000000000000 CapBnd=0000000000000000 NoNewPrivs=1 \n"
               "SigBlk=0000000000000000 SigIgn=0000000000000000 SigCgt=0000000000000000 \n"
               "0 1 2 \n");
}

TEST_CASE("hostname from the policy; the only network interface is loopback") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  for (bool shared : {true, false}) {
    Policy policy = default_policy();
    policy.sandbox.namespaces.share_network = shared;
    policy.sandbox.filesystem.hostname = "probe-host";
    const auto o = run_probe(policy, {"hostname", "interfaces"});
    INFO("shared network namespace: " << shared);
    CHECK(o.out == "probe-host\nlo \n");
    CHECK(o.result.reason == "exited");
  }
  char host[256] = "";
  ::gethostname(host, sizeof host);
  CHECK(std::string(host) != "probe-host");
}

TEST_CASE("/ and every bound path are read-only; only /tmp is writable; the host is unchanged") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  const std::string marker = "/launch_test_marker_" + std::to_string(::getpid());
  const auto o = run_probe(default_policy(), {"write", marker, "write", kProbe, "write",
                                              "/dev/launch_test", "write", "/tmp/x"});
  CHECK(o.out == "EROFS\nEROFS\nEROFS\nok\n");
  CHECK(::access(marker.c_str(), F_OK) != 0);
  CHECK(::access("/tmp/x", F_OK) != 0);
}

TEST_CASE("/tmp is limited to the policy's size") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  Policy policy = default_policy();
  policy.sandbox.filesystem.tmp_size.bytes = 1u << 20;
  const auto o = run_probe(policy, {"fill-tmp"});
  long long filled = -1;
  char err[32] = "";
  REQUIRE(std::sscanf(o.out.c_str(), "filled %lld %31s", &filled, err) == 2);
  CHECK(std::string(err) == "ENOSPC");
  CHECK(filled <= 1 << 20);
  CHECK(filled >= 512 << 10);
}

TEST_CASE("the wall-clock limit kills the run") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  Policy policy = default_policy();
  policy.sandbox.time.wall_ms = 300;
  const auto o = run_probe(policy, {"sleep", "20000"});
  CHECK(o.result.reason == "wall-timeout");
  CHECK(o.result.signal == SIGKILL);
  CHECK(o.result.wall_ms >= 300);
  CHECK(o.result.wall_ms < 5000);
}

TEST_CASE("the CPU limit kills the run: the supervisor's check and RLIMIT_CPU") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  SECTION("time.cpu_ms, checked by the supervisor") {
    Policy policy = default_policy();
    policy.sandbox.time.cpu_ms = 300;
    const auto o = run_probe(policy, {"spin"});
    CHECK(o.result.reason == "cpu-timeout");
    CHECK(o.result.cpu_ms >= 300);
    CHECK(o.result.wall_ms < 10000);
  }
  SECTION("time.cpu_ms counts every process of the run, not just the first") {
    // Two children spin while the program only waits: no single process nears a limit.
    Policy policy = default_policy();
    policy.sandbox.time.cpu_ms = 500;
    const auto o = run_probe(policy, {"fork-spin", "2"});
    CHECK(o.result.reason == "cpu-timeout");
    CHECK(o.result.wall_ms < 15000);
  }
  SECTION("rlimits.cpu_seconds, enforced by the kernel") {
    Policy policy = default_policy();
    policy.sandbox.time.cpu_ms = 60000;
    policy.sandbox.rlimits.cpu_seconds = 1;
    const auto o = run_probe(policy, {"spin"});
    CHECK(o.result.reason == "cpu-timeout");
    CHECK(o.result.signal == SIGKILL);
    CHECK(o.result.cpu_ms >= 1000);
  }
}

TEST_CASE("kill: SIGTERM, then SIGKILL after the grace; at once without a SIGTERM handler") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  Policy policy = default_policy();
  policy.sandbox.time.kill_grace_ms = 1500;
  std::chrono::steady_clock::time_point killed_at;
  auto kill_now = [&](Supervisor &s, RunId id) {
    killed_at = std::chrono::steady_clock::now();
    s.kill(id, "killed");
  };
  const auto handled =
      run_probe(policy, {"term-handler", "id", "sleep", "20000"}, "uid=", kill_now);
  const auto handled_for = std::chrono::steady_clock::now() - killed_at;
  CHECK(handled.result.reason == "killed");
  CHECK(handled.result.signal == SIGKILL);
  CHECK(handled.out.find("term\n") != std::string::npos); // it saw SIGTERM first
  CHECK(handled_for >= milliseconds(1500));

  const auto plain = run_probe(policy, {"id", "sleep", "20000"}, "uid=", kill_now);
  const auto plain_for = std::chrono::steady_clock::now() - killed_at;
  CHECK(plain.result.reason == "killed");
  CHECK(plain.result.signal == SIGKILL);
  CHECK(plain_for < milliseconds(1500));
}

TEST_CASE("nothing the program starts outlives the run; no zombies are left") {
  if (auto why = skip_reason(); !why.empty())
    NOSPACE_SKIP(why);
  const Policy policy = default_policy();
  long host_uid = -1;
  // A setsid + double-fork grandchild, then the program ends on its own: the grandchild dies
  // with the pid namespace.
  const auto o =
      run_probe(policy, {"orphan", "sleep", "300"}, "orphan ",
                [&](Supervisor &s, RunId id) { host_uid = host_uid_of(s.host_pid(id)); });
  CHECK(o.out.find("orphan ") == 0);
  CHECK(o.result.reason == "exited");
  REQUIRE(host_uid > 0);
  CHECK(processes_of_uid(host_uid).empty());
  // And killed while the grandchild lives.
  const auto k =
      run_probe(policy, {"orphan", "sleep", "20000"}, "orphan ", [&](Supervisor &s, RunId id) {
        host_uid = host_uid_of(s.host_pid(id));
        s.kill(id, "killed");
      });
  CHECK(k.result.reason == "killed");
  CHECK(processes_of_uid(host_uid).empty());
  // Without a pid namespace the orphan is found by the run's uid and killed.
  Policy no_pid = policy;
  no_pid.sandbox.namespaces.pid = false;
  const auto n =
      run_probe(no_pid, {"orphan", "sleep", "300"}, "orphan ",
                [&](Supervisor &s, RunId id) { host_uid = host_uid_of(s.host_pid(id)); });
  CHECK(n.result.reason == "exited");
  CHECK(n.out.find("orphan ") == 0);
  REQUIRE(host_uid > 0);
  for (int i = 0; i < 50 && !processes_of_uid(host_uid).empty(); ++i)
    ::usleep(10000); // killed, then reaped by the host's init
  for (pid_t left : processes_of_uid(host_uid)) {
    std::ifstream st("/proc/" + std::to_string(left) + "/stat");
    std::string line;
    std::getline(st, line);
    UNSCOPED_INFO("left: " << line);
  }
  CHECK(processes_of_uid(host_uid).empty());
  // Every child of this process has been reaped.
  errno = 0;
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
}
