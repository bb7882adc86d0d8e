#include "sandbox/event_loop.hpp"

#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <system_error>
#include <vector>

namespace nospace::sandbox {

namespace {

[[noreturn]] void throw_errno(const char *what) {
  throw std::system_error(errno, std::generic_category(), what);
}

} // namespace

EventLoop::EventLoop()
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      timerfd_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) {
  if (!epoll_)
    throw_errno("epoll_create1");
  if (!timerfd_)
    throw_errno("timerfd_create");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = timerfd_.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, timerfd_.get(), &ev) != 0)
    throw_errno("epoll_ctl(timerfd)");
}

EventLoop::~EventLoop() = default;

void EventLoop::watch(int fd, std::function<void()> on_readable) {
  auto fn = std::make_shared<std::function<void()>>(std::move(on_readable));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  const bool known = watches_.count(fd) != 0;
  if (::epoll_ctl(epoll_.get(), known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)
    throw_errno("epoll_ctl(watch)");
  watches_[fd] = std::move(fn);
}

void EventLoop::unwatch(int fd) {
  if (watches_.erase(fd) != 0)
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

EventLoop::TimerId EventLoop::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  const TimerId id = next_timer_++;
  const auto deadline = Clock::now() + delay;
  timers_.emplace(std::make_pair(deadline, id), std::move(fn));
  timer_deadlines_.emplace(id, deadline);
  arm_timerfd();
  return id;
}

void EventLoop::cancel(TimerId id) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end())
    return;
  timers_.erase(std::make_pair(it->second, id));
  timer_deadlines_.erase(it);
  arm_timerfd();
}

void EventLoop::arm_timerfd() {
  itimerspec spec{};
  if (!timers_.empty()) {
    auto wait = timers_.begin()->first.first - Clock::now();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    if (ns < 1)
      ns = 1; // zero would disarm the timer
    spec.it_value.tv_sec = ns / 1000000000;
    spec.it_value.tv_nsec = ns % 1000000000;
  }
  ::timerfd_settime(timerfd_.get(), 0, &spec, nullptr);
}

void EventLoop::fire_due_timers() {
  std::uint64_t expirations;
  while (::read(timerfd_.get(), &expirations, sizeof expirations) > 0) {
  }
  const auto now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto node = timers_.extract(timers_.begin());
    timer_deadlines_.erase(node.key().second);
    node.mapped()();
  }
  arm_timerfd();
}

void EventLoop::run_once(std::chrono::milliseconds timeout) {
  epoll_event events[32];
  const int n = ::epoll_wait(epoll_.get(), events, 32, int(timeout.count()));
  if (n < 0) {
    if (errno == EINTR)
      return;
    throw_errno("epoll_wait");
  }
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    if (fd == timerfd_.get()) {
      fire_due_timers();
      continue;
    }
    // An earlier callback of this batch may have unwatched (and closed, and even reused) fd;
    // only a watch still registered is called.
    auto it = watches_.find(fd);
    if (it == watches_.end())
      continue;
    auto keep = it->second;
    (*keep)();
  }
}

void EventLoop::run_until(const std::function<bool()> &done) {
  while (!done())
    run_once(std::chrono::milliseconds(-1));
}

} // namespace nospace::sandbox
