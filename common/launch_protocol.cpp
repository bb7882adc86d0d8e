#include "common/launch_protocol.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace nospace::launch {

namespace {

constexpr std::array<const char *, 9> kReasons = {"exited",      "signaled", "wall-timeout",
                                                  "cpu-timeout", "memory",   "output-limit",
                                                  "seccomp",     "killed",   "start-failed"};

// Appends fixed-width little-endian fields.
class Writer {
public:
  explicit Writer(MessageType type) {
    u8(kVersion);
    u8(static_cast<std::uint8_t>(type));
  }
  void u8(std::uint8_t v) { bytes_.push_back(v); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
  // A u16 length then the bytes, cut at `max`.
  void text(const std::string &s, std::size_t max) {
    std::size_t n = std::min(s.size(), max);
    u16(static_cast<std::uint16_t>(n));
    bytes_.insert(bytes_.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
  }
  Bytes take() { return std::move(bytes_); }

private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
      bytes_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes bytes_;
};

// Reads fixed-width fields; the first short read sets the error and every later read fails.
class Reader {
public:
  Reader(const std::uint8_t *data, std::size_t size) : data_(data), size_(size) {}
  bool u8(std::uint8_t &v) { return uint(v); }
  bool u16(std::uint16_t &v) { return uint(v); }
  bool u32(std::uint32_t &v) { return uint(v); }
  bool u64(std::uint64_t &v) { return uint(v); }
  bool i32(std::int32_t &v) {
    std::uint32_t x;
    if (!uint(x))
      return false;
    v = static_cast<std::int32_t>(x);
    return true;
  }
  bool text(std::string &out, std::size_t max, const char *field) {
    std::uint16_t n;
    if (!u16(n))
      return false;
    if (n > max)
      return fail(std::string(field) + " is " + std::to_string(n) + " bytes, the limit is " +
                  std::to_string(max));
    if (size_ - pos_ < n)
      return fail("truncated message");
    out.assign(reinterpret_cast<const char *>(data_ + pos_), n);
    pos_ += n;
    return true;
  }
  bool fail(std::string why) {
    if (error_.empty())
      error_ = std::move(why);
    return false;
  }
  // Trailing bytes are an error: a message has exactly one valid length.
  bool done() {
    if (error_.empty() && pos_ != size_)
      fail(std::to_string(size_ - pos_) + " unexpected trailing bytes");
    return error_.empty();
  }
  const std::string &error() const { return error_; }

private:
  template <typename T> bool uint(T &v) {
    if (!error_.empty())
      return false;
    if (size_ - pos_ < sizeof(T))
      return fail("truncated message");
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      x |= std::uint64_t{data_[pos_ + i]} << (8 * i);
    v = static_cast<T>(x);
    pos_ += sizeof(T);
    return true;
  }
  const std::uint8_t *data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::string error_;
};

template <typename T> Decoded<T> refuse(std::string error) {
  Decoded<T> d;
  d.error = std::move(error);
  return d;
}

// The header shared by all messages: version, type. Returns the type or sets the error.
std::optional<MessageType> read_header(Reader &r, std::size_t size) {
  if (size > kMaxMessageBytes) {
    r.fail("message of " + std::to_string(size) + " bytes, the limit is " +
           std::to_string(kMaxMessageBytes));
    return std::nullopt;
  }
  std::uint8_t version, type;
  if (!r.u8(version) || !r.u8(type))
    return std::nullopt;
  if (version != kVersion) {
    r.fail("protocol version " + std::to_string(version) + ", expected " +
           std::to_string(kVersion));
    return std::nullopt;
  }
  return static_cast<MessageType>(type);
}

bool expect_fds(Reader &r, std::size_t got, std::size_t want, const char *what) {
  if (got == want)
    return true;
  return r.fail(std::string(what) + " carries " + std::to_string(want) + " file descriptors, got " +
                std::to_string(got));
}

bool read_run(Reader &r, RunMessage &m) {
  std::uint8_t language, mode, target, ext, flags;
  if (!r.u64(m.id) || !r.u8(language) || !r.u8(mode) || !r.u8(target) || !r.u8(ext) ||
      !r.u8(flags) || !r.u32(m.program_size))
    return false;
  if (language < 1 || language > 3)
    return r.fail("unknown language " + std::to_string(language));
  if (mode < 1 || mode > 2)
    return r.fail("unknown mode " + std::to_string(mode));
  if (target > 3)
    return r.fail("unknown target " + std::to_string(target));
  if (ext & ~kAllExtensions)
    return r.fail("unknown std extension bits " + std::to_string(ext));
  if (flags & ~3u)
    return r.fail("unknown flag bits " + std::to_string(flags));
  if (m.program_size > kMaxProgramBytes)
    return r.fail("program of " + std::to_string(m.program_size) + " bytes, the limit is " +
                  std::to_string(kMaxProgramBytes));
  m.request.language = static_cast<Language>(language);
  m.request.mode = static_cast<Mode>(mode);
  m.request.target = static_cast<Target>(target);
  m.request.std_extensions = ext;
  m.request.debug = flags & 1;
  m.request.ignore_debug = flags & 2;
  return true;
}

bool read_kill(Reader &r, KillMessage &m) {
  std::uint8_t reason;
  if (!r.u64(m.id) || !r.u8(reason))
    return false;
  if (reason < 1 || reason > 2)
    return r.fail("unknown kill reason " + std::to_string(reason));
  m.reason = static_cast<KillReason>(reason);
  return true;
}

bool read_optional_int(Reader &r, std::optional<int> &out, const char *field) {
  std::uint8_t present;
  std::int32_t value;
  if (!r.u8(present) || !r.i32(value))
    return false;
  if (present > 1)
    return r.fail(std::string("bad presence byte for ") + field);
  if (present)
    out = value;
  else if (value != 0)
    return r.fail(std::string("absent ") + field + " with a value");
  return true;
}

bool read_finished(Reader &r, FinishedMessage &m) {
  RunResult &res = m.result;
  if (!r.u64(m.id) || !r.text(res.reason, 32, "reason"))
    return false;
  if (std::find_if(kReasons.begin(), kReasons.end(),
                   [&](const char *known) { return res.reason == known; }) == kReasons.end())
    return r.fail("unknown result reason '" + res.reason + "'");
  return r.text(res.detail, kMaxTextBytes, "detail") &&
         read_optional_int(r, res.exit_code, "exit code") &&
         read_optional_int(r, res.signal, "signal") && r.u64(res.cpu_ms) && r.u64(res.wall_ms) &&
         r.u64(res.peak_memory_bytes);
}

void write_optional_int(Writer &w, const std::optional<int> &v) {
  w.u8(v ? 1 : 0);
  w.i32(v ? *v : 0);
}

} // namespace

Bytes encode(const RunMessage &m) {
  Writer w(MessageType::run);
  w.u64(m.id);
  w.u8(static_cast<std::uint8_t>(m.request.language));
  w.u8(static_cast<std::uint8_t>(m.request.mode));
  w.u8(static_cast<std::uint8_t>(m.request.target));
  w.u8(m.request.std_extensions);
  w.u8(static_cast<std::uint8_t>((m.request.debug ? 1 : 0) | (m.request.ignore_debug ? 2 : 0)));
  w.u32(m.program_size);
  return w.take();
}

Bytes encode(const KillMessage &m) {
  Writer w(MessageType::kill);
  w.u64(m.id);
  w.u8(static_cast<std::uint8_t>(m.reason));
  return w.take();
}

Bytes encode(const StartedMessage &m) {
  Writer w(MessageType::started);
  w.u64(m.id);
  return w.take();
}

Bytes encode(const FinishedMessage &m) {
  Writer w(MessageType::finished);
  w.u64(m.id);
  w.text(m.result.reason, 32);
  w.text(m.result.detail, kMaxTextBytes);
  write_optional_int(w, m.result.exit_code);
  write_optional_int(w, m.result.signal);
  w.u64(m.result.cpu_ms);
  w.u64(m.result.wall_ms);
  w.u64(m.result.peak_memory_bytes);
  return w.take();
}

Bytes encode(const RejectedMessage &m) {
  Writer w(MessageType::rejected);
  w.u64(m.id);
  w.text(m.message, kMaxTextBytes);
  return w.take();
}

Decoded<ToLauncher> decode_to_launcher(const std::uint8_t *data, std::size_t size,
                                       std::size_t fd_count) {
  Reader r(data, size);
  auto type = read_header(r, size);
  if (!type)
    return refuse<ToLauncher>(r.error());
  Decoded<ToLauncher> out;
  if (*type == MessageType::run) {
    RunMessage m;
    if (read_run(r, m) && expect_fds(r, fd_count, 1, "run") && r.done())
      out.value = std::move(m);
  } else if (*type == MessageType::kill) {
    KillMessage m;
    if (read_kill(r, m) && expect_fds(r, fd_count, 0, "kill") && r.done())
      out.value = m;
  } else {
    r.fail("unknown message type " + std::to_string(static_cast<int>(*type)));
  }
  out.error = r.error();
  return out;
}

Decoded<ToGateway> decode_to_gateway(const std::uint8_t *data, std::size_t size,
                                     std::size_t fd_count) {
  Reader r(data, size);
  auto type = read_header(r, size);
  if (!type)
    return refuse<ToGateway>(r.error());
  Decoded<ToGateway> out;
  if (*type == MessageType::started) {
    StartedMessage m;
    if (r.u64(m.id) && expect_fds(r, fd_count, 3, "started") && r.done())
      out.value = m;
  } else if (*type == MessageType::finished) {
    FinishedMessage m;
    if (read_finished(r, m) && expect_fds(r, fd_count, 0, "finished") && r.done())
      out.value = std::move(m);
  } else if (*type == MessageType::rejected) {
    RejectedMessage m;
    if (r.u64(m.id) && r.text(m.message, kMaxTextBytes, "message") &&
        expect_fds(r, fd_count, 0, "rejected") && r.done())
      out.value = std::move(m);
  } else {
    r.fail("unknown message type " + std::to_string(static_cast<int>(*type)));
  }
  out.error = r.error();
  return out;
}

const char *to_string(Language language) {
  switch (language) {
  case Language::standard: return "standard";
  case Language::min: return "min";
  case Language::ws: return "ws";
  }
  return "?";
}

const char *to_string(Target target) {
  switch (target) {
  case Target::none: return "none";
  case Target::ws: return "ws";
  case Target::mnemonic: return "mnemonic";
  case Target::json: return "json";
  }
  return "?";
}

const char *to_string(KillReason reason) {
  return reason == KillReason::output_limit ? "output-limit" : "killed";
}

std::optional<Language> parse_language(const std::string &text) {
  for (auto l : {Language::standard, Language::min, Language::ws})
    if (text == to_string(l))
      return l;
  return std::nullopt;
}

std::optional<Target> parse_target(const std::string &text) {
  for (auto t : {Target::ws, Target::mnemonic, Target::json})
    if (text == to_string(t))
      return t;
  return std::nullopt;
}

std::optional<StdExtension> parse_std_extension(const std::string &text) {
  if (text == "debug")
    return ext_debug;
  if (text == "alloc")
    return ext_alloc;
  return std::nullopt;
}

namespace {
bool listed(const std::vector<std::string> &list, const std::string &value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}
} // namespace

std::string validate(const LaunchRequest &request, const InterpreterPolicy &interpreter,
                     std::uint64_t max_code) {
  if (!listed(interpreter.languages, to_string(request.language)))
    return std::string("language '") + to_string(request.language) + "' is not allowed";
  for (auto ext : {ext_debug, ext_alloc}) {
    const char *name = ext == ext_debug ? "debug" : "alloc";
    if ((request.std_extensions & ext) && !listed(interpreter.std_extensions, name))
      return std::string("std extension '") + name + "' is not allowed";
  }
  if (request.std_extensions & ~kAllExtensions)
    return "unknown std extension";
  if (request.mode == Mode::compile) {
    if (request.target == Target::none)
      return "compile needs a target";
    if (!listed(interpreter.compile_targets, to_string(request.target)))
      return std::string("compile target '") + to_string(request.target) + "' is not allowed";
    if (request.debug || request.ignore_debug)
      return "debug and ignore-debug apply to run only";
  } else if (request.target != Target::none) {
    return "a target applies to compile only";
  }
  if (request.program.size() > max_code)
    return "program of " + std::to_string(request.program.size()) + " bytes, the limit is " +
           std::to_string(max_code);
  return {};
}

std::vector<std::string> build_interpreter_argv(const LaunchRequest &request,
                                                const std::string &interpreter_path) {
  std::vector<std::string> argv{interpreter_path};
  if (request.mode == Mode::compile)
    argv.insert(argv.end(), {"--mode", "compile"});
  argv.insert(argv.end(), {"--std", to_string(request.language)});
  if (request.mode == Mode::compile) {
    argv.insert(argv.end(), {"--target", to_string(request.target)});
  } else {
    if (request.debug)
      argv.push_back("--debug");
    if (request.ignore_debug)
      argv.push_back("--ignore-debug");
  }
  if (request.std_extensions & ext_debug)
    argv.insert(argv.end(), {"--std-ext", "debug"});
  if (request.std_extensions & ext_alloc)
    argv.insert(argv.end(), {"--std-ext", "alloc"});
  argv.push_back("{program}");
  return argv;
}

int send_message(int socket, const Bytes &bytes, const std::vector<int> &fds, int flags) {
  iovec iov{const_cast<std::uint8_t *>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  if (fds.size() > kMaxFds)
    return EINVAL;
  if (!fds.empty()) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = ::sendmsg(socket, &msg, flags | MSG_NOSIGNAL);
    if (n >= 0)
      return static_cast<std::size_t>(n) == bytes.size() ? 0 : EMSGSIZE;
    if (errno != EINTR)
      return errno;
  }
}

Received receive_message(int socket, int flags) {
  Received out;
  // One byte more than the largest valid message, so an oversize one shows as MSG_TRUNC.
  out.bytes.resize(kMaxMessageBytes + 1);
  iovec iov{out.bytes.data(), out.bytes.size()};
  // Room for more fds than any message may carry: extra ones arrive, are owned and closed,
  // and make the message malformed, rather than being silently dropped by the kernel.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(socket, &msg, flags | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    out.error = errno;
    out.bytes.clear();
    return out;
  }
  for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      out.fds.emplace_back(fd);
    }
  }
  out.truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
  out.bytes.resize(static_cast<std::size_t>(n));
  // SEQPACKET has no empty messages from our peers: a zero-length read is the hang-up.
  out.closed = n == 0 && out.fds.empty() && !out.truncated;
  return out;
}

UniqueFd make_program_memfd(const std::string &text) {
  UniqueFd fd(::memfd_create("nospace-program", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd)
    return fd;
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return UniqueFd();
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
    return UniqueFd();
  return fd;
}

std::string read_program_memfd(int fd, std::uint32_t expected_size, std::string &out) {
  // The seals are what make this safe: a plain file, pipe or socket has none (F_GET_SEALS
  // fails), so a hostile gateway cannot make the launcher block on a read or see the text
  // change between validation and the run.
  int seals = ::fcntl(fd, F_GET_SEALS);
  constexpr int kNeeded = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;
  if (seals < 0 || (seals & kNeeded) != kNeeded)
    return "the program is not a sealed memfd";
  struct stat st;
  if (::fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
    return "the program is not a regular memfd";
  if (static_cast<std::uint64_t>(st.st_size) != expected_size)
    return "the program memfd holds " + std::to_string(st.st_size) + " bytes, the request says " +
           std::to_string(expected_size);
  out.resize(expected_size);
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return std::string("reading the program: ") + (n < 0 ? std::strerror(errno) : "short read");
    done += static_cast<std::size_t>(n);
  }
  return {};
}

} // namespace nospace::launch
