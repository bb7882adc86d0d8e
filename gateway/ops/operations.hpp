#pragma once
// The operations side of nospace-gateway in one object, so main.cpp wires it with three calls:
//
//   ops::Operations operations;
//   RunLog log(operations.log_sink());          // metrics and running sessions from the log
//   ...
//   auto drain = operations.attach(io, policy, engine, sio.of("/"), launcher_connected,
//                                  sandboxes_running, write_log);  // endpoints, SIGTERM
//
// It never touches a session directly: the drain notifies sessions through their sockets and
// kills runs by closing connections (a disconnect kills the run, and the launcher reaps it).

#include "gateway/ops/endpoints.hpp"
#include "gateway/ops/metrics.hpp"
#include "gateway/ops/shutdown.hpp"

#include "common/policy.hpp"

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace nospace::engineio {
class Server;
}
namespace nospace::socketio {
class Namespace;
}

namespace nospace::ops {

class Operations {
public:
  using LogWriter = std::function<void(const std::string &event, nlohmann::json fields)>;

  // `out`: where log lines go after being observed (default: stdout, one line each).
  explicit Operations(std::function<void(const std::string &line)> out = {});

  // A sink for RunLog: observes each line (metrics, sessions running), then writes it.
  std::function<void(const std::string &line)> log_sink();

  // Registers /healthz, /readyz, /metrics and (server.static_dir) static files on the engine,
  // and returns the graceful shutdown, already waiting for SIGTERM/SIGINT (server.drain_ms):
  // keep it alive after `io` is created and until io.run() returns (it holds timers on `io`).
  // Throws std::runtime_error when server.static_dir cannot be opened. `sandboxes_running` is
  // the launcher's count of live sandboxes.
  [[nodiscard]] std::unique_ptr<GracefulShutdown>
  attach(boost::asio::io_context &io, const Policy &policy, engineio::Server &engine,
         socketio::Namespace &nsp, std::function<bool()> launcher_connected,
         std::function<std::size_t()> sandboxes_running, LogWriter log);

  GatewayMetrics &metrics() { return metrics_; }
  // socket id -> the session running on it (from run-start/run-end lines).
  const std::map<std::string, std::string> &running_sessions() const { return running_; }

private:
  void observe(const std::string &line);

  std::function<void(const std::string &)> out_;
  GatewayMetrics metrics_;
  std::map<std::string, std::string> running_;
  std::unique_ptr<Endpoints> endpoints_;
};

} // namespace nospace::ops
