#include "common/run_result.hpp"

#include <nlohmann/json.hpp>

namespace nospace {

nlohmann::json to_json(const RunResult &r) {
  nlohmann::json j{{"reason", r.reason},
                   {"detail", r.detail},
                   {"exit_code", nullptr},
                   {"signal", nullptr},
                   {"cpu_ms", r.cpu_ms},
                   {"wall_ms", r.wall_ms},
                   {"peak_memory_bytes", r.peak_memory_bytes}};
  if (r.exit_code)
    j["exit_code"] = *r.exit_code;
  if (r.signal)
    j["signal"] = *r.signal;
  return j;
}

RunResult run_result_from_json(const nlohmann::json &j) {
  RunResult r;
  r.reason = j.at("reason").get<std::string>();
  r.detail = j.at("detail").get<std::string>();
  if (!j.at("exit_code").is_null())
    r.exit_code = j.at("exit_code").get<int>();
  if (!j.at("signal").is_null())
    r.signal = j.at("signal").get<int>();
  r.cpu_ms = j.at("cpu_ms").get<std::uint64_t>();
  r.wall_ms = j.at("wall_ms").get<std::uint64_t>();
  r.peak_memory_bytes = j.at("peak_memory_bytes").get<std::uint64_t>();
  return r;
}

int mirrored_exit_status(const RunResult &r) {
  if (r.exit_code)
    return *r.exit_code;
  if (r.signal)
    return 128 + *r.signal;
  return 125;
}

} // namespace nospace
