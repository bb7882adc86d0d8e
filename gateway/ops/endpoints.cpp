#include "gateway/ops/endpoints.hpp"

#include <utility>

namespace nospace::ops {

Readiness check_readiness(bool launcher_connected, std::size_t sandboxes_running,
                          std::size_t max_concurrent_runs, bool draining) {
  if (draining)
    return {false, "draining: shutting down"};
  if (!launcher_connected)
    return {false, "launcher not reachable"};
  if (sandboxes_running >= max_concurrent_runs)
    return {false, "at capacity: " + std::to_string(sandboxes_running) + " of " +
                       std::to_string(max_concurrent_runs) + " sandboxes running"};
  return {true, "ready"};
}

Endpoints::Endpoints(GatewayMetrics &metrics, ReadinessCheck readiness,
                     std::optional<StaticFiles> static_files)
    : metrics_(metrics), readiness_(std::move(readiness)), static_files_(std::move(static_files)) {}

std::optional<HttpReply> Endpoints::handle(const std::string &method,
                                           std::string_view target) const {
  std::string_view path = target.substr(0, target.find('?'));
  bool ours = path == "/healthz" || path == "/readyz" || path == "/metrics";
  if (ours && !is_get_or_head(method)) {
    HttpReply reply = text_reply(405, method, "method not allowed\n");
    reply.headers.emplace_back("Allow", "GET, HEAD");
    return reply;
  }
  // The process answers: that is all liveness means (a stuck io_context would not answer).
  if (path == "/healthz")
    return text_reply(200, method, "ok\n");
  if (path == "/readyz") {
    Readiness r = readiness_();
    return text_reply(r.ready ? 200 : 503, method, r.reason + "\n");
  }
  if (path == "/metrics")
    return text_reply(200, method, metrics_.render(), std::string(kPrometheusContentType));
  if (static_files_)
    return static_files_->serve(method, target);
  return std::nullopt;
}

} // namespace nospace::ops
