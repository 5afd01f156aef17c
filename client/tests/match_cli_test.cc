// `agnx match` on the LeNet5 model of ../shared (LibTorch, in the agnx-match
// helper): a valid MatchingInfo JSON with five layers. Skips without ../shared.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/tests/subprocess.h"
#include "core/matching_json.h"
#include "tests/support/shared_data.h"

namespace agnx::testing {
namespace {

TEST(MatchCli, LenetOnSignedEvoApproxGivesFiveLayersOfValidJson) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto models = shared / "models";
  const ProcessResult r = run_process({AGNX_BINARY, "match", "--model", (models / "lenet5_fmnist_stdev.pt").string(),
                                       "--calib", (models / "lenet5_fmnist_calib.npy").string(), "--library-dir",
                                       (shared / "evoapprox").string(), "--signedness", "signed", "--samples", "64",
                                       "--calib-limit", "64", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto info = matching_info_from_json(r.out);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  ASSERT_EQ(info->layers.size(), 5u);
  const std::vector<std::string> names = {"conv1.0", "conv2.0", "linear1", "linear2", "linear3"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    const LayerInfo& layer = info->layers[i];
    EXPECT_EQ(layer.name, names[i]);
    EXPECT_EQ(layer.multiplier_name.rfind("mul8s_", 0), 0u) << layer.multiplier_name;
    EXPECT_LE(layer.mul_std, layer.max_std);
    EXPECT_TRUE(layer.observed_std.has_value());
  }
  EXPECT_EQ(info->metric, "PDK45_PWR");
  EXPECT_EQ(info->num_samples, 64u);
  EXPECT_GT(info->relative_energy_consumption(), 0.0);
  EXPECT_LT(info->relative_energy_consumption(), 1.0);
  // Exactly what core writes for what it reads back.
  EXPECT_EQ(r.out, matching_info_to_json(*info) + "\n");
}

TEST(MatchCli, PinnedLayerUsesAnExactMultiplierAndTableModeRuns) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto models = shared / "models";
  const ProcessResult r = run_process({AGNX_BINARY, "match", "--model", (models / "lenet5_fmnist_stdev.pt").string(),
                                       "--calib", (models / "lenet5_fmnist_calib.npy").string(), "--samples", "64",
                                       "--calib-limit", "32", "--pin-exact", "linear3", "--no-observe"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("LAYER    MULTIPLIER"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("library: builtin  metric: cells"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("linear3  exact"), std::string::npos) << r.out;
}

// The values of numeric options that are valid at zero or below (see
// cli_test's EveryNumericOptionRejectsNegativeZeroHugeAndNanValues) run:
// --sigma -0.02 is the tolerance 0.02 (the spec's |sigma|), --sigma 0 asks for
// an error-free multiplier, --seed 0 is a seed, --calib-limit 0 and
// --test-limit 0 mean all inputs.
TEST(MatchCli, NegativeAndZeroValuesThatAreValidRunSanely) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto models = shared / "models";
  const auto match = [&](const std::string& sigma) {
    return run_process({AGNX_BINARY, "match", "--model", (models / "lenet5_fmnist_stdev.pt").string(), "--calib",
                        (models / "lenet5_fmnist_calib.npy").string(), "--test-x",
                        (models / "lenet5_fmnist_test_x.npy").string(), "--test-y",
                        (models / "lenet5_fmnist_test_y.npy").string(), "--sigma", "conv1.0=" + sigma, "--samples",
                        "64", "--seed", "0", "--calib-limit", "0", "--test-limit", "0", "--json"});
  };
  const ProcessResult negative = match("-0.02");
  ASSERT_EQ(negative.exit_code, 0) << negative.err;
  const ProcessResult positive = match("0.02");
  ASSERT_EQ(positive.exit_code, 0) << positive.err;
  EXPECT_EQ(negative.out, positive.out);
  const auto info = matching_info_from_json(negative.out);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->layers[0].sigma, 0.02);
  EXPECT_EQ(info->seed, 0u);
  ASSERT_TRUE(info->accuracy.has_value());
  const ProcessResult zero = match("0");
  ASSERT_EQ(zero.exit_code, 0) << zero.err;
  const auto exact = matching_info_from_json(zero.out);
  ASSERT_TRUE(exact.ok()) << exact.status().to_string();
  EXPECT_EQ(exact->layers[0].max_std, 0.0);
  EXPECT_EQ(exact->layers[0].mul_std, 0.0);
}

TEST(MatchCli, AMissingModelExitsTwoNamingIt) {
  const ProcessResult r =
      run_process({AGNX_BINARY, "match", "--model", "/nonexistent/model.pt", "--calib", "/nonexistent/c.npy"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/model.pt"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace agnx::testing
