#include "core/characterization.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "core/lut_directory.h"
#include "tests/support/shared_data.h"

namespace agnx {
namespace {

// One unit of the last printed digit of `text`, e.g. 0.1 for "1.2" and for
// "72829.102e2", 1 for "2016".
double last_digit_unit(const std::string& text) {
  const auto e = text.find_first_of("eE");
  const std::string mantissa = text.substr(0, e);
  const int exponent = e == std::string::npos ? 0 : std::stoi(text.substr(e + 1));
  const auto dot = mantissa.find('.');
  const int decimals = dot == std::string::npos ? 0 : static_cast<int>(mantissa.size() - dot - 1);
  return std::pow(10.0, exponent - decimals);
}

// metrics.csv of ../shared/evoapprox as printed text: name -> column -> text.
std::map<std::string, std::map<std::string, std::string>> read_printed_metrics(const std::filesystem::path& csv) {
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  for (std::stringstream s(line); std::getline(s, line, ',');) header.push_back(line);
  std::map<std::string, std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    std::stringstream s(line);
    std::map<std::string, std::string> row;
    for (const std::string& column : header) std::getline(s, row[column], ',');
    rows[row["name"]] = row;
  }
  return rows;
}

Multiplier signed_table(const std::string& name, int32_t (*f)(int, int)) {
  std::vector<int32_t> table(kTableSize);
  for (int x = -128; x <= 127; ++x)
    for (int w = -128; w <= 127; ++w) table[operand_index(x) * 256 + operand_index(w)] = f(x, w);
  return *Multiplier::create(name, Signedness::kSigned, table, {});
}

TEST(Characterization, ExactIsErrorFree) {
  const ErrorCharacterization c = characterize(Multiplier::exact("exact", {}));
  EXPECT_TRUE(c.error_free());
  EXPECT_EQ(c.mae, 0.0);
  EXPECT_EQ(c.mse, 0.0);
  EXPECT_EQ(c.ep_pct, 0.0);
  EXPECT_EQ(c.mre_pct, 0.0);
}

TEST(Characterization, ConstantOffset) {
  // product + 3 everywhere: every statistic follows from the constant.
  const ErrorCharacterization c = characterize(signed_table("plus3", [](int x, int w) { return x * w + 3; }));
  EXPECT_FALSE(c.error_free());
  EXPECT_DOUBLE_EQ(c.mae, 3.0);
  EXPECT_DOUBLE_EQ(c.wce, 3.0);
  EXPECT_DOUBLE_EQ(c.mse, 9.0);
  EXPECT_DOUBLE_EQ(c.error_mean, 3.0);
  EXPECT_NEAR(c.error_std, 0.0, 1e-6);
  EXPECT_DOUBLE_EQ(c.ep_pct, 100.0);
  EXPECT_DOUBLE_EQ(c.mae_pct, 300.0 / 65536.0);
  EXPECT_DOUBLE_EQ(c.wcre_pct, 300.0);  // at |x*w| = 1
}

// All eight published error columns of every table, each within one unit of
// its last printed digit. MAE_pct and WCE_pct were derived from the printed
// (rounded) MAE and WCE, so they also get that rounding, carried into percent:
// mul8s_1KVA's MAE is 1.25, printed 1.2, and its MAE_pct is printed as 0.0018
// (= 1.2 / 2^16 * 100) where 1.25 gives 0.0019.
TEST(Characterization, ReproducesEvoApproxMetrics) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto library = load_lut_directory(shared / "evoapprox");
  ASSERT_TRUE(library.ok()) << library.status().to_string();
  const auto printed = read_printed_metrics(shared / "evoapprox" / "metrics.csv");
  ASSERT_EQ(printed.size(), library->size());
  const std::map<std::string, std::string> derived_from{{"MAE_pct", "MAE"}, {"WCE_pct", "WCE"}};
  for (const auto& m : library->multipliers()) {
    const ErrorCharacterization c = characterize(*m);
    const std::map<std::string, double> computed{
        {"MAE", c.mae},         {"WCE", c.wce},         {"MSE", c.mse},           {"EP_pct", c.ep_pct},
        {"MRE_pct", c.mre_pct}, {"MAE_pct", c.mae_pct}, {"WCE_pct", c.wce_pct}, {"WCRE_pct", c.wcre_pct}};
    const auto& row = printed.at(m->name());
    ASSERT_EQ(computed.size(), row.size() - 5) << "every column but name, signed and the three PDK45 ones";
    for (const auto& [column, value] : computed) {
      const std::string& text = row.at(column);
      double tolerance = last_digit_unit(text);
      if (derived_from.contains(column)) tolerance += last_digit_unit(row.at(derived_from.at(column))) / kOutputRange * 100;
      EXPECT_NEAR(value, std::stod(text), tolerance * (1 + 1e-9)) << m->name() << " " << column;
    }
  }
}

}  // namespace
}  // namespace agnx
