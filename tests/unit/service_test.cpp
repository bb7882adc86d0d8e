// `nospace-sandbox service` end to end: the real launcher binary started with spawn_launcher
// over a socketpair, driven by LauncherClient on an io_context, running the fake interpreter
// (tests/fixtures/fake-nospace20) under the sandbox. Suite 'sandbox': needs root or user
// namespaces and the launcher built. Also the concurrency and leak checks of issue 3.
#include "gateway/launcher/launcher_client.hpp"

#include "skip.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/streambuf.hpp>

#include <dirent.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

using namespace nospace;
using namespace nospace::launch;
using nospace::gateway::LauncherClient;
namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

const std::string kLauncher = NOSPACE_BUILD_ROOT "/sandbox/nospace-sandbox";
const std::string kFake = NOSPACE_BUILD_ROOT "/tests/fixtures/fake-nospace20";

// The policy files this test writes, removed when the test binary exits.
struct TempFiles {
  std::vector<std::string> paths;
  ~TempFiles() {
    for (auto &p : paths)
      ::unlink(p.c_str());
  }
} temp_files;

std::string write_policy(const std::string &name, const std::string &extra) {
  std::string path = "/tmp/nospace-service-test-" + std::to_string(::getpid()) + "-" + name;
  temp_files.paths.push_back(path);
  std::ofstream(path) << "interpreter:\n  path: " << kFake << "\n" << extra;
  return path;
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (auto &e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream in(e.path() / "stat");
    std::string line;
    if (!std::getline(in, line))
      continue;
    auto close = line.rfind(')');
    if (close == std::string::npos)
      continue;
    char state;
    pid_t ppid;
    std::istringstream(line.substr(close + 2)) >> state >> ppid;
    if (ppid == parent)
      out.push_back(std::stoi(name));
  }
  return out;
}

// Every process whose argv[0] is the fake interpreter: runs in progress (or leaked).
std::vector<pid_t> interpreter_processes() {
  std::vector<pid_t> out;
  for (auto &e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream in(e.path() / "cmdline");
    std::string argv0;
    if (std::getline(in, argv0, '\0') && argv0 == kFake)
      out.push_back(std::stoi(name));
  }
  return out;
}

std::size_t count_entries(const std::string &dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    ++n;
  return n;
}

// The cgroups a launcher made for its runs: "<launcher pid>-run<N>" in every hierarchy
// (sandbox/cgroup.cpp). Other tests on this machine make cgroups of their own meanwhile.
std::size_t count_cgroups_of(pid_t launcher) {
  std::string prefix = std::to_string(launcher) + "-";
  std::size_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it("/sys/fs/cgroup", ec), end; !ec && it != end;
       it.increment(ec))
    if (it->is_directory(ec) && it->path().filename().string().rfind(prefix, 0) == 0)
      ++n;
  return n;
}

std::string read_all_fd(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0)
    out.append(buf, std::size_t(n));
  return out;
}

// Entries of /tmp and /dev/shm that could be the launcher's: owned by a run uid (the policy's
// range) or named after the project. The machine is shared (compilers and other tests write
// /tmp at the same time), so a plain count would measure them, not the launcher.
std::set<std::string> launcher_temp_files() {
  std::set<std::string> out;
  for (const char *dir : {"/tmp", "/dev/shm"}) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      struct stat st;
      std::string name = it->path().filename();
      if (::lstat(it->path().c_str(), &st) != 0)
        continue;
      bool run_uid = st.st_uid >= 200000 && st.st_uid < 201000;
      bool ours =
          name.find("nospace") != std::string::npos && name.rfind("nospace-service-test-", 0) != 0;
      if (run_uid || ours)
        out.insert(it->path());
    }
  }
  return out;
}

std::size_t count_lines(const std::string &path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);)
    ++n;
  return n;
}

// One run's outcome, collected asynchronously on the io_context.
struct Outcome {
  std::string start_error;
  std::uint64_t run_id = 0;
  std::string out, err;
  int streams_open = 0;
  std::optional<RunResult> result;
  bool rejected() const { return !start_error.empty(); }
  bool done() const { return rejected() || (result && streams_open == 0); }
};

