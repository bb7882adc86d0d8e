#pragma once
// The gateway's metrics, derived from the run log (gateway/nospace/run_log.hpp): one structured
// JSON line per connection event and per run is already what the nospace service reports, so
// the metrics count exactly what the log says and the service carries no metrics code.
//
//   connect                 nospace_connections +1, nospace_connections_total +1
//   disconnect              nospace_connections -1
//   connect-refused         nospace_refusals_total{limit=<key>}
//   request-refused         nospace_refusals_total{limit=<key>} (the "(limits.KEY)" the message
//                           names; "invalid-request" for a malformed one)
//   run-start               nospace_sessions +1
//   run-end                 nospace_sessions -1, nospace_runs_total{status,reason},
//                           nospace_run_duration_seconds, nospace_streamed_bytes_total
// Sandboxes running are counted where the launcher reports them (main.cpp's adapter).

#include "gateway/ops/metrics.hpp"

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace nospace::ops {

// Updates `metrics` from one run log line (already parsed). Unknown events are ignored.
void observe_run_log(GatewayMetrics &metrics, const nlohmann::json &line);

// The final status a run-end line implies when the session had not sent it yet ("pending"):
// exit 0 -> finished, a kill request -> killed, anything else -> error (DESIGN.md).
std::string final_status(const nlohmann::json &run_end);

} // namespace nospace::ops
