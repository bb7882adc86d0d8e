#include "sandbox/supervisor.hpp"

#include "sandbox/cgroup.hpp"
#include "sandbox/elf_libraries.hpp"
#include "sandbox/launch.hpp"
#include "sandbox/network.hpp"
#include "sandbox/seccomp_filter.hpp"
#include "sandbox/uid_range.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace nospace::sandbox {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kCpuCheckInterval{100};
constexpr std::chrono::milliseconds kSpareDelay{2};

int send_signal(int pidfd, int sig) {
  return int(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// CPU time of a process and of the descendants it has reaped, in clock ticks (/proc/PID/stat
// fields 14-17). Summed over every process of a pid namespace this counts each process's time
// exactly once: the living by their own, the ended by their reaper's (which is in the
// namespace too: the init reaps every orphan).
std::uint64_t cpu_ticks_of(const std::string &pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(in, line))
    return 0;
  const auto close = line.rfind(')'); // the command name may contain spaces and parentheses
  if (close == std::string::npos)
    return 0;
  std::istringstream fields(line.substr(close + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i)
    fields >> skip;
  std::uint64_t utime = 0, stime = 0, cutime = 0, cstime = 0;
  fields >> utime >> stime >> cutime >> cstime;
  return utime + stime + cutime + cstime;
}

// The real uid of a process, or -1 once it is gone.
long uid_of(const std::string &pid) {
  std::ifstream in("/proc/" + pid + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Uid:", 0) == 0)
      return std::stol(line.substr(4));
  return -1;
}

// The parent pid of a process (field 4 of /proc/PID/stat), or -1.
pid_t parent_of(const std::string &pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(in, line) || line.rfind(')') == std::string::npos)
    return -1;
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string state;
  long ppid = -1;
  fields >> state >> ppid;
  return pid_t(ppid);
}

// SIGKILL to every host process of `uid` until none is left, reaping those that became our
// children (the supervisor is a child subreaper when runs have no pid namespace, so orphans
// come to it rather than to a host init that may reap late or never). A fork between the
// scan and the kill is caught by the next pass; RLIMIT_NPROC bounds how many there are.
void kill_every_process_of(std::uint32_t uid) {
  for (int pass = 0; pass < 1000; ++pass) {
    std::vector<pid_t> ours;
    bool found = false;
    if (DIR *dir = ::opendir("/proc")) {
      while (dirent *e = ::readdir(dir)) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9' || uid_of(e->d_name) != long(uid))
          continue;
        found = true;
        const pid_t pid = pid_t(std::atoi(e->d_name));
        ::kill(pid, SIGKILL);
        if (parent_of(e->d_name) == ::getpid())
          ours.push_back(pid);
      }
      ::closedir(dir);
    }
    for (pid_t pid : ours)
      ::waitpid(pid, nullptr, 0);
    if (!found)
      return;
    if (ours.empty())
      ::usleep(1000); // the dying are not ours yet: their parents are being killed
  }
}

ino_t pid_namespace_of(const std::string &pid) {
  struct stat st;
  return ::stat(("/proc/" + pid + "/ns/pid").c_str(), &st) == 0 ? st.st_ino : 0;
}

// CPU ms of every run, by pid namespace: one pass over /proc for all runs together (cost
// proportional to the host's processes, not to runs times processes).
std::map<ino_t, std::uint64_t> cpu_ms_by_pid_namespace(const std::map<ino_t, bool> &wanted) {
  std::map<ino_t, std::uint64_t> ticks;
  if (DIR *dir = ::opendir("/proc")) {
    while (dirent *e = ::readdir(dir)) {
      if (e->d_name[0] < '1' || e->d_name[0] > '9')
        continue;
      const ino_t ns = pid_namespace_of(e->d_name);
      if (wanted.count(ns))
        ticks[ns] += cpu_ticks_of(e->d_name);
    }
    ::closedir(dir);
  }
  const std::uint64_t hz = std::uint64_t(::sysconf(_SC_CLK_TCK));
  for (auto &[ns, t] : ticks)
    t = t * 1000 / hz;
  return ticks;
}

// Whether the process has a SIGTERM handler (SigCgt). A pid namespace's init with the default
// action never sees SIGTERM at all (the kernel drops it), so it gets SIGKILL right away.
bool catches_sigterm(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("SigCgt:", 0) == 0)
      return (std::stoull(line.substr(7), nullptr, 16) >> (SIGTERM - 1)) & 1;
  return false;
}