void read_stream(asio::io_context &io, UniqueFd fd, std::shared_ptr<Outcome> o, std::string *to) {
  auto stream = std::make_shared<asio::posix::stream_descriptor>(io, fd.release());
  auto buf = std::make_shared<std::array<char, 4096>>();
  ++o->streams_open;
  struct Step {
    std::shared_ptr<asio::posix::stream_descriptor> stream;
    std::shared_ptr<std::array<char, 4096>> buf;
    std::shared_ptr<Outcome> o;
    std::string *to;
    void operator()(boost::system::error_code ec, std::size_t n) const {
      to->append(buf->data(), n);
      if (ec) {
        --o->streams_open;
        return;
      }
      stream->async_read_some(asio::buffer(*buf), *this);
    }
  };
  stream->async_read_some(asio::buffer(*buf), Step{stream, buf, o, to});
}

struct Launcher {
  asio::io_context io;
  std::unique_ptr<LauncherClient> client;
  pid_t pid = 0;

  explicit Launcher(const std::string &policy) {
    auto before = children_of(::getpid());
    client = std::make_unique<LauncherClient>(io, gateway::spawn_launcher(policy, kLauncher));
    for (pid_t p : children_of(::getpid()))
      if (std::find(before.begin(), before.end(), p) == before.end())
        pid = p;
  }
  ~Launcher() {
    client.reset();
    if (pid > 0)
      wait_exit(10000);
  }

  // Waits for the launcher to exit; returns its wait status, or -1 on timeout.
  int wait_exit(int ms) {
    for (int i = 0; i < ms / 10; ++i) {
      int status;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = 0;
        return status;
      }
      ::usleep(10000);
    }
    return -1;
  }

  std::shared_ptr<Outcome> start(const LaunchRequest &request, std::string stdin_data = "",
                                 bool close_stdin = true) {
    auto o = std::make_shared<Outcome>();
    client->start(
        request,
        [this, o, stdin_data, close_stdin](std::string error, LauncherClient::Started s) {
          o->start_error = error;
          if (!error.empty())
            return;
          o->run_id = s.run_id;
          if (!stdin_data.empty())
            (void)!::write(s.stdin_fd.get(), stdin_data.data(), stdin_data.size());
          if (!close_stdin)
            keep_stdin.push_back(std::move(s.stdin_fd));
          read_stream(io, std::move(s.stdout_fd), o, &o->out);
          read_stream(io, std::move(s.stderr_fd), o, &o->err);
        },
        [o](const RunResult &r) { o->result = r; });
    return o;
  }

  template <typename Pred> bool run_until(Pred done, int seconds = 20) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io.restart();
      io.run_one_for(std::chrono::milliseconds(20));
    }
    return done();
  }

  std::shared_ptr<Outcome> run(const LaunchRequest &request, std::string stdin_data = "") {
    auto o = start(request, std::move(stdin_data));
    REQUIRE(run_until([&] { return o->done(); }));
    return o;
  }

  std::vector<UniqueFd> keep_stdin;
};

LaunchRequest program(const std::string &text) {
  LaunchRequest r;
  r.program = text;
  return r;
}

bool can_run_here() { return ::geteuid() == 0 && fs::exists(kLauncher); }

} // namespace

