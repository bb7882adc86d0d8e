// Run cgroups on the real host: limits written, a memory hog OOM-killed and seen as such, a
// fork loop stopped by pids.max, leftovers killed and the group removed. Needs root and a
// cgroup hierarchy (v2 delegated, or v1 memory + pids as on this machine and CI).
#include <catch2/catch.hpp>

#include "sandbox/cgroup.hpp"
#include "skip.hpp"

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

using nospace::CgroupPolicy;
using nospace::sandbox::CgroupSupport;
using nospace::sandbox::CgroupVersion;
using nospace::sandbox::RunCgroup;

namespace {

std::string slurp(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool dir_exists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Why this host cannot run these tests, or "" when it can.
std::string unusable_reason(const CgroupSupport &support) {
  if (geteuid() != 0)
    return "cgroup tests need root";
  if (support.version == CgroupVersion::none)
    return "no usable cgroups on this host";
  return "";
}

CgroupPolicy small_policy() {
  CgroupPolicy policy;
  policy.mode = "required";
  policy.memory_max.bytes = 64ull << 20;
  policy.pids_max = 8;
  policy.cpu_percent = 50;
  return policy;
}

// A child that waits on a pipe until the group is set up, then runs body and exits with it.
struct GatedChild {
  pid_t pid = -1;
  int gate = -1;
  void open_gate() {
    (void)!write(gate, "g", 1);
    close(gate);
  }
  int wait() {
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
  }
};

GatedChild spawn_gated(std::function<int()> body) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (int sig : {SIGINT, SIGILL, SIGFPE, SIGSEGV, SIGTERM, SIGABRT, SIGBUS})
      signal(sig, SIG_DFL);
    close(fds[1]);
    char c;
    if (read(fds[0], &c, 1) != 1)
      _exit(100);
    _exit(body());
  }
  close(fds[0]);
  return GatedChild{pid, fds[1]};
}

} // namespace

TEST_CASE("this host's cgroups are found") {
  auto support = nospace::sandbox::probe_cgroup_support();
  if (auto why = unusable_reason(support); !why.empty())
    NOSPACE_SKIP(why);
  if (support.version == CgroupVersion::v1) {
    CHECK(dir_exists(support.v1_memory));
    CHECK(dir_exists(support.v1_pids));
  } else {
    CHECK(dir_exists(support.v2_group));
  }
}

TEST_CASE("mode off and best-effort without cgroups give no group; required refuses") {
  CgroupPolicy policy;
  policy.mode = "off";
  CHECK_FALSE(RunCgroup::prepare(policy, "t-off").has_value());
  CgroupSupport none;
  none.notes.push_back("cgroup v2: not mounted");
  policy.mode = "best-effort";
  CHECK_FALSE(RunCgroup::prepare(policy, "t-none", none).has_value());
  policy.mode = "required";
  CHECK_THROWS_WITH(RunCgroup::prepare(policy, "t-none", none),
                    "cgroup: required by the policy, but the host has none usable");
}

TEST_CASE("start-up: required refuses a host without cgroups, best-effort says so once") {
  CgroupSupport none;
  none.notes = {"cgroup v2: not mounted", "cgroup v1: the memory and pids controllers are not "
                                          "both mounted and writable"};
  CgroupPolicy policy;
  std::ostringstream log;
  policy.mode = "required";
  CHECK_THROWS_WITH(RunCgroup::check_at_startup(policy, none, log),
                    "sandbox.cgroup.mode is required but this host offers no usable cgroups "
                    "(cgroup v2: not mounted; cgroup v1: the memory and pids controllers are "
                    "not both mounted and writable)");
  CHECK(log.str().empty());
  policy.mode = "best-effort";
  auto support = RunCgroup::check_at_startup(policy, none, log);
  CHECK(support.version == CgroupVersion::none);
  CHECK(log.str().rfind("nospace-sandbox: no usable cgroups (cgroup v2: not mounted; ", 0) == 0);
  CHECK(log.str().find("best-effort") != std::string::npos);
  const std::string said = log.str();
  CHECK(std::count(said.begin(), said.end(), '\n') == 1);
  policy.mode = "off";
  std::ostringstream quiet;
  CHECK(RunCgroup::check_at_startup(policy, none, quiet).version == CgroupVersion::none);
  CHECK(quiet.str().empty());
  // A host with cgroups passes every mode without a word.
  CgroupSupport v1;
  v1.version = CgroupVersion::v1;
  policy.mode = "required";
  CHECK(RunCgroup::check_at_startup(policy, v1, quiet).version == CgroupVersion::v1);
  CHECK(quiet.str().empty());
}