std::string signal_name(int sig) {
  const char *abbrev = ::sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

} // namespace

struct Supervisor::Impl {
  struct Run {
    RunId id = 0;
    pid_t pid = -1;
    UniqueFd pidfd;
    UniqueFd listener;
    std::optional<std::uint32_t> host_id;
    std::optional<RunCgroup> cgroup;
    ino_t pid_namespace = 0; // the run's own (0 without a pid namespace)
    // The run's mount namespace, held until its result is out: the last reference pays for
    // the teardown of its mounts (an RCU grace period, ~0.1 ms here), and it should not be
    // the exiting init, whose exit is only seen once that is done.
    UniqueFd mount_namespace;
    Clock::time_point started;
    EventLoop::TimerId wall_timer = 0, grace_timer = 0;
    std::string end_reason, end_detail; // set when the supervisor ends the run
    std::function<void(const RunResult &)> on_done;
  };

  EventLoop &loop;
  const Policy policy;
  const bool host_root;
  UidRange uids;
  CgroupSupport cgroups;
  // The next run's child, prepared between runs for the interpreter of the last run
  // (prepare_launch): a start then only hands it the run (~0.2 ms instead of ~1 ms here). It
  // holds its uid and cgroups until then. One at most.
  struct Spare {
    std::string interpreter;
    std::optional<std::uint32_t> host_id;
    std::optional<RunCgroup> cgroup;
    PreparedLaunch launch; // destroyed first: the child goes before its cgroups
  };
  std::optional<Spare> spare;
  std::string last_interpreter;
  // The cgroups of a run started while no spare child fits (runs at once), made ahead of
  // time too: making them (mkdir and limits in each hierarchy, ~0.3 ms with v1's three) is
  // then not part of a start.
  std::optional<RunCgroup> spare_cgroup;
  std::uint64_t next_cgroup = 1;
  EventLoop::TimerId spare_timer = 0;
  std::optional<SharedNetworkNamespace> network;
  std::optional<SeccompFilter> seccomp;
  std::shared_ptr<const CapabilityDrop> capabilities = std::make_shared<CapabilityDrop>();
  std::map<std::string, std::shared_ptr<const LaunchPlan>> plans; // by interpreter path
  std::map<RunId, Run> runs;
  RunId next_id = 1;
  EventLoop::TimerId cpu_timer = 0;

