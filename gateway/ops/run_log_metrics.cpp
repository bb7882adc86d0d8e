#include "gateway/ops/run_log_metrics.hpp"

#include <nlohmann/json.hpp>

#include <regex>

namespace nospace::ops {

namespace {

std::string text(const nlohmann::json &line, const char *key) {
  auto it = line.find(key);
  return it != line.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::uint64_t number(const nlohmann::json &line, const char *key) {
  auto it = line.find(key);
  if (it == line.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0)
    return 0;
  return it->get<std::uint64_t>();
}

// The policy key a refusal message names, e.g. "... (limits.max_runs_per_ip)".
std::string refused_limit(const std::string &message) {
  static const std::regex key(R"(\((limits|engineio|sandbox)\.([a-z_]+)\))");
  std::smatch m;
  if (std::regex_search(message, m, key))
    return m[2].str();
  return "invalid-request";
}

} // namespace

std::string final_status(const nlohmann::json &run_end) {
  std::string status = text(run_end, "status");
  if (status == "finished" || status == "error" || status == "killed")
    return status;
  std::string reason = text(run_end, "reason");
  if (reason == "killed")
    return "killed";
  auto code = run_end.find("exitCode");
  bool zero = code != run_end.end() && code->is_number_integer() && code->get<int>() == 0;
  return reason == "exited" && zero ? "finished" : "error";
}

void observe_run_log(GatewayMetrics &metrics, const nlohmann::json &line) {
  if (!line.is_object())
    return;
  const std::string event = text(line, "event");
  if (event == "connect") {
    metrics.connection_opened();
  } else if (event == "disconnect") {
    metrics.connection_closed();
  } else if (event == "connect-refused" || event == "request-refused") {
    metrics.refused(refused_limit(text(line, "error")));
  } else if (event == "run-start") {
    metrics.session_started();
  } else if (event == "run-end") {
    metrics.session_ended();
    std::uint64_t wall_ms = 0;
    if (auto usage = line.find("usage"); usage != line.end() && usage->is_object())
      wall_ms = number(*usage, "wallMs");
    metrics.run_finished(final_status(line), text(line, "reason"), wall_ms);
    if (auto n = number(line, "stdoutBytes"))
      metrics.bytes_streamed("stdout", n);
    if (auto n = number(line, "stderrBytes"))
      metrics.bytes_streamed("stderr", n);
  }
}

} // namespace nospace::ops
