#pragma once
// The launcher's request format: the messages between nospace-gateway and nospace-sandbox over
// one SOCK_SEQPACKET Unix socket. Small, typed, fixed-width little-endian fields, every size
// bounded, decoded with validation on BOTH sides (the launcher trusts nothing the gateway
// sends: the gateway parses internet traffic). Stays valid C++17: the gateway's C++17
// transport may include it.
//
// Gateway -> launcher
//   Run      {request id, language, mode, target, std extensions, flags} + 1 fd: a sealed memfd
//            holding the program text (a SEQPACKET message cannot carry 256 KiB: the kernel
//            caps one message at the socket's send buffer, ~208 KiB by default).
//   Kill     {request id, reason}
// Launcher -> gateway
//   Started  {request id} + 3 fds: stdin (write end), stdout, stderr (read ends)
//   Finished {request id, RunResult}
//   Rejected {request id, message}  (the request was refused; no Started, no Finished)
//
// The gateway never sends a path or a free-form argument: the launcher builds the argv from
// these enums and the policy's interpreter.path (build_interpreter_argv).

#include "common/fd.hpp"
#include "common/policy.hpp"
#include "common/run_result.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace nospace::launch {

inline constexpr std::uint8_t kVersion = 1;
// Largest encoded message either side sends or accepts (Finished with the longest detail).
inline constexpr std::size_t kMaxMessageBytes = 2048;
inline constexpr std::size_t kMaxTextBytes = 1024; // RunResult.detail, Rejected.message
inline constexpr std::size_t kMaxFds = 3;
// The protocol's own cap on the program text; the policy's limits.max_code is usually lower.
inline constexpr std::uint32_t kMaxProgramBytes = 16u << 20;

enum class Language : std::uint8_t { standard = 1, min = 2, ws = 3 };
enum class Mode : std::uint8_t { run = 1, compile = 2 };
enum class Target : std::uint8_t { none = 0, ws = 1, mnemonic = 2, json = 3 };
// std extensions as a bit set: each can be asked for once, and the argv order is fixed.
enum StdExtension : std::uint8_t { ext_debug = 1, ext_alloc = 2 };
inline constexpr std::uint8_t kAllExtensions = ext_debug | ext_alloc;

enum class KillReason : std::uint8_t { killed = 1, output_limit = 2 };

struct LaunchRequest {
  Language language = Language::standard;
  Mode mode = Mode::run;
  Target target = Target::none; // compile only (and then required)
  std::uint8_t std_extensions = 0;
  bool debug = false;        // run only
  bool ignore_debug = false; // run only
  std::string program;
};

enum class MessageType : std::uint8_t {
  run = 1,
  kill = 2,
  started = 3,
  finished = 4,
  rejected = 5,
};

struct RunMessage {
  std::uint64_t id = 0;
  LaunchRequest request; // request.program is empty on the wire: it travels in the memfd
  std::uint32_t program_size = 0;
};
struct KillMessage {
  std::uint64_t id = 0;
  KillReason reason = KillReason::killed;
};
struct StartedMessage {
  std::uint64_t id = 0;
};
struct FinishedMessage {
  std::uint64_t id = 0;
  RunResult result;
};
struct RejectedMessage {
  std::uint64_t id = 0;
  std::string message;
};

using ToLauncher = std::variant<RunMessage, KillMessage>;
using ToGateway = std::variant<StartedMessage, FinishedMessage, RejectedMessage>;

// A decoded value or the reason it was refused (never both).
template <typename T> struct Decoded {
  std::optional<T> value;
  std::string error;
};

using Bytes = std::vector<std::uint8_t>;

Bytes encode(const RunMessage &message);
Bytes encode(const KillMessage &message);
Bytes encode(const StartedMessage &message);
Bytes encode(const FinishedMessage &message); // detail longer than kMaxTextBytes is cut
Bytes encode(const RejectedMessage &message); // message longer than kMaxTextBytes is cut

// fd_count is how many descriptors arrived with the bytes: each message type requires an
// exact number (Run 1, Started 3, others 0), so a stray or missing fd is a malformed message.
Decoded<ToLauncher> decode_to_launcher(const std::uint8_t *data, std::size_t size,
                                       std::size_t fd_count);
Decoded<ToGateway> decode_to_gateway(const std::uint8_t *data, std::size_t size,
                                     std::size_t fd_count);

// The request checked against the policy (languages, extensions, compile targets, max_code)
// and for combinations the interpreter's CLI does not accept. Empty string: valid.
std::string validate(const LaunchRequest &request, const InterpreterPolicy &interpreter,
                     std::uint64_t max_code);

// The interpreter's argv exactly as DESIGN.md gives it; the last argument is "{program}",
// which the supervisor replaces by the program file's path inside the sandbox.
// Run:     PATH --std L [--debug] [--ignore-debug] [--std-ext X]... {program}
// Compile: PATH --mode compile --std L --target T [--std-ext X]... {program}
std::vector<std::string> build_interpreter_argv(const LaunchRequest &request,
                                                const std::string &interpreter_path);

const char *to_string(Language language);
const char *to_string(Target target);
const char *to_string(KillReason reason);
std::optional<Language> parse_language(const std::string &text);
std::optional<Target> parse_target(const std::string &text);
std::optional<StdExtension> parse_std_extension(const std::string &text);

// One message over a SOCK_SEQPACKET socket, with its descriptors (SCM_RIGHTS).
// send_message: 0 or errno (EMSGSIZE, EAGAIN with MSG_DONTWAIT in flags, EPIPE, ...).
int send_message(int socket, const Bytes &bytes, const std::vector<int> &fds, int flags = 0);

struct Received {
  Bytes bytes;
  std::vector<UniqueFd> fds; // received close-on-exec
  bool closed = false;       // the peer hung up (a zero-length read)
  int error = 0;             // errno of recvmsg (EAGAIN when nothing is waiting)
  bool truncated = false;    // bytes or fds did not fit: the message is malformed
};
// Reads one message without blocking when `flags` holds MSG_DONTWAIT.
Received receive_message(int socket, int flags = 0);

// A sealed memfd holding `text`: the launcher can verify it cannot change under it.
UniqueFd make_program_memfd(const std::string &text); // invalid fd + errno on failure
// Reads a program memfd of exactly `expected_size` bytes, verifying it is sealed against
// writes, growing and shrinking. Empty error on success.
std::string read_program_memfd(int fd, std::uint32_t expected_size, std::string &out);

} // namespace nospace::launch
