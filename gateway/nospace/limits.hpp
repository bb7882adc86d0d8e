#pragma once
// Admission limits (policy "limits"): connections in total and per client IP, concurrent
// sessions per IP, runs per minute per IP (a token bucket), and concurrent sandboxes in total
// (the original server's NOSPACE_MAX_PROCESSES, which it never enforced). Every refusal is a
// message that says which limit and its value. Single-threaded, like the rest of the gateway.

#include "common/gateway_policy.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace nospace::gateway {

using LimitClock = std::chrono::steady_clock;

// `capacity` tokens, refilled continuously at capacity per `period`.
class TokenBucket {
public:
  TokenBucket(double capacity, std::chrono::milliseconds period, LimitClock::time_point now);
  bool take(LimitClock::time_point now);
  bool full(LimitClock::time_point now) const;
  // Time until one token is available (zero when one is).
  std::chrono::milliseconds wait(LimitClock::time_point now) const;

private:
  double level(LimitClock::time_point now) const;
  double capacity_, per_ms_;
  double tokens_;
  LimitClock::time_point updated_;
};

class Limits {
public:
  explicit Limits(const LimitsPolicy &policy) : policy_(policy) {}

  // A Socket.IO connection; refused: a message. Release each admitted one exactly once.
  std::optional<std::string> admit_connection(const std::string &ip);
  // Whether admit_connection would admit, taking nothing (for the CONNECT check).
  std::optional<std::string> check_connection(const std::string &ip) const;
  void release_connection(const std::string &ip);

  // A run or compile: a session slot of the IP, a token of its rate, a sandbox slot. Takes all
  // three or none. The session slot is released when the client-visible session ends
  // (release_session), the sandbox slot when the launcher reports the run gone
  // (release_sandbox): a killed run holds its sandbox until it is really reaped.
  std::optional<std::string> admit_run(const std::string &ip,
                                       LimitClock::time_point now = LimitClock::now());
  void release_session(const std::string &ip);
  void release_sandbox();

  std::size_t connections() const { return connections_; }
  std::size_t sandboxes() const { return sandboxes_; }
  std::size_t tracked_ips() const { return per_ip_.size(); }

private:
  struct PerIp {
    std::uint32_t connections = 0;
    std::uint32_t sessions = 0;
    std::optional<TokenBucket> runs;
  };
  PerIp &entry(const std::string &ip);
  void forget_if_idle(const std::string &ip, LimitClock::time_point now);
  void sweep(LimitClock::time_point now);

  LimitsPolicy policy_;
  std::unordered_map<std::string, PerIp> per_ip_;
  std::size_t connections_ = 0;
  std::size_t sandboxes_ = 0;
  std::uint64_t admissions_ = 0;
};

} // namespace nospace::gateway
