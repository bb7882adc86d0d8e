// `nospace-sandbox check`: its verdict and exit status for policies this host can and cannot
// run, and its report of what the host provides.
#include <catch2/catch.hpp>

#include "sandbox/check_command.hpp"
#include "skip.hpp"

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace {

const std::string kFake = NOSPACE_BUILD_ROOT "/tests/fixtures/fake-nospace20";

struct Outcome {
  int status;
  std::string out, err;
};

// Runs the check on a policy file holding `yaml`. With `as_uid`, in a child that switched to
// that uid and gid first (the rootless case).
Outcome check(const std::string &yaml, std::vector<std::string> extra = {}, uid_t as_uid = 0) {
  char dir[] = "/tmp/nospace-check-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  chmod(dir, 0755);
  const std::string path = std::string(dir) + "/policy.yaml";
  std::ofstream(path) << yaml;
  chmod(path.c_str(), 0644);
  std::vector<std::string> args = {"--policy", path};
  args.insert(args.end(), extra.begin(), extra.end());
  Outcome o;
  if (as_uid == 0) {
    std::ostringstream out, err;
    o.status = nospace::sandbox::check_command(args, out, err);
    o.out = out.str();
    o.err = err.str();
  } else {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      if (setresgid(as_uid, as_uid, as_uid) != 0 || setresuid(as_uid, as_uid, as_uid) != 0)
        _exit(100);
      std::ostringstream out, err;
      int status = nospace::sandbox::check_command(args, out, err);
      std::string text = out.str() + err.str();
      (void)!write(fds[1], text.data(), text.size());
      _exit(status);
    }
    close(fds[1]);
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
      o.out.append(buf, size_t(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    o.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  unlink(path.c_str());
  rmdir(dir);
  return o;
}

} // namespace

TEST_CASE("check: a policy this host can run exits 0 and says so") {
  auto r = check("interpreter: {path: " + kFake + "}\n");
  INFO(r.out << r.err);
  if (geteuid() == 0) {
    CHECK(r.status == 0);
    CHECK(r.out.find("can run: yes") != std::string::npos);
  }
  CHECK(r.out.find("host:") != std::string::npos);
  CHECK(r.out.find("policy requires:") != std::string::npos);
}

TEST_CASE("check: a missing interpreter is a reason not to run (exit 1)") {
  auto r = check("interpreter: {path: /nonexistent/nospace20}\n");
  CHECK(r.status == 1);
  CHECK(r.out.find("can run: no") != std::string::npos);
  CHECK(r.out.find("  - the interpreter /nonexistent/nospace20 is not an executable file here") !=
        std::string::npos);
}

TEST_CASE("check: an unknown syscall in the policy is a policy error naming the key (exit 2)") {
  auto r = check("interpreter: {path: " + kFake +
                 "}\nsandbox:\n  seccomp:\n    allow_extra: [frobnicate]\n");
  CHECK(r.status == 2);
  CHECK(r.err.find("sandbox.seccomp.allow_extra: unknown syscall 'frobnicate'") !=
        std::string::npos);
}

TEST_CASE("check: --json reports the host's mechanisms and the verdict") {
  auto r = check("interpreter: {path: " + kFake + "}\nsandbox: {cgroup: {mode: required}}\n",
                 {"--json"});
  auto json = nlohmann::json::parse(r.out);
  for (const char *ns : {"user", "pid", "mount", "network", "ipc", "uts", "cgroup"})
    CHECK(json["host"]["namespaces"].contains(ns));
  CHECK(json["host"]["seccomp"]["actions"].get<std::string>().find("user_notif") !=
        std::string::npos);
  CHECK(json["policy"]["cgroup"]["mode"] == "required");
  CHECK(json["policy"]["seccomp"]["bpf_instructions"].get<int>() > 50);
  // required cgroups: runnable exactly when the host has usable cgroups (and we are root).
  bool usable = json["host"]["cgroups"]["usable"] != "none" && geteuid() == 0;
  CHECK(json["can_run"].get<bool>() == usable);
  CHECK(r.status == (usable ? 0 : 1));
}

TEST_CASE("check: usage errors exit 2") {
  std::ostringstream out, err;
  CHECK(nospace::sandbox::check_command({}, out, err) == 2);
  CHECK(nospace::sandbox::check_command({"--bogus"}, out, err) == 2);
  CHECK(err.str().find("usage: nospace-sandbox check") != std::string::npos);
}

TEST_CASE("check: rootless, cgroups are unusable; best-effort runs, required does not") {
  if (geteuid() != 0)
    NOSPACE_SKIP("needs root to switch to an unprivileged uid for the rootless case");
  const uid_t nobody = 65534;
  auto relaxed = check("interpreter: {path: " + kFake + "}\n", {}, nobody);
  INFO(relaxed.out);
  CHECK(relaxed.out.find("root: false") != std::string::npos);
  CHECK(relaxed.out.find("\"usable\":\"none\"") != std::string::npos);
  CHECK(relaxed.out.find("rootless: the caller's uid is mapped") != std::string::npos);
  CHECK(relaxed.out.find("best-effort: runs will start without cgroup limits") !=
        std::string::npos);
  auto strict = check("interpreter: {path: " + kFake + "}\nsandbox: {cgroup: {mode: required}}\n",
                      {}, nobody);
  INFO(strict.out);
  CHECK(strict.status == 1);
  CHECK(strict.out.find("  - sandbox.cgroup.mode is required, but no cgroups are usable here") !=
        std::string::npos);
}
