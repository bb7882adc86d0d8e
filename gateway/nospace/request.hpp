#pragma once
// The nospace_* requests a client sends, checked field by field and turned into typed values.
// Nothing here trusts the client: every field's presence and type is checked, every choice
// is checked against the policy, every size against its limit, and every refusal is a
// message that names the field and quotes what was sent (shortened). The launcher checks the
// typed request once more on its side.

#include "common/launch_protocol.hpp"
#include "common/policy.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace nospace::gateway {

enum class InputMode { interactive, batch };

// A valid nospace_run or nospace_compile.
struct RunRequest {
  launch::LaunchRequest launch; // mode, language, target, extensions, flags, program text
  InputMode input_mode = InputMode::interactive;
  std::string stdin_data; // written first; in batch mode stdin is closed after it
};

struct StdinRequest {
  std::string session_id;
  std::string data;
};

struct KillRequest {
  std::string session_id;
};

// A parsed value or the reason it was refused (never both).
template <typename T> struct Parsed {
  std::optional<T> value;
  std::string error;
};

// `args` is the event's argument array as Socket.IO delivers it.
Parsed<RunRequest> parse_run(const nlohmann::json &args, const Policy &policy);
Parsed<RunRequest> parse_compile(const nlohmann::json &args, const Policy &policy);
Parsed<StdinRequest> parse_stdin(const nlohmann::json &args, const Policy &policy);
Parsed<KillRequest> parse_kill(const nlohmann::json &args);

// The sessionId a stdin/kill request names, if it is a string (even when the rest is not
// valid), so a refusal can be addressed to it.
std::string requested_session_id(const nlohmann::json &args);

// A JSON value as the client sent it, shortened for messages: `"abc"`, `42`, `{"a":1}`.
std::string quote(const nlohmann::json &value, std::size_t max_chars = 60);

} // namespace nospace::gateway
