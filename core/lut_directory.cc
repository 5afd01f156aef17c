#include "core/lut_directory.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "core/number_text.h"

namespace agnx {
namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream stream(line);
  std::string field;
  while (std::getline(stream, field, ',')) {
    const auto begin = field.find_first_not_of(" \t\r");
    const auto end = field.find_last_not_of(" \t\r");
    fields.push_back(begin == std::string::npos ? "" : field.substr(begin, end - begin + 1));
  }
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

struct CsvRow {
  std::string name;
  Signedness signedness;
  MetricMap metrics;
};

Result<std::vector<CsvRow>> read_metrics_csv(const std::filesystem::path& path,
                                             std::optional<Signedness> signedness) {
  std::ifstream in(path);
  if (!in) return Status::not_found(path.string() + ": cannot open (a LUT directory needs metrics.csv)");
  std::string line;
  if (!std::getline(in, line)) return Status::invalid_argument(path.string() + ": empty file, expected a header");
  const std::vector<std::string> header = split_csv_line(line);
  std::map<std::string, std::size_t> column;
  for (std::size_t i = 0; i < header.size(); ++i) column[header[i]] = i;
  if (!column.contains("name")) return Status::invalid_argument(path.string() + ": line 1: missing column 'name'");
  if (!column.contains("signed") && !signedness) {
    return Status::invalid_argument(path.string() +
                                    ": line 1: missing column 'signed' (or give the signedness explicitly)");
  }
  std::vector<CsvRow> rows;
  for (std::size_t line_number = 2; std::getline(in, line); ++line_number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path.string() + ": line " + std::to_string(line_number);
    const std::vector<std::string> fields = split_csv_line(line);
    if (fields.size() != header.size()) {
      return Status::invalid_argument(where + ": " + std::to_string(fields.size()) + " fields, expected " +
                                      std::to_string(header.size()));
    }
    CsvRow row{fields[column["name"]], signedness.value_or(Signedness::kSigned), {}};
    if (row.name.empty() || row.name.find_first_of("/\\") != std::string::npos || row.name[0] == '.') {
      return Status::invalid_argument(where + ": invalid multiplier name '" + row.name + "'");
    }
    if (column.contains("signed")) {
      const std::string& is_signed = fields[column["signed"]];
      if (is_signed != "0" && is_signed != "1") {
        return Status::invalid_argument(where + ": column 'signed' must be 0 or 1, got '" + is_signed + "'");
      }
      row.signedness = is_signed == "1" ? Signedness::kSigned : Signedness::kUnsigned;
      if (signedness && *signedness != row.signedness) {
        return Status::invalid_argument(where + ": column 'signed' is " + is_signed + " but the tables were given as " +
                                        (*signedness == Signedness::kSigned ? "signed" : "unsigned"));
      }
    }
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == "name" || header[i] == "signed") continue;
      std::string why;
      const std::optional<double> value = parse_decimal(fields[i], why);
      if (!value) return Status::invalid_argument(where + ": column '" + header[i] + "': " + why);
      row.metrics[header[i]] = *value;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// The multiplier of `row` of `csv` with its product table from `table`.
Result<std::shared_ptr<const Multiplier>> load_multiplier(CsvRow row, const std::filesystem::path& table,
                                                          LutFormat format, const std::filesystem::path& csv,
                                                          const std::string& metric) {
  if (!row.metrics.contains(metric)) {
    return Status::invalid_argument(csv.string() + ": no column '" + metric + "' for the library metric");
  }
  AGNX_ASSIGN_OR_RETURN(std::vector<int32_t> products, read_lut_table(table, format));
  AGNX_ASSIGN_OR_RETURN(Multiplier m,
                        Multiplier::create(row.name, row.signedness, std::move(products), std::move(row.metrics)));
  return std::make_shared<const Multiplier>(std::move(m));
}

}  // namespace

Result<MultiplierLibrary> load_lut_files(std::string name, const std::vector<std::filesystem::path>& tables,
                                         const std::filesystem::path& metrics_csv, const std::string& metric,
                                         std::optional<Signedness> signedness) {
  AGNX_ASSIGN_OR_RETURN(std::vector<CsvRow> rows, read_metrics_csv(metrics_csv, signedness));
  std::vector<std::shared_ptr<const Multiplier>> multipliers;
  for (const std::filesystem::path& table : tables) {
    const auto format = parse_lut_format(table.extension().string());
    if (!format.ok()) return format.status().with_context(table.string());
    const std::string stem = table.stem().string();
    const auto row = std::find_if(rows.begin(), rows.end(), [&](const CsvRow& r) { return r.name == stem; });
    if (row == rows.end()) {
      return Status::invalid_argument(table.string() + ": no row named '" + stem + "' in " + metrics_csv.string() +
                                      ", so no " + metric);
    }
    AGNX_ASSIGN_OR_RETURN(auto m, load_multiplier(*row, table, *format, metrics_csv, metric));
    multipliers.push_back(std::move(m));
  }
  return MultiplierLibrary::create(std::move(name), metric, std::move(multipliers));
}

Result<MultiplierLibrary> load_lut_directory(const std::filesystem::path& dir, const std::string& metric) {
  LutDirectoryOptions options;
  options.metric = metric;
  return load_lut_directory(dir, options);
}

Result<MultiplierLibrary> load_lut_directory(const std::filesystem::path& dir, const LutDirectoryOptions& options) {
  const std::string& metric = options.metric;
  const std::string extension = lut_format_extension(options.format);
  const std::filesystem::path csv = dir / "metrics.csv";
  AGNX_ASSIGN_OR_RETURN(std::vector<CsvRow> rows, read_metrics_csv(csv, options.signedness));
  std::set<std::string> listed;
  std::vector<std::shared_ptr<const Multiplier>> multipliers;
  for (CsvRow& row : rows) {
    listed.insert(row.name);
    const std::filesystem::path table = dir / (row.name + extension);
    AGNX_ASSIGN_OR_RETURN(auto m, load_multiplier(std::move(row), table, options.format, csv, metric));
    multipliers.push_back(std::move(m));
  }
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.path().extension() == extension && !listed.contains(entry.path().stem().string())) {
      return Status::invalid_argument(entry.path().string() + ": no row in metrics.csv, so no " + metric);
    }
  }
  if (error) return Status::io_error(dir.string() + ": cannot list: " + error.message());
  std::filesystem::path normal = std::filesystem::absolute(dir).lexically_normal();
  if (!normal.has_filename()) normal = normal.parent_path();
  return MultiplierLibrary::create(normal.filename().string(), metric, std::move(multipliers));
}

