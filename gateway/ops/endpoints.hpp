#pragma once
// The operations endpoints: GET /healthz, GET /readyz, GET /metrics, then (optionally) the
// static front end. Answers HEAD like GET without the body; other methods on these paths get
// 405. Load balancers and Kubernetes probe these (containers/k8s/, containers/nginx.conf).

#include "gateway/ops/http_reply.hpp"
#include "gateway/ops/metrics.hpp"
#include "gateway/ops/static_files.hpp"

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace nospace::ops {

struct Readiness {
  bool ready = false;
  std::string reason; // why not ready; "ready" otherwise
};

// Ready = the launcher answers, there is room for one more sandbox, and no drain has begun.
Readiness check_readiness(bool launcher_connected, std::size_t sandboxes_running,
                          std::size_t max_concurrent_runs, bool draining);

class Endpoints {
public:
  using ReadinessCheck = std::function<Readiness()>;

  Endpoints(GatewayMetrics &metrics, ReadinessCheck readiness,
            std::optional<StaticFiles> static_files = std::nullopt);

  // nullopt when the request is none of ours (the caller answers 404).
  std::optional<HttpReply> handle(const std::string &method, std::string_view target) const;

private:
  GatewayMetrics &metrics_;
  ReadinessCheck readiness_;
  std::optional<StaticFiles> static_files_;
};

} // namespace nospace::ops