  Impl(EventLoop &l, const Policy &p)
      : loop(l), policy(p), host_root(running_as_host_root()), uids(p.sandbox.uid_range) {
    const SandboxPolicy &sb = policy.sandbox;
    if (!host_root && !sb.namespaces.user)
      throw std::runtime_error("sandbox.namespaces.user is false, which needs the launcher to "
                               "run as real root (it runs as uid " +
                               std::to_string(::getuid()) + ")");
    cgroups = RunCgroup::check_at_startup(sb.cgroup, std::cerr);
    // Without pid namespaces, orphans of a run come to the supervisor, which kills and reaps
    // them (kill_every_process_of) instead of leaving them to the host's init.
    if (!sb.namespaces.pid && ::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
      throw std::runtime_error("prctl(PR_SET_CHILD_SUBREAPER): " +
                               std::string(std::strerror(errno)));
    if (sb.namespaces.network && sb.namespaces.share_network && host_root)
      network = SharedNetworkNamespace::create();
    if (sb.seccomp.enabled)
      seccomp = SeccompFilter::compile(sb.seccomp, policy.source);
    schedule_spares(std::chrono::milliseconds(0));
  }

  std::optional<RunCgroup> make_cgroup() {
    return RunCgroup::prepare(policy.sandbox.cgroup, "run" + std::to_string(next_cgroup++),
                              cgroups);
  }

  // Throws (through make_cgroup) when the groups cannot be made: the start fails with why.
  std::optional<RunCgroup> take_cgroup() {
    std::optional<RunCgroup> group = std::move(spare_cgroup);
    spare_cgroup.reset();
    if (!group)
      group = make_cgroup();
    return group;
  }

  // At start-up, and once no run has started or ended for kSpareDelay: a request that comes
  // the moment a result is out (a client running programs back to back) would otherwise wait
  // for the spares being made (~0.5 ms here) and gain nothing from them, and a run that just
  // started would have its exit noticed late. Under a steady load no spare is made at all:
  // every start makes what it needs itself, as it would without spares.
  void schedule_spares(std::chrono::milliseconds delay = kSpareDelay) {
    cancel_spares();
    spare_timer = loop.after(delay, [this] {
      spare_timer = 0;
      try {
        if (!spare && !last_interpreter.empty())
          make_spare(last_interpreter);
        if (!spare_cgroup)
          spare_cgroup = make_cgroup();
      } catch (const std::exception &) {
        // No spare: the next start makes what it needs itself and reports what fails.
      }
    });
  }

  void cancel_spares() {
    if (spare_timer)
      loop.cancel(spare_timer);
    spare_timer = 0;
  }

  void make_spare(const std::string &interpreter) {
    const auto plan = plan_for(interpreter);
    std::optional<std::uint32_t> host_id;
    if (host_root && !(host_id = uids.allocate()))
      return;
    try {
      std::optional<RunCgroup> cgroup = take_cgroup();
      PreparedLaunch launch = prepare(plan, host_id, cgroup);
      spare.emplace(Spare{interpreter, host_id, std::move(cgroup), std::move(launch)});
    } catch (...) {
      if (host_id)
        uids.release(*host_id);
      throw;
    }
  }

  void discard_spare() {
    if (!spare)
      return;
    const auto host_id = spare->host_id;
    spare.reset(); // kills and reaps the child, then removes its cgroups
    if (host_id)
      uids.release(*host_id);
  }

  PreparedLaunch prepare(const std::shared_ptr<const LaunchPlan> &plan,
                         std::optional<std::uint32_t> host_id, std::optional<RunCgroup> &cgroup) {
    LaunchSetup setup;
    setup.identity.user_namespace = policy.sandbox.namespaces.user;
    setup.identity.host_root = host_root;
    setup.identity.host_uid = host_id ? *host_id : ::getuid();
    setup.identity.host_gid = host_id ? *host_id : ::getgid();
    if (cgroup)
      setup.from_parent = [&cgroup](pid_t pid) -> std::string {
        if (int err = cgroup->add_from_parent(pid))
          return std::string("cgroup: ") + std::strerror(err);
        return "";
      };
    return prepare_launch(plan, std::move(setup));
  }

  std::shared_ptr<const LaunchPlan> plan_for(const std::string &interpreter) {
    if (auto it = plans.find(interpreter); it != plans.end())
      return it->second;
    const SandboxPolicy &sb = policy.sandbox;
    auto plan = std::make_shared<LaunchPlan>();
    plan->namespaces = sb.namespaces;
    plan->share_network = network.has_value();
    plan->network = network ? &*network : nullptr;
    if (sb.namespaces.mount)
      plan->mounts = prepare_mount_plan({{interpreter}, &sb.filesystem, sb.namespaces.pid});
    plan->rlimits = prepare_rlimits(sb.rlimits);
    plan->capabilities = capabilities;
    plan->seccomp = seccomp && seccomp->enabled() ? &*seccomp : nullptr;
    plan->hostname = sb.filesystem.hostname;
    plans.emplace(interpreter, plan);
    return plan;
  }

  RunId start(RunSpec &&moved_spec, std::function<void(const RunResult &)> on_done) {
    // Owned here: the child's stdio ends close when start() returns, so the caller's ends
    // see EOF once the run is over.
    RunSpec spec = std::move(moved_spec);
    const RunId id = next_id++;
    Run run;
    run.id = id;
    run.on_done = std::move(on_done);
    run.started = Clock::now();
    std::string failure;
    try {
      failure = launch_run(run, spec);
    } catch (const std::exception &e) {
      failure = std::string("prepare: ") + e.what();
    }
    if (!failure.empty()) {
      finish_failed_start(std::move(run), failure);
      return id;
    }
    const int pidfd = run.pidfd.get(), listener = run.listener.get();
    run.wall_timer = loop.after(std::chrono::milliseconds(policy.sandbox.time.wall_ms),
                                [this, id] { end(id, "wall-timeout", ""); });
    runs.emplace(id, std::move(run));
    loop.watch(pidfd, [this, id] { on_exit(id); });
    if (listener >= 0)
      loop.watch(listener, [this, id] { on_seccomp(id); });
    if (cpu_timer == 0)
      cpu_timer = loop.after(kCpuCheckInterval, [this] { check_cpu(); });
    return id;
  }

  // Everything that may fail with a message, then the launch: the spare child when it was
  // prepared for this interpreter, else one prepared now. Returns "" or the failure.
  std::string launch_run(Run &run, RunSpec &spec) {
    if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/')
      return "prepare: argv[0] must be an absolute path";
    const std::string interpreter = spec.argv[0];
    last_interpreter = interpreter;
    cancel_spares(); // made again once this run has ended
    RunInput input;
    const std::string program_path = policy.sandbox.namespaces.mount
                                         ? kProgramPath
                                         : "/proc/self/fd/" + std::to_string(kProgramFd);
    for (auto arg : spec.argv) {
      for (auto at = arg.find("{program}"); at != std::string::npos;
           at = arg.find("{program}", at + program_path.size()))
        arg.replace(at, 9, program_path);
      input.argv.push_back(std::move(arg));
    }
    input.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "TMPDIR=/tmp", "LANG=C.UTF-8"};
    input.program = std::move(spec.program);
    input.stdin_fd = spec.stdin_fd.get();
    input.stdout_fd = spec.stdout_fd.get();
    input.stderr_fd = spec.stderr_fd.get();
    std::optional<PreparedLaunch> prepared;
    if (spare && spare->interpreter == interpreter) {
      run.host_id = spare->host_id;
      run.cgroup = std::move(spare->cgroup);
      prepared.emplace(std::move(spare->launch));
      spare.reset();
    } else {
      discard_spare(); // made for another interpreter: the workload has changed
      const auto plan = plan_for(interpreter);
      if (host_root && !(run.host_id = uids.allocate()))
        return "uid-range: all " + std::to_string(uids.count()) + " ids are in use";
      run.cgroup = take_cgroup();
      prepared.emplace(prepare(plan, run.host_id, run.cgroup));
    }
    Launched launched = start_launch(std::move(*prepared), input);
    run.pid = launched.pid;
    run.pidfd = std::move(launched.pidfd);
    run.listener = std::move(launched.seccomp_listener);
    if (!launched.failure.empty())
      return launched.failure;
    return read_namespaces(run);
  }

