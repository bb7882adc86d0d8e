#include "common/gateway_policy.hpp"

#include "common/ip_network.hpp"

#include <nlohmann/json.hpp>

namespace nospace {

namespace {
constexpr std::uint64_t kDay = 24ull * 3600 * 1000;
}

void read_server_policy(MappingReader &r, ServerPolicy &out) {
  r.read("listen", out.listen);
  r.read("port", out.port, 1, 65535);
  r.read("path", out.path);
  if (out.path.empty() || out.path.front() != '/' || out.path.back() != '/')
    r.fail("path", "must start and end with '/', got '" + out.path + "'");
  r.read("allowed_origins", out.allowed_origins);
  r.read("user", out.user);
  r.read("static_dir", out.static_dir);
  r.read("drain_ms", out.drain_ms, 0, kDay);
  r.read("trusted_proxies", out.trusted_proxies);
  for (const auto &entry : out.trusted_proxies)
    if (!parse_ip_network(entry))
      r.fail("trusted_proxies",
             "'" + entry + "' is not an IP address or network (like 10.0.0.0/8 or fd00::/8)");
  r.finish();
}

void read_engineio_policy(MappingReader &r, EngineIoPolicy &out) {
  r.read("ping_interval_ms", out.ping_interval_ms, 50, kDay);
  r.read("ping_timeout_ms", out.ping_timeout_ms, 50, kDay);
  r.read("upgrade_timeout_ms", out.upgrade_timeout_ms, 50, kDay);
  r.read("connect_timeout_ms", out.connect_timeout_ms, 50, kDay);
  r.read("max_payload", out.max_payload, 1024, 1ull << 30);
  r.finish();
}

void read_limits_policy(MappingReader &r, LimitsPolicy &out) {
  r.read("max_connections", out.max_connections, 1, 1u << 20);
  r.read("max_connections_per_ip", out.max_connections_per_ip, 1, 1u << 20);
  r.read("max_concurrent_runs", out.max_concurrent_runs, 1, 1u << 16);
  r.read("max_runs_per_ip", out.max_runs_per_ip, 1, 1u << 16);
  r.read("runs_per_minute_per_ip", out.runs_per_minute_per_ip, 1, 1u << 20);
  r.read("max_code", out.max_code, 1, 64ull << 20);
  r.read("max_stdin", out.max_stdin, 1, 64ull << 20);
  r.finish();
}

void read_interpreter_policy(MappingReader &r, InterpreterPolicy &out) {
  r.read("path", out.path);
  if (out.path.empty() || out.path.front() != '/')
    r.fail("path", "must be an absolute path, got '" + out.path + "'");
  r.read_choices("languages", out.languages, {"standard", "min", "ws"});
  r.read_choices("std_extensions", out.std_extensions, {"debug", "alloc"});
  r.read_choices("compile_targets", out.compile_targets, {"ws", "mnemonic", "json"});
  r.finish();
}

void read_pipeline_policy(MappingReader &r, PipelinePolicy &out) {
  r.read("flush_interval_ms", out.flush_interval_ms, 1, 10000);
  r.read("max_chunk", out.max_chunk, 16, 16ull << 20);
  r.read("high_water", out.high_water, 1024, 1ull << 30);
  r.finish();
}

nlohmann::json to_json(const ServerPolicy &p) {
  return {{"listen", p.listen},     {"port", p.port},
          {"path", p.path},         {"allowed_origins", p.allowed_origins},
          {"user", p.user},         {"static_dir", p.static_dir},
          {"drain_ms", p.drain_ms}, {"trusted_proxies", p.trusted_proxies}};
}

nlohmann::json to_json(const EngineIoPolicy &p) {
  return {{"ping_interval_ms", p.ping_interval_ms},
          {"ping_timeout_ms", p.ping_timeout_ms},
          {"upgrade_timeout_ms", p.upgrade_timeout_ms},
          {"connect_timeout_ms", p.connect_timeout_ms},
          {"max_payload", p.max_payload.bytes}};
}

nlohmann::json to_json(const LimitsPolicy &p) {
  return {{"max_connections", p.max_connections},
          {"max_connections_per_ip", p.max_connections_per_ip},
          {"max_concurrent_runs", p.max_concurrent_runs},
          {"max_runs_per_ip", p.max_runs_per_ip},
          {"runs_per_minute_per_ip", p.runs_per_minute_per_ip},
          {"max_code", p.max_code.bytes},
          {"max_stdin", p.max_stdin.bytes}};
}

nlohmann::json to_json(const InterpreterPolicy &p) {
  return {{"path", p.path},
          {"languages", p.languages},
          {"std_extensions", p.std_extensions},
          {"compile_targets", p.compile_targets}};
}

nlohmann::json to_json(const PipelinePolicy &p) {
  return {{"flush_interval_ms", p.flush_interval_ms},
          {"max_chunk", p.max_chunk.bytes},
          {"high_water", p.high_water.bytes}};
}

} // namespace nospace
