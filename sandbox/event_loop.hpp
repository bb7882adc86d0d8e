#pragma once
// A small single-threaded epoll + timerfd loop for the launcher: file descriptors to watch for
// readability and one-shot timers. Callbacks run one at a time on the thread that calls
// run_until(); they may watch, unwatch, add and cancel freely (also their own entry).

#include "common/fd.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

namespace nospace::sandbox {

class EventLoop {
public:
  using TimerId = std::uint64_t;

  EventLoop(); // throws std::system_error when epoll or timerfd cannot be created
  EventLoop(const EventLoop &) = delete;
  EventLoop &operator=(const EventLoop &) = delete;
  ~EventLoop();

  // Calls on_readable whenever fd is readable (or hung up / in error: the callback reads and
  // sees EOF or the error). One callback per fd; watching again replaces it.
  void watch(int fd, std::function<void()> on_readable);
  void unwatch(int fd);

  // Calls fn once, `delay` from now, unless cancelled first.
  TimerId after(std::chrono::milliseconds delay, std::function<void()> fn);
  void cancel(TimerId id);

  // Dispatches events until done() returns true (checked before each wait).
  void run_until(const std::function<bool()> &done);
  // Dispatches what is ready, waiting at most `timeout` for something to be.
  void run_once(std::chrono::milliseconds timeout);

private:
  using Clock = std::chrono::steady_clock;
  void arm_timerfd();
  void fire_due_timers();

  UniqueFd epoll_;
  UniqueFd timerfd_;
  // shared_ptr so a callback that unwatches itself stays alive while it runs.
  std::map<int, std::shared_ptr<std::function<void()>>> watches_;
  std::map<std::pair<Clock::time_point, TimerId>, std::function<void()>> timers_;
  std::map<TimerId, Clock::time_point> timer_deadlines_;
  TimerId next_timer_ = 1;
};

} // namespace nospace::sandbox
