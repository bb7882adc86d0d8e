#include "gateway/nospace/run_log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace nospace::gateway {

namespace {

std::string utc_now() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(ms));
  return std::string(text, n) + millis;
}

} // namespace

RunLog::RunLog(std::function<void(const std::string &)> sink) : sink_(std::move(sink)) {
  if (!sink_)
    sink_ = [](const std::string &line) {
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
    };
}

void RunLog::write(const std::string &event, nlohmann::json fields) {
  nlohmann::json line = {{"time", utc_now()}, {"event", event}};
  if (fields.is_object())
    line.update(fields);
  // Client-supplied text in a field may be invalid UTF-8: replace rather than throw.
  sink_(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

} // namespace nospace::gateway