TEST_CASE("service: output, exit codes and the documented argv") {
  if (!can_run_here())
    NOSPACE_SKIP("needs root and the built launcher");
  Launcher l(write_policy("basic", ""));
  REQUIRE(l.pid > 0);

  auto hello = l.run(program("print hello\neprint oops\nexit 3\n"));
  REQUIRE(hello->start_error == "");
  CHECK(hello->out == "hello\n");
  CHECK(hello->err == "oops\n");
  REQUIRE(hello->result);
  CHECK(hello->result->reason == "exited");
  CHECK(hello->result->exit_code == 3);

  // The launcher kept only the capabilities it needs (sandbox/service.cpp), in every set.
  auto caps = [&](const char *field) {
    std::ifstream in("/proc/" + std::to_string(l.pid) + "/status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind(field, 0) == 0)
        return std::stoull(line.substr(std::strlen(field)), nullptr, 16);
    return ~0ull;
  };
  for (const char *set : {"CapEff:", "CapPrm:", "CapBnd:"}) {
    INFO(set);
    std::uint64_t v = caps(set);
    CHECK((v >> CAP_SYS_ADMIN & 1) == 1);
    for (int dropped : {CAP_SYS_MODULE, CAP_SYS_BOOT, CAP_SYS_TIME, CAP_NET_RAW, CAP_BPF,
                        CAP_PERFMON, CAP_SYS_RAWIO, CAP_MKNOD})
      CHECK((v >> dropped & 1) == 0);
  }

  auto echo = l.run(program("cat\n"), "some input\n");
  CHECK(echo->out == "some input\n");
  CHECK(echo->result->exit_code == 0);

  LaunchRequest args = program("argv\n");
  args.language = Language::min;
  args.debug = true;
  args.std_extensions = ext_alloc;
  auto a = l.run(args);
  CHECK_THAT(a->out, Catch::StartsWith(kFake + "\n--std\nmin\n--debug\n--std-ext\nalloc\n"));
  CHECK(a->result->exit_code == 0);

  LaunchRequest compile = program("print x\n");
  compile.mode = Mode::compile;
  compile.target = Target::json;
  auto c = l.run(compile);
  CHECK(c->out == "compiled json standard\nx\n");
}

TEST_CASE("service: kill, refusals and a missing interpreter") {
  if (!can_run_here())
    NOSPACE_SKIP("needs root and the built launcher");
  Launcher l(write_policy("refuse", "  languages: [standard]\nlimits:\n  max_code: 100\n"));

  auto slow = l.start(program("print started\nsleep 60000\n"));
  REQUIRE(l.run_until([&] { return slow->out == "started\n"; }));
  auto t0 = std::chrono::steady_clock::now();
  l.client->kill(slow->run_id, "killed");
  REQUIRE(l.run_until([&] { return slow->done(); }));
  CHECK(slow->result->reason == "killed");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));

  LaunchRequest ws = program("print x\n");
  ws.language = Language::ws;
  auto refused = l.run(ws);
  CHECK(refused->start_error == "language 'ws' is not allowed");
  CHECK_FALSE(refused->result);
  auto big = l.run(program(std::string(101, '#')));
  CHECK(big->start_error == "program of 101 bytes, the limit is 100");
  LaunchRequest bad = program("x");
  bad.mode = Mode::compile; // no target
  CHECK(l.run(bad)->start_error == "compile needs a target");
}

TEST_CASE("service: a missing interpreter finishes start-failed naming the path") {
  if (!can_run_here())
    NOSPACE_SKIP("needs root and the built launcher");
  std::string path = "/tmp/nospace-service-test-" + std::to_string(::getpid()) + "-nobin";
  temp_files.paths.push_back(path);
  std::ofstream(path) << "interpreter:\n  path: /nonexistent/nospace20\n";
  Launcher l(path);
  auto o = l.run(program("print x\n"));
  REQUIRE(o->start_error == "");
  REQUIRE(o->result);
  CHECK(o->result->reason == "start-failed");
  CHECK(o->result->detail == "interpreter: /nonexistent/nospace20: No such file or directory");
}

TEST_CASE("service: when the gateway disconnects every run it started is killed") {
  if (!can_run_here())
    NOSPACE_SKIP("needs root and the built launcher");
  Launcher l(write_policy("disconnect", ""));
  std::vector<std::shared_ptr<Outcome>> runs;
  for (int i = 0; i < 3; ++i)
    runs.push_back(l.start(program("print up\nsleep 60000\n")));
  REQUIRE(l.run_until([&] {
    return std::all_of(runs.begin(), runs.end(), [](auto &o) { return o->out == "up\n"; });
  }));
  CHECK(interpreter_processes().size() == 3);
  l.client.reset();
  int status = l.wait_exit(10000);
  REQUIRE(status != -1);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(interpreter_processes().empty());
}

TEST_CASE("service: 50 runs at once each get their own uid and their own result") {
  if (!can_run_here())
    NOSPACE_SKIP("needs root and the built launcher");
  Launcher l(write_policy("fifty", "limits:\n  max_concurrent_runs: 64\n"));
  std::vector<std::shared_ptr<Outcome>> runs;
  for (int i = 0; i < 50; ++i)
    runs.push_back(l.start(program("print run " + std::to_string(i) + "\nsleep 3000\nexit " +
                                   std::to_string(i % 7) + "\n")));
  REQUIRE(l.run_until(
      [&] {
        return std::all_of(runs.begin(), runs.end(), [](auto &o) { return !o->out.empty(); });
      },
      60));
  // All 50 are running now: their host uids, as the host's /proc shows them.
  std::set<uid_t> uids;
  for (pid_t pid : interpreter_processes()) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("Uid:", 0) == 0)
        uids.insert(static_cast<uid_t>(std::stoul(line.substr(4))));
  }
  CHECK(uids.size() == 50);
  // The leak test's cgroup count sees them while they run.
  CHECK(count_cgroups_of(l.pid) >= 50);
  for (uid_t u : uids)
    CHECK((u >= 200000 && u < 201000));
  REQUIRE(l.run_until(
      [&] { return std::all_of(runs.begin(), runs.end(), [](auto &o) { return o->done(); }); },
      60));
  for (int i = 0; i < 50; ++i) {
    INFO("run " << i);
    CHECK(runs[i]->out == "run " + std::to_string(i) + "\n");
    REQUIRE(runs[i]->result);
    CHECK(runs[i]->result->reason == "exited");
    CHECK(runs[i]->result->exit_code == i % 7);
  }
}

