#pragma once
// One deployment's whole policy: one immutable value, loaded once and passed down.

#include "common/gateway_policy.hpp"
#include "common/sandbox_policy.hpp"

#include <map>
#include <string>

namespace nospace {

struct Policy {
  std::string source; // the file it was read from
  ServerPolicy server;
  EngineIoPolicy engineio;
  LimitsPolicy limits;
  InterpreterPolicy interpreter;
  PipelinePolicy pipeline;
  SandboxPolicy sandbox;
};

// Environment variables of the original Node.js server that still override the file.
using Environment = std::map<std::string, std::string>;
Environment overriding_environment(); // reads PORT, NOSPACE_BIN_PATH, ... from the process

// Throws PolicyError naming the file, line and key of every problem, one per line.
Policy load_policy(const std::string &path, const Environment &env = {});
Policy parse_policy(const std::string &yaml_text, const std::string &source_name,
                    const Environment &env = {});

nlohmann::json to_json(const Policy &policy);

} // namespace nospace
