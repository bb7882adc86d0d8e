#include "sandbox/run_command.hpp"

#include "common/policy.hpp"
#include "sandbox/supervisor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

namespace nospace::sandbox {

namespace {

constexpr const char *kUsage =
    "usage: nospace-sandbox run --policy FILE [--stdin FILE] [--program FILE] [--result FILE]\n"
    "                           -- PROGRAM [ARGS...]\n"
    "  PROGRAM runs in the sandbox the policy describes, with the caller's stdin (or FILE);\n"
    "  its stdout and stderr are relayed (and cut at sandbox.output_limit). --program FILE is\n"
    "  copied into the run's own /tmp; \"{program}\" in ARGS names it. The result is one JSON\n"
    "  object on stderr (or in --result FILE); the exit status mirrors the program's.\n";

struct Options {
  std::string policy, stdin_file, program_file, result_file;
  std::vector<std::string> argv;
};

std::optional<Options> parse(const std::vector<std::string> &args) {
  Options o;
  std::size_t i = 0;
  for (; i < args.size() && args[i] != "--"; ++i) {
    const std::string &flag = args[i];
    if (i + 1 >= args.size())
      return std::nullopt;
    const std::string &value = args[++i];
    if (flag == "--policy")
      o.policy = value;
    else if (flag == "--stdin")
      o.stdin_file = value;
    else if (flag == "--program")
      o.program_file = value;
    else if (flag == "--result")
      o.result_file = value;
    else
      return std::nullopt;
  }
  if (i + 1 >= args.size() || o.policy.empty())
    return std::nullopt;
  o.argv.assign(args.begin() + long(i) + 1, args.end());
  return o;
}

bool write_all(int fd, const char *data, std::size_t len) {
  while (len > 0) {
    const ssize_t n = ::write(fd, data, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data += n;
    len -= std::size_t(n);
  }
  return true;
}

// Copies one of the program's output pipes to our own stdout/stderr, counting against the
// run's output limit; over it, the run is ended with reason output-limit.
class Relay {
public:
  Relay(EventLoop &loop, UniqueFd from, int to, std::uint64_t &total, std::uint64_t limit,
        std::function<void()> over_limit)
      : loop_(loop), from_(std::move(from)), to_(to), total_(total), limit_(limit),
        over_limit_(std::move(over_limit)) {
    loop_.watch(from_.get(), [this] { on_readable(); });
  }
  ~Relay() { close(); }
  bool open() const { return from_.valid(); }

private:
  void on_readable() {
    char buf[65536];
    const ssize_t n = ::read(from_.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      return;
    if (n <= 0) {
      close();
      return;
    }
    std::size_t keep = std::size_t(n);
    if (total_ + keep > limit_) {
      keep = std::size_t(limit_ - std::min(limit_, total_));
      write_all(to_, buf, keep);
      total_ = limit_ + 1;
      close(); // the program's next write gets EPIPE/SIGPIPE; the run is ended anyway
      over_limit_();
      return;
    }
    total_ += keep;
    if (!write_all(to_, buf, keep))
      close();
  }
  void close() {
    if (from_) {
      loop_.unwatch(from_.get());
      from_.reset();
    }
  }

  EventLoop &loop_;
  UniqueFd from_;
  int to_;
  std::uint64_t &total_;
  std::uint64_t limit_;
  std::function<void()> over_limit_;
};

} // namespace

int run_command(const std::vector<std::string> &args) {
  const auto options = parse(args);
  if (!options) {
    std::cerr << kUsage;
    return 2;
  }
  try {
    const Policy policy = load_policy(options->policy, overriding_environment());
    // A broken pipe on our side must not kill the launcher before it reports.
    ::signal(SIGPIPE, SIG_IGN);
    RunSpec spec;
    spec.argv = options->argv;
    if (spec.argv[0].find('/') == std::string::npos)
      throw std::runtime_error("PROGRAM must be a path, got '" + spec.argv[0] + "'");
    spec.argv[0] = std::filesystem::absolute(spec.argv[0]).lexically_normal().string();
    if (!options->program_file.empty()) {
      std::ifstream in(options->program_file, std::ios::binary);
      if (!in)
        throw std::runtime_error("cannot read --program '" + options->program_file + "'");
      std::ostringstream text;
      text << in.rdbuf();
      spec.program = text.str();
    }
    spec.stdin_fd.reset(options->stdin_file.empty()
                            ? ::fcntl(0, F_DUPFD_CLOEXEC, 3)
                            : ::open(options->stdin_file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!spec.stdin_fd)
      throw std::runtime_error("cannot open stdin: " + std::string(std::strerror(errno)));
    Pipe out, err;
    if (!make_pipe(out, O_CLOEXEC) || !make_pipe(err, O_CLOEXEC))
      throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
    spec.stdout_fd = std::move(out.write);
    spec.stderr_fd = std::move(err.write);

    EventLoop loop;
    Supervisor supervisor(loop, policy);
    std::optional<RunResult> result;
    const RunId id = supervisor.start(std::move(spec), [&](const RunResult &r) { result = r; });
    std::uint64_t total = 0;
    auto over = [&] { supervisor.kill(id, "output-limit"); };
    Relay relay_out(loop, std::move(out.read), 1, total, policy.sandbox.output_limit.bytes, over);
    Relay relay_err(loop, std::move(err.read), 2, total, policy.sandbox.output_limit.bytes, over);
    loop.run_until([&] { return result && !relay_out.open() && !relay_err.open(); });

    const std::string json = to_json(*result).dump() + "\n";
    if (options->result_file.empty()) {
      write_all(2, json.data(), json.size());
    } else {
      std::ofstream file(options->result_file, std::ios::trunc);
      file << json;
      if (!file)
        throw std::runtime_error("cannot write --result '" + options->result_file + "'");
    }
    return mirrored_exit_status(*result);
  } catch (const std::exception &e) {
    std::cerr << "nospace-sandbox run: " << e.what() << "\n";
    return 125;
  }
}

} // namespace nospace::sandbox
