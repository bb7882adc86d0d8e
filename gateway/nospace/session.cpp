#include "gateway/nospace/session.hpp"

#include <boost/asio/write.hpp>

#include <sys/random.h>
#include <unistd.h>

#include <cstdio>

namespace nospace::gateway {

namespace {

using nlohmann::json;

std::string format_bytes(std::uint64_t bytes) {
  const char *units[] = {"bytes", "KiB", "MiB", "GiB"};
  int unit = 0;
  while (unit < 3 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return std::to_string(bytes) + " " + units[unit];
}

std::string format_ms(std::uint64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

json usage_json(const RunResult &r) {
  return {{"cpuMs", r.cpu_ms}, {"wallMs", r.wall_ms}, {"peakMemoryBytes", r.peak_memory_bytes}};
}

// After the program is gone its pipes hold at most their capacity; reading that should take
// no time, so this only matters when something else keeps a pipe open.
constexpr std::chrono::milliseconds kPipeDrainLimit{2000};

} // namespace

std::string new_session_id() {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0)
      got += static_cast<std::size_t>(n);
  }
  static const char hex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += hex[b >> 4];
    id += hex[b & 15];
  }
  return id;
}

std::shared_ptr<Session> Session::create(SessionContext &context,
                                         std::shared_ptr<ClientChannel> channel,
                                         std::string client_ip, std::string socket_id,
                                         RunRequest request) {
  return std::shared_ptr<Session>(new Session(context, std::move(channel), std::move(client_ip),
                                              std::move(socket_id), std::move(request)));
}

Session::Session(SessionContext &context, std::shared_ptr<ClientChannel> channel,
                 std::string client_ip, std::string socket_id, RunRequest request)
    : ctx_(context), channel_(channel), id_(new_session_id()), client_ip_(std::move(client_ip)),
      socket_id_(std::move(socket_id)), request_(std::move(request)), stdin_(context.io),
      drain_timer_(context.io) {}

void Session::start() {
  const auto &l = request_.launch;
  ctx_.log.write(
      "run-start",
      {{"session", id_},
       {"socket", socket_id_},
       {"ip", client_ip_},
       {"mode", l.mode == launch::Mode::run ? "run" : "compile"},
       {"language", launch::to_string(l.language)},
       {"target", launch::to_string(l.target)},
       {"codeBytes", l.program.size()},
       {"inputMode", request_.input_mode == InputMode::batch ? "batch" : "interactive"}});
  auto self = shared_from_this();
  ctx_.launcher.start(
      request_.launch,
      [self](std::string error, RunLauncher::Started started) {
        self->on_started(std::move(error), std::move(started));
      },
      [self](const RunResult &result) { self->on_finished(result); });
}

void Session::on_started(std::string error, RunLauncher::Started started) {
  if (!error.empty()) {
    // Refused or never sent: no Finished will follow.
    release_sandbox();
    if (!ended_) // killed or abandoned while starting: nothing more to say
      stderr_line("could not start the program: " + error);
    RunResult r;
    r.reason = "start-failed";
    r.detail = error;
    result_ = r;
    ctx_.log.write("run-end", {{"session", id_},
                               {"status", ended_ ? final_status_ : std::string("error")},
                               {"reason", "start-failed"},
                               {"detail", error}});
    end("error", {{"reason", "start-failed"}}, true);
    return;
  }
  run_id_ = started.run_id;
  if (kill_requested_ || ended_) {
    // Killed or abandoned while starting: the fds close with `started`.
    ctx_.launcher.kill(started.run_id, "killed");
    return;
  }
  emit_status(request_.launch.mode == launch::Mode::run ? "running" : "compiling");
  if (!started.stdout_fd || !started.stderr_fd || !started.stdin_fd) {
    // Nothing to read or write (a launcher that reports the failure only in its result).
    pipeline_done_ = true;
    stdin_closed_ = true;
    return;
  }

  std::weak_ptr<Session> weak = shared_from_this();
  OutputPipeline::Callbacks cb;
  cb.emit = [weak](OutputStream stream, std::string text) {
    auto self = weak.lock();
    if (!self || self->ended_)
      return;
    auto channel = self->channel_.lock();
    if (!channel)
      return;
    (stream == OutputStream::out ? self->stdout_bytes_ : self->stderr_bytes_) += text.size();
    channel->emit(stream == OutputStream::out ? "nospace_stdout" : "nospace_stderr",
                  {{"sessionId", self->id_}, {"data", std::move(text)}});
  };
  cb.buffered_amount = [weak]() -> std::size_t {
    auto self = weak.lock();
    auto channel = self ? self->channel_.lock() : nullptr;
    return channel ? channel->buffered_amount() : 0;
  };
  cb.on_output_limit = [weak] {
    if (auto self = weak.lock())
      self->on_output_limit();
  };
  cb.on_end = [weak] {
    if (auto self = weak.lock()) {
      self->pipeline_done_ = true;
      self->maybe_finish();
    }
  };
  pipeline_ = OutputPipeline::create(ctx_.io, PipelineConfig::from_policy(ctx_.policy), cb);
  pipeline_->start(std::move(started.stdout_fd), std::move(started.stderr_fd));

  stdin_.assign(started.stdin_fd.release());
  const bool batch = request_.input_mode == InputMode::batch;
  // stdinData goes before anything sent with nospace_stdin while the run was starting.
  if (!request_.stdin_data.empty()) {
    stdin_queued_ += request_.stdin_data.size();
    stdin_queue_.push_front(std::move(request_.stdin_data));
  }
  stdin_close_after_ = batch;
  do_write_stdin();
}