  // The run's pid namespace (the CPU time of all its processes is summed by it) and mount
  // namespace. With a uid of its own, reading a run's /proc entries takes ptrace access: the
  // launcher has it as the owner of the run's user namespace, else only with CAP_SYS_PTRACE.
  // A launcher without it finds out here, not through a CPU limit that silently never fires.
  // Returns "" or the failure, the child then killed and reaped.
  std::string read_namespaces(Run &run) {
    const std::string proc = "/proc/" + std::to_string(run.pid) + "/ns/";
    if (policy.sandbox.namespaces.pid) {
      run.pid_namespace = pid_namespace_of(std::to_string(run.pid));
      if (run.pid_namespace == 0) {
        const int err = errno;
        kill_and_reap(run.pidfd.get());
        return "proc: " + proc + "pid: " + std::strerror(err) +
               " (without a user namespace, reading a run's /proc needs CAP_SYS_PTRACE)";
      }
    }
    if (policy.sandbox.namespaces.mount)
      run.mount_namespace.reset(::open((proc + "mnt").c_str(), O_RDONLY | O_CLOEXEC));
    return "";
  }

  void finish_failed_start(Run run, const std::string &failure) {
    // start_launch() has reaped the child of a failed start: its uid is free again.
    if (run.host_id)
      uids.release(*run.host_id);
    RunResult result;
    result.reason = "start-failed";
    result.detail = failure;
    result.wall_ms = elapsed_ms(run.started);
    // on_done never runs inside start(): callers may hold state start() is about to return.
    auto done = std::make_shared<std::function<void(const RunResult &)>>(std::move(run.on_done));
    loop.after(std::chrono::milliseconds(0), [done, result] { (*done)(result); });
  }

