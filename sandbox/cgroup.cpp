#include "sandbox/cgroup.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>
#include <stdexcept>

namespace nospace::sandbox {

namespace {

constexpr const char *kBaseName = "nospace-sandbox";
constexpr std::uint64_t kCpuPeriodUs = 100000;

// Returns 0 or an errno. One write(), as cgroup files expect.
int write_file(const std::string &path, const std::string &text) noexcept {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  ssize_t n = write(fd, text.data(), text.size());
  int err = n == ssize_t(text.size()) ? 0 : (n < 0 ? errno : EIO);
  close(fd);
  return err;
}

std::optional<std::string> read_file(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool exists(const std::string &path) { return access(path.c_str(), F_OK) == 0; }

// "key value" lines (memory.events, memory.oom_control, memory.stat): the value of `key`.
std::uint64_t keyed_value(const std::string &text, const std::string &key) {
  std::istringstream in(text);
  std::string name;
  std::uint64_t value = 0;
  while (in >> name >> value)
    if (name == key)
      return value;
  return 0;
}

std::uint64_t number_in(const std::string &path) {
  auto text = read_file(path);
  return text ? std::strtoull(text->c_str(), nullptr, 10) : 0;
}

std::vector<std::string> split(const std::string &text, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, sep))
    parts.push_back(part);
  return parts;
}

bool has_word(const std::string &list, const std::string &word) {
  for (const auto &w : split(list, list.find(',') != std::string::npos ? ',' : ' '))
    if (w == word || w == word + "\n")
      return true;
  return false;
}

struct Mount {
  std::string root, point;
};

// The cgroup mounts: "" for the v2 hierarchy, else each v1 controller name.
std::map<std::string, Mount> cgroup_mounts() {
  std::map<std::string, Mount> mounts;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos)
      continue;
    auto before = split(line.substr(0, dash), ' ');
    auto after = split(line.substr(dash + 3), ' ');
    if (before.size() < 5 || after.size() < 3)
      continue;
    Mount mount{before[3], before[4]};
    if (after[0] == "cgroup2")
      mounts.emplace("", mount);
    else if (after[0] == "cgroup")
      for (const auto &option : split(after[2], ','))
        mounts.emplace(option, mount);
  }
  return mounts;
}

// The launcher's own group per hierarchy: "" for v2, else each v1 controller name.
std::map<std::string, std::string> own_groups() {
  std::map<std::string, std::string> groups;
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos)
      continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (controllers.empty())
      groups.emplace("", path);
    for (const auto &c : split(controllers, ','))
      groups.emplace(c, path);
  }
  return groups;
}

// The directory of our own group in one hierarchy ("" when not mounted or not found).
std::string group_dir(const std::map<std::string, Mount> &mounts,
                      const std::map<std::string, std::string> &groups, const std::string &key) {
  auto m = mounts.find(key);
  auto g = groups.find(key);
  if (m == mounts.end() || g == groups.end())
    return "";
  std::string path = g->second;
  // A mount of a sub-tree (containers): the group path is relative to the hierarchy's root.
  if (m->second.root != "/" && path.rfind(m->second.root, 0) == 0)
    path = path.substr(m->second.root.size());
  if (path == "/")
    path.clear();
  return m->second.point + path;
}

bool v2_usable(const std::string &group, std::vector<std::string> &notes) {
  auto controllers = read_file(group + "/cgroup.controllers");
  if (!controllers || !has_word(*controllers, "memory") || !has_word(*controllers, "pids")) {
    notes.push_back("cgroup v2: " + group + " has no memory and pids controllers");
    return false;
  }
  auto subtree = read_file(group + "/cgroup.subtree_control").value_or("");
  if (has_word(subtree, "memory") && has_word(subtree, "pids"))
    return true;
  // Enabling controllers for children fails with EBUSY while our group holds processes (the
  // no-internal-processes rule): the group is then not delegated to us in a usable way.
  if (int err = write_file(group + "/cgroup.subtree_control", "+memory +pids"); err != 0) {
    notes.push_back("cgroup v2: cannot enable memory and pids below " + group + ": " +
                    std::strerror(err));
    return false;
  }
  return true;
}

bool writable_dir(const std::string &dir) { return !dir.empty() && access(dir.c_str(), W_OK) == 0; }

void kill_members(const std::string &group) noexcept {
  try {
    if (write_file(group + "/cgroup.kill", "1") == 0)
      return;
    std::istringstream procs(read_file(group + "/cgroup.procs").value_or(""));
    pid_t pid;
    while (procs >> pid)
      ::kill(pid, SIGKILL);
  } catch (...) {
  }
}

