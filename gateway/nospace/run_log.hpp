#pragma once
// One structured JSON line per connection event and per run, on stdout (DESIGN.md): a log
// collector reads them as they come; nothing else is written to stdout.

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace nospace::gateway {

class RunLog {
public:
  // `sink` receives each line without its newline; the default writes it to stdout.
  explicit RunLog(std::function<void(const std::string &line)> sink = {});
  // Adds "time" (UTC, milliseconds) and "event", then writes one line.
  void write(const std::string &event, nlohmann::json fields);

private:
  std::function<void(const std::string &)> sink_;
};

} // namespace nospace::gateway
