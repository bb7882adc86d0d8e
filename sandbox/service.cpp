#include "sandbox/service.hpp"

#include <fcntl.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <stdexcept>

namespace nospace::sandbox {

using namespace nospace::launch;

namespace {

constexpr const char *kUsage =
    "usage: nospace-sandbox service --policy FILE (--socket-fd N | --listen PATH "
    "--gateway-uid UID)";

// A gateway that stops reading its socket must not stall the launcher (and with --listen,
// every other gateway): a send blocked this long ends that connection and its runs.
constexpr int kSendTimeoutSeconds = 5;

long parse_number(const std::string &text, const char *what) {
  char *end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end || errno || v < 0)
    throw std::invalid_argument(std::string("service: bad ") + what + " '" + text + "'\n" + kUsage);
  return v;
}

void set_send_timeout(int fd) {
  timeval tv{kSendTimeoutSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool is_seqpacket_socket(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  return ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET;
}

UniqueFd listen_on(const std::string &path, uid_t gateway_uid) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    throw std::runtime_error("service: --listen path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  struct stat st;
  // Replace a stale socket from an earlier launcher, never any other kind of file.
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
    ::unlink(path.c_str());
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
      ::chmod(path.c_str(), 0600) != 0 ||
      (::geteuid() == 0 && ::chown(path.c_str(), gateway_uid, static_cast<gid_t>(-1)) != 0) ||
      ::listen(fd.get(), 16) != 0)
    throw std::runtime_error("service: listening on " + path + ": " + std::strerror(errno));
  return fd;
}

// What the launcher itself needs of root, each for a reason. Everything else leaves every
// capability set, the bounding set included, before the first request is read: a launcher
// subverted through its socket cannot load modules, reboot, set the clock, use raw sockets,
// bpf or perf. Runs are unaffected: a new user namespace starts with a full set of its own,
// and every run drops all of them before exec anyway.
constexpr cap_value_t kLauncherCapabilities[] = {
    CAP_SYS_ADMIN,       // clone with new namespaces, setns into the shared network namespace
    CAP_SETUID,          // uid_map for the run's host uid; the child's setresuid
    CAP_SETGID,          // gid_map, setgroups in the child
    CAP_SETPCAP,         // the child drops its bounding set
    CAP_SYS_CHROOT,      // pivot_root in the child when no user namespace is asked for
    CAP_NET_ADMIN,       // the run's loopback interface
    CAP_DAC_OVERRIDE,    // cgroup files, binding paths the policy names whatever their mode
    CAP_DAC_READ_SEARCH, // the interpreter's libraries under restrictive directories
    CAP_FOWNER,          // chmod/chown of the run's own mount points and cgroups
    CAP_CHOWN,           // the same
    CAP_KILL,            // signals to runs that have their own uid
    CAP_SYS_RESOURCE,    // rlimits above the launcher's own, cgroup limits
    CAP_SYS_PTRACE,      // /proc/<pid> of runs with another uid and no user namespace of ours
};

// Not root (rootless mode): nothing to drop, the kernel gave the launcher no capability.
void keep_only_launcher_capabilities() {
  if (::geteuid() != 0)
    return;
  auto needed = [](cap_value_t cap) {
    for (cap_value_t keep : kLauncherCapabilities)
      if (cap == keep)
        return true;
    return false;
  };
  for (cap_value_t cap = 0; cap <= CAP_LAST_CAP; ++cap)
    if (!needed(cap) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      throw std::runtime_error(std::string("service: dropping capabilities: ") +
                               std::strerror(errno));
  // Keep those of the list the launcher actually has (a container may have withheld some,
  // e.g. CAP_SYS_RESOURCE): asking for more than the permitted set is EPERM.
  cap_t now = cap_get_proc();
  cap_t caps = cap_init();
  bool ok = now && caps;
  for (cap_value_t cap : kLauncherCapabilities) {
    cap_flag_value_t has = CAP_CLEAR;
    if (ok && cap_get_flag(now, cap, CAP_PERMITTED, &has) == 0 && has == CAP_SET)
      ok = cap_set_flag(caps, CAP_PERMITTED, 1, &cap, CAP_SET) == 0 &&
           cap_set_flag(caps, CAP_EFFECTIVE, 1, &cap, CAP_SET) == 0;
  }
  ok = ok && cap_set_proc(caps) == 0;
  int err = errno;
  cap_free(now);
  cap_free(caps);
  if (!ok)
    throw std::runtime_error(std::string("service: dropping capabilities: ") + std::strerror(err));
}

} // namespace

ServiceOptions parse_service_options(const std::vector<std::string> &args) {
  ServiceOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (i + 1 >= args.size())
      throw std::invalid_argument("service: '" + a + "' needs a value\n" + kUsage);
    const std::string &v = args[++i];
    if (a == "--policy")
      o.policy_path = v;
    else if (a == "--socket-fd")
      o.socket_fd = static_cast<int>(parse_number(v, "--socket-fd"));
    else if (a == "--listen")
      o.listen_path = v;
    else if (a == "--gateway-uid")
      o.gateway_uid = static_cast<uid_t>(parse_number(v, "--gateway-uid"));
    else
      throw std::invalid_argument("service: unknown option '" + a + "'\n" + kUsage);
  }
  if (o.policy_path.empty())
    throw std::invalid_argument(std::string("service: --policy is required\n") + kUsage);
  bool fd_mode = o.socket_fd >= 0;
  bool listen_mode = !o.listen_path.empty();
  if (fd_mode == listen_mode)
    throw std::invalid_argument(
        std::string("service: give exactly one of --socket-fd and --listen\n") + kUsage);
  if (listen_mode != o.gateway_uid.has_value())
    throw std::invalid_argument(std::string("service: --listen and --gateway-uid go together\n") +
                                kUsage);
  return o;
}

Service::Service(EventLoop &loop, Supervisor &supervisor, const Policy &policy)
    : loop_(loop), supervisor_(supervisor), policy_(policy) {}

Service::~Service() {
  for (auto &[key, conn] : connections_)
    if (!conn.closing)
      loop_.unwatch(key);
  if (listening_)
    loop_.unwatch(listening_.get());
}

std::size_t Service::runs() const {
  std::size_t n = 0;
  for (auto &[key, conn] : connections_)
    n += conn.runs.size();
  return n;
}

void Service::shutdown() {
  if (listening_) {
    loop_.unwatch(listening_.get());
    listening_.reset();
  }
  std::vector<int> keys;
  for (auto &[key, conn] : connections_)
    keys.push_back(key);
  for (int key : keys)
    close_connection(key);
}

void Service::add_connection(UniqueFd socket) {
  int key = socket.get();
  set_send_timeout(key);
  connections_[key].socket = std::move(socket);
  loop_.watch(key, [this, key] { on_readable(key); });
}

void Service::listen(UniqueFd listening, uid_t gateway_uid) {
  listening_ = std::move(listening);
  gateway_uid_ = gateway_uid;
  loop_.watch(listening_.get(), [this] { on_accept(); });
}

// Only the gateway's uid may connect: the socket file is 0600 and owned by it, and the
// kernel's record of the peer (SO_PEERCRED, taken at connect time) is checked again here.
void Service::on_accept() {
  UniqueFd conn(::accept4(listening_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn)
    return;
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
      peer.uid != gateway_uid_) {
    std::cerr << "nospace-sandbox service: refused a connection from uid " << peer.uid << " pid "
              << peer.pid << " (only uid " << gateway_uid_ << " may connect)\n";
    return;
  }
  add_connection(std::move(conn));
}

// One message per wake-up: the loop is level-triggered, so the rest is read on the next turn
// and one busy connection cannot starve the supervisor's fds.
void Service::on_readable(int key) {
  auto it = connections_.find(key);
  if (it == connections_.end())
    return;
  Connection &conn = it->second;
  Received msg = receive_message(key, MSG_DONTWAIT);
  if (msg.error == EAGAIN || msg.error == EWOULDBLOCK)
    return;
  if (msg.error || msg.closed)
    return close_connection(key);
  // A malformed message is answered and dropped; the connection stays (the gateway is ours,
  // and a bug in it should cost one request, not every run). Its fds close with `msg`.
  if (msg.truncated)
    return reject(conn, 0, "oversize message or too many file descriptors");
  auto decoded = decode_to_launcher(msg.bytes.data(), msg.bytes.size(), msg.fds.size());
  if (!decoded.value)
    return reject(conn, 0, "malformed request: " + decoded.error);
  if (auto *run = std::get_if<RunMessage>(&*decoded.value))
    on_run(conn, key, *run, std::move(msg.fds[0]));
  else
    on_kill(conn, std::get<KillMessage>(*decoded.value));
}

// Safe to offer: the request holds only enums, two flags and the program text. The launcher
// validates them against its own copy of the policy and builds the argv itself from the
// policy's interpreter.path, so the gateway cannot choose a binary, an argument, a mount or a
// limit; the program text is data the sandboxed interpreter reads, never something the
// launcher interprets. The text arrives in a sealed memfd, so it cannot change after the check.
void Service::on_run(Connection &conn, int key, RunMessage &message, UniqueFd program) {
  std::uint64_t id = message.id;
  if (conn.runs.count(id))
    return reject(conn, id, "request id " + std::to_string(id) + " is already running");
  if (runs() >= policy_.limits.max_concurrent_runs)
    return reject(conn, id,
                  "too many concurrent runs (limit " +
                      std::to_string(policy_.limits.max_concurrent_runs) + ")");
  LaunchRequest &request = message.request;
  if (auto error = read_program_memfd(program.get(), message.program_size, request.program);
      !error.empty())
    return reject(conn, id, error);
  if (auto error = validate(request, policy_.interpreter, policy_.limits.max_code.bytes);
      !error.empty())
    return reject(conn, id, error);

  Pipe in, out, err;
  if (!make_pipe(in, O_CLOEXEC) || !make_pipe(out, O_CLOEXEC) || !make_pipe(err, O_CLOEXEC))
    return reject(conn, id, std::string("cannot make pipes: ") + std::strerror(errno));
  std::vector<UniqueFd> ends;
  ends.push_back(std::move(in.write));
  ends.push_back(std::move(out.read));
  ends.push_back(std::move(err.read));

  // The one failure the user can fix is named with the path to fix, and costs no clone.
  const std::string &path = policy_.interpreter.path;
  if (::access(path.c_str(), X_OK) != 0) {
    RunResult missing;
    missing.reason = "start-failed";
    missing.detail = "interpreter: " + path + ": " + std::strerror(errno);
    return finish_without_running(conn, id, std::move(ends), missing);
  }

  RunSpec spec;
  spec.argv = build_interpreter_argv(request, path);
  spec.program = std::move(request.program);
  spec.stdin_fd = std::move(in.read);
  spec.stdout_fd = std::move(out.write);
  spec.stderr_fd = std::move(err.write);
  RunId run = supervisor_.start(
      std::move(spec), [this, key, id](const RunResult &result) { on_finished(key, id, result); });
  conn.runs[id] = run;
  // The child's ends were moved into the spec (and closed there after the clone); sending the
  // gateway's ends duplicates them into the message, and ours close when `ends` goes.
  if (!send(conn, encode(StartedMessage{id}), {ends[0].get(), ends[1].get(), ends[2].get()}))
    close_connection(key);
}

// Safe to offer: it only ends a run that this same connection started (looked up in the
// connection's own table), with one of two fixed reasons; the supervisor's SIGTERM-then-SIGKILL
// goes to that run's own pid namespace.
void Service::on_kill(Connection &conn, const KillMessage &message) {
  auto it = conn.runs.find(message.id);
  if (it != conn.runs.end())
    supervisor_.kill(it->second, to_string(message.reason));
}

void Service::on_finished(int key, std::uint64_t request_id, const RunResult &result) {
  auto it = connections_.find(key);
  if (it == connections_.end())
    return;
  Connection &conn = it->second;
  conn.runs.erase(request_id);
  if (!conn.closing && !send(conn, encode(FinishedMessage{request_id, result})))
    close_connection(key);
  erase_if_done(key);
}

void Service::finish_without_running(Connection &conn, std::uint64_t id, std::vector<UniqueFd> ends,
                                     const RunResult &result) {
  int key = conn.socket.get();
  // The gateway sees the same Started-then-Finished sequence as for any run: the pipes it gets
  // reach EOF as soon as on_run returns and their other ends close.
  if (!send(conn, encode(StartedMessage{id}), {ends[0].get(), ends[1].get(), ends[2].get()}) ||
      !send(conn, encode(FinishedMessage{id, result})))
    close_connection(key);
}

void Service::reject(Connection &conn, std::uint64_t id, const std::string &why) {
  if (!send(conn, encode(RejectedMessage{id, why})))
    close_connection(conn.socket.get());
}

bool Service::send(Connection &conn, const Bytes &bytes, const std::vector<int> &fds) {
  return send_message(conn.socket.get(), bytes, fds) == 0;
}

// The gateway is gone (or unusable): every run it started is killed, and the connection is
// forgotten once the supervisor has reaped them all.
void Service::close_connection(int key) {
  auto it = connections_.find(key);
  if (it == connections_.end() || it->second.closing)
    return;
  it->second.closing = true;
  loop_.unwatch(key);
  for (auto &[request_id, run] : it->second.runs)
    supervisor_.kill(run, "killed");
  erase_if_done(key);
}

void Service::erase_if_done(int key) {
  auto it = connections_.find(key);
  if (it != connections_.end() && it->second.closing && it->second.runs.empty())
    connections_.erase(it);
}

int service_command(const std::vector<std::string> &args) {
  try {
    ServiceOptions options = parse_service_options(args);
    Policy policy = load_policy(options.policy_path, overriding_environment());
    UniqueFd socket;
    if (options.socket_fd >= 0) {
      socket.reset(options.socket_fd);
      if (!is_seqpacket_socket(socket.get()))
        throw std::runtime_error("service: fd " + std::to_string(options.socket_fd) +
                                 " is not a SOCK_SEQPACKET socket");
      ::fcntl(socket.get(), F_SETFD, FD_CLOEXEC);
    }
    keep_only_launcher_capabilities();
    // SIGTERM/SIGINT end the service cleanly: every run killed and reaped, the socket file
    // removed. Blocked here and read from a signalfd, so the handler is ordinary loop code;
    // each run's child unblocks every signal before exec (launch.cpp).
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    ::sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
    // A write to a peer that has gone (a run's pipe, a child that failed) is an error to
    // handle where it happens, never a reason for the launcher to die.
    ::signal(SIGPIPE, SIG_IGN);
    UniqueFd signals(::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals)
      throw std::runtime_error(std::string("service: signalfd: ") + std::strerror(errno));
    EventLoop loop;
    Supervisor supervisor(loop, policy);
    Service service(loop, supervisor, policy);
    bool stopping = false;
    loop.watch(signals.get(), [&] {
      signalfd_siginfo info;
      while (::read(signals.get(), &info, sizeof info) == sizeof info)
        stopping = true;
      service.shutdown();
    });
    if (socket) {
      service.add_connection(std::move(socket));
      // With an inherited socketpair there is exactly one gateway: when it is gone and its
      // runs are reaped, the launcher's work is done.
      loop.run_until([&] { return service.connections() == 0; });
    } else {
      service.listen(listen_on(options.listen_path, *options.gateway_uid), *options.gateway_uid);
      loop.run_until([&] { return stopping && service.connections() == 0; });
      ::unlink(options.listen_path.c_str());
    }
    loop.unwatch(signals.get());
    return 0;
  } catch (const std::exception &e) {
    std::cerr << "nospace-sandbox: " << e.what() << "\n";
    return 1;
  }
}

} // namespace nospace::sandbox
