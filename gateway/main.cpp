// nospace-gateway: the internet-facing Socket.IO server that runs nospace programs through
// the privileged launcher.
//
//   nospace-gateway [--policy FILE] [--sandbox PATH]   (FILE defaults to policies/default.yaml)
//   nospace-gateway --check-policy FILE                 (effective policy as JSON, or the error)
//
// Start-up order, and why:
//   1. load the policy (env overrides PORT, NOSPACE_BIN_PATH, NOSPACE_TIMEOUT,
//      NOSPACE_MAX_PROCESSES apply) — a bad policy stops here, before anything runs;
//   2. spawn the launcher (`nospace-sandbox service --socket-fd`) while still root, so it keeps
//      what it needs to build sandboxes and we keep only our end of the socketpair;
//   3. drop our own privileges for good (server.user when root; no_new_privs always) — the
//      code that parses internet traffic never holds any;
//   4. only then listen on server.listen:server.port.
#include "common/policy.hpp"
#include "gateway/engineio/server.hpp"
#include "gateway/launcher/launcher_client.hpp"
#include "gateway/nospace/run_launcher.hpp"
#include "gateway/nospace/service.hpp"
#include "gateway/ops/operations.hpp"
#include "gateway/socketio/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <nlohmann/json.hpp>

#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

namespace {

using namespace nospace;
using namespace nospace::gateway;

const char kUsage[] =
    "usage: nospace-gateway [--policy FILE] [--sandbox PATH]\n"
    "       nospace-gateway --check-policy FILE\n"
    "  --policy FILE        the deployment policy (default: policies/default.yaml)\n"
    "  --sandbox PATH       the nospace-sandbox launcher (default: found next to this binary)\n"
    "  --check-policy FILE  print the effective policy as JSON and exit 0, or the error and\n"
    "                       exit 1\n"
    "Environment overrides: PORT, NOSPACE_BIN_PATH, NOSPACE_TIMEOUT, NOSPACE_MAX_PROCESSES.\n";

struct Options {
  std::string policy = "policies/default.yaml";
  std::string check_policy;
  std::string sandbox;
};

Options parse_options(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "nospace-gateway: " << arg << " needs a value\n" << kUsage;
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--policy")
      o.policy = value();
    else if (arg == "--check-policy")
      o.check_policy = value();
    else if (arg == "--sandbox")
      o.sandbox = value();
    else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      std::cerr << "nospace-gateway: unknown argument '" << arg << "'\n" << kUsage;
      std::exit(2);
    }
  }
  return o;
}

// The launcher next to this binary: the same directory when installed, ../sandbox/ in the
// build tree.
std::string find_sandbox_binary() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const auto &candidate : {self.parent_path() / "nospace-sandbox",
                                  self.parent_path().parent_path() / "sandbox" / "nospace-sandbox"})
      if (::access(candidate.c_str(), X_OK) == 0)
        return candidate;
  }
  return "nospace-sandbox"; // spawn_launcher reports it missing
}

// The real launcher client as the sessions see it.
class LauncherClientAdapter : public RunLauncher {
public:
  explicit LauncherClientAdapter(LauncherClient &client) : client_(client) {}
  void start(const launch::LaunchRequest &request, StartedHandler on_started,
             FinishedHandler on_finished) override {
    client_.start(
        request,
        [on_started = std::move(on_started)](std::string error, LauncherClient::Started s) {
          Started started;
          started.run_id = s.run_id;
          started.stdin_fd = std::move(s.stdin_fd);
          started.stdout_fd = std::move(s.stdout_fd);
          started.stderr_fd = std::move(s.stderr_fd);
          on_started(std::move(error), std::move(started));
        },
        std::move(on_finished));
  }
  void kill(std::uint64_t run_id, const std::string &reason) override {
    client_.kill(run_id, reason);
  }

private:
  LauncherClient &client_;
};