Status save_lut_directory(const MultiplierLibrary& library, const std::filesystem::path& dir, LutFormat format) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return Status::io_error(dir.string() + ": cannot create: " + error.message());
  std::vector<std::string> columns;  // the metrics every multiplier has
  for (const auto& [key, value] : library.empty() ? MetricMap{{library.metric(), 0.0}} : library.at(0).metrics()) {
    bool common = true;
    for (const auto& m : library.multipliers()) common = common && m->metric(key).has_value();
    if (common) columns.push_back(key);
  }
  std::string csv = "name,signed";
  for (const std::string& key : columns) (csv += ',') += key;
  csv += "\n";
  for (const auto& m : library.multipliers()) {
    AGNX_RETURN_IF_ERROR(write_lut_table(dir / (m->name() + lut_format_extension(format)), format, m->table()));
    csv += m->name() + (m->is_signed() ? ",1" : ",0");
    for (const std::string& key : columns) {
      char buffer[32];
      const auto end = std::to_chars(buffer, buffer + sizeof buffer, *m->metric(key)).ptr;
      (csv += ',').append(buffer, end);
    }
    csv += "\n";
  }
  const std::filesystem::path csv_path = dir / "metrics.csv";
  std::ofstream out(csv_path, std::ios::binary);
  out << csv;
  if (!out) return Status::io_error(csv_path.string() + ": cannot write");
  return Status();
}

}  // namespace agnx