  static std::uint64_t elapsed_ms(Clock::time_point since) {
    return std::uint64_t(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count());
  }

  // Ends a run at once: SIGKILL to its init; the kernel kills the rest of the pid namespace.
  void end(RunId id, const std::string &reason, const std::string &detail) {
    auto it = runs.find(id);
    if (it == runs.end())
      return;
    Run &run = it->second;
    if (run.end_reason.empty()) { // the first reason stands (a kill in its grace stays "killed")
      run.end_reason = reason;
      run.end_detail = detail;
    }
    kill_all(run);
  }

  void kill_all(Run &run) {
    send_signal(run.pidfd.get(), SIGKILL);
    // Without a pid namespace the init's death takes nobody else along: the process group
    // (the run is its own session) and the cgroup's processes are killed as well.
    if (!policy.sandbox.namespaces.pid)
      ::kill(-run.pid, SIGKILL);
  }

  void kill(RunId id, const std::string &reason) {
    auto it = runs.find(id);
    if (it == runs.end() || !it->second.end_reason.empty())
      return;
    Run &run = it->second;
    run.end_reason = reason;
    const auto grace = policy.sandbox.time.kill_grace_ms;
    if (grace == 0 || !catches_sigterm(run.pid)) {
      kill_all(run);
      return;
    }
    send_signal(run.pidfd.get(), SIGTERM);
    if (!policy.sandbox.namespaces.pid)
      ::kill(-run.pid, SIGTERM);
    run.grace_timer = loop.after(std::chrono::milliseconds(grace), [this, id] {
      if (auto it = runs.find(id); it != runs.end()) {
        it->second.grace_timer = 0;
        kill_all(it->second);
      }
    });
  }

  void check_cpu() {
    cpu_timer = 0;
    const auto limit = policy.sandbox.time.cpu_ms;
    std::map<ino_t, bool> namespaces;
    for (auto &[id, run] : runs)
      if (run.pid_namespace != 0)
        namespaces[run.pid_namespace] = true;
    const auto used = cpu_ms_by_pid_namespace(namespaces);
    std::vector<RunId> over;
    for (auto &[id, run] : runs) {
      // Without a pid namespace: the init and what it reaped (RLIMIT_CPU bounds the rest).
      const std::uint64_t ms =
          run.pid_namespace != 0 ? (used.count(run.pid_namespace) ? used.at(run.pid_namespace) : 0)
                                 : cpu_ticks_of(std::to_string(run.pid)) * 1000 /
                                       std::uint64_t(::sysconf(_SC_CLK_TCK));
      if (ms > limit)
        over.push_back(id);
    }
    for (RunId id : over)
      end(id, "cpu-timeout", "");
    if (!runs.empty())
      cpu_timer = loop.after(kCpuCheckInterval, [this] { check_cpu(); });
  }

  void on_seccomp(RunId id) {
    auto it = runs.find(id);
    if (it == runs.end())
      return;
    const auto refused = read_refusal(it->second.listener.get());
    if (!refused) {
      // Every task of the filter is gone: nothing more can be refused.
      loop.unwatch(it->second.listener.get());
      it->second.listener.reset();
      return;
    }
    end(id, "seccomp", *refused);
  }

