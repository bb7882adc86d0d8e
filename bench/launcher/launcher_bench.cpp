// The launcher benchmark: median and p99 time to start a static program that exits at once
// and collect its result, one run at a time, measured four ways in the same process:
//   posix_spawn   posix_spawn + waitpid, no isolation (the floor)
//   supervisor    Supervisor::start -> on_done in-process (the sandbox without the socket)
//   service       LauncherClient::start -> on_finished through `nospace-sandbox service`
//                 (what the gateway pays: request, memfd, fds back, result)
//   service-back-to-back  the same, started the moment the previous run's result is in (the
//                 launcher has had no time between runs to prepare the next child)
//   bwrap         Debian's bwrap --unshare-all with a comparable minimal root, + waitpid
//   posix_spawn-dynamic, service-dynamic: the same two for a dynamically linked program
//                 (what an interpreter like nospace20 is)
// Usage: launcher-bench [RUNS]   (default 500; root, for the default policy's uid range)
#include "gateway/launcher/launcher_client.hpp"
#include "sandbox/supervisor.hpp"

#include <boost/asio/io_context.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

extern char **environ;

using namespace nospace;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kProgram = NOSPACE_BUILD_ROOT "/bench/launcher/exit-at-once";
const std::string kDynamicProgram = NOSPACE_BUILD_ROOT "/bench/launcher/exit-at-once-dynamic";
const std::string kLauncher = NOSPACE_BUILD_ROOT "/sandbox/nospace-sandbox";

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int spawn_and_wait(const std::vector<std::string> &args) {
  std::vector<char *> argv;
  for (auto &a : args)
    argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
    return -1;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

double median_of(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[(samples.size() - 1) / 2];
}

void report(const char *name, std::vector<double> samples, int failures) {
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) { return samples[std::size_t(q * double(samples.size() - 1))]; };
  std::printf("%-19s median %7.3f ms   p99 %7.3f ms   min %7.3f ms   (%zu runs, %d failed)\n", name,
              at(0.5), at(0.99), samples.front(), samples.size(), failures);
  std::fflush(stdout);
}

struct Method {
  Method(const char *name, std::function<bool()> one_run, std::function<bool()> prelude = {})
      : name(name), one_run(one_run), prelude(prelude) {}
  const char *name;
  std::function<bool()> one_run;
  std::function<bool()> prelude; // untimed, right before one_run
  std::vector<double> samples;
  int failures = 0;
};

// Round-robin: every round runs each method once, so a busy machine slows them all alike.
// After each run the machine is left `settle` (untimed): what a run leaves to do after its
// result (cleanup, the launchers' next child) must not land in the next method's time.
void measure(std::vector<Method> &methods, int runs, const std::function<void()> &settle) {
  for (int i = 0; i < runs + runs / 10; ++i) { // the first tenth warms up and is dropped
    for (auto &m : methods) {
      bool ok = !m.prelude || m.prelude();
      auto t0 = Clock::now();
      ok = m.one_run() && ok;
      double ms = ms_since(t0);
      if (i >= runs / 10)
        m.samples.push_back(ms);
      m.failures += !ok;
      settle();
    }
  }
  for (auto &m : methods)
    report(m.name, m.samples, m.failures);
}

// One run through a launcher service: request out, Started with fds back, Finished.
bool run_through(boost::asio::io_context &io, gateway::LauncherClient &client) {
  std::optional<RunResult> result;
  client.start(
      launch::LaunchRequest{}, [](std::string, gateway::LauncherClient::Started) {},
      [&](const RunResult &r) { result = r; });
  while (!result && client.connected()) {
    io.restart();
    io.run_one();
  }
  return result && result->reason == "exited" && result->exit_code == 0;
}

std::string write_policy(const std::string &name, const std::string &program,
                         const std::string &extra) {
  std::string path = "/tmp/nospace-launcher-bench-" + std::to_string(::getpid()) + name;
  std::ofstream(path) << "interpreter:\n  path: " << program << "\n" << extra;
  return path;
}

} // namespace

