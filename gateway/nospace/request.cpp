#include "gateway/nospace/request.hpp"

#include <algorithm>

namespace nospace::gateway {

namespace {

using nlohmann::json;

// Thrown inside this file only, caught by the parse_* functions: a refusal message.
struct Refusal {
  std::string message;
};

[[noreturn]] void refuse(std::string message) { throw Refusal{std::move(message)}; }

std::string join(const std::vector<std::string> &items) {
  std::string out;
  for (const auto &item : items)
    out += (out.empty() ? "" : ", ") + item;
  return out;
}

const char *type_name(const json &value) {
  switch (value.type()) {
  case json::value_t::null: return "null";
  case json::value_t::object: return "an object";
  case json::value_t::array: return "an array";
  case json::value_t::string: return "a string";
  case json::value_t::boolean: return "a boolean";
  case json::value_t::binary: return "binary data";
  case json::value_t::discarded: return "nothing";
  default: return "a number";
  }
}

// The single object argument of an event.
const json &payload(const json &args, const std::string &event, const char *shape) {
  if (!args.is_array() || args.empty())
    refuse(event + ": expected one object argument " + shape + ", got no argument");
  const json &p = args[0];
  if (!p.is_object())
    refuse(event + ": expected one object argument " + shape + ", got " + type_name(p) + " " +
           quote(p));
  return p;
}

const json *field(const json &object, const char *name) {
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

std::string required_string(const json &object, const std::string &path, const char *name) {
  const json *v = field(object, name);
  if (!v)
    refuse(path + name + " is missing");
  if (!v->is_string())
    refuse(path + name + " must be a string, got " + type_name(*v) + " " + quote(*v));
  return v->get<std::string>();
}

bool optional_bool(const json &object, const std::string &path, const char *name) {
  const json *v = field(object, name);
  if (!v || v->is_null())
    return false;
  if (!v->is_boolean())
    refuse(path + name + " must be true or false, got " + quote(*v));
  return v->get<bool>();
}

bool allowed(const std::vector<std::string> &list, const std::string &value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string size_refusal(const std::string &what, std::size_t size, std::uint64_t limit) {
  return what + " is " + std::to_string(size) + " bytes, over the limit of " +
         std::to_string(limit) + " bytes";
}

// The fields run and compile share: code, options.language, options.stdExtensions.
void parse_common(const json &p, const std::string &event, const Policy &policy, RunRequest &out) {
  out.launch.program = required_string(p, event + ": ", "code");
  if (out.launch.program.size() > policy.limits.max_code.bytes)
    refuse(size_refusal(event + ": code", out.launch.program.size(), policy.limits.max_code.bytes));
  const json *options = field(p, "options");
  if (!options)
    refuse(event + ": options is missing");
  if (!options->is_object())
    refuse(event + ": options must be an object, got " + type_name(*options) + " " +
           quote(*options));
  const std::string path = event + ": options.";

  const std::string language = required_string(*options, path, "language");
  auto parsed = launch::parse_language(language);
  if (!parsed || !allowed(policy.interpreter.languages, language))
    refuse(path + "language: unknown language " + quote(language) +
           " (allowed: " + join(policy.interpreter.languages) + ")");
  out.launch.language = *parsed;

  if (const json *ext = field(*options, "stdExtensions"); ext && !ext->is_null()) {
    if (!ext->is_array())
      refuse(path + "stdExtensions must be an array of strings, got " + quote(*ext));
    for (const json &e : *ext) {
      auto name = e.is_string() ? e.get<std::string>() : std::string();
      auto bit = launch::parse_std_extension(name);
      if (!e.is_string() || !bit || !allowed(policy.interpreter.std_extensions, name))
        refuse(path + "stdExtensions: unknown extension " + quote(e) +
               " (allowed: " + join(policy.interpreter.std_extensions) + ")");
      out.launch.std_extensions |= *bit;
    }
  }
}

} // namespace

std::string quote(const json &value, std::size_t max_chars) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > max_chars) {
    text.resize(max_chars);
    // Do not leave half a UTF-8 character before the ellipsis.
    while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80)
      text.pop_back();
    if (!text.empty() && static_cast<unsigned char>(text.back()) >= 0xC0)
      text.pop_back();
    text += "...";
  }
  return text;
}

