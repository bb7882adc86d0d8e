#pragma once
// The result of one sandboxed run, shared by the launcher (which fills it in) and the gateway
// (which reports it to the client). Stays valid C++17: the gateway's transport includes it.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace nospace {

struct RunResult {
  // exited | signaled | wall-timeout | cpu-timeout | memory | output-limit | seccomp | killed |
  // start-failed
  std::string reason;
  // seccomp: the syscall name; start-failed: "<step>: <cause>"; signaled: the signal name.
  std::string detail;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::uint64_t cpu_ms = 0;
  std::uint64_t wall_ms = 0;
  std::uint64_t peak_memory_bytes = 0;
};

nlohmann::json to_json(const RunResult &result);
// The inverse of to_json; throws nlohmann::json::exception on a malformed object.
RunResult run_result_from_json(const nlohmann::json &json);

// The exit status a command-line wrapper mirrors: the exit code, 128 + signal when signaled,
// 125 when the program never started (as env(1), timeout(1) and docker do).
int mirrored_exit_status(const RunResult &result);

} // namespace nospace
