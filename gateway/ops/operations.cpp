#include "gateway/ops/operations.hpp"

#include "gateway/ops/run_log_metrics.hpp"

#include "gateway/engineio/server.hpp"
#include "gateway/socketio/server.hpp"
#include "gateway/socketio/socket.hpp"

#include <cstdio>
#include <optional>
#include <utility>

namespace nospace::ops {

Operations::Operations(std::function<void(const std::string &line)> out) : out_(std::move(out)) {
  if (!out_)
    out_ = [](const std::string &line) {
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
    };
}

std::function<void(const std::string &line)> Operations::log_sink() {
  return [this](const std::string &line) {
    observe(line);
    out_(line);
  };
}

void Operations::observe(const std::string &line) {
  nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return;
  observe_run_log(metrics_, parsed);
  const std::string event = parsed.value("event", "");
  const std::string socket = parsed.value("socket", "");
  const std::string session = parsed.value("session", "");
  if (event == "run-start" && !socket.empty())
    running_[socket] = session;
  else if (event == "run-end" && !socket.empty()) {
    auto it = running_.find(socket);
    if (it != running_.end() && it->second == session)
      running_.erase(it);
  }
}

std::unique_ptr<GracefulShutdown>
Operations::attach(boost::asio::io_context &io, const Policy &policy, engineio::Server &engine,
                   socketio::Namespace &nsp, std::function<bool()> launcher_connected,
                   std::function<std::size_t()> sandboxes_running, LogWriter log) {
  std::optional<StaticFiles> files;
  if (!policy.server.static_dir.empty())
    files.emplace(policy.server.static_dir);
  const std::size_t capacity = policy.limits.max_concurrent_runs;
  endpoints_ = std::make_unique<Endpoints>(
      metrics_,
      [this, launcher_connected, sandboxes_running, capacity] {
        return check_readiness(launcher_connected(), sandboxes_running(), capacity,
                               metrics_.draining());
      },
      std::move(files));
  engine.on_http([this, sandboxes_running](const engineio::HttpRequest &request,
                                           engineio::HttpResponse &response) {
    // The gauge is read from the launcher's count when scraped, so it cannot drift.
    metrics_.set_sandboxes_running(static_cast<std::int64_t>(sandboxes_running()));
    auto reply = endpoints_->handle(request.method, request.target);
    if (!reply)
      return false;
    response.status = reply->status;
    response.headers = std::move(reply->headers);
    response.body = std::move(reply->body);
    return true;
  });

  ShutdownHooks hooks;
  hooks.stop_accepting = [&engine] { engine.stop_accepting(); };
  hooks.notify_sessions = [this, &nsp](const std::string &notice) {
    for (const auto &[socket_id, session_id] : running_) {
      auto it = nsp.sockets().find(socket_id);
      if (it == nsp.sockets().end())
        continue;
      if (auto socket = it->second.lock())
        socket->emit("nospace_stderr",
                     nlohmann::json::array({{{"sessionId", session_id}, {"data", notice}}}));
    }
  };
  hooks.running = [this] { return running_.size(); };
  // A disconnect kills the socket's run; the launcher reaps it and run-end empties running_.
  hooks.kill_all = [&engine] { engine.close_all(); };
  hooks.close_all = [&engine] { engine.close_all(); };
  hooks.finished = [&io] { io.stop(); };
  hooks.log = [log](const std::string &event, std::size_t running) {
    if (log)
      log(event, {{"running", running}});
  };
  // After the kill, the launcher's reaps (SIGTERM, then SIGKILL after kill_grace_ms) are waited
  // for with margin; then the gateway exits anyway and the launcher, losing its socket, kills
  // whatever is left.
  const auto kill_wait =
      std::chrono::milliseconds(policy.sandbox.time.kill_grace_ms) + std::chrono::seconds(2);
  auto shutdown = std::make_unique<GracefulShutdown>(
      io, metrics_, std::chrono::milliseconds(policy.server.drain_ms), kill_wait, std::move(hooks));
  shutdown->listen_for_signals();
  return shutdown;
}

} // namespace nospace::ops
