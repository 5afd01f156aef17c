// MetricsRegistry: counters, gauges and fixed-bucket histograms, rendered in
// the Prometheus text exposition format (version 0.0.4) for agnx-server's
// GET /metrics.
//
// A family is one metric name with its help text and label names; its series
// are its label values. with() returns the series of some label values,
// creating it (at 0) the first time; the reference stays valid as long as the
// registry. Families whose values live elsewhere (the store's jobs, the warm
// worker) are sampled at render time by a callback.
//
//   MetricsRegistry registry;
//   CounterFamily& calls = registry.counter("agnx_calls_total", "Calls.", {"method"});
//   calls.with({"GetRun"}).increment();
//   std::string text = registry.render();
//
// Names. Metric names match [a-zA-Z_:][a-zA-Z0-9_:]* and label names
// [a-zA-Z_][a-zA-Z0-9_]* (not starting with "__", and not "le" for a
// histogram); a name is registered once; with() takes exactly as many values
// as the family has label names. These are the caller's preconditions:
// breaking one throws std::invalid_argument (a programming error, found
// when the server starts or in tests).
//
// Thread safety: every member may be called from any number of threads.
// Not copyable.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace agnx::server {

using LabelValues = std::vector<std::string>;

// A value that only goes up (and starts at 0).
class Counter {
 public:
  // REQUIRES: by >= 0.
  void increment(double by = 1.0) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down (and starts at 0).
class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into buckets with fixed upper bounds (a value lands in
// the first bucket whose bound is >= it; +Inf takes the rest), their sum and
// count. A snapshot is consistent: count equals the +Inf bucket.
class Histogram {
 public:
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf; non-decreasing
    double sum = 0.0;
    uint64_t count = 0;
  };

  // REQUIRES: `bounds` strictly increasing and finite (checked by the family).
  explicit Histogram(const std::vector<double>& bounds) : bounds_(bounds), buckets_(bounds.size() + 1, 0) {}
  void observe(double value);
  Snapshot snapshot() const;

 private:
  const std::vector<double>& bounds_;  // the family's
  mutable std::mutex mutex_;
  std::vector<uint64_t> buckets_;  // not cumulative; the last is +Inf
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

// One metric name and its series (see the file comment).
template <typename Series>
class Family {
 public:
  // The series of `values` (one per label name), created at 0 if new.
  Series& with(const LabelValues& values);

 private:
  friend class MetricsRegistry;
  Family(std::size_t label_count, std::function<std::unique_ptr<Series>()> make)
      : label_count_(label_count), make_(std::move(make)) {}
  // Calls `visit(values, series)` for each series in label order.
  void each(const std::function<void(const LabelValues&, const Series&)>& visit) const;

  const std::size_t label_count_;
  const std::function<std::unique_ptr<Series>()> make_;
  mutable std::mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Series>> series_;  // guarded by mutex_
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// A gauge's value for some label values, sampled at render time.
struct GaugeSample {
  LabelValues labels;
  double value = 0.0;
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // New families (see "Names"). A family without labels has its one series
  // from the start, so it renders 0 before anything happens. `help` is free
  // text. Families render in the order they were registered.
  CounterFamily& counter(const std::string& name, const std::string& help, const std::vector<std::string>& labels);
  GaugeFamily& gauge(const std::string& name, const std::string& help, const std::vector<std::string>& labels);
  // REQUIRES: `bounds` non-empty, finite and strictly increasing.
  HistogramFamily& histogram(const std::string& name, const std::string& help, const std::vector<std::string>& labels,
                             const std::vector<double>& bounds);
  // A gauge family whose series are `sample()`'s answer at each render, in
  // its order; `sample` runs on the rendering thread, may be slow (the
  // caller's scrape waits) and must not call this registry. Samples with the
  // wrong number of labels are skipped.
  void gauge_callback(const std::string& name, const std::string& help, const std::vector<std::string>& labels,
                      std::function<std::vector<GaugeSample>()> sample);

  // Every family in the text exposition format: "# HELP" and "# TYPE" lines,
  // then one line per series (histograms: cumulative _bucket{le=...} lines
  // ending with le="+Inf", then _sum and _count). Label values escape \, "
  // and newline; help text escapes \ and newline.
  std::string render() const;

 private:
  struct Entry;
  static std::unique_ptr<Entry> make_entry(const std::string& name, const std::string& help,
                                           const std::vector<std::string>& labels, const char* type);
  void add(std::unique_ptr<Entry> entry);  // throws if the name is taken

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;  // guarded by mutex_
};

// The Content-Type of render()'s text.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace agnx::server
