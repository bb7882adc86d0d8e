// The launcher's epoll + timerfd loop: timers in deadline order, cancel, fd readiness.
#include "sandbox/event_loop.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <string>

using namespace nospace;
using namespace nospace::sandbox;
using std::chrono::milliseconds;

TEST_CASE("timers fire in deadline order; a cancelled one never fires") {
  EventLoop loop;
  std::string order;
  const auto start = std::chrono::steady_clock::now(); // before the deadlines are computed
  loop.after(milliseconds(30), [&] { order += "c"; });
  loop.after(milliseconds(10), [&] { order += "a"; });
  const auto cancelled = loop.after(milliseconds(20), [&] { order += "x"; });
  loop.after(milliseconds(20), [&] { order += "b"; });
  loop.cancel(cancelled);
  loop.run_until([&] { return order.size() == 3; });
  CHECK(order == "abc");
  CHECK(std::chrono::steady_clock::now() - start >= milliseconds(30));
}

TEST_CASE("a watched fd calls back when readable, and not after unwatch") {
  EventLoop loop;
  Pipe p;
  REQUIRE(make_pipe(p, O_CLOEXEC | O_NONBLOCK));
  int calls = 0;
  loop.watch(p.read.get(), [&] {
    char buf[16];
    while (::read(p.read.get(), buf, sizeof buf) > 0) {
    }
    ++calls;
  });
  loop.after(milliseconds(5), [&] { (void)!::write(p.write.get(), "x", 1); });
  loop.run_until([&] { return calls == 1; });
  loop.unwatch(p.read.get());
  (void)!::write(p.write.get(), "y", 1);
  bool timed_out = false;
  loop.after(milliseconds(20), [&] { timed_out = true; });
  loop.run_until([&] { return timed_out; });
  CHECK(calls == 1);
}

TEST_CASE("a callback may unwatch itself and add timers") {
  EventLoop loop;
  Pipe p;
  REQUIRE(make_pipe(p, O_CLOEXEC));
  bool timer = false;
  loop.watch(p.read.get(), [&] {
    loop.unwatch(p.read.get());
    loop.after(milliseconds(1), [&] { timer = true; });
  });
  (void)!::write(p.write.get(), "x", 1);
  loop.run_until([&] { return timer; });
  CHECK(timer);
}
