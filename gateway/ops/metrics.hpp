#pragma once
// A small Prometheus metrics registry and the gateway's own metrics on top of it.
//
// Not thread-safe on purpose: the whole gateway runs on one io_context thread (see
// docs/development.md), so a counter is a plain integer and incrementing it costs one add.
// Metric references returned by the registry stay valid for the registry's lifetime.
//
// Label values must come from a small, fixed set (statuses, reasons, limit names): every
// distinct value is a new time series, so never put user input (an IP, a session id) in one.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nospace::ops {

// Label name -> value, kept sorted so {a=1,b=2} and {b=2,a=1} are one series.
using Labels = std::map<std::string, std::string>;

class Counter {
public:
  void inc(std::uint64_t n = 1) { value_ += n; }
  std::uint64_t value() const { return value_; }

private:
  std::uint64_t value_ = 0;
};

class Gauge {
public:
  void inc(std::int64_t n = 1) { value_ += n; }
  void dec(std::int64_t n = 1) { value_ -= n; }
  void set(std::int64_t v) { value_ = v; }
  std::int64_t value() const { return value_; }

private:
  std::int64_t value_ = 0;
};

class Histogram {
public:
  // Upper bounds, strictly increasing; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  const std::vector<double> &bounds() const { return bounds_; }
  // Per bucket (not cumulative), the last one is +Inf.
  const std::vector<std::uint64_t> &bucket_counts() const { return counts_; }
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }

private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

class Registry {
public:
  // Returns the series with these labels, creating it (and its family) on first use. Throws
  // std::invalid_argument for an invalid metric or label name, or when `name` already names a
  // family of another type (or, for histograms, other bounds).
  Counter &counter(const std::string &name, const std::string &help, const Labels &labels = {});
  Gauge &gauge(const std::string &name, const std::string &help, const Labels &labels = {});
  Histogram &histogram(const std::string &name, const std::string &help,
                       const std::vector<double> &bounds, const Labels &labels = {});

  // The text exposition format, version 0.0.4: families sorted by name, series by labels.
  std::string render() const;

private:
  enum class Type { counter, gauge, histogram };
  struct Family {
    Type type;
    std::string help;
    std::vector<double> bounds; // histograms only
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family &family(const std::string &name, const std::string &help, Type type, const Labels &labels);
  std::map<std::string, Family> families_;
};

// The content type Prometheus expects for render()'s output.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// The gateway's metrics (issue 6): what NOSPACE's session code and the engine report, named
// once here so /metrics and docs/deploy.md agree.
//   nospace_connections                      gauge    open Socket.IO connections
//   nospace_connections_total                counter  connections accepted since start
//   nospace_sessions                         gauge    run/compile sessions in progress
//   nospace_sandboxes_running                gauge    sandboxed processes alive now
//   nospace_runs_total{status,reason}        counter  finished runs by final status and reason
//   nospace_run_duration_seconds             histogram wall time of finished runs
//   nospace_streamed_bytes_total{stream}     counter  program output sent to clients
//   nospace_refusals_total{limit}            counter  requests refused by a limit
//   nospace_draining                         gauge    1 once SIGTERM started the drain
class GatewayMetrics {
public:
  GatewayMetrics();

  void connection_opened();
  void connection_closed();
  void session_started();
  void session_ended();
  // A sandboxed process started (the launcher's Started) / was reaped (its Finished).
  void sandbox_started();
  void sandbox_ended();
  // Or set from the launcher's own count, read when /metrics is scraped.
  void set_sandboxes_running(std::int64_t n);
  // Once per session with a final status. status: finished | error | killed; reason: the
  // launcher's RunResult.reason (exited, signaled, wall-timeout, cpu-timeout, memory,
  // output-limit, seccomp, killed, start-failed) or "refused" when no run was started.
  void run_finished(const std::string &status, const std::string &reason, std::uint64_t wall_ms);
  // stream: stdout | stderr
  void bytes_streamed(const std::string &stream, std::uint64_t bytes);
  // limit: the policy key that refused, e.g. "max_concurrent_runs", "runs_per_minute_per_ip".
  void refused(const std::string &limit);
  void set_draining(bool draining);

  std::int64_t connections() const { return connections_.value(); }
  std::int64_t sessions() const { return sessions_.value(); }
  std::int64_t sandboxes_running() const { return sandboxes_.value(); }
  bool draining() const { return draining_.value() != 0; }

  Registry &registry() { return registry_; }
  std::string render() const { return registry_.render(); }

private:
  Registry registry_;
  Gauge &connections_;
  Counter &connections_total_;
  Gauge &sessions_;
  Gauge &sandboxes_;
  Histogram &run_duration_;
  Gauge &draining_;
};

} // namespace nospace::ops
