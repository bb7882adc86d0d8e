#pragma once
// The gateway parts of a policy: the server, Engine.IO timings, limits, the interpreter and
// the output pipeline.

#include "common/policy_reader.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace nospace {

struct ServerPolicy {
  std::string listen = "0.0.0.0";
  std::uint32_t port = 8080; // PORT overrides
  std::string path = "/socket.io/";
  // Origins allowed to connect; "*" allows any (for development). Empty: no Origin header
  // checks are possible, so only non-browser clients (which send none) get through.
  std::vector<std::string> allowed_origins{"*"};
  std::string user = "nospace";   // the gateway drops to this user when started as root
  std::string static_dir;         // optional: serve a built front end from here
  std::uint64_t drain_ms = 10000; // graceful shutdown wait on SIGTERM
  // Reverse proxies (addresses or networks) whose X-Forwarded-For names the client: the
  // per-IP limits and the logs then see the client, not the proxy. Empty: trust none.
  std::vector<std::string> trusted_proxies;
};

struct EngineIoPolicy {
  std::uint64_t ping_interval_ms = 25000;
  std::uint64_t ping_timeout_ms = 20000;
  std::uint64_t upgrade_timeout_ms = 10000;
  std::uint64_t connect_timeout_ms = 45000; // Socket.IO CONNECT must arrive within this
  ByteSize max_payload{1000000};
};

struct LimitsPolicy {
  std::uint32_t max_connections = 2000;
  std::uint32_t max_connections_per_ip = 32;
  std::uint32_t max_concurrent_runs = 32; // NOSPACE_MAX_PROCESSES overrides
  std::uint32_t max_runs_per_ip = 4;      // concurrent sessions per client IP
  std::uint32_t runs_per_minute_per_ip = 60;
  ByteSize max_code{256ull << 10};
  ByteSize max_stdin{1ull << 20}; // batch stdinData, and one nospace_stdin
};

struct InterpreterPolicy {
  std::string path = "/usr/local/bin/nospace20"; // NOSPACE_BIN_PATH overrides
  std::vector<std::string> languages{"standard", "min", "ws"};
  std::vector<std::string> std_extensions{"debug", "alloc"};
  std::vector<std::string> compile_targets{"ws", "mnemonic", "json"};
};

struct PipelinePolicy {
  std::uint64_t flush_interval_ms = 50;
  ByteSize max_chunk{65536};
  ByteSize high_water{1ull << 20}; // a socket's unsent bytes before pipes stop being read
};

void read_server_policy(MappingReader &reader, ServerPolicy &out);
void read_engineio_policy(MappingReader &reader, EngineIoPolicy &out);
void read_limits_policy(MappingReader &reader, LimitsPolicy &out);
void read_interpreter_policy(MappingReader &reader, InterpreterPolicy &out);
void read_pipeline_policy(MappingReader &reader, PipelinePolicy &out);

nlohmann::json to_json(const ServerPolicy &policy);
nlohmann::json to_json(const EngineIoPolicy &policy);
nlohmann::json to_json(const LimitsPolicy &policy);
nlohmann::json to_json(const InterpreterPolicy &policy);
nlohmann::json to_json(const PipelinePolicy &policy);

} // namespace nospace
