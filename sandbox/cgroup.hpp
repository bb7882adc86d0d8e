#pragma once
// The cgroup of one run: memory (swap off), pids and CPU limits, peak memory and OOM kills read
// back, everything killed and the group removed when the run is over.
//
// Which hierarchy: cgroup v2 where the launcher's own cgroup is delegated with the memory and
// pids controllers; otherwise the v1 memory and pids controllers (this machine and CI: a
// v1/v2 hybrid whose v2 side has no controllers), with the v1 cpu controller for the CPU
// quota when it is mounted; otherwise none. Run groups live under a group of ours,
// nospace-sandbox/, created inside the launcher's own cgroup of each hierarchy (so whatever
// limits the launcher's own cgroup carries keep applying to the runs): for example
// /sys/fs/cgroup/memory/<launcher's group>/nospace-sandbox/<pid>-<name>.

#include "common/sandbox_policy.hpp"

#include <sys/types.h>

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nospace::sandbox {

enum class CgroupVersion { none, v1, v2 };

// What this host offers, found from /proc/self/mountinfo and /proc/self/cgroup.
struct CgroupSupport {
  CgroupVersion version = CgroupVersion::none;
  // v2: the launcher's own group; v1: the launcher's own group in the memory, pids and cpu
  // hierarchies (cpu empty when that controller is not mounted).
  std::string v2_group, v1_memory, v1_pids, v1_cpu;
  bool v1_swap_accounting = false; // memory.memsw.* exists: the limit covers swap too
  std::vector<std::string> notes;  // why v2 or v1 was not usable, one line each
  // Removes our nospace-sandbox/ base groups (if empty) when the last copy of this support
  // and the last RunCgroup made with it are gone: made once per launcher, not once per run.
  std::shared_ptr<void> base_keeper;
};

CgroupSupport probe_cgroup_support();

struct CgroupUsage {
  std::uint64_t peak_memory_bytes = 0;
  bool oom_killed = false; // the kernel's OOM killer killed a process of the run
};

class RunCgroup {
public:
  // At launcher start-up: mode "required" and no usable cgroups → throws std::runtime_error
  // naming what is missing; "best-effort" and none → writes one line saying so to `log`.
  static CgroupSupport check_at_startup(const CgroupPolicy &policy, std::ostream &log);
  // The same decision for a given probe result (tests).
  static CgroupSupport check_at_startup(const CgroupPolicy &policy, CgroupSupport support,
                                        std::ostream &log);

  // In the parent before clone. Creates the run's group(s) and writes the limits. nullopt for
  // mode off, or best-effort on a host without cgroups. Throws std::runtime_error when a group
  // cannot be made or a limit cannot be written (a limit the policy asks for is never skipped
  // silently once the host has the controller).
  static std::optional<RunCgroup> prepare(const CgroupPolicy &policy, const std::string &name);
  static std::optional<RunCgroup> prepare(const CgroupPolicy &policy, const std::string &name,
                                          const CgroupSupport &support);

  RunCgroup(RunCgroup &&other) noexcept;
  RunCgroup &operator=(RunCgroup &&other) noexcept;
  RunCgroup(const RunCgroup &) = delete;
  RunCgroup &operator=(const RunCgroup &) = delete;
  // Kills whatever is left in the group and removes it.
  ~RunCgroup();

  // In the parent after clone, before the child is let go: moves `pid` into every group.
  // Returns 0 or an errno.
  int add_from_parent(pid_t pid) noexcept;

  CgroupUsage usage() const;

  CgroupVersion version() const { return version_; }
  // The run's group directories (one for v2; memory, pids[, cpu] for v1).
  const std::vector<std::string> &paths() const { return paths_; }

private:
  RunCgroup() = default;
  void remove() noexcept;

  CgroupVersion version_ = CgroupVersion::none;
  std::vector<std::string> paths_;
  std::shared_ptr<void> base_keeper_;
};

} // namespace nospace::sandbox
