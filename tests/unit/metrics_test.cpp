// The metrics registry and its Prometheus text exposition (gateway/ops/metrics.hpp), and the
// /healthz, /readyz, /metrics endpoints (gateway/ops/endpoints.hpp).
#include <catch2/catch.hpp>

#include "gateway/ops/endpoints.hpp"
#include "gateway/ops/metrics.hpp"
#include "gateway/ops/run_log_metrics.hpp"

#include <nlohmann/json.hpp>

#include <sstream>
#include <stdexcept>
#include <string>

using namespace nospace::ops;

namespace {

bool has_line(const std::string &text, const std::string &line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line)
      return true;
  return false;
}

std::string header(const HttpReply &reply, const std::string &name) {
  for (const auto &[k, v] : reply.headers)
    if (k == name)
      return v;
  return {};
}

} // namespace

TEST_CASE("counters and gauges render with HELP, TYPE and sorted labels") {
  Registry r;
  r.counter("b_total", "Bees.", {{"z", "1"}, {"a", "x"}}).inc(3);
  r.gauge("a_now", "Now.").set(-2);
  std::string text = r.render();
  CHECK(text == "# HELP a_now Now.\n"
                "# TYPE a_now gauge\n"
                "a_now -2\n"
                "# HELP b_total Bees.\n"
                "# TYPE b_total counter\n"
                "b_total{a=\"x\",z=\"1\"} 3\n");
}

TEST_CASE("the same name and labels return the same series") {
  Registry r;
  Counter &a = r.counter("c_total", "C.", {{"k", "v"}});
  Counter &b = r.counter("c_total", "C.", {{"k", "v"}});
  Counter &other = r.counter("c_total", "C.", {{"k", "w"}});
  a.inc();
  b.inc();
  CHECK(&a == &b);
  CHECK(a.value() == 2);
  CHECK(other.value() == 0);
}

TEST_CASE("label values and help text are escaped") {
  Registry r;
  r.counter("x_total", "line one\nback\\slash", {{"v", "q\"uote\\\n"}}).inc();
  std::string text = r.render();
  CHECK(has_line(text, "# HELP x_total line one\\nback\\\\slash"));
  CHECK(has_line(text, "x_total{v=\"q\\\"uote\\\\\\n\"} 1"));
}

TEST_CASE("invalid names and type clashes are refused") {
  Registry r;
  CHECK_THROWS_AS(r.counter("9lives", "."), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("has-dash", "."), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("ok", ".", {{"bad-label", "1"}}), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("ok", ".", {{"__reserved", "1"}}), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("ok", ".", {{"le", "1"}}), std::invalid_argument);
  r.counter("taken", ".");
  CHECK_THROWS_AS(r.gauge("taken", "."), std::invalid_argument);
  r.histogram("h", ".", {1, 2});
  CHECK_THROWS_AS(r.histogram("h", ".", {1, 3}), std::invalid_argument);
  CHECK_THROWS_AS(Histogram({2, 1}), std::invalid_argument);
}

TEST_CASE("histogram buckets are cumulative, le is inclusive, +Inf counts everything") {
  Registry r;
  Histogram &h = r.histogram("d_seconds", "D.", {0.1, 1, 10});
  h.observe(0.05);
  h.observe(0.1); // exactly on a bound: counted in le="0.1"
  h.observe(5);
  h.observe(100);
  std::string text = r.render();
  CHECK(has_line(text, "# TYPE d_seconds histogram"));
  CHECK(has_line(text, "d_seconds_bucket{le=\"0.1\"} 2"));
  CHECK(has_line(text, "d_seconds_bucket{le=\"1\"} 2"));
  CHECK(has_line(text, "d_seconds_bucket{le=\"10\"} 3"));
  CHECK(has_line(text, "d_seconds_bucket{le=\"+Inf\"} 4"));
  CHECK(has_line(text, "d_seconds_sum 105.15"));
  CHECK(has_line(text, "d_seconds_count 4"));
}

