// Multiplier libraries stored as a LUT directory, the layout of
// ../shared/evoapprox:
//   NAME.bin     65,536 little-endian int32 products, 256x256 row-major,
//                row = first operand (index value + 128 if signed, else value)
//   metrics.csv  a header line, then one row per multiplier: `name`, `signed`
//                (1/0) and numeric metric columns such as PDK45_PWR.
#pragma once

#include <filesystem>
#include <string>

#include "core/library.h"
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

}  // namespace agnx