engineio::Config engineio_config(const Policy &policy) {
  engineio::Config c;
  c.path = policy.server.path;
  c.ping_interval = std::chrono::milliseconds(policy.engineio.ping_interval_ms);
  c.ping_timeout = std::chrono::milliseconds(policy.engineio.ping_timeout_ms);
  c.upgrade_timeout = std::chrono::milliseconds(policy.engineio.upgrade_timeout_ms);
  c.max_payload = policy.engineio.max_payload.bytes;
  c.allowed_origins = policy.server.allowed_origins;
  return c;
}

int check_policy(const std::string &path) {
  try {
    const Policy policy = load_policy(path, overriding_environment());
    std::cout << to_json(policy).dump(2) << "\n";
    return 0;
  } catch (const PolicyError &e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}

int serve(const Options &options) {
  // Metrics and the running sessions come from the run log (gateway/ops/operations.hpp).
  ops::Operations operations;
  RunLog log(operations.log_sink());
  Policy policy;
  try {
    policy = load_policy(options.policy, overriding_environment());
  } catch (const PolicyError &e) {
    std::cerr << "nospace-gateway: " << e.what() << "\n";
    return 1;
  }
  if (::access(policy.interpreter.path.c_str(), X_OK) != 0)
    log.write("warning", {{"message", "the interpreter " + policy.interpreter.path +
                                          " is missing: every run will fail until "
                                          "interpreter.path (or NOSPACE_BIN_PATH) names it"}});

  // The launcher gets the policy by path: make it absolute, it may change directory.
  std::error_code ec;
  const std::string policy_path = std::filesystem::absolute(options.policy, ec).string();
  const std::string sandbox = options.sandbox.empty() ? find_sandbox_binary() : options.sandbox;
  UniqueFd launcher_socket;
  try {
    launcher_socket = spawn_launcher(policy_path, sandbox);
    drop_privileges(policy.server.user);
  } catch (const std::exception &e) {
    std::cerr << "nospace-gateway: " << e.what() << "\n";
    return 1;
  }

  boost::asio::io_context io(1);
  LauncherClient launcher(io, std::move(launcher_socket));
  LauncherClientAdapter runs(launcher);
  bool launcher_lost = false;
  launcher.on_disconnect([&](const std::string &why) {
    // Without its launcher the gateway cannot run anything: exit with a failure status, so
    // the supervisor (systemd, the container runtime) sees it and restarts the pair.
    log.write("launcher-lost", {{"reason", why}});
    launcher_lost = true;
    io.stop();
  });

  engineio::Server engine(io, engineio_config(policy));
  socketio::Config sio_config;
  sio_config.connect_timeout = std::chrono::milliseconds(policy.engineio.connect_timeout_ms);
  socketio::Server sio(io, engine, sio_config);
  NospaceService service(io, policy, runs, log);
  service.attach(sio.of("/"));

  // Operations (issue 6): /healthz, /readyz, /metrics, static files, and the SIGTERM drain
  // (stop accepting, notify running sessions, wait server.drain_ms, kill, exit 0).
  std::unique_ptr<ops::GracefulShutdown> drain;
  try {
    drain = operations.attach(
        io, policy, engine, sio.of("/"), [&] { return launcher.connected(); },
        [&] { return service.limits().sandboxes(); },
        [&](const std::string &event, nlohmann::json fields) {
          log.write(event, std::move(fields));
        });
  } catch (const std::exception &e) {
    std::cerr << "nospace-gateway: " << e.what() << "\n";
    return 1;
  }

  try {
    engine.listen(policy.server.listen, static_cast<std::uint16_t>(policy.server.port));
  } catch (const std::exception &e) {
    std::cerr << "nospace-gateway: cannot listen on " << policy.server.listen << ":"
              << policy.server.port << ": " << e.what() << "\n";
    return 1;
  }
  log.write("listening", {{"address", policy.server.listen},
                          {"port", engine.port()},
                          {"path", policy.server.path},
                          {"policy", policy.source},
                          {"sandbox", sandbox},
                          {"interpreter", policy.interpreter.path}});

  io.run(); // until the drain (or a lost launcher) stops it
  return launcher_lost && !(drain && drain->draining()) ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
  const Options options = parse_options(argc, argv);
  if (!options.check_policy.empty())
    return check_policy(options.check_policy);
  return serve(options);
}
