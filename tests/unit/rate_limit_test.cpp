// Admission limits: connections per IP and in total, sessions per IP, runs per minute per IP
// (token bucket with a fake clock), concurrent sandboxes, and the per-IP state being dropped.
#include "gateway/nospace/limits.hpp"

#include <catch2/catch.hpp>

using namespace nospace::gateway;
using namespace std::chrono_literals;

namespace {

nospace::LimitsPolicy policy() {
  nospace::LimitsPolicy p;
  p.max_connections = 5;
  p.max_connections_per_ip = 2;
  p.max_concurrent_runs = 3;
  p.max_runs_per_ip = 2;
  p.runs_per_minute_per_ip = 4;
  return p;
}

} // namespace

TEST_CASE("connections per IP and in total") {
  Limits l(policy());
  CHECK_FALSE(l.admit_connection("1.1.1.1"));
  CHECK_FALSE(l.admit_connection("1.1.1.1"));
  auto refused = l.admit_connection("1.1.1.1");
  REQUIRE(refused);
  CHECK(*refused == "too many connections from 1.1.1.1: the limit is 2 "
                    "(limits.max_connections_per_ip)");
  CHECK_FALSE(l.admit_connection("2.2.2.2"));
  CHECK_FALSE(l.admit_connection("2.2.2.2"));
  CHECK_FALSE(l.admit_connection("3.3.3.3"));
  refused = l.admit_connection("4.4.4.4");
  REQUIRE(refused);
  CHECK(*refused == "the server has reached its limit of 5 connections (limits.max_connections); "
                    "try again later");
  l.release_connection("1.1.1.1");
  CHECK_FALSE(l.admit_connection("1.1.1.1"));
  CHECK(l.connections() == 5);
}

TEST_CASE("sessions per IP, concurrent sandboxes, and their release") {
  Limits l(policy());
  const auto t = LimitClock::now();
  CHECK_FALSE(l.admit_run("1.1.1.1", t));
  CHECK_FALSE(l.admit_run("1.1.1.1", t));
  auto refused = l.admit_run("1.1.1.1", t);
  REQUIRE(refused);
  CHECK(*refused == "too many programs running from 1.1.1.1: the limit is 2 at once "
                    "(limits.max_runs_per_ip)");
  CHECK_FALSE(l.admit_run("2.2.2.2", t));
  refused = l.admit_run("3.3.3.3", t);
  REQUIRE(refused);
  CHECK(*refused == "the server is running its limit of 3 programs at once "
                    "(limits.max_concurrent_runs); try again in a moment");
  // A killed session frees the client's slot at once, the sandbox only when reaped.
  l.release_session("1.1.1.1");
  CHECK(l.admit_run("3.3.3.3", t)); // still 3 sandboxes
  l.release_sandbox();
  CHECK_FALSE(l.admit_run("3.3.3.3", t));
  CHECK(l.sandboxes() == 3);
}

TEST_CASE("runs per minute per IP: a token bucket that refills continuously") {
  Limits l(policy()); // 4 per minute: one token every 15 s
  const auto t = LimitClock::now();
  for (int i = 0; i < 4; ++i) {
    CHECK_FALSE(l.admit_run("1.1.1.1", t + std::chrono::seconds(i)));
    l.release_session("1.1.1.1");
    l.release_sandbox();
  }
  auto refused = l.admit_run("1.1.1.1", t + 4s);
  REQUIRE(refused);
  CHECK(*refused == "too many runs from 1.1.1.1: the limit is 4 per minute "
                    "(limits.runs_per_minute_per_ip); try again in 11 s");
  CHECK_FALSE(l.admit_run("2.2.2.2", t + 4s)); // other IPs are not affected
  l.release_session("2.2.2.2");
  l.release_sandbox();
  CHECK(l.admit_run("1.1.1.1", t + 14s));
  CHECK_FALSE(l.admit_run("1.1.1.1", t + 15s));
}

TEST_CASE("an IP with nothing open and a full bucket is forgotten") {
  Limits l(policy());
  CHECK_FALSE(l.admit_connection("1.1.1.1"));
  CHECK(l.tracked_ips() == 1);
  l.release_connection("1.1.1.1");
  CHECK(l.tracked_ips() == 0);
  CHECK_FALSE(l.admit_run("1.1.1.1", LimitClock::now()));
  l.release_session("1.1.1.1");
  CHECK(l.tracked_ips() == 1); // its bucket is not full yet
  // Releasing what was never admitted changes nothing.
  l.release_connection("9.9.9.9");
  l.release_session("9.9.9.9");
  CHECK(l.connections() == 0);
}

TEST_CASE("TokenBucket") {
  const auto t = LimitClock::now();
  TokenBucket b(2, 1000ms, t);
  CHECK(b.full(t));
  CHECK(b.take(t));
  CHECK(b.take(t));
  CHECK_FALSE(b.take(t));
  CHECK(b.wait(t) == 500ms);
  CHECK_FALSE(b.take(t + 499ms));
  CHECK(b.take(t + 1000ms));
  CHECK(b.full(t + 5000ms));
}