int main(int argc, char **argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 500;
  std::string policy_path = write_policy(".yaml", kProgram, "");
  // The same without cgroup limits: what the per-run cgroup costs (v1 memory + pids here).
  std::string no_cgroup_path =
      write_policy("-nocg.yaml", kProgram, "sandbox:\n  cgroup: {mode: off}\n");
  std::string dynamic_path = write_policy("-dynamic.yaml", kDynamicProgram, "");
  Policy policy = load_policy(policy_path);

  sandbox::EventLoop loop;
  sandbox::Supervisor supervisor(loop, policy);
  boost::asio::io_context io;
  gateway::LauncherClient client(io, gateway::spawn_launcher(policy_path, kLauncher));
  gateway::LauncherClient no_cgroup(io, gateway::spawn_launcher(no_cgroup_path, kLauncher));
  gateway::LauncherClient dynamic(io, gateway::spawn_launcher(dynamic_path, kLauncher));

  std::vector<Method> methods;
  methods.push_back({"posix_spawn", [] { return spawn_and_wait({kProgram}) == 0; }});
  methods.push_back({"supervisor", [&] {
                       sandbox::RunSpec spec;
                       spec.argv = {kProgram};
                       std::optional<RunResult> result;
                       supervisor.start(std::move(spec), [&](const RunResult &r) { result = r; });
                       loop.run_until([&] { return result.has_value(); });
                       return result->reason == "exited" && result->exit_code == 0;
                     }});
  methods.push_back({"service", [&] { return run_through(io, client); }});
  methods.push_back({"service-back-to-back", [&] { return run_through(io, client); },
                     [&] { return run_through(io, client); }});
  methods.push_back({"service-nocg", [&] { return run_through(io, no_cgroup); }});
  // bwrap with what a run gets here: every namespace, the program bound read-only into an
  // otherwise empty root, /proc, a minimal /dev, a tmpfs /tmp, dying with its parent.
  methods.push_back({"bwrap", [] {
                       return spawn_and_wait({"/usr/bin/bwrap", "--unshare-all",
                                              "--die-with-parent", "--ro-bind", kProgram, kProgram,
                                              "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                                              "--", kProgram}) == 0;
                     }});
  methods.push_back({"posix_spawn-dynamic", [] { return spawn_and_wait({kDynamicProgram}) == 0; }});
  methods.push_back({"service-dynamic", [&] { return run_through(io, dynamic); }});
  std::printf("launcher-bench: %d runs each, round-robin; load average %s", runs, [] {
    static char buf[64] = "?\n";
    if (FILE *f = std::fopen("/proc/loadavg", "r")) {
      if (!std::fgets(buf, sizeof buf, f))
        buf[0] = 0;
      std::fclose(f);
    }
    return buf;
  }());
  // 5 ms, with the in-process supervisor's loop running (it prepares its next child there).
  measure(methods, runs, [&] {
    const auto until = Clock::now() + std::chrono::milliseconds(5);
    for (auto now = Clock::now(); now < until; now = Clock::now())
      loop.run_once(std::chrono::duration_cast<std::chrono::milliseconds>(until - now) +
                    std::chrono::milliseconds(1));
  });
  // The goals, as ratios and differences within this run (the machine's speed cancels out).
  auto median = [&](const char *name) {
    for (auto &m : methods)
      if (std::string(m.name) == name)
        return median_of(m.samples);
    return 0.0;
  };
  std::printf("service - posix_spawn: %+.3f ms at the median (goal: within 1 ms)\n",
              median("service") - median("posix_spawn"));
  std::printf("service-back-to-back - posix_spawn: %+.3f ms at the median\n",
              median("service-back-to-back") - median("posix_spawn"));
  std::printf("service / bwrap: %.2f at the median (goal: below 1)\n",
              median("service") / median("bwrap"));
  std::printf("service-dynamic - posix_spawn-dynamic: %+.3f ms at the median\n",
              median("service-dynamic") - median("posix_spawn-dynamic"));
  ::unlink(policy_path.c_str());
  ::unlink(no_cgroup_path.c_str());
  ::unlink(dynamic_path.c_str());
  return 0;
}