// rmdir fails with EBUSY until the last member is gone: kill them and retry for up to a second.
void remove_group(const std::string &path) noexcept {
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (rmdir(path.c_str()) == 0 || errno != EBUSY)
      return;
    kill_members(path);
    timespec pause{0, 5 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
}

// mkdir that replaces a stale group left by an earlier launcher with the same pid.
int make_group(const std::string &path) {
  if (mkdir(path.c_str(), 0755) == 0)
    return 0;
  if (errno != EEXIST)
    return errno;
  remove_group(path);
  return mkdir(path.c_str(), 0755) == 0 ? 0 : errno;
}

// The base groups of one launcher, removed when nothing of it needs them any more (rmdir of
// a base another launcher still uses fails with EBUSY and leaves it to that launcher).
struct BaseKeeper {
  std::vector<std::string> bases;
  ~BaseKeeper() {
    for (const auto &base : bases)
      rmdir(base.c_str());
  }
};

[[noreturn]] void fail(const std::string &what, int err) {
  throw std::runtime_error("cgroup: " + what + ": " + std::strerror(err));
}

} // namespace

CgroupSupport probe_cgroup_support() {
  CgroupSupport support;
  auto mounts = cgroup_mounts();
  auto groups = own_groups();
  std::string v2 = group_dir(mounts, groups, "");
  if (v2.empty() && mounts.count(""))
    v2 = mounts.at("").point;
  if (!v2.empty() && writable_dir(v2) && v2_usable(v2, support.notes)) {
    support.version = CgroupVersion::v2;
    support.v2_group = v2;
    auto keeper = std::make_shared<BaseKeeper>();
    keeper->bases.push_back(v2 + "/" + kBaseName);
    support.base_keeper = keeper;
    return support;
  }
  if (v2.empty())
    support.notes.push_back("cgroup v2: not mounted");
  else if (!writable_dir(v2))
    support.notes.push_back("cgroup v2: " + v2 + " is not writable");
  support.v1_memory = group_dir(mounts, groups, "memory");
  support.v1_pids = group_dir(mounts, groups, "pids");
  support.v1_cpu = group_dir(mounts, groups, "cpu");
  if (!writable_dir(support.v1_cpu))
    support.v1_cpu.clear();
  if (!writable_dir(support.v1_memory) || !writable_dir(support.v1_pids)) {
    support.notes.push_back("cgroup v1: the memory and pids controllers are not both mounted "
                            "and writable");
    support.v1_memory.clear();
    support.v1_pids.clear();
    support.v1_cpu.clear();
    return support;
  }
  support.version = CgroupVersion::v1;
  support.v1_swap_accounting = exists(support.v1_memory + "/memory.memsw.limit_in_bytes");
  auto keeper = std::make_shared<BaseKeeper>();
  for (const auto *group : {&support.v1_cpu, &support.v1_pids, &support.v1_memory})
    if (!group->empty())
      keeper->bases.push_back(*group + "/" + kBaseName);
  support.base_keeper = keeper;
  return support;
}

CgroupSupport RunCgroup::check_at_startup(const CgroupPolicy &policy, std::ostream &log) {
  return check_at_startup(policy, policy.mode == "off" ? CgroupSupport{} : probe_cgroup_support(),
                          log);
}

CgroupSupport RunCgroup::check_at_startup(const CgroupPolicy &policy, CgroupSupport support,
                                          std::ostream &log) {
  if (policy.mode == "off")
    return CgroupSupport{};
  if (support.version != CgroupVersion::none)
    return support;
  std::string why;
  for (const auto &note : support.notes)
    why += (why.empty() ? "" : "; ") + note;
  if (policy.mode == "required")
    throw std::runtime_error("sandbox.cgroup.mode is required but this host offers no usable "
                             "cgroups (" +
                             why + ")");
  log << "nospace-sandbox: no usable cgroups (" << why
      << "); sandbox.cgroup.mode is best-effort, so runs get no memory, pids or cpu cgroup "
         "limits (rlimits still apply)\n";
  return support;
}

std::optional<RunCgroup> RunCgroup::prepare(const CgroupPolicy &policy, const std::string &name) {
  if (policy.mode == "off")
    return std::nullopt;
  return prepare(policy, name, probe_cgroup_support());
}

