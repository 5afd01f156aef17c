// Multiplier libraries stored as a LUT directory, the layout of
// ../shared/evoapprox:
//   NAME.bin     65,536 little-endian int32 products, 256x256 row-major,
//                row = first operand (index value + 128 if signed, else value)
//                (or NAME.npy / NAME.txt, see core/lut_table.h)
//   metrics.csv  a header line, then one row per multiplier: `name`, `signed`
//                (1/0) and numeric metric columns such as PDK45_PWR.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/library.h"
#include "core/lut_table.h"
#include "core/status.h"

namespace agnx {

inline constexpr const char* kDefaultLutMetric = "PDK45_PWR";

// Loads every multiplier listed in DIR/metrics.csv from DIR/NAME.bin, with all
// numeric columns as its metrics, into a library named after the directory
// whose metric is `metric`. Errors name the file (and line) at fault: no
// metrics.csv, a missing column, an unparsable value, a .bin that is missing
// or not 262,144 bytes, or a NAME.bin without a row in metrics.csv.
Result<MultiplierLibrary> load_lut_directory(const std::filesystem::path& dir,
                                             const std::string& metric = kDefaultLutMetric);

struct LutDirectoryOptions {
  LutFormat format = LutFormat::kBin;  // tables are DIR/NAME + lut_format_extension(format)
  std::string metric = kDefaultLutMetric;
  // The signedness of every table. Unset: metrics.csv's `signed` column gives
  // it. Set: the column may be absent; where present it must agree.
  std::optional<Signedness> signedness;
};

// load_lut_directory(dir, metric) for any table format and an explicit
// signedness; the same errors, plus a disagreeing `signed` column and a
// missing one when no signedness is given.
Result<MultiplierLibrary> load_lut_directory(const std::filesystem::path& dir, const LutDirectoryOptions& options);

// A library called `name` of the multipliers in the files `tables`, each
// named by its file stem, its format given by its extension (.bin, .npy,
// .txt), its signedness by `signedness` or else by the `signed` column, and
// its metrics by the row of that name in `metrics_csv` (a file in the
// metrics.csv form; rows without a table are ignored). Errors name the file
// at fault: an unknown extension, a table without a row, a row without
// `metric`, and those of load_lut_directory.
Result<MultiplierLibrary> load_lut_files(std::string name, const std::vector<std::filesystem::path>& tables,
                                         const std::filesystem::path& metrics_csv, const std::string& metric,
                                         std::optional<Signedness> signedness = std::nullopt);

// Writes `library` to `dir` (created if needed) in the layout above: one
// table per multiplier in `format` and metrics.csv with `name`, `signed`
// and every metric that all its multipliers have (so at least the library
// metric), values in shortest round-trip form. Existing files of the same
// names are replaced; load_lut_directory of the result gives back the same
// tables and metrics. IoError naming the file on failure.
Status save_lut_directory(const MultiplierLibrary& library, const std::filesystem::path& dir,
                          LutFormat format = LutFormat::kBin);

}  // namespace agnx
