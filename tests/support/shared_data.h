// Access to the reference material in ../shared for parity tests and
// benchmarks. Its location is the AGNX_SHARED_DIR environment variable if
// set, else ../shared next to the source tree. Tests that need it skip with a
// clear message when it is absent (AGNX_SKIP_WITHOUT_SHARED), except under
// CI=true (.ci/run sets it), where its absence fails them.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/npy.h"
#include "core/selection.h"
#include "core/status.h"

namespace agnx::testing {

// The parity bound of spec/matching.md: |a - b| <= 1e-9 * max(|a|, |b|) + 1e-12.
inline bool matches_reference(double a, double b) {
  return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b)) + 1e-12;
}

// The shared directory, or nullopt if it does not exist.
std::optional<std::filesystem::path> shared_dir();

// True under CI=true: there, missing reference data is a failure, not a skip.
bool shared_data_required();

// Parses a JSON file; aborts the test binary with a message if it cannot.
nlohmann::json read_json_file(const std::filesystem::path& path);

// The LeNet5 matching fixture: reference/lenet5_fmnist/.
struct LenetFixture {
  nlohmann::json reference;        // lenet5_fmnist.matching.json
  std::vector<LayerStats> layers;  // from the stored features/weights, with the reference sample_rows
};

// Loads the fixture from `dir` (= shared_dir()/reference/lenet5_fmnist):
// features, weights, the reference sigma/opcount and sample_rows; computes
// out_std and w_dist from the stored operands. Errors name the file.
Result<LenetFixture> load_lenet_fixture(const std::filesystem::path& dir);

// The integer outputs of `features` [rows, fan_in] times `weights`
// [1, fan_in, outputs], row-major [rows, outputs]. REQUIRES: one group.
std::vector<int64_t> integer_outputs(const Int8Matrix& features, const NpyArray& weights);

}  // namespace agnx::testing

#define AGNX_MISSING_SHARED_MESSAGE \
  "reference material not found: put agnx's shared/ folder at ../shared next to the source tree or set AGNX_SHARED_DIR"

// Declares `var`, the shared directory; where it is missing, fails the test
// under CI=true and skips it otherwise. Use in a test body or SetUp().
#define AGNX_SKIP_WITHOUT_SHARED(var)                                                            \
  const auto var##_optional = ::agnx::testing::shared_dir();                                     \
  if (!var##_optional) {                                                                         \
    if (::agnx::testing::shared_data_required()) GTEST_FAIL() << AGNX_MISSING_SHARED_MESSAGE " (CI=true)"; \
    GTEST_SKIP() << AGNX_MISSING_SHARED_MESSAGE;                                                 \
  }                                                                                              \
  const std::filesystem::path var = *var##_optional
