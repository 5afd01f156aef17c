#include "core/lut_table.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/multiplier.h"
#include "core/npy.h"
#include "tests/support/temp_dir.h"

namespace agnx {
namespace {

using testing::TempDir;

std::vector<int32_t> sample_table() {
  std::vector<int32_t> table(kTableSize);
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i) * 37 - 1'000'000;
  return table;
}

void write_file(const std::filesystem::path& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

// A text matrix of `rows` rows of `columns` copies of `entry`.
std::string text_matrix(int rows, int columns, const std::string& entry = "7") {
  std::string text;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) (text += c ? " " : "") += entry;
    text += "\n";
  }
  return text;
}

std::string text_error(const std::string& contents) {
  TempDir dir;
  write_file(dir.path() / "m.txt", contents);
  return read_lut_table(dir.path() / "m.txt", LutFormat::kText).status().message();
}

TEST(LutTable, RoundTripsEveryFormat) {
  TempDir dir;
  const std::vector<int32_t> table = sample_table();
  for (LutFormat format : {LutFormat::kBin, LutFormat::kNpy, LutFormat::kText}) {
    const auto path = dir.path() / (std::string("m") + lut_format_extension(format));
    ASSERT_TRUE(write_lut_table(path, format, table).ok());
    const auto read = read_lut_table(path, format);
    ASSERT_TRUE(read.ok()) << read.status().to_string();
    EXPECT_EQ(*read, table) << lut_format_extension(format);
  }
}

TEST(LutTable, ParsesBytesAndNamesTheSource) {
  const std::vector<int32_t> table = sample_table();
  const std::string bin(reinterpret_cast<const char*>(table.data()), table.size() * sizeof(int32_t));
  const auto parsed = parse_lut_table(bin, LutFormat::kBin, "upload m.bin");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(*parsed, table);
  EXPECT_NE(parse_lut_table(bin.substr(4), LutFormat::kBin, "upload m.bin")
                .status()
                .message()
                .find("upload m.bin: 262140 bytes, expected 262144"),
            std::string::npos);
  EXPECT_NE(parse_lut_table(text_matrix(2, 256), LutFormat::kText, "m.txt").status().message().find("m.txt: 2 rows"),
            std::string::npos);
}

TEST(LutTable, MissingFileIsNotFound) {
  for (LutFormat format : {LutFormat::kBin, LutFormat::kNpy, LutFormat::kText}) {
    const auto missing = read_lut_table("/nonexistent/dir/m", format);
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
    EXPECT_NE(missing.status().message().find("/nonexistent/dir/m: cannot open"), std::string::npos);
  }
}

TEST(LutTable, ParsesFormatNames) {
  EXPECT_EQ(*parse_lut_format("npy"), LutFormat::kNpy);
  EXPECT_EQ(*parse_lut_format(".txt"), LutFormat::kText);
  EXPECT_EQ(*parse_lut_format("bin"), LutFormat::kBin);
  EXPECT_NE(parse_lut_format("csv").status().message().find("unknown LUT format 'csv', expected bin, npy or txt"),
            std::string::npos);
}

TEST(LutTable, TextAcceptsIntegralFloatsAndBlankLines) {
  TempDir dir;
  std::string padded("\n");
  (padded += text_matrix(256, 256, "1.6e+01")) += "\n\n";
  write_file(dir.path() / "m.txt", padded);
  const auto table = read_lut_table(dir.path() / "m.txt", LutFormat::kText);
  ASSERT_TRUE(table.ok()) << table.status().to_string();
  EXPECT_EQ((*table)[12345], 16);
}

TEST(LutTable, TextErrorsNameLineAndEntry) {
  std::string bad = text_matrix(256, 256);
  bad.replace(bad.find("7 7"), 3, "7 x");  // line 1, entry 2
  EXPECT_NE(text_error(bad).find("m.txt: line 1: entry 2 'x' is not a finite decimal number"), std::string::npos);
  // strtod would read these as 16 and 0.
  EXPECT_NE(text_error(text_matrix(256, 256, "0x10")).find("line 1: entry 1 '0x10' is not a finite decimal number"),
            std::string::npos);
  EXPECT_NE(text_error(text_matrix(256, 256, "1e-400")).find("line 1: entry 1 '1e-400' is beyond the range of a double"),
            std::string::npos);
  std::string fraction("\n");
  fraction += text_matrix(256, 256);
  fraction.replace(fraction.find("7"), 1, "2.5");
  EXPECT_NE(text_error(fraction).find("line 2: entry 1 '2.5' is not an int32 integer"), std::string::npos);
  EXPECT_NE(text_error(text_matrix(256, 256, "3000000000")).find("'3000000000' is not an int32"), std::string::npos);
  EXPECT_NE(text_error(text_matrix(1, 255)).find("line 1: 255 entries, expected 256"), std::string::npos);
  EXPECT_NE(text_error(text_matrix(255, 256)).find("m.txt: 255 rows, expected 256"), std::string::npos);
  EXPECT_NE(text_error(text_matrix(257, 256)).find("line 257: more than 256 rows"), std::string::npos);
}

TEST(LutTable, NpyErrorsNameShapeTypeAndEntry) {
  TempDir dir;
  const auto path = dir.path() / "m.npy";
  const std::vector<int64_t> flat(kTableSize, 1);
  ASSERT_TRUE(write_npy(path, NpyArray::from_int64(NpyDtype::kInt16, {65536}, flat)).ok());
  EXPECT_NE(read_lut_table(path, LutFormat::kNpy).status().message().find("m.npy: shape (65536), expected (256, 256)"),
            std::string::npos);
  ASSERT_TRUE(write_npy(path, NpyArray::from_double(NpyDtype::kFloat32, {256, 256}, std::vector<double>(kTableSize))).ok());
  EXPECT_NE(read_lut_table(path, LutFormat::kNpy).status().message().find("m.npy"), std::string::npos);
  std::vector<int64_t> big(kTableSize, 1);
  big[256 * 3 + 4] = int64_t{1} << 40;
  ASSERT_TRUE(write_npy(path, NpyArray::from_int64(NpyDtype::kInt64, {256, 256}, big)).ok());
  EXPECT_NE(read_lut_table(path, LutFormat::kNpy).status().message().find("entry [3, 4] = 1099511627776 does not fit"),
            std::string::npos);
  ASSERT_TRUE(write_npy(path, NpyArray::from_int64(NpyDtype::kInt16, {256, 256}, flat)).ok());
  EXPECT_TRUE(read_lut_table(path, LutFormat::kNpy).ok());  // any integer dtype
}

}  // namespace
}  // namespace agnx
