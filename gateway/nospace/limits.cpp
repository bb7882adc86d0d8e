#include "gateway/nospace/limits.hpp"

#include <algorithm>
#include <cmath>

namespace nospace::gateway {

using namespace std::chrono;

TokenBucket::TokenBucket(double capacity, milliseconds period, LimitClock::time_point now)
    : capacity_(capacity), per_ms_(capacity / static_cast<double>(period.count())),
      tokens_(capacity), updated_(now) {}

double TokenBucket::level(LimitClock::time_point now) const {
  const double elapsed = duration<double, std::milli>(now - updated_).count();
  return std::min(capacity_, tokens_ + std::max(0.0, elapsed) * per_ms_);
}

bool TokenBucket::take(LimitClock::time_point now) {
  tokens_ = level(now);
  updated_ = now;
  if (tokens_ < 1.0)
    return false;
  tokens_ -= 1.0;
  return true;
}

bool TokenBucket::full(LimitClock::time_point now) const { return level(now) >= capacity_; }

milliseconds TokenBucket::wait(LimitClock::time_point now) const {
  const double missing = 1.0 - level(now);
  if (missing <= 0)
    return milliseconds(0);
  return milliseconds(static_cast<std::int64_t>(std::ceil(missing / per_ms_)));
}

Limits::PerIp &Limits::entry(const std::string &ip) { return per_ip_[ip]; }

// An IP with nothing open and a full bucket carries no state worth keeping: the map stays as
// large as the set of clients active within the last minute.
void Limits::forget_if_idle(const std::string &ip, LimitClock::time_point now) {
  auto it = per_ip_.find(ip);
  if (it == per_ip_.end())
    return;
  const PerIp &e = it->second;
  if (e.connections == 0 && e.sessions == 0 && (!e.runs || e.runs->full(now)))
    per_ip_.erase(it);
}

// IPs that left with a partly used bucket are dropped once it has refilled.
void Limits::sweep(LimitClock::time_point now) {
  for (auto it = per_ip_.begin(); it != per_ip_.end();) {
    const PerIp &e = it->second;
    if (e.connections == 0 && e.sessions == 0 && (!e.runs || e.runs->full(now)))
      it = per_ip_.erase(it);
    else
      ++it;
  }
}

std::optional<std::string> Limits::check_connection(const std::string &ip) const {
  if (connections_ >= policy_.max_connections)
    return "the server has reached its limit of " + std::to_string(policy_.max_connections) +
           " connections (limits.max_connections); try again later";
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && it->second.connections >= policy_.max_connections_per_ip)
    return "too many connections from " + ip + ": the limit is " +
           std::to_string(policy_.max_connections_per_ip) + " (limits.max_connections_per_ip)";
  return std::nullopt;
}

std::optional<std::string> Limits::admit_connection(const std::string &ip) {
  if (++admissions_ % 1024 == 0)
    sweep(LimitClock::now());
  if (auto refusal = check_connection(ip))
    return refusal;
  ++entry(ip).connections;
  ++connections_;
  return std::nullopt;
}

void Limits::release_connection(const std::string &ip) {
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && it->second.connections > 0) {
    --it->second.connections;
    --connections_;
  }
  forget_if_idle(ip, LimitClock::now());
}

std::optional<std::string> Limits::admit_run(const std::string &ip, LimitClock::time_point now) {
  if (sandboxes_ >= policy_.max_concurrent_runs)
    return "the server is running its limit of " + std::to_string(policy_.max_concurrent_runs) +
           " programs at once (limits.max_concurrent_runs); try again in a moment";
  PerIp &e = entry(ip);
  if (e.sessions >= policy_.max_runs_per_ip)
    return "too many programs running from " + ip + ": the limit is " +
           std::to_string(policy_.max_runs_per_ip) + " at once (limits.max_runs_per_ip)";
  if (!e.runs)
    e.runs.emplace(policy_.runs_per_minute_per_ip, minutes(1), now);
  if (!e.runs->take(now)) {
    const auto wait = e.runs->wait(now);
    const std::string message = "too many runs from " + ip + ": the limit is " +
                                std::to_string(policy_.runs_per_minute_per_ip) +
                                " per minute (limits.runs_per_minute_per_ip); try again in " +
                                std::to_string((wait.count() + 999) / 1000) + " s";
    return message;
  }
  ++e.sessions;
  ++sandboxes_;
  return std::nullopt;
}

void Limits::release_session(const std::string &ip) {
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && it->second.sessions > 0)
    --it->second.sessions;
  forget_if_idle(ip, LimitClock::now());
}

void Limits::release_sandbox() {
  if (sandboxes_ > 0)
    --sandboxes_;
}

} // namespace nospace::gateway
