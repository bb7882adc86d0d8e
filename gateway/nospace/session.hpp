#pragma once
// One run or compile of one client: from the launcher's Started to exactly one final status.
//
//   start ──► launcher Started ──► "running"/"compiling" ──► output … ──┐
//                                                                    ├─► final status
//                     launcher Finished (RunResult) + pipeline end ──┘   (finished|error)
//   kill()    ──► "killed" at once, output dropped; the run is reaped in the background
//   abandon() ──► the client is gone: the run is killed, nothing more is sent
//
// The final status goes out only after the last output chunk, and only once. The session's
// slot of its client IP is released when the client-visible session ends; the sandbox slot
// when the launcher reports the run gone.

#include "gateway/nospace/limits.hpp"
#include "gateway/nospace/output_pipeline.hpp"
#include "gateway/nospace/request.hpp"
#include "gateway/nospace/run_launcher.hpp"
#include "gateway/nospace/run_log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <nlohmann/json.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace nospace::gateway {

// The client side of a session: a Socket.IO socket in the gateway, a recorder in tests.
class ClientChannel {
public:
  virtual ~ClientChannel() = default;
  virtual void emit(const std::string &event, nlohmann::json payload) = 0;
  virtual std::size_t buffered_amount() const = 0;
};

// What all sessions of one gateway share; outlives them.
struct SessionContext {
  boost::asio::io_context &io;
  const Policy &policy;
  RunLauncher &launcher;
  Limits &limits;
  RunLog &log;
};

class Session : public std::enable_shared_from_this<Session> {
public:
  // The limits were admitted by the caller (Limits::admit_run) for `client_ip`.
  static std::shared_ptr<Session> create(SessionContext &context,
                                         std::shared_ptr<ClientChannel> channel,
                                         std::string client_ip, std::string socket_id,
                                         RunRequest request);

  const std::string &id() const { return id_; }
  // The final status has been sent (or the client is gone): stdin and kill are refused.
  bool ended() const { return ended_; }

  void start();
  // Queues one piece of interactive input. Refused (a message) when the program no longer
  // reads input or too much is already waiting.
  std::optional<std::string> write_stdin(std::string data);
  void kill();
  void abandon();
  // The client's send buffer emptied.
  void drained();

private:
  Session(SessionContext &context, std::shared_ptr<ClientChannel> channel, std::string client_ip,
          std::string socket_id, RunRequest request);

  void on_started(std::string error, RunLauncher::Started started);
  void on_finished(const RunResult &result);
  void on_output_limit();
  void maybe_finish();
  void log_run_end();
  void finish_with(const RunResult &result);
  void end(const std::string &status, nlohmann::json extra, bool notify);
  void stderr_line(const std::string &text);
  void emit_status(const std::string &status, nlohmann::json extra = nlohmann::json::object());
  void release_sandbox();
  std::string start_failure_message(const RunResult &result) const;

  void queue_stdin(std::string data, bool close_after);
  void do_write_stdin();
  void on_stdin_written(const boost::system::error_code &ec, std::size_t n);
  void close_stdin();

  SessionContext &ctx_;
  std::weak_ptr<ClientChannel> channel_;
  std::string id_, client_ip_, socket_id_;
  RunRequest request_;
  std::shared_ptr<OutputPipeline> pipeline_;
  boost::asio::posix::stream_descriptor stdin_;
  boost::asio::steady_timer drain_timer_; // bounds the wait for the pipes after the exit
  std::deque<std::string> stdin_queue_;
  std::size_t stdin_queued_ = 0;
  bool stdin_writing_ = false, stdin_close_after_ = false, stdin_closed_ = false;

  std::optional<std::uint64_t> run_id_;
  std::optional<RunResult> result_;
  bool pipeline_done_ = false;
  bool output_limited_ = false;
  bool kill_requested_ = false;
  bool ended_ = false;
  bool sandbox_released_ = false;
  std::uint64_t stdout_bytes_ = 0, stderr_bytes_ = 0;
  std::string final_status_;
};

// A new session id: 128 random bits in hex.
std::string new_session_id();

} // namespace nospace::gateway
