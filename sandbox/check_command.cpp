#include "sandbox/check_command.hpp"

#include "common/policy.hpp"
#include "sandbox/cgroup.hpp"
#include "sandbox/seccomp_filter.hpp"
#include "sandbox/syscall_table.hpp"

#include <nlohmann/json.hpp>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

namespace nospace::sandbox {

namespace {

constexpr const char *kUsage = "usage: nospace-sandbox check --policy FILE [--json]\n"
                               "  What this host provides, what the policy requires, and whether\n"
                               "  runs can start (exit 0) or not (exit 1, with the reasons).\n";

struct Namespace {
  const char *name;
  int flag;
  bool NamespacePolicy::*wanted;
};

constexpr Namespace kNamespaces[] = {
    {"user", CLONE_NEWUSER, &NamespacePolicy::user},
    {"pid", CLONE_NEWPID, &NamespacePolicy::pid},
    {"mount", CLONE_NEWNS, &NamespacePolicy::mount},
    {"network", CLONE_NEWNET, &NamespacePolicy::network},
    {"ipc", CLONE_NEWIPC, &NamespacePolicy::ipc},
    {"uts", CLONE_NEWUTS, &NamespacePolicy::uts},
    {"cgroup", CLONE_NEWCGROUP, &NamespacePolicy::cgroup},
};

// Tries unshare(flags) in a throw-away child: 0 or the errno it failed with.
int probe_unshare(int flags) {
  pid_t pid = fork();
  if (pid < 0)
    return errno;
  if (pid == 0)
    _exit(unshare(flags) == 0 ? 0 : (errno & 0xff));
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
    return ECHILD;
  return WEXITSTATUS(status);
}

std::string read_text(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

bool has_word(const std::string &list, const std::string &word) {
  std::istringstream in(list);
  std::string w;
  while (in >> w)
    if (w == word)
      return true;
  return false;
}

std::string version_name(CgroupVersion v) {
  switch (v) {
  case CgroupVersion::v1: return "v1";
  case CgroupVersion::v2: return "v2";
  case CgroupVersion::none: break;
  }
  return "none";
}

struct Report {
  nlohmann::json host = nlohmann::json::object();
  nlohmann::json policy = nlohmann::json::object();
  std::vector<std::string> problems;
};

void check_host_basics(Report &r) {
  utsname u{};
  uname(&u);
  r.host["kernel"] = u.release;
  r.host["root"] = geteuid() == 0;
  r.host["no_new_privs"] = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) >= 0;
  UniqueFd self(int(syscall(SYS_pidfd_open, getpid(), 0)));
  r.host["pidfd_open"] = self.valid();
}

void check_namespaces(const Policy &policy, Report &r) {
  const NamespacePolicy &ns = policy.sandbox.namespaces;
  nlohmann::json host = nlohmann::json::object();
  nlohmann::json wanted = nlohmann::json::array();
  for (const Namespace &n : kNamespaces) {
    // Alone, and for the others also inside a new user namespace (how rootless runs make them).
    int err = probe_unshare(n.flag);
    if (err != 0 && n.flag != CLONE_NEWUSER)
      err = probe_unshare(CLONE_NEWUSER | n.flag);
    host[n.name] = err == 0 ? "yes" : std::string("no: ") + std::strerror(err);
    if (ns.*n.wanted) {
      wanted.push_back(n.name);
      if (err != 0)
        r.problems.push_back(std::string("the policy wants a new ") + n.name +
                             " namespace, but this host refuses it: " + std::strerror(err));
    }
  }
  r.host["namespaces"] = host;
  r.policy["namespaces"] = wanted;
  // All of them together, as a run makes them.
  int all = 0;
  for (const Namespace &n : kNamespaces)
    all |= ns.*n.wanted ? n.flag : 0;
  if (all != 0 && r.problems.empty())
    if (int err = probe_unshare(all))
      r.problems.push_back(std::string("the policy's namespaces together are refused: ") +
                           std::strerror(err));
}

void check_seccomp(const Policy &policy, Report &r) {
  const std::string actions = read_text("/proc/sys/kernel/seccomp/actions_avail");
  bool filter_mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 && !actions.empty();
  r.host["seccomp"] = {{"filter", filter_mode}, {"actions", actions}};
  const SeccompPolicy &sp = policy.sandbox.seccomp;
  nlohmann::json p = {{"enabled", sp.enabled}, {"allow_extra", sp.allow_extra}, {"deny", sp.deny}};
  if (sp.enabled) {
    // Throws PolicyError for a syscall name this architecture lacks: a policy error (exit 2).
    auto filter = SeccompFilter::compile(sp, policy.source);
    p["table_entries"] = default_syscall_table().size();
    p["bpf_instructions"] = filter.reporting_program().size();
    if (!filter_mode)
      r.problems.push_back("the policy enables seccomp, but this kernel has no filter mode");
    for (const char *action : {"user_notif", "kill_process", "errno", "allow"})
      if (!has_word(actions, action))
        r.problems.push_back(std::string("seccomp action ") + action +
                             " is missing (the filter reports refusals with user_notif)");
  }
  r.policy["seccomp"] = p;
}

void check_cgroups(const Policy &policy, Report &r) {
  CgroupSupport support = probe_cgroup_support();
  nlohmann::json host = {{"usable", version_name(support.version)}, {"notes", support.notes}};
  if (support.version == CgroupVersion::v2)
    host["group"] = support.v2_group;
  if (support.version == CgroupVersion::v1) {
    host["memory"] = support.v1_memory;
    host["pids"] = support.v1_pids;
    host["cpu"] = support.v1_cpu.empty() ? "not mounted: no cpu quota" : support.v1_cpu;
    host["swap_accounting"] = support.v1_swap_accounting;
  }
  r.host["cgroups"] = host;
  const CgroupPolicy &cp = policy.sandbox.cgroup;
  r.policy["cgroup"] = {{"mode", cp.mode},
                        {"memory_max", cp.memory_max.bytes},
                        {"pids_max", cp.pids_max},
                        {"cpu_percent", cp.cpu_percent}};
  if (cp.mode == "required" && support.version == CgroupVersion::none)
    r.problems.push_back("sandbox.cgroup.mode is required, but no cgroups are usable here");
  if (cp.mode == "best-effort" && support.version == CgroupVersion::none)
    r.policy["cgroup"]["note"] = "best-effort: runs will start without cgroup limits";
}

void check_interpreter_and_ids(const Policy &policy, Report &r) {
  const std::string &path = policy.interpreter.path;
  bool runnable = access(path.c_str(), X_OK) == 0;
  r.policy["interpreter"] = {{"path", path}, {"executable", runnable}};
  if (!runnable)
    r.problems.push_back("the interpreter " + path + " is not an executable file here");
  const UidRangePolicy &ids = policy.sandbox.uid_range;
  r.policy["uid_range"] = geteuid() == 0
                              ? nlohmann::json{{"first", ids.first}, {"count", ids.count}}
                              : nlohmann::json("rootless: the caller's uid is mapped");
  if (geteuid() != 0 && policy.sandbox.cgroup.mode == "required")
    r.problems.push_back("cgroup limits are required, which needs the launcher to run as root");
}

void print_text(const Report &r, std::ostream &out) {
  out << "host:\n";
  for (const auto &[key, value] : r.host.items())
    out << "  " << key << ": " << value.dump() << "\n";
  out << "policy requires:\n";
  for (const auto &[key, value] : r.policy.items())
    out << "  " << key << ": " << value.dump() << "\n";
  if (r.problems.empty()) {
    out << "can run: yes\n";
    return;
  }
  out << "can run: no\n";
  for (const auto &problem : r.problems)
    out << "  - " << problem << "\n";
}

} // namespace

int check_command(const std::vector<std::string> &args) {
  return check_command(args, std::cout, std::cerr);
}

int check_command(const std::vector<std::string> &args, std::ostream &out, std::ostream &err) {
  std::string policy_path;
  bool json = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--policy" && i + 1 < args.size())
      policy_path = args[++i];
    else if (args[i] == "--json")
      json = true;
    else {
      err << kUsage;
      return 2;
    }
  }
  if (policy_path.empty()) {
    err << kUsage;
    return 2;
  }
  Policy policy;
  try {
    policy = load_policy(policy_path, overriding_environment());
  } catch (const std::exception &e) {
    err << "nospace-sandbox check: " << e.what() << "\n";
    return 2;
  }
  Report r;
  try {
    check_host_basics(r);
    check_namespaces(policy, r);
    check_seccomp(policy, r);
    check_cgroups(policy, r);
    check_interpreter_and_ids(policy, r);
  } catch (const PolicyError &e) {
    err << "nospace-sandbox check: " << e.what() << "\n";
    return 2;
  } catch (const std::exception &e) {
    r.problems.push_back(e.what());
  }
  if (json)
    out << nlohmann::json{{"host", r.host},
                          {"policy", r.policy},
                          {"can_run", r.problems.empty()},
                          {"problems", r.problems}}
               .dump(2)
        << "\n";
  else
    print_text(r, out);
  return r.problems.empty() ? 0 : 1;
}

} // namespace nospace::sandbox
