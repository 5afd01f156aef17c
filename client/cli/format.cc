#include "client/cli/format.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "core/number_text.h"

namespace agnx::cli {

std::optional<double> parse_finite(std::string_view text) {
  std::string ignored;
  return parse_decimal(text, ignored);
}

client::Result<std::map<std::string, double>> parse_sigma(const std::vector<std::string>& values) {
  std::map<std::string, double> sigma;
  for (const std::string& item : split_list(values)) {
    const auto eq = item.rfind('=');
    const auto bad = [&](const std::string& why) {
      return client::Status(grpc::StatusCode::INVALID_ARGUMENT, "--sigma " + item + ": " + why);
    };
    if (eq == std::string::npos) return bad("expected LAYER=VALUE");
    const std::string layer = item.substr(0, eq);
    const std::string text = item.substr(eq + 1);
    if (layer.empty()) return bad("the layer name is empty");
    const std::optional<double> value = parse_finite(text);
    if (!value) return bad("'" + text + "' is not a finite number");
    if (!sigma.emplace(layer, *value).second) return bad("layer " + layer + " is given twice");
  }
  return sigma;
}

CLI::Option* add_whole_number(CLI::App* app, const std::string& name, std::function<void(uint64_t)> set,
                              const std::string& description, uint64_t min, uint64_t max) {
  const std::string what = "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  const auto parse = [](const std::string& text) -> std::optional<uint64_t> {
    uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
  };
  const CLI::Validator check(
      [=](std::string& text) -> std::string {
        const std::optional<uint64_t> value = parse(text);
        return value && *value >= min && *value <= max ? "" : "'" + text + "' is not " + what;
      },
      "", "");
  return app
      ->add_option_function<std::string>(
          name, [parse, set = std::move(set)](const std::string& text) { set(*parse(text)); }, description)
      ->check(check)
      ->type_name("UINT");
}

CLI::Option* add_number(CLI::App* app, const std::string& name, double& target, const std::string& description,
                        const NumberRange& range) {
  constexpr double kLowest = std::numeric_limits<double>::lowest();
  constexpr double kMax = std::numeric_limits<double>::max();
  std::string what = "a finite number";
  if (range.max < kMax) {
    what = "a number from " + round_trip_text(range.min) + " to " + round_trip_text(range.max);
  } else if (range.min > kLowest || range.above_min) {
    what += (range.above_min ? " > " : " >= ") + round_trip_text(range.min);
  }
  const CLI::Validator check(
      [=](std::string& text) -> std::string {
        const std::optional<double> value = parse_finite(text);
        const bool ok = value && (range.above_min ? *value > range.min : *value >= range.min) && *value <= range.max;
        return ok ? "" : "'" + text + "' is not " + what;
      },
      "", "");
  return app
      ->add_option_function<std::string>(
          name, [&target](const std::string& text) { target = *parse_finite(text); }, description)
      ->check(check)
      ->type_name("NUMBER");
}