std::optional<RunCgroup> RunCgroup::prepare(const CgroupPolicy &policy, const std::string &name,
                                            const CgroupSupport &support) {
  if (policy.mode == "off")
    return std::nullopt;
  if (support.version == CgroupVersion::none) {
    if (policy.mode == "required")
      throw std::runtime_error("cgroup: required by the policy, but the host has none usable");
    return std::nullopt;
  }
  const std::string leaf = std::to_string(getpid()) + "-" + name;
  const std::string memory = std::to_string(policy.memory_max.bytes);
  const std::string quota = std::to_string(kCpuPeriodUs * policy.cpu_percent / 100);
  RunCgroup group;
  group.version_ = support.version;
  group.base_keeper_ = support.base_keeper;
  // Each step adds the group to paths_ first, so a failure half-way removes what was made.
  auto make = [&](const std::string &parent, const char *controllers) {
    std::string base = parent + "/" + kBaseName;
    if (mkdir(base.c_str(), 0755) != 0 && errno != EEXIST)
      fail("mkdir " + base, errno);
    if (controllers) {
      auto enabled = read_file(base + "/cgroup.subtree_control").value_or("");
      if (!has_word(enabled, "memory") || !has_word(enabled, "pids"))
        if (int err = write_file(base + "/cgroup.subtree_control", controllers))
          fail("enable controllers in " + base, err);
    }
    std::string path = base + "/" + leaf;
    int err = make_group(path);
    // Another launcher that stopped may have removed the (then empty) base meanwhile.
    if (err == ENOENT && (mkdir(base.c_str(), 0755) == 0 || errno == EEXIST))
      err = make_group(path);
    if (err)
      fail("mkdir " + path, err);
    group.paths_.push_back(path);
    return path;
  };
  auto set = [](const std::string &path, const char *file, const std::string &value) {
    if (int err = write_file(path + "/" + file, value))
      fail("write " + value + " to " + path + "/" + file, err);
  };
  if (support.version == CgroupVersion::v2) {
    bool cpu = has_word(read_file(support.v2_group + "/cgroup.controllers").value_or(""), "cpu");
    std::string path = make(support.v2_group, cpu ? "+memory +pids +cpu" : "+memory +pids");
    set(path, "memory.max", memory);
    if (exists(path + "/memory.swap.max"))
      set(path, "memory.swap.max", "0");
    set(path, "pids.max", std::to_string(policy.pids_max));
    if (exists(path + "/cpu.max"))
      set(path, "cpu.max", quota + " " + std::to_string(kCpuPeriodUs));
    return group;
  }
  std::string mem = make(support.v1_memory, nullptr);
  set(mem, "memory.limit_in_bytes", memory);
  // Swap off: with swap accounting the limit covers memory + swap, so nothing can be swapped
  // out to make room; without it, at least ask the kernel not to swap this group.
  if (support.v1_swap_accounting)
    set(mem, "memory.memsw.limit_in_bytes", memory);
  else
    set(mem, "memory.swappiness", "0");
  std::string pids = make(support.v1_pids, nullptr);
  set(pids, "pids.max", std::to_string(policy.pids_max));
  if (!support.v1_cpu.empty()) {
    std::string cpu = make(support.v1_cpu, nullptr);
    set(cpu, "cpu.cfs_period_us", std::to_string(kCpuPeriodUs));
    set(cpu, "cpu.cfs_quota_us", quota);
  }
  return group;
}

RunCgroup::RunCgroup(RunCgroup &&other) noexcept
    : version_(other.version_), paths_(std::move(other.paths_)),
      base_keeper_(std::move(other.base_keeper_)) {
  other.paths_.clear();
}

RunCgroup &RunCgroup::operator=(RunCgroup &&other) noexcept {
  if (this != &other) {
    remove();
    version_ = other.version_;
    paths_ = std::move(other.paths_);
    base_keeper_ = std::move(other.base_keeper_);
    other.paths_.clear();
  }
  return *this;
}

RunCgroup::~RunCgroup() { remove(); }

int RunCgroup::add_from_parent(pid_t pid) noexcept {
  const std::string text = std::to_string(pid);
  for (const auto &path : paths_)
    if (int err = write_file(path + "/cgroup.procs", text))
      return err;
  return 0;
}

CgroupUsage RunCgroup::usage() const {
  CgroupUsage usage;
  if (paths_.empty())
    return usage;
  const std::string &group = paths_.front(); // v2: the group; v1: the memory group
  if (version_ == CgroupVersion::v2) {
    usage.peak_memory_bytes = number_in(group + "/memory.peak");
    usage.oom_killed = keyed_value(read_file(group + "/memory.events").value_or(""), "oom_kill");
  } else {
    usage.peak_memory_bytes = number_in(group + "/memory.max_usage_in_bytes");
    usage.oom_killed =
        keyed_value(read_file(group + "/memory.oom_control").value_or(""), "oom_kill");
  }
  return usage;
}

// The supervisor has normally reaped everything by now; whatever is left (a process that
// escaped the pid namespace's teardown, or a run without a pid namespace) is killed first.
void RunCgroup::remove() noexcept {
  for (auto it = paths_.rbegin(); it != paths_.rend(); ++it)
    remove_group(*it);
  paths_.clear();
  base_keeper_.reset(); // the last user of the base removes it
}

} // namespace nospace::sandbox
