#include "gateway/ops/shutdown.hpp"

#include <csignal>
#include <utility>

namespace nospace::ops {

namespace {
// How often the drain looks at the running count: short next to drain_ms, long enough to cost
// nothing.
constexpr std::chrono::milliseconds kPollInterval{25};
// After close_all: long enough for queued writes on loopback or a LAN, short next to any
// orchestrator's stop timeout.
constexpr std::chrono::milliseconds kLinger{200};
} // namespace

GracefulShutdown::GracefulShutdown(boost::asio::io_context &io, GatewayMetrics &metrics,
                                   std::chrono::milliseconds drain,
                                   std::chrono::milliseconds kill_wait, ShutdownHooks hooks)
    : io_(io), metrics_(metrics), drain_(drain), kill_wait_(kill_wait), hooks_(std::move(hooks)),
      signals_(io, SIGTERM, SIGINT), poll_timer_(io) {}

void GracefulShutdown::listen_for_signals() { do_wait_signal(); }

void GracefulShutdown::do_wait_signal() {
  signals_.async_wait(
      [this](const boost::system::error_code &ec, int signal) { on_signal(ec, signal); });
}

void GracefulShutdown::on_signal(const boost::system::error_code &ec, int) {
  if (ec)
    return; // cancelled: the shutdown is over
  begin();
  if (state_ != State::done)
    do_wait_signal(); // a second signal means "now"
}

void GracefulShutdown::begin() {
  if (state_ == State::draining) {
    do_kill();
    return;
  }
  if (state_ != State::serving)
    return;
  state_ = State::draining;
  metrics_.set_draining(true);
  if (hooks_.log)
    hooks_.log("drain-start", hooks_.running());
  hooks_.stop_accepting();
  hooks_.notify_sessions(kNotice);
  deadline_ = std::chrono::steady_clock::now() + drain_;
  do_poll();
}

void GracefulShutdown::do_poll() {
  if (hooks_.running() == 0) {
    finish();
    return;
  }
  if (std::chrono::steady_clock::now() >= deadline_) {
    if (state_ == State::draining) {
      do_kill();
      return;
    }
    finish(); // killed runs still not reported after kill_wait: close anyway
    return;
  }
  poll_timer_.expires_after(kPollInterval);
  poll_timer_.async_wait([this](const boost::system::error_code &ec) { on_poll(ec); });
}

void GracefulShutdown::on_poll(const boost::system::error_code &ec) {
  if (ec)
    return;
  do_poll();
}

void GracefulShutdown::do_kill() {
  state_ = State::killing;
  poll_timer_.cancel();
  if (hooks_.log)
    hooks_.log("drain-kill", hooks_.running());
  hooks_.kill_all();
  deadline_ = std::chrono::steady_clock::now() + kill_wait_;
  do_poll();
}

void GracefulShutdown::finish() {
  state_ = State::done;
  poll_timer_.cancel();
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  if (hooks_.log)
    hooks_.log("drain-done", hooks_.running());
  hooks_.close_all();
  // Let the final statuses and close frames queued by close_all reach the network first.
  poll_timer_.expires_after(kLinger);
  poll_timer_.async_wait([this](const boost::system::error_code &) { hooks_.finished(); });
}

} // namespace nospace::ops