TEST_CASE("gateway metrics: connections, sessions, sandboxes, runs, bytes, refusals") {
  GatewayMetrics m;
  m.connection_opened();
  m.connection_opened();
  m.connection_closed();
  m.session_started();
  m.sandbox_started();
  m.bytes_streamed("stdout", 100);
  m.bytes_streamed("stdout", 23);
  m.bytes_streamed("stderr", 7);
  m.run_finished("error", "wall-timeout", 30000);
  m.run_finished("finished", "exited", 12);
  m.refused("max_runs_per_ip");
  m.refused("max_runs_per_ip");
  std::string text = m.render();
  CHECK(has_line(text, "nospace_connections 1"));
  CHECK(has_line(text, "nospace_connections_total 2"));
  CHECK(has_line(text, "nospace_sessions 1"));
  CHECK(has_line(text, "nospace_sandboxes_running 1"));
  CHECK(has_line(text, "nospace_streamed_bytes_total{stream=\"stdout\"} 123"));
  CHECK(has_line(text, "nospace_streamed_bytes_total{stream=\"stderr\"} 7"));
  CHECK(has_line(text, "nospace_runs_total{reason=\"wall-timeout\",status=\"error\"} 1"));
  CHECK(has_line(text, "nospace_runs_total{reason=\"exited\",status=\"finished\"} 1"));
  CHECK(has_line(text, "nospace_run_duration_seconds_bucket{le=\"0.025\"} 1"));
  CHECK(has_line(text, "nospace_run_duration_seconds_bucket{le=\"30\"} 2"));
  CHECK(has_line(text, "nospace_run_duration_seconds_count 2"));
  CHECK(has_line(text, "nospace_refusals_total{limit=\"max_runs_per_ip\"} 2"));
  CHECK(has_line(text, "nospace_draining 0"));
  m.sandbox_ended();
  m.session_ended();
  CHECK(m.sandboxes_running() == 0);
  CHECK(m.sessions() == 0);
}

TEST_CASE("every exposition line is a comment or name{labels} value") {
  GatewayMetrics m;
  m.run_finished("killed", "killed", 5);
  m.refused("max_connections");
  std::istringstream in(m.render());
  for (std::string line; std::getline(in, line);) {
    INFO(line);
    if (line.rfind("# ", 0) == 0) {
      CHECK((line.rfind("# HELP nospace_", 0) == 0 || line.rfind("# TYPE nospace_", 0) == 0));
      continue;
    }
    auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    CHECK(line.rfind("nospace_", 0) == 0);
    std::string value = line.substr(space + 1);
    CHECK_NOTHROW(std::stod(value == "+Inf" ? "inf" : value));
  }
}

TEST_CASE("readiness: draining, launcher, capacity") {
  CHECK(check_readiness(true, 0, 4, false).ready);
  CHECK(check_readiness(true, 3, 4, false).ready);
  auto full = check_readiness(true, 4, 4, false);
  CHECK_FALSE(full.ready);
  CHECK(full.reason == "at capacity: 4 of 4 sandboxes running");
  auto down = check_readiness(false, 0, 4, false);
  CHECK_FALSE(down.ready);
  CHECK(down.reason == "launcher not reachable");
  CHECK_FALSE(check_readiness(true, 0, 4, true).ready);
}