std::vector<std::string> split_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& value : values) {
    std::size_t start = 0;
    while (start <= value.size()) {
      const auto comma = value.find(',', start);
      const auto end = comma == std::string::npos ? value.size() : comma;
      if (end > start) out.push_back(value.substr(start, end - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

std::string timestamp(int64_t ms) {
  if (ms == 0) return "";
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

namespace {

// Numbers, and "-" for a missing one, are right-aligned.
bool numeric(const std::string& cell) {
  if (cell == "-") return true;
  if (cell.empty()) return false;
  char* end = nullptr;
  std::strtod(cell.c_str(), &end);
  return end == cell.c_str() + cell.size();
}

}  // namespace

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  const auto line = [&](const std::vector<std::string>& cells, bool is_header) {
    std::string text;
    for (std::size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      const std::string pad(width[c] - cell.size(), ' ');
      if (c > 0) text += "  ";
      text += (!is_header && numeric(cell)) ? pad + cell : cell + pad;
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << '\n';
  };
  line(header, true);
  for (const auto& row : rows) line(row, false);
}

void print_matching(std::ostream& out, const pb::MatchingInfo& info) {
  const bool observed = std::any_of(info.layers().begin(), info.layers().end(),
                                    [](const auto& layer) { return layer.has_observed_std(); });
  std::vector<std::string> header = {"LAYER", "MULTIPLIER", info.metric().empty() ? "METRIC" : info.metric(),
                                     "SIGMA", "MAX_STD", "MUL_STD"};
  if (observed) header.push_back("OBSERVED_STD");
  std::vector<std::vector<std::string>> rows;
  for (const auto& layer : info.layers()) {
    std::vector<std::string> row = {layer.name(), layer.multiplier_name(), number(layer.multiplier_performance_metric()),
                                    number(layer.sigma()), number(layer.max_std()), number(layer.mul_std())};
    if (observed) row.push_back(layer.has_observed_std() ? number(layer.observed_std()) : "-");
    rows.push_back(std::move(row));
  }
  print_table(out, header, rows);
  out << "library: " << info.library() << "  metric: " << info.metric() << "  metric_max: " << number(info.metric_max())
      << '\n';
  out << "relative energy: " << number(info.relative_energy_consumption()) << '\n';
  if (info.has_accuracy()) {
    const auto& a = info.accuracy();
    out << "accuracy top1: float " << number(a.float_top1()) << "  quantized " << number(a.quantized_top1())
        << "  approximate " << number(a.approximate_top1()) << '\n';
    out << "accuracy top5: float " << number(a.float_top5()) << "  quantized " << number(a.quantized_top5())
        << "  approximate " << number(a.approximate_top5()) << '\n';
  }
}

nlohmann::json run_to_json(const pb::Run& run) {
  const auto& info = run.info();
  nlohmann::json out = {
      {"run_id", info.run_id()},         {"run_name", info.run_name()},   {"experiment_id", info.experiment_id()},
      {"status", info.status()},         {"lifecycle", info.lifecycle()}, {"start_time", info.start_time()},
      {"params", nlohmann::json::object()}, {"tags", nlohmann::json::object()}, {"metrics", nlohmann::json::object()},
      {"lambda", nullptr},
  };
  if (info.has_end_time()) out["end_time"] = info.end_time();
  for (const auto& [key, value] : run.params()) out["params"][key] = value;
  for (const auto& [key, value] : run.tags()) out["tags"][key] = value;
  for (const auto& metric : run.metrics()) out["metrics"][metric.key()] = metric.value();
  if (const auto it = run.params().find("lambda"); it != run.params().end()) {
    if (const std::optional<double> lambda = parse_finite(it->second)) out["lambda"] = *lambda;
  }
  return out;
}

namespace {

// Where a job is: "lambda 2/4 retrain epoch 1/3 batch 120/469" for a
// sweep's training stage, "features 3/4" for a matching stage.
std::string position_of(const pb::JobProgress& progress) {
  const auto of = [](uint32_t i, uint32_t n) { return std::to_string(i) + "/" + std::to_string(n); };
  std::string text;
  if (progress.points() > 0) text += "lambda " + of(progress.point(), progress.points()) + " ";
  text += progress.stage();
  if (progress.epochs() > 0) text += " epoch " + of(progress.epoch(), progress.epochs()) + " batch";
  if (progress.steps() > 0) text += " " + of(progress.step(), progress.steps());
  return text;
}

}  // namespace

void ProgressPrinter::update(const pb::JobProgress& progress) {
  const double percent = std::clamp(progress.percent(), 0.0, 100.0);
  const std::string position = position_of(progress);
  char pct[16];
  std::snprintf(pct, sizeof pct, "%5.1f%%", percent);
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(percent / 100.0 * kWidth + 0.5);
    std::string line = "\r[" + std::string(static_cast<std::size_t>(filled), '#') +
                       std::string(static_cast<std::size_t>(kWidth - filled), '-') + "] " + pct + "  " + position;
    if (progress.final()) line += "  " + progress.state();
    out_ << line << "\x1b[K" << std::flush;
    drew_ = true;
    return;
  }
  // One line per stage, per epoch and per lambda.
  const std::string key = progress.state() + "/" + std::to_string(progress.point()) + "/" + progress.stage() + "/" +
                          std::to_string(progress.epoch());
  if (key == last_key_ && !progress.final()) return;
  last_key_ = key;
  out_ << progress.state() << "  " << position << "  " << pct;
  if (!progress.message().empty()) out_ << "  " << progress.message();
  out_ << '\n' << std::flush;
}

void ProgressPrinter::finish() {
  if (tty_ && drew_) out_ << '\n' << std::flush;
  drew_ = false;
}

}  // namespace agnx::cli