  void on_exit(RunId id) {
    auto it = runs.find(id);
    if (it == runs.end())
      return;
    Run &run = it->second;
    siginfo_t info{};
    rusage usage{};
    // waitid through the pidfd reaps exactly this process (never another run's, never a pid
    // that was reused); the rusage covers it and every descendant it reaped.
    if (::syscall(SYS_waitid, P_PIDFD, run.pidfd.get(), &info, WEXITED | WNOHANG, &usage) != 0 ||
        info.si_pid == 0)
      return;
    RunResult result = classify(run, info, usage);
    loop.unwatch(run.pidfd.get());
    if (run.listener) {
      // A refusal still pending when the run died names the syscall that killed it.
      if (result.reason != "seccomp" && result.signal == SIGSYS)
        if (auto refused = read_refusal(run.listener.get()))
          result.reason = "seccomp", result.detail = *refused;
      loop.unwatch(run.listener.get());
    }
    if (run.wall_timer)
      loop.cancel(run.wall_timer);
    if (run.grace_timer)
      loop.cancel(run.grace_timer);
    // Without a pid namespace the init's end takes nobody along: whatever the run started
    // (setsid, double fork) still runs under the run's own uid, so it is found by that uid
    // and killed before the uid goes back to the range. (Rootless runs share the caller's
    // uid: there only the process group and the cgroup are killed.)
    if (!policy.sandbox.namespaces.pid && run.host_id)
      kill_every_process_of(*run.host_id);
    if (run.host_id)
      uids.release(*run.host_id);
    // The result first; then the run's fds close, its mount namespace goes and its cgroups
    // are removed (killing anything left in them) when `finished` goes out of scope.
    {
      auto finished = runs.extract(it);
      if (finished.mapped().on_done)
        finished.mapped().on_done(result);
    }
    schedule_spares();
  }

  RunResult classify(Run &run, const siginfo_t &info, const rusage &usage) {
    RunResult r;
    r.wall_ms = elapsed_ms(run.started);
    r.cpu_ms = std::uint64_t(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000 +
               std::uint64_t(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000;
    r.peak_memory_bytes = std::uint64_t(usage.ru_maxrss) * 1024;
    bool oom = false;
    if (run.cgroup) {
      const CgroupUsage cg = run.cgroup->usage();
      if (cg.peak_memory_bytes > 0)
        r.peak_memory_bytes = cg.peak_memory_bytes;
      oom = cg.oom_killed;
    }
    if (info.si_code == CLD_EXITED)
      r.exit_code = info.si_status;
    else
      r.signal = info.si_status;
    if (!run.end_reason.empty()) {
      r.reason = run.end_reason;
      r.detail = run.end_detail;
    } else if (oom) {
      r.reason = "memory";
    } else if (r.exit_code) {
      r.reason = "exited";
    } else if (*r.signal == SIGSYS) {
      r.reason = "seccomp"; // the killing variant of the filter, or a foreign-architecture call
      r.detail = "unknown";
    } else if (*r.signal == SIGXCPU ||
               (*r.signal == SIGKILL && r.cpu_ms >= policy.sandbox.rlimits.cpu_seconds * 1000)) {
      r.reason = "cpu-timeout"; // RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL at the hard
    } else {
      r.reason = "signaled";
      r.detail = signal_name(*r.signal);
    }
    return r;
  }

  ~Impl() {
    cancel_spares();
    discard_spare();
    for (auto &[id, run] : runs) {
      send_signal(run.pidfd.get(), SIGKILL);
      siginfo_t info{};
      ::waitid(P_PIDFD, id_t(run.pidfd.get()), &info, WEXITED);
      loop.unwatch(run.pidfd.get());
      if (run.listener)
        loop.unwatch(run.listener.get());
      if (run.wall_timer)
        loop.cancel(run.wall_timer);
      if (run.grace_timer)
        loop.cancel(run.grace_timer);
    }
    if (cpu_timer)
      loop.cancel(cpu_timer);
  }
};

Supervisor::Supervisor(EventLoop &loop, const Policy &policy)
    : impl_(std::make_unique<Impl>(loop, policy)) {}
Supervisor::~Supervisor() = default;

RunId Supervisor::start(RunSpec &&spec, std::function<void(const RunResult &)> on_done) {
  return impl_->start(std::move(spec), std::move(on_done));
}

void Supervisor::kill(RunId id, const std::string &reason) { impl_->kill(id, reason); }

std::size_t Supervisor::running() const { return impl_->runs.size(); }

pid_t Supervisor::host_pid(RunId id) const {
  auto it = impl_->runs.find(id);
  return it == impl_->runs.end() ? 0 : it->second.pid;
}

} // namespace nospace::sandbox
