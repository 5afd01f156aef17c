#include "core/library.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "core/builtin_library.h"
#include "core/lut_directory.h"
#include "tests/support/shared_data.h"
#include "tests/support/temp_dir.h"

namespace agnx {
namespace {

using testing::TempDir;

void write_file(const std::filesystem::path& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

std::string exact_table_bytes() {
  const Multiplier exact = Multiplier::exact("x", {});
  return {reinterpret_cast<const char*>(exact.table().data()), exact.table().size() * sizeof(int32_t)};
}

// A LUT directory with one signed multiplier "m1" (exact) and one unsigned "m2".
void write_lut_directory(const std::filesystem::path& dir) {
  write_file(dir / "metrics.csv", "name,signed,MAE,PDK45_PWR\nm1,1,0,0.4\nm2,0,1.5e1,0.2\n");
  write_file(dir / "m1.bin", exact_table_bytes());
  write_file(dir / "m2.bin", exact_table_bytes());
}

std::string load_error(const std::filesystem::path& dir, const std::string& metric = kDefaultLutMetric) {
  return load_lut_directory(dir, metric).status().message();
}

TEST(Multiplier, ExactTableIsTheProduct) {
  const Multiplier exact = Multiplier::exact("exact", {});
  for (int x = -128; x <= 127; ++x)
    for (int w = -128; w <= 127; ++w) ASSERT_EQ(exact.product(x, w), x * w);
}

TEST(Multiplier, UnsignedTablesUseSignMagnitude) {
  std::vector<int32_t> table(kTableSize);
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) table[a * 256 + b] = a * b + 32;  // m(0, w) = 32, not 0
  const Multiplier m = *Multiplier::create("u", Signedness::kUnsigned, table, {});
  EXPECT_EQ(m.product(3, 4), 44);
  EXPECT_EQ(m.product(-3, 4), -44);
  EXPECT_EQ(m.product(3, -4), -44);
  EXPECT_EQ(m.product(-3, -4), 44);
  EXPECT_EQ(m.product(0, -5), -32);  // x = 0 is not negative: the sign follows w
  EXPECT_EQ(m.product(-128, 1), -(128 + 32));
  EXPECT_EQ(m.error_map().at(operand_index(0), operand_index(5)), 32.0);
}

TEST(Multiplier, RejectsBadTables) {
  const auto small = Multiplier::create("tiny", Signedness::kSigned, std::vector<int32_t>(100), {});
  EXPECT_NE(small.status().message().find("multiplier tiny: the product table has 100 entries, expected 65536"),
            std::string::npos);
  const auto nan_metric =
      Multiplier::create("m", Signedness::kSigned, std::vector<int32_t>(kTableSize), {{"PDK45_PWR", std::nan("")}});
  EXPECT_NE(nan_metric.status().message().find("metric PDK45_PWR is not a finite number"), std::string::npos);
}

TEST(Library, BuiltinHoldsTheExactMultiplier) {
  const MultiplierLibrary& builtin = builtin_library();
  EXPECT_EQ(builtin.metric(), "cells");
  const Multiplier* exact = builtin.find("exact");
  ASSERT_NE(exact, nullptr);
  EXPECT_EQ(exact->product(-128, -128), 16384);
  EXPECT_GT(builtin.metric_of(*exact), 0.0);
}

TEST(Library, RejectsDuplicatesAndMissingMetrics) {
  auto m = std::make_shared<const Multiplier>(Multiplier::exact("a", {{"cells", 10}}));
  EXPECT_NE(MultiplierLibrary::create("lib", "cells", {m, m}).status().message().find("two multipliers named a"),
            std::string::npos);
  EXPECT_NE(MultiplierLibrary::create("lib", "PDK45_PWR", {m}).status().message().find("a has no metric PDK45_PWR"),
            std::string::npos);
}

TEST(Library, FiltersShareMultipliers) {
  TempDir dir;
  write_lut_directory(dir.path());
  const auto library = load_lut_directory(dir.path());
  ASSERT_TRUE(library.ok()) << library.status().to_string();
  const MultiplierLibrary signed_only = library->filtered("signed", [](const Multiplier& m) { return m.is_signed(); });
  ASSERT_EQ(signed_only.size(), 1u);
  EXPECT_EQ(&signed_only.at(0), library->find("m1"));
  EXPECT_EQ(signed_only.metric(), "PDK45_PWR");
  EXPECT_DOUBLE_EQ(library->max_metric(), 0.4);
}

TEST(LutDirectory, LoadsTablesAndMetrics) {
  TempDir dir;
  write_lut_directory(dir.path());
  const auto library = load_lut_directory(dir.path());
  ASSERT_TRUE(library.ok()) << library.status().to_string();
  EXPECT_EQ(library->size(), 2u);
  const Multiplier* m2 = library->find("m2");
  ASSERT_NE(m2, nullptr);
  EXPECT_FALSE(m2->is_signed());
  EXPECT_DOUBLE_EQ(*m2->metric("MAE"), 15.0);
  EXPECT_DOUBLE_EQ(library->metric_of(*m2), 0.2);
  EXPECT_EQ(load_lut_directory(dir.path(), "MAE")->metric(), "MAE");
}

TEST(LutDirectory, BadFilesAreNamed) {
  {
    TempDir dir;
    EXPECT_NE(load_error(dir.path()).find("metrics.csv: cannot open"), std::string::npos);
  }
  {
    TempDir dir;
    write_lut_directory(dir.path());
    write_file(dir.path() / "m2.bin", "short");
    EXPECT_NE(load_error(dir.path()).find("m2.bin: 5 bytes, expected 262144"), std::string::npos);
  }
  {
    TempDir dir;
    write_lut_directory(dir.path());
    std::filesystem::remove(dir.path() / "m1.bin");
    EXPECT_NE(load_error(dir.path()).find("m1.bin: cannot open"), std::string::npos);
  }
  {
    TempDir dir;
    write_lut_directory(dir.path());
    write_file(dir.path() / "stray.bin", exact_table_bytes());
    EXPECT_NE(load_error(dir.path()).find("stray.bin: no row in metrics.csv"), std::string::npos);
  }
  {
    TempDir dir;
    write_lut_directory(dir.path());
    EXPECT_NE(load_error(dir.path(), "AREA").find("no column 'AREA'"), std::string::npos);
  }
  {
    TempDir dir;
    write_lut_directory(dir.path());
    write_file(dir.path() / "metrics.csv", "name,signed,PDK45_PWR\nm1,1,0.4\nm2,0,fast\n");
    EXPECT_NE(load_error(dir.path()).find("line 3: column 'PDK45_PWR': 'fast' is not a finite decimal number"),
              std::string::npos);
  }
  {  // strtod would read these as 0 and 8
    TempDir dir;
    write_lut_directory(dir.path());
    write_file(dir.path() / "metrics.csv", "name,signed,PDK45_PWR\nm1,1,1e-400\nm2,0,0.2\n");
    EXPECT_NE(load_error(dir.path()).find("line 2: column 'PDK45_PWR': '1e-400' is beyond the range of a double"),
              std::string::npos);
    write_file(dir.path() / "metrics.csv", "name,signed,PDK45_PWR\nm1,1,0.4\nm2,0,0x1p3\n");
    EXPECT_NE(load_error(dir.path()).find("line 3: column 'PDK45_PWR': '0x1p3' is not a finite decimal number"),
              std::string::npos);
  }
  {
    TempDir dir;
    write_lut_directory(dir.path());
    write_file(dir.path() / "metrics.csv", "name,signed,PDK45_PWR\nm1,1,0.4\nm2,0\n");
    EXPECT_NE(load_error(dir.path()).find("line 3: 2 fields, expected 3"), std::string::npos);
  }
  {
    TempDir dir;
    write_lut_directory(dir.path());
    write_file(dir.path() / "metrics.csv", "name,PDK45_PWR\nm1,0.4\n");
    EXPECT_NE(load_error(dir.path()).find("line 1: missing column 'signed'"), std::string::npos);
  }
  {
    TempDir dir;
    write_lut_directory(dir.path());
    write_file(dir.path() / "metrics.csv", "name,signed,PDK45_PWR\n../m1,1,0.4\n");
    EXPECT_NE(load_error(dir.path()).find("invalid multiplier name '../m1'"), std::string::npos);
  }
}

TEST(LutDirectory, ExplicitSignednessAndOtherFormats) {
  TempDir dir;
  write_file(dir.path() / "metrics.csv", "name,PDK45_PWR\nm1,0.4\n");
  const Multiplier exact = Multiplier::exact("x", {});
  ASSERT_TRUE(write_lut_table(dir.path() / "m1.npy", LutFormat::kNpy, exact.table()).ok());
  LutDirectoryOptions options;
  options.format = LutFormat::kNpy;
  EXPECT_NE(load_lut_directory(dir.path(), options).status().message().find(
                "line 1: missing column 'signed' (or give the signedness explicitly)"),
            std::string::npos);
  options.signedness = Signedness::kUnsigned;
  const auto library = load_lut_directory(dir.path(), options);
  ASSERT_TRUE(library.ok()) << library.status().to_string();
  EXPECT_FALSE(library->at(0).is_signed());
  EXPECT_EQ(library->at(0).table()[3], exact.table()[3]);

  write_file(dir.path() / "metrics.csv", "name,signed,PDK45_PWR\nm1,1,0.4\n");
  EXPECT_NE(load_lut_directory(dir.path(), options).status().message().find(
                "metrics.csv: line 2: column 'signed' is 1 but the tables were given as unsigned"),
            std::string::npos);
  write_file(dir.path() / "stray.npy", "");
  options.signedness = Signedness::kSigned;
  EXPECT_NE(load_lut_directory(dir.path(), options).status().message().find("stray.npy: no row in metrics.csv"),
            std::string::npos);
}

TEST(LutDirectory, SavedLibrariesLoadBackInEveryFormat) {
  const MultiplierLibrary library = builtin_library().filtered("some", [](const Multiplier& m) {
    return m.name() == "exact" || m.name() == "drum_u_k4" || m.name() == "trunc_comp_s_k8";
  });
  ASSERT_EQ(library.size(), 3u);
  for (LutFormat format : {LutFormat::kBin, LutFormat::kNpy, LutFormat::kText}) {
    TempDir dir;
    ASSERT_TRUE(save_lut_directory(library, dir.path() / "saved", format).ok());
    LutDirectoryOptions options;
    options.format = format;
    options.metric = "cells";
    const auto loaded = load_lut_directory(dir.path() / "saved", options);
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    EXPECT_EQ(loaded->name(), "saved");
    ASSERT_EQ(loaded->size(), library.size());
    for (std::size_t i = 0; i < library.size(); ++i) {
      EXPECT_EQ(loaded->at(i).name(), library.at(i).name());
      EXPECT_EQ(loaded->at(i).signedness(), library.at(i).signedness());
      EXPECT_TRUE(std::ranges::equal(loaded->at(i).table(), library.at(i).table())) << library.at(i).name();
      EXPECT_EQ(loaded->at(i).metrics(), library.at(i).metrics()) << library.at(i).name();
    }
  }
}

TEST(LutDirectory, SavesOnlyMetricsEveryMultiplierHas) {
  auto a = std::make_shared<const Multiplier>(Multiplier::exact("a", {{"cells", 10}, {"area", 2.5}}));
  auto b = std::make_shared<const Multiplier>(Multiplier::exact("b", {{"cells", 0.1}}));
  TempDir dir;
  ASSERT_TRUE(save_lut_directory(*MultiplierLibrary::create("lib", "cells", {a, b}), dir.path()).ok());
  std::ifstream csv(dir.path() / "metrics.csv");
  const std::string text((std::istreambuf_iterator<char>(csv)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "name,signed,cells\na,1,10\nb,1,0.1\n");
}

TEST(LutDirectory, EvoApproxSurvivesAnNpyRoundTrip) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto library = load_lut_directory(shared / "evoapprox");
  ASSERT_TRUE(library.ok()) << library.status().to_string();
  TempDir dir;
  ASSERT_TRUE(save_lut_directory(*library, dir.path(), LutFormat::kNpy).ok());
  LutDirectoryOptions options;
  options.format = LutFormat::kNpy;
  const auto loaded = load_lut_directory(dir.path(), options);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  ASSERT_EQ(loaded->size(), library->size());
  for (std::size_t i = 0; i < library->size(); ++i) {
    EXPECT_TRUE(std::ranges::equal(loaded->at(i).table(), library->at(i).table())) << library->at(i).name();
    EXPECT_EQ(loaded->at(i).metrics(), library->at(i).metrics()) << library->at(i).name();
  }
}

TEST(LutDirectory, LoadsSingleFilesWithAMetricsCsv) {
  TempDir dir;
  const Multiplier exact = Multiplier::exact("x", {});
  ASSERT_TRUE(write_lut_table(dir.path() / "mine.txt", LutFormat::kText, exact.table()).ok());
  ASSERT_TRUE(write_lut_table(dir.path() / "other.npy", LutFormat::kNpy, exact.table()).ok());
  write_file(dir.path() / "my_metrics.csv", "name,power\nmine,1.5\nother,2\nunused,3\n");
  const auto library = load_lut_files("approxtorch", {dir.path() / "mine.txt", dir.path() / "other.npy"},
                                      dir.path() / "my_metrics.csv", "power", Signedness::kSigned);
  ASSERT_TRUE(library.ok()) << library.status().to_string();
  EXPECT_EQ(library->name(), "approxtorch");
  ASSERT_EQ(library->size(), 2u);
  EXPECT_DOUBLE_EQ(library->metric_of(*library->find("mine")), 1.5);
  EXPECT_EQ(library->find("other")->product(-128, 3), -384);

  EXPECT_NE(load_lut_files("l", {dir.path() / "mine.txt"}, dir.path() / "my_metrics.csv", "power")
                .status().message().find("missing column 'signed'"),
            std::string::npos);
  write_file(dir.path() / "lost.txt", "");
  EXPECT_NE(load_lut_files("l", {dir.path() / "lost.txt"}, dir.path() / "my_metrics.csv", "power", Signedness::kSigned)
                .status().message().find("lost.txt: no row named 'lost' in"),
            std::string::npos);
  EXPECT_NE(load_lut_files("l", {dir.path() / "mine.csv"}, dir.path() / "my_metrics.csv", "power", Signedness::kSigned)
                .status().message().find("mine.csv: unknown LUT format 'csv'"),
            std::string::npos);
  EXPECT_NE(load_lut_files("l", {dir.path() / "mine.txt"}, dir.path() / "my_metrics.csv", "cells", Signedness::kSigned)
                .status().message().find("my_metrics.csv: no column 'cells'"),
            std::string::npos);
}

TEST(LutDirectory, LoadsEvoApprox) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto library = load_lut_directory(shared / "evoapprox");
  ASSERT_TRUE(library.ok()) << library.status().to_string();
  EXPECT_EQ(library->name(), "evoapprox");
  EXPECT_EQ(library->size(), 49u);
  const auto signed_only = library->filtered("signed", [](const Multiplier& m) { return m.is_signed(); });
  EXPECT_EQ(signed_only.size(), 13u);
  // mul8s_1KV8 is EvoApprox's exact signed multiplier.
  const Multiplier* exact = library->find("mul8s_1KV8");
  ASSERT_NE(exact, nullptr);
  for (int x = -128; x <= 127; ++x)
    for (int w = -128; w <= 127; ++w) ASSERT_EQ(exact->product(x, w), x * w);
  // mul8u_2AC returns 32 or more for a zero operand (spec, "Unsigned multipliers").
  const Multiplier* u2ac = library->find("mul8u_2AC");
  ASSERT_NE(u2ac, nullptr);
  EXPECT_GE(u2ac->product(0, 7), 32);
}

}  // namespace
}  // namespace agnx