TEST_CASE("service: 1,000 runs leave no fds, mounts, cgroups, temp files or processes") {
  if (!can_run_here())
    NOSPACE_SKIP("needs root and the built launcher");
  Launcher l(write_policy("thousand", ""));
  std::string fd_dir = "/proc/" + std::to_string(l.pid) + "/fd";
  // Warm up (the launcher's lazily made resources, e.g. a shared network namespace).
  l.run(program("exit 0\n"));
  struct Counts {
    std::size_t fds, mounts, cgroups;
    std::set<std::string> temp_files;
    std::size_t children, interpreters;
  };
  auto count = [&] {
    return Counts{count_entries(fd_dir),     count_lines("/proc/self/mountinfo"),
                  count_cgroups_of(l.pid),   launcher_temp_files(),
                  children_of(l.pid).size(), interpreter_processes().size()};
  };
  // The launcher cleans up a run (fds, mount namespace, cgroups) just after sending its
  // result, and prepares the next run's child and cgroups ahead: wait until the counts hold
  // still.
  auto settled = [&](const Counts &c) {
    for (int i = 0; i < 50; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      const Counts now = count();
      if (now.fds == c.fds && now.cgroups == c.cgroups)
        return true;
    }
    return false;
  };
  Counts before = count();
  for (int i = 0; i < 10 && !settled(before); ++i)
    before = count();
  auto t0 = std::chrono::steady_clock::now();
  constexpr int kRuns = 1000, kParallel = 8;
  int started = 0, finished = 0, failed = 0;
  std::vector<std::shared_ptr<Outcome>> live;
  while (finished < kRuns) {
    while (started < kRuns && int(live.size()) < kParallel) {
      live.push_back(l.start(program("print " + std::to_string(started) + "\n")));
      ++started;
    }
    REQUIRE(l.run_until(
        [&] { return std::any_of(live.begin(), live.end(), [](auto &o) { return o->done(); }); }));
    for (auto it = live.begin(); it != live.end();) {
      if ((*it)->done()) {
        failed += !(*it)->result || (*it)->result->reason != "exited";
        ++finished;
        it = live.erase(it);
      } else {
        ++it;
      }
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN(kRuns << " runs in " << seconds << " s");
  CHECK(failed == 0);
  settled(before); // the last run's cleanup
  Counts after = count();
  CHECK(after.fds == before.fds);
  CHECK(after.mounts == before.mounts);
  CHECK(after.cgroups == before.cgroups);
  CHECK(after.temp_files == before.temp_files);
  // One child may wait: the spare prepared for the next run (none when nothing ran before).
  CHECK(before.children <= 1);
  CHECK(after.children == before.children);
  CHECK(after.interpreters == 0);
  CHECK(seconds < 60);
}

namespace {

// Waits up to 10 s for the next message on a raw launcher socket.
Received next_message(int fd) {
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return receive_message(fd);
}

std::string rejection(int fd) {
  Received r = next_message(fd);
  auto d = decode_to_gateway(r.bytes.data(), r.bytes.size(), r.fds.size());
  if (!d.value)
    return "undecodable reply: " + d.error;
  if (auto *rej = std::get_if<RejectedMessage>(&*d.value))
    return rej->message;
  return "not a rejection";
}

} // namespace

TEST_CASE("service: malformed requests get an error reply and the launcher keeps serving") {
  if (!can_run_here())
    NOSPACE_SKIP("needs root and the built launcher");
  std::string policy = write_policy("malformed", "");
  UniqueFd sock = gateway::spawn_launcher(policy, kLauncher);
  int fd = sock.get();
  RunMessage run;
  run.id = 5;
  run.program_size = 12;
  UniqueFd memfd = make_program_memfd("print hello\n");

  REQUIRE(send_message(fd, Bytes{1, 1, 2, 3}, {}) == 0);
  CHECK(rejection(fd) == "malformed request: truncated message");
  REQUIRE(send_message(fd, Bytes{9, 1}, {}) == 0);
  CHECK(rejection(fd) == "malformed request: protocol version 9, expected 1");
  REQUIRE(send_message(fd, encode(StartedMessage{1}), {}) == 0);
  CHECK(rejection(fd) == "malformed request: unknown message type 3");
  REQUIRE(send_message(fd, encode(run), {}) == 0);
  CHECK(rejection(fd) == "malformed request: run carries 1 file descriptors, got 0");
  REQUIRE(send_message(fd, Bytes(5000, 1), {}) == 0);
  CHECK(rejection(fd) == "oversize message or too many file descriptors");
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  UniqueFd pr(p[0]), pw(p[1]);
  REQUIRE(send_message(fd, encode(run), {pr.get()}) == 0);
  CHECK(rejection(fd) == "the program is not a sealed memfd");
  RunMessage wrong_size = run;
  wrong_size.program_size = 11;
  REQUIRE(send_message(fd, encode(wrong_size), {memfd.get()}) == 0);
  CHECK(rejection(fd) == "the program memfd holds 12 bytes, the request says 11");
  RunMessage compile_no_target = run;
  compile_no_target.request.mode = Mode::compile;
  REQUIRE(send_message(fd, encode(compile_no_target), {memfd.get()}) == 0);
  CHECK(rejection(fd) == "compile needs a target");
  // A kill for a run that does not exist is ignored; nothing comes back for it.
  REQUIRE(send_message(fd, encode(KillMessage{12345, KillReason::killed}), {}) == 0);

  // Still serving: the same socket runs a valid request.
  REQUIRE(send_message(fd, encode(run), {memfd.get()}) == 0);
  Received started = next_message(fd);
  auto s = decode_to_gateway(started.bytes.data(), started.bytes.size(), started.fds.size());
  REQUIRE(s.value);
  REQUIRE(std::get_if<StartedMessage>(&*s.value));
  CHECK(std::get<StartedMessage>(*s.value).id == 5);
  started.fds[0].reset();
  CHECK(read_all_fd(started.fds[1].get()) == "hello\n");
  Received finished = next_message(fd);
  auto f = decode_to_gateway(finished.bytes.data(), finished.bytes.size(), 0);
  REQUIRE(f.value);
  CHECK(std::get<FinishedMessage>(*f.value).result.reason == "exited");
}

TEST_CASE("service --listen: only the gateway's uid may connect") {
  if (!can_run_here())
    NOSPACE_SKIP("needs root and the built launcher");
  std::string policy = write_policy("listen", "");
  std::string path = "/tmp/nospace-service-test-" + std::to_string(::getpid()) + ".sock";
  pid_t launcher = ::fork();
  REQUIRE(launcher >= 0);
  if (launcher == 0) {
    ::execl(kLauncher.c_str(), kLauncher.c_str(), "service", "--policy", policy.c_str(), "--listen",
            path.c_str(), "--gateway-uid", "65534", nullptr);
    ::_exit(127);
  }
  auto connect_as = [&](uid_t uid) {
    // In a child: connect as `uid`, send a run, report 0 when a Started came back.
    pid_t pid = ::fork();
    if (pid == 0) {
      if (::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0)
        ::_exit(10);
      UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strcpy(addr.sun_path, path.c_str());
      if (::connect(s.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0)
        ::_exit(11); // refused at connect (the socket is 0600, owned by the gateway uid)
      UniqueFd memfd = make_program_memfd("exit 0\n");
      RunMessage run;
      run.id = 1;
      run.program_size = 7;
      if (send_message(s.get(), encode(run), {memfd.get()}) != 0)
        ::_exit(12);
      Received r = next_message(s.get());
      auto d = decode_to_gateway(r.bytes.data(), r.bytes.size(), r.fds.size());
      ::_exit(d.value && std::get_if<StartedMessage>(&*d.value) ? 0 : 13);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  for (int i = 0; i < 200 && !fs::exists(path); ++i)
    ::usleep(10000);
  REQUIRE(fs::exists(path));
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_uid == 65534);
  CHECK(connect_as(65534) == 0);
  CHECK(connect_as(65533) == 11);
  // Root passes the file permissions but not the SO_PEERCRED check: the launcher hangs up
  // (before the request is sent, 12, or after, 13).
  int root = connect_as(0);
  CHECK((root == 12 || root == 13));
  // SIGTERM: a clean stop, exit 0, the socket file removed.
  ::kill(launcher, SIGTERM);
  int status = 0;
  REQUIRE(::waitpid(launcher, &status, 0) == launcher);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_FALSE(fs::exists(path));
  ::unlink(path.c_str());
}
