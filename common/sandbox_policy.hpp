#pragma once
// The sandbox part of a policy: what every run gets. Read by the launcher (which enforces it)
// and by the gateway (which reports it). Defaults are the public-playground defaults.

#include "common/policy_reader.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace nospace {

struct NamespacePolicy {
  bool user = true;
  bool pid = true;
  bool mount = true;
  bool network = true;
  bool ipc = true;
  bool uts = true;
  bool cgroup = true;
  // With network: join one empty network namespace made at start-up instead of creating one
  // per run (faster; its loopback stays down). Needs a root launcher; rootless: per run.
  bool share_network = true;
};

struct FilesystemPolicy {
  ByteSize tmp_size{16ull << 20};           // the writable tmpfs at /tmp
  std::vector<std::string> read_only_paths; // extra host paths bound read-only
  std::string hostname = "nospace";
};

struct RlimitPolicy {
  std::uint64_t cpu_seconds = 10;
  ByteSize address_space{1ull << 30};
  ByteSize file_size{16ull << 20};
  std::uint64_t open_files = 64;
  std::uint64_t processes = 64; // per uid: effective only with a uid of the run's own
  ByteSize stack{8ull << 20};
};

struct CgroupPolicy {
  std::string mode = "best-effort"; // required | best-effort | off
  ByteSize memory_max{256ull << 20};
  std::uint64_t pids_max = 64;
  std::uint32_t cpu_percent = 100; // of one core
};

struct UidRangePolicy {
  // Used when the launcher runs as real root: run N gets host uid/gid first + N.
  std::uint32_t first = 200000;
  std::uint32_t count = 1000;
};

struct TimePolicy {
  std::uint64_t wall_ms = 30000; // NOSPACE_TIMEOUT overrides
  std::uint64_t cpu_ms = 10000;
  std::uint64_t kill_grace_ms = 500;
};

struct SeccompPolicy {
  bool enabled = true;
  std::vector<std::string> allow_extra; // syscalls allowed beyond the built-in table
  std::vector<std::string> deny;        // syscalls removed from the built-in table
};

struct SandboxPolicy {
  NamespacePolicy namespaces;
  FilesystemPolicy filesystem;
  RlimitPolicy rlimits;
  CgroupPolicy cgroup;
  UidRangePolicy uid_range;
  TimePolicy time;
  SeccompPolicy seccomp;
  ByteSize output_limit{8ull << 20};
};

void read_sandbox_policy(MappingReader &reader, SandboxPolicy &out);
nlohmann::json to_json(const SandboxPolicy &policy);

} // namespace nospace