void Session::on_output_limit() {
  output_limited_ = true;
  pipeline_done_ = true;
  stderr_line("output limit of " + format_bytes(ctx_.policy.sandbox.output_limit.bytes) +
              " (sandbox.output_limit) reached: the program was stopped");
  if (run_id_)
    ctx_.launcher.kill(*run_id_, "output-limit");
}

void Session::on_finished(const RunResult &result) {
  release_sandbox();
  result_ = result;
  if (output_limited_)
    result_->reason = "output-limit";
  close_stdin();
  if (ended_) {
    log_run_end();
    if (pipeline_)
      pipeline_->stop();
    return;
  }
  if (pipeline_ && !pipeline_done_) {
    // The program is gone: read what is left in its pipes, whatever the client's buffer.
    pipeline_->ignore_backpressure();
    std::weak_ptr<Session> weak = shared_from_this();
    drain_timer_.expires_after(kPipeDrainLimit);
    drain_timer_.async_wait([weak](const boost::system::error_code &ec) {
      auto self = weak.lock();
      if (ec || !self || self->pipeline_done_)
        return;
      self->pipeline_->stop();
      self->pipeline_done_ = true;
      self->maybe_finish();
    });
  }
  maybe_finish();
}

void Session::maybe_finish() {
  if (ended_ || !result_ || (pipeline_ && !pipeline_done_))
    return;
  drain_timer_.cancel();
  finish_with(*result_);
  // Logged only now: the program's last output may still have been in its pipes when the
  // launcher reported the result, and the byte counts (and metrics) must include it.
  log_run_end();
}

void Session::log_run_end() {
  ctx_.log.write("run-end", {{"session", id_},
                             {"socket", socket_id_},
                             {"ip", client_ip_},
                             {"reason", result_->reason},
                             {"detail", result_->detail},
                             {"exitCode", result_->exit_code ? json(*result_->exit_code) : json()},
                             {"usage", usage_json(*result_)},
                             {"stdoutBytes", stdout_bytes_},
                             {"stderrBytes", stderr_bytes_},
                             {"status", final_status_}});
}

std::string Session::start_failure_message(const RunResult &r) const {
  const std::string &path = ctx_.policy.interpreter.path;
  if (::access(path.c_str(), X_OK) != 0 || r.detail.find(path) != std::string::npos)
    return "the interpreter " + path +
           " is missing or cannot be run on this server: set interpreter.path in the policy "
           "(or the NOSPACE_BIN_PATH environment variable) to the nospace20 binary (" +
           r.detail + ")";
  return "could not start the program: " + r.detail;
}

void Session::finish_with(const RunResult &r) {
  const auto &sandbox = ctx_.policy.sandbox;
  json extra = {{"reason", r.reason}, {"usage", usage_json(r)}};
  if (r.exit_code)
    extra["exitCode"] = *r.exit_code;
  if (r.reason == "exited") {
    end(r.exit_code == 0 ? "finished" : "error", extra, true);
    return;
  }
  extra["exitCode"] = r.exit_code ? json(*r.exit_code) : json();
  if (r.reason == "wall-timeout")
    stderr_line("time limit: the program ran longer than the wall-clock limit of " +
                format_ms(sandbox.time.wall_ms) + " (sandbox.time.wall_ms) and was stopped");
  else if (r.reason == "cpu-timeout")
    stderr_line("CPU time limit of " + format_ms(sandbox.time.cpu_ms) +
                " (sandbox.time.cpu_ms) reached: the program was stopped");
  else if (r.reason == "memory")
    stderr_line("memory limit of " + format_bytes(sandbox.cgroup.memory_max.bytes) +
                " (sandbox.cgroup.memory_max) reached: the program was stopped");
  else if (r.reason == "seccomp")
    stderr_line("the program was stopped: it made a system call the sandbox forbids (" + r.detail +
                ")");
  else if (r.reason == "signaled")
    stderr_line("the program was killed by signal " + r.detail);
  else if (r.reason == "start-failed")
    stderr_line(start_failure_message(r));
  else if (r.reason == "killed")
    stderr_line("the program was stopped" + (r.detail.empty() ? "" : ": " + r.detail));
  // output-limit: its notice went out when the limit was reached.
  end("error", extra, true);
}

