#include "server/observability/metrics.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <stdexcept>
#include <string_view>

namespace agnx::server {

namespace {

bool valid_name(std::string_view name, bool colons) {
  const auto head = [&](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (colons && c == ':'); };
  const auto tail = [&](char c) { return head(c) || std::isdigit(static_cast<unsigned char>(c)); };
  return !name.empty() && head(name.front()) && std::all_of(name.begin() + 1, name.end(), tail);
}

void check_names(const std::string& name, const std::vector<std::string>& labels, bool histogram) {
  if (!valid_name(name, true)) throw std::invalid_argument("metric name '" + name + "' is not valid");
  std::set<std::string> seen;
  for (const auto& label : labels) {
    if (!valid_name(label, false) || label.starts_with("__") || (histogram && label == "le") ||
        !seen.insert(label).second) {
      throw std::invalid_argument("metric " + name + ": label name '" + label + "' is not valid or repeated");
    }
  }
}

// Prometheus' float text: shortest round-trip digits, +Inf, -Inf, NaN.
std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  return std::string(buffer, end);
}

// Escapes \ and newline, and " too in label values.
std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// {a="x",b="y"} for `names` and `values` plus an optional extra pair; empty without any.
std::string label_set(const std::vector<std::string>& names, const LabelValues& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += (out.empty() ? "{" : ",") + names[i] + "=\"" + escape(values[i], true) + "\"";
  }
  if (!extra_name.empty()) out += (out.empty() ? "{" : ",") + std::string(extra_name) + "=\"" + std::string(extra_value) + "\"";
  return out.empty() ? out : out + "}";
}

}  // namespace

void Histogram::observe(double value) {
  const std::size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  std::lock_guard lock(mutex_);
  ++buckets_[bucket];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot out;
  std::lock_guard lock(mutex_);
  uint64_t total = 0;
  for (const uint64_t n : buckets_) out.cumulative.push_back(total += n);
  out.sum = sum_;
  out.count = count_;
  return out;
}

template <typename Series>
Series& Family<Series>::with(const LabelValues& values) {
  if (values.size() != label_count_) {
    throw std::invalid_argument("metric series with " + std::to_string(values.size()) + " label values, expected " +
                                std::to_string(label_count_));
  }
  std::lock_guard lock(mutex_);
  auto& slot = series_[values];
  if (!slot) slot = make_();
  return *slot;
}

template <typename Series>
void Family<Series>::each(const std::function<void(const LabelValues&, const Series&)>& visit) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) visit(values, *series);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct MetricsRegistry::Entry {
  std::string name, help, type;
  std::vector<std::string> labels;
  std::vector<double> bounds;  // histograms
  std::unique_ptr<CounterFamily> counters;
  std::unique_ptr<GaugeFamily> gauges;
  std::unique_ptr<HistogramFamily> histograms;
  std::function<std::vector<GaugeSample>()> sample;

  void render(std::string& out) const;
  void render_histogram(std::string& out, const LabelValues& values, const Histogram& histogram) const;
};

void MetricsRegistry::Entry::render(std::string& out) const {
  out += "# HELP " + name + " " + escape(help, false) + "\n# TYPE " + name + " " + type + "\n";
  const auto line = [&](const LabelValues& values, double value) {
    out += name + label_set(labels, values) + " " + format_value(value) + "\n";
  };
  if (counters) counters->each([&](const LabelValues& values, const Counter& c) { line(values, c.value()); });
  if (gauges) gauges->each([&](const LabelValues& values, const Gauge& g) { line(values, g.value()); });
  if (histograms) {
    histograms->each([&](const LabelValues& values, const Histogram& h) { render_histogram(out, values, h); });
  }
  if (sample) {
    for (const GaugeSample& s : sample()) {
      if (s.labels.size() == labels.size()) line(s.labels, s.value);
    }
  }
}

void MetricsRegistry::Entry::render_histogram(std::string& out, const LabelValues& values,
                                              const Histogram& histogram) const {
  const Histogram::Snapshot snapshot = histogram.snapshot();
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    const std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
    out += name + "_bucket" + label_set(labels, values, "le", le) + " " + std::to_string(snapshot.cumulative[i]) + "\n";
  }
  out += name + "_sum" + label_set(labels, values) + " " + format_value(snapshot.sum) + "\n";
  out += name + "_count" + label_set(labels, values) + " " + std::to_string(snapshot.count) + "\n";
}

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

std::unique_ptr<MetricsRegistry::Entry> MetricsRegistry::make_entry(const std::string& name, const std::string& help,
                                                                  const std::vector<std::string>& labels,
                                                                  const char* type) {
  check_names(name, labels, std::string_view(type) == "histogram");
  auto entry = std::make_unique<Entry>();
  entry->name = name;
  entry->help = help;
  entry->type = type;
  entry->labels = labels;
  return entry;
}

void MetricsRegistry::add(std::unique_ptr<Entry> entry) {
  std::lock_guard lock(mutex_);
  for (const auto& existing : entries_) {
    if (existing->name == entry->name) throw std::invalid_argument("metric " + entry->name + " is registered twice");
  }
  entries_.push_back(std::move(entry));
}

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        const std::vector<std::string>& labels) {
  auto entry = make_entry(name, help, labels, "counter");
  CounterFamily& family = *(entry->counters = std::unique_ptr<CounterFamily>(
                                new CounterFamily(labels.size(), [] { return std::make_unique<Counter>(); })));
  if (labels.empty()) family.with({});
  add(std::move(entry));
  return family;
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                    const std::vector<std::string>& labels) {
  auto entry = make_entry(name, help, labels, "gauge");
  GaugeFamily& family = *(entry->gauges = std::unique_ptr<GaugeFamily>(
                              new GaugeFamily(labels.size(), [] { return std::make_unique<Gauge>(); })));
  if (labels.empty()) family.with({});
  add(std::move(entry));
  return family;
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            const std::vector<std::string>& labels, const std::vector<double>& bounds) {
  const bool increasing = std::adjacent_find(bounds.begin(), bounds.end(), std::greater_equal<>()) == bounds.end();
  const bool finite = std::all_of(bounds.begin(), bounds.end(), [](double b) { return std::isfinite(b); });
  if (bounds.empty() || !increasing || !finite) {
    throw std::invalid_argument("histogram " + name + ": bounds must be finite and strictly increasing");
  }
  auto entry = make_entry(name, help, labels, "histogram");
  entry->bounds = bounds;
  const std::vector<double>* stable = &entry->bounds;  // the entry lives as long as the registry
  HistogramFamily& family = *(entry->histograms = std::unique_ptr<HistogramFamily>(new HistogramFamily(
                                  labels.size(), [stable] { return std::make_unique<Histogram>(*stable); })));
  if (labels.empty()) family.with({});
  add(std::move(entry));
  return family;
}

void MetricsRegistry::gauge_callback(const std::string& name, const std::string& help,
                                     const std::vector<std::string>& labels,
                                     std::function<std::vector<GaugeSample>()> sample) {
  auto entry = make_entry(name, help, labels, "gauge");
  entry->sample = std::move(sample);
  add(std::move(entry));
}

std::string MetricsRegistry::render() const {
  std::vector<const Entry*> entries;
  {
    std::lock_guard lock(mutex_);
    for (const auto& entry : entries_) entries.push_back(entry.get());
  }
  std::string out;
  for (const Entry* entry : entries) entry->render(out);  // entries are never removed
  return out;
}

}  // namespace agnx::server
