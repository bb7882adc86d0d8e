#include "common/policy.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace nospace {

namespace {

const char *const kOverrides[] = {"PORT", "NOSPACE_BIN_PATH", "NOSPACE_TIMEOUT",
                                  "NOSPACE_MAX_PROCESSES"};

// The overrides go through the same typed reader as the file, so a bad value gets the same
// kind of error, naming the variable instead of a line.
void apply_environment(const Environment &env, Policy &policy,
                       const std::shared_ptr<std::vector<std::string>> &errors) {
  YAML::Node server, interpreter, time, limits;
  if (auto it = env.find("PORT"); it != env.end())
    server["port"] = it->second;
  if (auto it = env.find("NOSPACE_BIN_PATH"); it != env.end())
    interpreter["path"] = it->second;
  if (auto it = env.find("NOSPACE_TIMEOUT"); it != env.end())
    time["wall_ms"] = it->second;
  if (auto it = env.find("NOSPACE_MAX_PROCESSES"); it != env.end())
    limits["max_concurrent_runs"] = it->second;

  MappingReader s("environment PORT", server, "server", errors);
  s.read("port", policy.server.port, 1, 65535);
  MappingReader i("environment NOSPACE_BIN_PATH", interpreter, "interpreter", errors);
  i.read("path", policy.interpreter.path);
  if (i.has("path") && (policy.interpreter.path.empty() || policy.interpreter.path.front() != '/'))
    i.fail("path", "must be an absolute path, got '" + policy.interpreter.path + "'");
  MappingReader t("environment NOSPACE_TIMEOUT", time, "sandbox.time", errors);
  t.read("wall_ms", policy.sandbox.time.wall_ms, 10, 24ull * 3600 * 1000);
  MappingReader l("environment NOSPACE_MAX_PROCESSES", limits, "limits", errors);
  l.read("max_concurrent_runs", policy.limits.max_concurrent_runs, 1, 1u << 16);
}

} // namespace

Environment overriding_environment() {
  Environment env;
  for (const char *name : kOverrides)
    if (const char *value = std::getenv(name))
      env[name] = value;
  return env;
}

Policy parse_policy(const std::string &yaml_text, const std::string &source_name,
                    const Environment &env) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception &e) {
    throw PolicyError(source_name + ":" + std::to_string(e.mark.line + 1) +
                      ": not valid YAML: " + e.msg);
  }
  Policy policy;
  policy.source = source_name;
  auto errors = std::make_shared<std::vector<std::string>>();
  MappingReader top(source_name, root, "", errors);
  {
    MappingReader r = top.child("server");
    read_server_policy(r, policy.server);
  }
  {
    MappingReader r = top.child("engineio");
    read_engineio_policy(r, policy.engineio);
  }
  {
    MappingReader r = top.child("limits");
    read_limits_policy(r, policy.limits);
  }
  {
    MappingReader r = top.child("interpreter");
    read_interpreter_policy(r, policy.interpreter);
  }
  {
    MappingReader r = top.child("pipeline");
    read_pipeline_policy(r, policy.pipeline);
  }
  {
    MappingReader r = top.child("sandbox");
    read_sandbox_policy(r, policy.sandbox);
  }
  top.finish();
  apply_environment(env, policy, errors);
  top.throw_if_failed();
  return policy;
}

Policy load_policy(const std::string &path, const Environment &env) {
  std::ifstream in(path);
  if (!in)
    throw PolicyError(path + ": cannot read the policy file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_policy(text.str(), path, env);
}

nlohmann::json to_json(const Policy &p) {
  return {{"source", p.source},
          {"server", to_json(p.server)},
          {"engineio", to_json(p.engineio)},
          {"limits", to_json(p.limits)},
          {"interpreter", to_json(p.interpreter)},
          {"pipeline", to_json(p.pipeline)},
          {"sandbox", to_json(p.sandbox)}};
}

} // namespace nospace
