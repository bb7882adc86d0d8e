#include "common/sandbox_policy.hpp"

#include <nlohmann/json.hpp>

#include <limits>

namespace nospace {

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::int64_t>::max();

void read_namespaces(MappingReader r, NamespacePolicy &out) {
  r.read("user", out.user);
  r.read("pid", out.pid);
  r.read("mount", out.mount);
  r.read("network", out.network);
  r.read("ipc", out.ipc);
  r.read("uts", out.uts);
  r.read("cgroup", out.cgroup);
  r.read("share_network", out.share_network);
  r.finish();
}

void read_filesystem(MappingReader r, FilesystemPolicy &out) {
  // Not 0: a tmpfs of size 0 has no limit at all.
  r.read("tmp_size", out.tmp_size, 64ull << 10, 1ull << 30);
  r.read("read_only_paths", out.read_only_paths);
  for (const auto &path : out.read_only_paths)
    if (path.empty() || path[0] != '/')
      r.fail("read_only_paths", "every path must be absolute, got '" + path + "'");
  r.read("hostname", out.hostname);
  if (out.hostname.empty() || out.hostname.size() > 64)
    r.fail("hostname", "must be 1 to 64 characters");
  r.finish();
}

void read_rlimits(MappingReader r, RlimitPolicy &out) {
  r.read("cpu_seconds", out.cpu_seconds, 1, 86400);
  r.read("address_space", out.address_space, 16ull << 20, kMax);
  r.read("file_size", out.file_size, 0, kMax);
  r.read("open_files", out.open_files, 16, 1 << 20);
  r.read("processes", out.processes, 1, 1 << 20);
  r.read("stack", out.stack, 64ull << 10, 1ull << 30);
  r.finish();
}

void read_cgroup(MappingReader r, CgroupPolicy &out) {
  r.read_choice("mode", out.mode, {"required", "best-effort", "off"});
  r.read("memory_max", out.memory_max, 4ull << 20, kMax);
  r.read("pids_max", out.pids_max, 1, 1 << 22);
  r.read("cpu_percent", out.cpu_percent, 1, 100 * 1024);
  r.finish();
}

void read_uid_range(MappingReader r, UidRangePolicy &out) {
  r.read("first", out.first, 1000, 0xfffffffeu);
  r.read("count", out.count, 1, 1u << 20);
  if (std::uint64_t(out.first) + out.count > 0xffffffffull)
    r.fail("count", "first + count passes the largest uid");
  r.finish();
}

void read_time(MappingReader r, TimePolicy &out) {
  r.read("wall_ms", out.wall_ms, 10, 24ull * 3600 * 1000);
  r.read("cpu_ms", out.cpu_ms, 10, 24ull * 3600 * 1000);
  r.read("kill_grace_ms", out.kill_grace_ms, 0, 60000);
  r.finish();
}

void read_seccomp(MappingReader r, SeccompPolicy &out) {
  r.read("enabled", out.enabled);
  r.read("allow_extra", out.allow_extra);
  r.read("deny", out.deny);
  r.finish();
}

} // namespace

void read_sandbox_policy(MappingReader &r, SandboxPolicy &out) {
  read_namespaces(r.child("namespaces"), out.namespaces);
  read_filesystem(r.child("filesystem"), out.filesystem);
  read_rlimits(r.child("rlimits"), out.rlimits);
  read_cgroup(r.child("cgroup"), out.cgroup);
  read_uid_range(r.child("uid_range"), out.uid_range);
  read_time(r.child("time"), out.time);
  read_seccomp(r.child("seccomp"), out.seccomp);
  r.read("output_limit", out.output_limit, 1024, kMax);
  r.finish();
}

nlohmann::json to_json(const SandboxPolicy &p) {
  using nlohmann::json;
  return json{
      {"namespaces",
       {{"user", p.namespaces.user},
        {"pid", p.namespaces.pid},
        {"mount", p.namespaces.mount},
        {"network", p.namespaces.network},
        {"ipc", p.namespaces.ipc},
        {"uts", p.namespaces.uts},
        {"cgroup", p.namespaces.cgroup},
        {"share_network", p.namespaces.share_network}}},
      {"filesystem",
       {{"tmp_size", p.filesystem.tmp_size.bytes},
        {"read_only_paths", p.filesystem.read_only_paths},
        {"hostname", p.filesystem.hostname}}},
      {"rlimits",
       {{"cpu_seconds", p.rlimits.cpu_seconds},
        {"address_space", p.rlimits.address_space.bytes},
        {"file_size", p.rlimits.file_size.bytes},
        {"open_files", p.rlimits.open_files},
        {"processes", p.rlimits.processes},
        {"stack", p.rlimits.stack.bytes}}},
      {"cgroup",
       {{"mode", p.cgroup.mode},
        {"memory_max", p.cgroup.memory_max.bytes},
        {"pids_max", p.cgroup.pids_max},
        {"cpu_percent", p.cgroup.cpu_percent}}},
      {"uid_range", {{"first", p.uid_range.first}, {"count", p.uid_range.count}}},
      {"time",
       {{"wall_ms", p.time.wall_ms},
        {"cpu_ms", p.time.cpu_ms},
        {"kill_grace_ms", p.time.kill_grace_ms}}},
      {"seccomp",
       {{"enabled", p.seccomp.enabled},
        {"allow_extra", p.seccomp.allow_extra},
        {"deny", p.seccomp.deny}}},
      {"output_limit", p.output_limit.bytes},
  };
}

} // namespace nospace