TEST_CASE("the limits are written and the group is removed afterwards") {
  auto support = nospace::sandbox::probe_cgroup_support();
  if (auto why = unusable_reason(support); !why.empty())
    NOSPACE_SKIP(why);
  std::vector<std::string> paths;
  {
    auto group = RunCgroup::prepare(small_policy(), "t-limits", support);
    REQUIRE(group.has_value());
    paths = group->paths();
    REQUIRE(!paths.empty());
    if (support.version == CgroupVersion::v1) {
      CHECK(slurp(paths[0] + "/memory.limit_in_bytes") == "67108864\n");
      if (support.v1_swap_accounting)
        CHECK(slurp(paths[0] + "/memory.memsw.limit_in_bytes") == "67108864\n");
      CHECK(slurp(paths[1] + "/pids.max") == "8\n");
      if (!support.v1_cpu.empty())
        CHECK(slurp(paths[2] + "/cpu.cfs_quota_us") == "50000\n");
    } else {
      CHECK(slurp(paths[0] + "/memory.max") == "67108864\n");
      CHECK(slurp(paths[0] + "/pids.max") == "8\n");
    }
    for (const auto &path : paths)
      CHECK(dir_exists(path));
  }
  for (const auto &path : paths)
    CHECK_FALSE(dir_exists(path));
}

TEST_CASE("a memory hog is OOM-killed inside its group and the kill is seen") {
  auto support = nospace::sandbox::probe_cgroup_support();
  if (auto why = unusable_reason(support); !why.empty())
    NOSPACE_SKIP(why);
  auto group = RunCgroup::prepare(small_policy(), "t-oom", support);
  REQUIRE(group.has_value());
  auto child = spawn_gated([] {
    // 256 MiB touched page by page against a 64 MiB limit (no swap).
    const size_t size = 256ull << 20;
    char *p = static_cast<char *>(
        mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED)
      return 2;
    for (size_t i = 0; i < size; i += 4096)
      p[i] = 1;
    return 0;
  });
  REQUIRE(group->add_from_parent(child.pid) == 0);
  child.open_gate();
  int status = child.wait();
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  auto usage = group->usage();
  CHECK(usage.oom_killed);
  CHECK(usage.peak_memory_bytes >= (32ull << 20));
  CHECK(usage.peak_memory_bytes <= (64ull << 20) + (1ull << 20));
}

TEST_CASE("a process that stays small is not reported as OOM-killed") {
  auto support = nospace::sandbox::probe_cgroup_support();
  if (auto why = unusable_reason(support); !why.empty())
    NOSPACE_SKIP(why);
  auto group = RunCgroup::prepare(small_policy(), "t-small", support);
  REQUIRE(group.has_value());
  auto child = spawn_gated([] {
    static char block[8 << 20];
    std::memset(block, 1, sizeof block);
    return block[4096] == 1 ? 0 : 1;
  });
  REQUIRE(group->add_from_parent(child.pid) == 0);
  child.open_gate();
  int status = child.wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  auto usage = group->usage();
  CHECK_FALSE(usage.oom_killed);
  CHECK(usage.peak_memory_bytes >= (8ull << 20));
}

TEST_CASE("pids.max stops a fork loop") {
  auto support = nospace::sandbox::probe_cgroup_support();
  if (auto why = unusable_reason(support); !why.empty())
    NOSPACE_SKIP(why);
  auto group = RunCgroup::prepare(small_policy(), "t-pids", support);
  REQUIRE(group.has_value());
  auto child = spawn_gated([] {
    // Children park in pause(); the loop stops at the first failed fork (or at 64, a cap so a
    // broken limit cannot hurt the host). Exit code: the number of children made.
    int made = 0;
    for (; made < 64; ++made) {
      pid_t pid = fork();
      if (pid < 0)
        break;
      if (pid == 0) {
        pause();
        _exit(0);
      }
    }
    return made;
  });
  REQUIRE(group->add_from_parent(child.pid) == 0);
  child.open_gate();
  int status = child.wait();
  REQUIRE(WIFEXITED(status));
  // pids.max = 8 counts the child itself: at most 7 children, and it did stop before 64.
  CHECK(WEXITSTATUS(status) <= 7);
  CHECK(WEXITSTATUS(status) >= 1);
  // The paused children are still in the group; removing it kills them.
  std::vector<std::string> paths = group->paths();
  group.reset();
  for (const auto &path : paths)
    CHECK_FALSE(dir_exists(path));
}

TEST_CASE("leftover members are killed and a stale group is replaced") {
  auto support = nospace::sandbox::probe_cgroup_support();
  if (auto why = unusable_reason(support); !why.empty())
    NOSPACE_SKIP(why);
  auto first = RunCgroup::prepare(small_policy(), "t-left", support);
  REQUIRE(first.has_value());
  auto child = spawn_gated([] {
    pause();
    return 0;
  });
  REQUIRE(first->add_from_parent(child.pid) == 0);
  child.open_gate();
  // The same name again while the first still exists: it is the stale-group path.
  std::vector<std::string> paths = first->paths();
  auto second = RunCgroup::prepare(small_policy(), "t-left", support);
  REQUIRE(second.has_value());
  int status = child.wait();
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  second.reset();
  for (const auto &path : paths)
    CHECK_FALSE(dir_exists(path));
}
