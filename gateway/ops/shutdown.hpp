#pragma once
// Graceful shutdown on SIGTERM (and SIGINT): the order, in one place.
//
//   1. stop accepting connections, and /readyz turns 503 (draining), so balancers and
//      Kubernetes stop sending new clients at once;
//   2. tell every running session, on its stderr, that the server is shutting down;
//   3. wait up to server.drain_ms for the running sessions to finish on their own;
//   4. kill what is left (each session still ends with its one final status) and wait for the
//      launcher to report them reaped, bounded by `kill_wait`;
//   5. close every connection, then stop the io_context: main() returns 0.
// A second signal during the drain skips to step 4. Nothing is left on the host: the runs were
// reaped by the launcher, and the launcher exits when the gateway's end of its socket closes.

#include "gateway/ops/metrics.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace nospace::ops {

struct ShutdownHooks {
  std::function<void()> stop_accepting;
  std::function<void(const std::string &notice)> notify_sessions; // a stderr line to each
  std::function<std::size_t()> running;                           // sessions still running
  std::function<void()> kill_all;
  std::function<void()> close_all;
  std::function<void()> finished;                                         // typically io.stop()
  std::function<void(const std::string &event, std::size_t running)> log; // optional
};

class GracefulShutdown {
public:
  GracefulShutdown(boost::asio::io_context &io, GatewayMetrics &metrics,
                   std::chrono::milliseconds drain, std::chrono::milliseconds kill_wait,
                   ShutdownHooks hooks);

  // Starts waiting for SIGTERM and SIGINT on the io_context.
  void listen_for_signals();
  // What a signal does; also callable directly (tests). Idempotent: a second call kills now.
  void begin();

  bool draining() const { return state_ != State::serving; }
  bool done() const { return state_ == State::done; }

  static constexpr const char *kNotice =
      "\n[nospace] the server is shutting down: this run will be stopped if it does not "
      "finish soon\n";

private:
  enum class State { serving, draining, killing, done };
  void do_wait_signal();
  void on_signal(const boost::system::error_code &ec, int signal);
  void do_poll();
  void on_poll(const boost::system::error_code &ec);
  void do_kill();
  void finish();

  boost::asio::io_context &io_;
  GatewayMetrics &metrics_;
  std::chrono::milliseconds drain_, kill_wait_;
  ShutdownHooks hooks_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer poll_timer_;
  std::chrono::steady_clock::time_point deadline_;
  State state_ = State::serving;
};

} // namespace nospace::ops
