#include "common/policy.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace nospace;

namespace {

std::string policy_error(const std::string &yaml, const Environment &env = {}) {
  try {
    parse_policy(yaml, "p.yaml", env);
  } catch (const PolicyError &e) {
    return e.what();
  }
  return "(no error)";
}

} // namespace

TEST_CASE("an empty policy gives the documented defaults") {
  const Policy p = parse_policy("", "p.yaml");
  CHECK(p.server.port == 8080);
  CHECK(p.server.path == "/socket.io/");
  CHECK(p.pipeline.flush_interval_ms == 50);
  CHECK(p.pipeline.max_chunk.bytes == 65536);
  CHECK(p.sandbox.time.wall_ms == 30000);
  CHECK(p.sandbox.namespaces.network);
}

TEST_CASE("values are read with their types and units") {
  const Policy p = parse_policy(R"(
server: {port: 9000, allowed_origins: [https://a.example, https://b.example]}
pipeline: {max_chunk: 32K, flush_interval_ms: 20}
sandbox:
  cgroup: {memory_max: 64M, mode: required}
  rlimits: {address_space: 1G}
)",
                                "p.yaml");
  CHECK(p.server.port == 9000);
  CHECK(p.server.allowed_origins.size() == 2);
  CHECK(p.pipeline.max_chunk.bytes == 32768);
  CHECK(p.sandbox.cgroup.memory_max.bytes == 64ull << 20);
  CHECK(p.sandbox.cgroup.mode == "required");
  CHECK(p.sandbox.rlimits.address_space.bytes == 1ull << 30);
}

TEST_CASE("errors name the file, the line and the full key") {
  CHECK(policy_error("server:\n  prot: 80\n") == "p.yaml:2: server.prot: unknown key");
  CHECK(policy_error("server:\n  port: eighty\n") ==
        "p.yaml:2: server.port: expected a non-negative integer, got 'eighty'");
  CHECK(policy_error("server:\n  port: 70000\n") ==
        "p.yaml:2: server.port: must be between 1 and 65535, got 70000");
  CHECK(policy_error("sandbox:\n  cgroup:\n    mode: maybe\n") ==
        "p.yaml:3: sandbox.cgroup.mode: must be one of required, best-effort, off, got 'maybe'");
  CHECK(policy_error("pipeline:\n  max_chunk: 12Q\n") ==
        "p.yaml:2: pipeline.max_chunk: expected a size such as 65536, 512K, 64M or 1G, got "
        "'12Q'");
  CHECK(policy_error("interpreter:\n  languages: [standard, cobol]\n") ==
        "p.yaml:2: interpreter.languages: unknown value 'cobol' (allowed: standard, min, ws)");
  CHECK(policy_error("server: [1, 2]\n") == "p.yaml:1: server: expected a mapping of keys");
  CHECK(policy_error("server: {port: [1]}\n") ==
        "p.yaml:1: server.port: expected a non-negative integer");
  CHECK(policy_error("a: b: c\n").rfind("p.yaml:1: not valid YAML:", 0) == 0);
  // Found by policy_fuzz: a raw byte string later broke the JSON dump of --check-policy.
  CHECK(policy_error("server:\n  listen: \"127\xf3\xff\"\n") ==
        "p.yaml:2: server.listen: is not valid UTF-8");
  CHECK(policy_error("server:\n  allowed_origins: [\"\xc3\"]\n") ==
        "p.yaml:2: server.allowed_origins: is not valid UTF-8");
  CHECK(policy_error("server:\n  trusted_proxies: [10.0.0.0/8, nginx]\n") ==
        "p.yaml:2: server.trusted_proxies: 'nginx' is not an IP address or network (like "
        "10.0.0.0/8 or fd00::/8)");
}

TEST_CASE("every problem is reported at once, in file order") {
  CHECK(policy_error("server:\n  port: eighty\n  prot: 80\nsandbox:\n  time: {wall_ms: -1}\n",
                     {{"NOSPACE_MAX_PROCESSES", "0"}}) ==
        "p.yaml:2: server.port: expected a non-negative integer, got 'eighty'\n"
        "p.yaml:3: server.prot: unknown key\n"
        "p.yaml:5: sandbox.time.wall_ms: expected a non-negative integer, got '-1'\n"
        "environment NOSPACE_MAX_PROCESSES: limits.max_concurrent_runs: must be between 1 and "
        "65536, got 0");
}

TEST_CASE("the original server's environment variables override the file") {
  const Policy p = parse_policy("server: {port: 9000}\n", "p.yaml",
                                {{"PORT", "3000"},
                                 {"NOSPACE_BIN_PATH", "/opt/nospace20"},
                                 {"NOSPACE_TIMEOUT", "5000"},
                                 {"NOSPACE_MAX_PROCESSES", "7"}});
  CHECK(p.server.port == 3000);
  CHECK(p.interpreter.path == "/opt/nospace20");
  CHECK(p.sandbox.time.wall_ms == 5000);
  CHECK(p.limits.max_concurrent_runs == 7);
  CHECK(policy_error("", {{"PORT", "x"}}) ==
        "environment PORT: server.port: expected a non-negative integer, got 'x'");
  CHECK(policy_error("", {{"NOSPACE_BIN_PATH", "nospace20"}}) ==
        "environment NOSPACE_BIN_PATH: interpreter.path: must be an absolute path, got "
        "'nospace20'");
}

TEST_CASE("byte sizes") {
  std::uint64_t v = 0;
  CHECK((parse_byte_size("512K", v) && v == 512 * 1024));
  CHECK((parse_byte_size("3G", v) && v == 3ull << 30));
  CHECK((parse_byte_size("17", v) && v == 17));
  CHECK_FALSE(parse_byte_size("", v));
  CHECK_FALSE(parse_byte_size("M", v));
  CHECK_FALSE(parse_byte_size("-1", v));
  CHECK_FALSE(parse_byte_size("99999999999999999999G", v));
}

// Every tests/policies/invalid_*.yaml starts with "# expect: <the exact error>".
TEST_CASE("invalid policy fixtures fail with their exact error") {
  namespace fs = std::filesystem;
  int checked = 0;
  for (const auto &entry : fs::directory_iterator(NOSPACE_SOURCE_ROOT "/tests/policies")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("invalid_", 0) != 0)
      continue;
    std::ifstream in(entry.path());
    std::string first;
    std::getline(in, first);
    const std::string prefix = "# expect: ";
    REQUIRE(first.rfind(prefix, 0) == 0);
    const std::string expected = first.substr(prefix.size());
    std::string actual;
    try {
      load_policy(entry.path().string());
      actual = "(no error)";
    } catch (const PolicyError &e) {
      actual = e.what();
      actual = actual.substr(actual.find(name));
    }
    INFO(name);
    CHECK(actual == expected);
    ++checked;
  }
  CHECK(checked >= 3);
}

TEST_CASE("the shipped policies load") {
  for (const char *name : {"default", "strict", "dev"}) {
    const std::string path = std::string(NOSPACE_SOURCE_ROOT "/policies/") + name + ".yaml";
    INFO(path);
    CHECK_NOTHROW(load_policy(path));
  }
}
