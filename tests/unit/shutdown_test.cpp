// Graceful shutdown (gateway/ops/shutdown.hpp): the order of the steps, the drain deadline,
// the kill, a second signal, and a real SIGTERM through the io_context.
#include <catch2/catch.hpp>

#include "gateway/ops/shutdown.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

using namespace nospace::ops;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Fake {
  boost::asio::io_context io;
  GatewayMetrics metrics;
  std::vector<std::string> steps;
  std::size_t running = 0;
  bool kill_finishes_runs = true;
  Clock::time_point killed_at{}, finished_at{};

  ShutdownHooks hooks() {
    ShutdownHooks h;
    h.stop_accepting = [this] { steps.push_back("stop_accepting"); };
    h.notify_sessions = [this](const std::string &notice) {
      steps.push_back("notify");
      CHECK(notice.find("shutting down") != std::string::npos);
    };
    h.running = [this] { return running; };
    h.kill_all = [this] {
      steps.push_back("kill_all");
      killed_at = Clock::now();
      if (kill_finishes_runs)
        running = 0;
    };
    h.close_all = [this] { steps.push_back("close_all"); };
    h.finished = [this] {
      steps.push_back("finished");
      finished_at = Clock::now();
      io.stop();
    };
    return h;
  }

  // Runs the io_context with a safety limit, so a broken drain fails instead of hanging.
  void run(std::chrono::milliseconds limit = 5s) {
    boost::asio::steady_timer guard(io, limit);
    guard.async_wait([this](const boost::system::error_code &ec) {
      if (!ec) {
        steps.push_back("TIMEOUT");
        io.stop();
      }
    });
    io.run();
  }
};

} // namespace

TEST_CASE("runs that finish within the drain are not killed") {
  Fake f;
  f.running = 2;
  GracefulShutdown shutdown(f.io, f.metrics, 2000ms, 500ms, f.hooks());
  boost::asio::steady_timer later(f.io, 100ms);
  later.async_wait([&](const boost::system::error_code &) { f.running = 0; });
  auto start = Clock::now();
  shutdown.begin();
  CHECK(shutdown.draining());
  CHECK(f.metrics.draining());
  f.run();
  CHECK(f.steps == std::vector<std::string>{"stop_accepting", "notify", "close_all", "finished"});
  CHECK(f.finished_at - start >= 100ms);
  CHECK(f.finished_at - start < 1500ms);
  CHECK(shutdown.done());
}

TEST_CASE("runs still going at the drain deadline are killed, then everything closes") {
  Fake f;
  f.running = 1;
  GracefulShutdown shutdown(f.io, f.metrics, 150ms, 500ms, f.hooks());
  auto start = Clock::now();
  shutdown.begin();
  f.run();
  CHECK(f.steps ==
        std::vector<std::string>{"stop_accepting", "notify", "kill_all", "close_all", "finished"});
  CHECK(f.killed_at - start >= 150ms);
  CHECK(f.killed_at - start < 1000ms);
}

TEST_CASE("runs the launcher never reports reaped do not hold the exit forever") {
  Fake f;
  f.running = 1;
  f.kill_finishes_runs = false;
  GracefulShutdown shutdown(f.io, f.metrics, 100ms, 200ms, f.hooks());
  auto start = Clock::now();
  shutdown.begin();
  f.run();
  CHECK(f.steps.back() == "finished");
  CHECK(f.finished_at - start >= 300ms);
  CHECK(f.finished_at - start < 2000ms);
}

TEST_CASE("nothing running: shutdown is immediate") {
  Fake f;
  GracefulShutdown shutdown(f.io, f.metrics, 10000ms, 1000ms, f.hooks());
  auto start = Clock::now();
  shutdown.begin();
  f.run();
  CHECK(f.steps == std::vector<std::string>{"stop_accepting", "notify", "close_all", "finished"});
  CHECK(f.finished_at - start < 1000ms);
}

TEST_CASE("SIGTERM starts the drain; a second signal kills at once") {
  Fake f;
  f.running = 1;
  GracefulShutdown shutdown(f.io, f.metrics, 10000ms, 1000ms, f.hooks());
  shutdown.listen_for_signals();
  boost::asio::steady_timer first(f.io, 20ms), second(f.io, 120ms);
  first.async_wait([](const boost::system::error_code &) { std::raise(SIGTERM); });
  second.async_wait([](const boost::system::error_code &) { std::raise(SIGTERM); });
  auto start = Clock::now();
  f.run();
  CHECK(f.steps ==
        std::vector<std::string>{"stop_accepting", "notify", "kill_all", "close_all", "finished"});
  // Killed by the second signal, long before the 10 s drain.
  CHECK(f.killed_at - start >= 100ms);
  CHECK(f.killed_at - start < 2000ms);
}