void Session::end(const std::string &status, json extra, bool notify) {
  if (ended_)
    return;
  if (notify)
    emit_status(status, std::move(extra));
  ended_ = true;
  final_status_ = status;
  ctx_.limits.release_session(client_ip_);
}

void Session::stderr_line(const std::string &text) {
  if (auto channel = channel_.lock())
    channel->emit("nospace_stderr", {{"sessionId", id_}, {"data", text + "\n"}});
}

void Session::emit_status(const std::string &status, json extra) {
  auto channel = channel_.lock();
  if (!channel)
    return;
  json payload = {{"sessionId", id_}, {"status", status}};
  payload.update(extra);
  channel->emit("nospace_execution_status", std::move(payload));
}

void Session::release_sandbox() {
  if (!sandbox_released_) {
    sandbox_released_ = true;
    ctx_.limits.release_sandbox();
  }
}

void Session::kill() {
  if (ended_)
    return;
  kill_requested_ = true;
  if (pipeline_)
    pipeline_->stop(); // nothing after the final status
  close_stdin();
  if (run_id_)
    ctx_.launcher.kill(*run_id_, "killed");
  end("killed", {{"reason", "killed"}}, true);
}

void Session::abandon() {
  if (ended_)
    return;
  kill_requested_ = true;
  if (pipeline_)
    pipeline_->stop();
  close_stdin();
  if (run_id_)
    ctx_.launcher.kill(*run_id_, "killed");
  end("killed", {}, false);
}

void Session::drained() {
  if (pipeline_)
    pipeline_->drained();
}

std::optional<std::string> Session::write_stdin(std::string data) {
  if (ended_ || result_ || stdin_closed_)
    return "nospace_stdin: the program of session " + id_ + " is no longer running";
  if (request_.input_mode == InputMode::batch)
    return "nospace_stdin: session " + id_ + " runs in batch mode; its input was stdinData";
  if (data.empty() || data.back() != '\n')
    data += '\n';
  if (stdin_queued_ + data.size() > ctx_.policy.limits.max_stdin.bytes)
    return "nospace_stdin: the program is not reading its input; " + std::to_string(stdin_queued_) +
           " bytes are still waiting (limits.max_stdin is " +
           std::to_string(ctx_.policy.limits.max_stdin.bytes) + ")";
  queue_stdin(std::move(data), false);
  return std::nullopt;
}

void Session::queue_stdin(std::string data, bool close_after) {
  if (stdin_closed_)
    return;
  stdin_queued_ += data.size();
  if (!data.empty())
    stdin_queue_.push_back(std::move(data));
  stdin_close_after_ = stdin_close_after_ || close_after;
  do_write_stdin();
}

void Session::do_write_stdin() {
  // Input sent before the launcher's Started waits in the queue until stdin is open.
  if (stdin_writing_ || stdin_closed_ || !stdin_.is_open())
    return;
  if (stdin_queue_.empty()) {
    if (stdin_close_after_)
      close_stdin(); // batch mode: end of file after stdinData
    return;
  }
  stdin_writing_ = true;
  boost::asio::async_write(
      stdin_, boost::asio::buffer(stdin_queue_.front()),
      [self = shared_from_this()](const boost::system::error_code &ec, std::size_t n) {
        self->on_stdin_written(ec, n);
      });
}

void Session::on_stdin_written(const boost::system::error_code &ec, std::size_t n) {
  stdin_writing_ = false;
  if (stdin_closed_)
    return;
  if (ec) {
    // EPIPE: the program closed its input or exited; what it did not read is dropped.
    close_stdin();
    return;
  }
  stdin_queued_ -= n;
  stdin_queue_.pop_front();
  do_write_stdin();
}

void Session::close_stdin() {
  if (stdin_closed_)
    return;
  stdin_closed_ = true;
  stdin_queue_.clear();
  stdin_queued_ = 0;
  boost::system::error_code ignored;
  stdin_.close(ignored);
}

} // namespace nospace::gateway