Parsed<RunRequest> parse_run(const json &args, const Policy &policy) {
  const std::string event = "nospace_run";
  try {
    const json &p = payload(args, event, "{code, options, stdinData?}");
    RunRequest out;
    out.launch.mode = launch::Mode::run;
    parse_common(p, event, policy, out);
    const json &options = p["options"];
    const std::string path = event + ": options.";
    out.launch.debug = optional_bool(options, path, "debug");
    out.launch.ignore_debug = optional_bool(options, path, "ignoreDebug");
    // stepBudget, maxTotalSteps, optPasses and direct (the web client's) are accepted and
    // ignored: the interpreter has no such options.
    if (const json *mode = field(options, "inputMode"); mode && !mode->is_null()) {
      if (*mode == "batch")
        out.input_mode = InputMode::batch;
      else if (*mode != "interactive")
        refuse(path + "inputMode must be \"interactive\" or \"batch\", got " + quote(*mode));
    }
    if (const json *input = field(p, "stdinData"); input && !input->is_null()) {
      if (!input->is_string())
        refuse(event + ": stdinData must be a string, got " + type_name(*input) + " " +
               quote(*input));
      out.stdin_data = input->get<std::string>();
      if (out.stdin_data.size() > policy.limits.max_stdin.bytes)
        refuse(size_refusal(event + ": stdinData", out.stdin_data.size(),
                            policy.limits.max_stdin.bytes));
    }
    return {std::move(out), {}};
  } catch (const Refusal &r) {
    return {std::nullopt, r.message};
  }
}

Parsed<RunRequest> parse_compile(const json &args, const Policy &policy) {
  const std::string event = "nospace_compile";
  try {
    const json &p = payload(args, event, "{code, options}");
    RunRequest out;
    out.launch.mode = launch::Mode::compile;
    out.input_mode = InputMode::batch; // a compile reads no input: stdin is closed at once
    parse_common(p, event, policy, out);
    const std::string path = event + ": options.";
    const std::string target = required_string(p["options"], path, "target");
    if (target == "ex-ws")
      refuse(path + "target: \"ex-ws\" is not supported by this server (allowed: " +
             join(policy.interpreter.compile_targets) + ")");
    auto parsed = launch::parse_target(target);
    if (!parsed || !allowed(policy.interpreter.compile_targets, target))
      refuse(path + "target: unknown target " + quote(target) +
             " (allowed: " + join(policy.interpreter.compile_targets) + ")");
    out.launch.target = *parsed;
    return {std::move(out), {}};
  } catch (const Refusal &r) {
    return {std::nullopt, r.message};
  }
}

Parsed<StdinRequest> parse_stdin(const json &args, const Policy &policy) {
  const std::string event = "nospace_stdin";
  try {
    const json &p = payload(args, event, "{sessionId, data}");
    StdinRequest out;
    out.session_id = required_string(p, event + ": ", "sessionId");
    out.data = required_string(p, event + ": ", "data");
    if (out.data.size() > policy.limits.max_stdin.bytes)
      refuse(size_refusal(event + ": data", out.data.size(), policy.limits.max_stdin.bytes));
    return {std::move(out), {}};
  } catch (const Refusal &r) {
    return {std::nullopt, r.message};
  }
}

Parsed<KillRequest> parse_kill(const json &args) {
  const std::string event = "nospace_kill";
  try {
    const json &p = payload(args, event, "{sessionId}");
    KillRequest out;
    out.session_id = required_string(p, event + ": ", "sessionId");
    return {std::move(out), {}};
  } catch (const Refusal &r) {
    return {std::nullopt, r.message};
  }
}

std::string requested_session_id(const json &args) {
  if (args.is_array() && !args.empty() && args[0].is_object()) {
    auto it = args[0].find("sessionId");
    if (it != args[0].end() && it->is_string())
      return it->get<std::string>();
  }
  return {};
}

} // namespace nospace::gateway
