#include "gateway/ops/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace nospace::ops {

namespace {

bool valid_name(std::string_view name, bool allow_colon) {
  if (name.empty())
    return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok)
      return false;
  }
  return true;
}

// Shortest text that reads back as the same double, as Prometheus clients print floats.
std::string format_double(double v) {
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v))
    return "NaN";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

// Label values escape backslash, double quote and newline; HELP text escapes the first and last.
std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quote && c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

// {a="1",b="2"} plus an optional extra label (histograms' le), or nothing when empty.
std::string format_labels(const Labels &labels, const char *extra_name = nullptr,
                          const std::string &extra_value = {}) {
  if (labels.empty() && !extra_name)
    return {};
  std::string out = "{";
  bool first = true;
  for (const auto &[k, v] : labels) {
    out += first ? "" : ",";
    out += k + "=\"" + escape(v, true) + "\"";
    first = false;
  }
  if (extra_name)
    out += std::string(first ? "" : ",") + extra_name + "=\"" + extra_value + "\"";
  return out + "}";
}

} // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  for (std::size_t i = 1; i < bounds_.size(); ++i)
    if (!(bounds_[i - 1] < bounds_[i]))
      throw std::invalid_argument("histogram bounds must be strictly increasing");
}

void Histogram::observe(double value) {
  // The first bucket whose upper bound holds the value (le = "less or equal").
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  ++count_;
  sum_ += value;
}

Registry::Family &Registry::family(const std::string &name, const std::string &help, Type type,
                                   const Labels &labels) {
  if (!valid_name(name, true))
    throw std::invalid_argument("invalid metric name '" + name + "'");
  for (const auto &[label, value] : labels)
    if (!valid_name(label, false) || label.rfind("__", 0) == 0 || label == "le")
      throw std::invalid_argument("invalid label name '" + label + "' on metric '" + name + "'");
  auto [it, inserted] = families_.try_emplace(name);
  Family &f = it->second;
  if (inserted) {
    f.type = type;
    f.help = help;
  } else if (f.type != type) {
    throw std::invalid_argument("metric '" + name + "' is already registered with another type");
  }
  return f;
}

Counter &Registry::counter(const std::string &name, const std::string &help, const Labels &labels) {
  auto &slot = family(name, help, Type::counter, labels).counters[labels];
  if (!slot)
    slot = std::make_unique<Counter>();
  return *slot;
}

Gauge &Registry::gauge(const std::string &name, const std::string &help, const Labels &labels) {
  auto &slot = family(name, help, Type::gauge, labels).gauges[labels];
  if (!slot)
    slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram &Registry::histogram(const std::string &name, const std::string &help,
                               const std::vector<double> &bounds, const Labels &labels) {
  Family &f = family(name, help, Type::histogram, labels);
  if (f.histograms.empty())
    f.bounds = bounds;
  else if (f.bounds != bounds)
    throw std::invalid_argument("histogram '" + name + "' is already registered with other bounds");
  auto &slot = f.histograms[labels];
  if (!slot)
    slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

std::string Registry::render() const {
  std::string out;
  for (const auto &[name, f] : families_) {
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    out += "# HELP " + name + " " + escape(f.help, false) + "\n";
    out += "# TYPE " + name + " " + type_names[static_cast<int>(f.type)] + "\n";
    for (const auto &[labels, c] : f.counters)
      out += name + format_labels(labels) + " " + std::to_string(c->value()) + "\n";
    for (const auto &[labels, g] : f.gauges)
      out += name + format_labels(labels) + " " + std::to_string(g->value()) + "\n";
    for (const auto &[labels, h] : f.histograms) {
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < h->bucket_counts().size(); ++i) {
        cumulative += h->bucket_counts()[i];
        std::string le = i < h->bounds().size() ? format_double(h->bounds()[i]) : "+Inf";
        out += name + "_bucket" + format_labels(labels, "le", le) + " " +
               std::to_string(cumulative) + "\n";
      }
      out += name + "_sum" + format_labels(labels) + " " + format_double(h->sum()) + "\n";
      out += name + "_count" + format_labels(labels) + " " + std::to_string(h->count()) + "\n";
    }
  }
  return out;
}

GatewayMetrics::GatewayMetrics()
    : connections_(registry_.gauge("nospace_connections", "Open Socket.IO connections.")),
      connections_total_(registry_.counter("nospace_connections_total",
                                           "Socket.IO connections accepted since start.")),
      sessions_(registry_.gauge("nospace_sessions", "Run and compile sessions in progress.")),
      sandboxes_(registry_.gauge("nospace_sandboxes_running", "Sandboxed processes alive now.")),
      // From a prompt answered at once to the 30 s default wall limit.
      run_duration_(registry_.histogram(
          "nospace_run_duration_seconds", "Wall time of finished runs, in seconds.",
          {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60})),
      draining_(
          registry_.gauge("nospace_draining", "1 once SIGTERM started the graceful shutdown.")) {
  // Families that only get labelled series later still show HELP/TYPE from the start.
  registry_.counter("nospace_streamed_bytes_total", "Program output bytes sent to clients.",
                    {{"stream", "stdout"}});
  registry_.counter("nospace_streamed_bytes_total", "Program output bytes sent to clients.",
                    {{"stream", "stderr"}});
}

void GatewayMetrics::connection_opened() {
  connections_.inc();
  connections_total_.inc();
}

void GatewayMetrics::connection_closed() { connections_.dec(); }
void GatewayMetrics::session_started() { sessions_.inc(); }
void GatewayMetrics::session_ended() { sessions_.dec(); }
void GatewayMetrics::sandbox_started() { sandboxes_.inc(); }
void GatewayMetrics::sandbox_ended() { sandboxes_.dec(); }
void GatewayMetrics::set_sandboxes_running(std::int64_t n) { sandboxes_.set(n); }

void GatewayMetrics::run_finished(const std::string &status, const std::string &reason,
                                  std::uint64_t wall_ms) {
  registry_
      .counter("nospace_runs_total", "Finished runs by final status and reason.",
               {{"status", status}, {"reason", reason}})
      .inc();
  run_duration_.observe(static_cast<double>(wall_ms) / 1000.0);
}

void GatewayMetrics::bytes_streamed(const std::string &stream, std::uint64_t bytes) {
  registry_
      .counter("nospace_streamed_bytes_total", "Program output bytes sent to clients.",
               {{"stream", stream}})
      .inc(bytes);
}

void GatewayMetrics::refused(const std::string &limit) {
  registry_.counter("nospace_refusals_total", "Requests refused by a limit.", {{"limit", limit}})
      .inc();
}

void GatewayMetrics::set_draining(bool draining) { draining_.set(draining ? 1 : 0); }

} // namespace nospace::ops