TEST_CASE("endpoints: healthz, readyz, metrics, HEAD, 405, not ours") {
  GatewayMetrics m;
  Readiness state{true, "ready"};
  Endpoints ep(m, [&] { return state; });

  auto health = ep.handle("GET", "/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->body == "ok\n");

  auto ready = ep.handle("GET", "/readyz?verbose=1");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  state = {false, "launcher not reachable"};
  ready = ep.handle("GET", "/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 503);
  CHECK(ready->body == "launcher not reachable\n");

  m.connection_opened();
  auto metrics = ep.handle("GET", "/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(header(*metrics, "Content-Type") == std::string(kPrometheusContentType));
  CHECK(has_line(metrics->body, "nospace_connections 1"));
  CHECK(header(*metrics, "Content-Length") == std::to_string(metrics->body.size()));

  auto head = ep.handle("HEAD", "/metrics");
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());
  CHECK(header(*head, "Content-Length") == std::to_string(metrics->body.size()));

  auto post = ep.handle("POST", "/healthz");
  REQUIRE(post);
  CHECK(post->status == 405);
  CHECK(header(*post, "Allow") == "GET, HEAD");

  CHECK_FALSE(ep.handle("GET", "/healthzz"));
  CHECK_FALSE(ep.handle("GET", "/"));
}

TEST_CASE("metrics from the run log: connections, sessions, runs, bytes, refusals") {
  using nlohmann::json;
  GatewayMetrics m;
  observe_run_log(m, {{"event", "connect"}, {"socket", "a"}});
  observe_run_log(m, {{"event", "connect"}, {"socket", "b"}});
  observe_run_log(m, {{"event", "run-start"}, {"session", "s1"}});
  observe_run_log(m, {{"event", "run-start"}, {"session", "s2"}});
  CHECK(m.sessions() == 2);
  observe_run_log(m, {{"event", "run-end"},
                      {"reason", "exited"},
                      {"exitCode", 0},
                      {"usage", {{"cpuMs", 3}, {"wallMs", 40}, {"peakMemoryBytes", 1}}},
                      {"stdoutBytes", 100},
                      {"stderrBytes", 0},
                      {"status", "pending"}});
  observe_run_log(m, {{"event", "run-end"},
                      {"reason", "wall-timeout"},
                      {"exitCode", nullptr},
                      {"usage", {{"wallMs", 30000}}},
                      {"stdoutBytes", 5},
                      {"stderrBytes", 9},
                      {"status", "error"}});
  observe_run_log(m, {{"event", "disconnect"}, {"socket", "a"}});
  observe_run_log(m, {{"event", "request-refused"},
                      {"error", "too many programs running from 127.0.0.1: the limit is 4 at "
                                "once (limits.max_runs_per_ip)"}});
  observe_run_log(m, {{"event", "connect-refused"},
                      {"error", "the server has reached its limit of 2 connections "
                                "(limits.max_connections); try again later"}});
  observe_run_log(m, {{"event", "request-refused"}, {"error", "options.language: unknown"}});
  observe_run_log(m, {{"event", "listening"}, {"port", 1}});
  observe_run_log(m, json("not an object"));

  std::string text = m.render();
  CHECK(m.connections() == 1);
  CHECK(m.sessions() == 0);
  CHECK(has_line(text, "nospace_connections_total 2"));
  CHECK(has_line(text, "nospace_runs_total{reason=\"exited\",status=\"finished\"} 1"));
  CHECK(has_line(text, "nospace_runs_total{reason=\"wall-timeout\",status=\"error\"} 1"));
  CHECK(has_line(text, "nospace_run_duration_seconds_bucket{le=\"0.05\"} 1"));
  CHECK(has_line(text, "nospace_run_duration_seconds_count 2"));
  CHECK(has_line(text, "nospace_streamed_bytes_total{stream=\"stdout\"} 105"));
  CHECK(has_line(text, "nospace_streamed_bytes_total{stream=\"stderr\"} 9"));
  CHECK(has_line(text, "nospace_refusals_total{limit=\"max_runs_per_ip\"} 1"));
  CHECK(has_line(text, "nospace_refusals_total{limit=\"max_connections\"} 1"));
  CHECK(has_line(text, "nospace_refusals_total{limit=\"invalid-request\"} 1"));
}

TEST_CASE("final status of a run-end line still pending") {
  using nlohmann::json;
  CHECK(final_status({{"status", "killed"}, {"reason", "exited"}}) == "killed");
  CHECK(final_status({{"status", "pending"}, {"reason", "exited"}, {"exitCode", 0}}) == "finished");
  CHECK(final_status({{"status", "pending"}, {"reason", "exited"}, {"exitCode", 3}}) == "error");
  CHECK(final_status({{"status", "pending"}, {"reason", "killed"}}) == "killed");
  CHECK(final_status({{"status", "pending"}, {"reason", "memory"}}) == "error");
}
