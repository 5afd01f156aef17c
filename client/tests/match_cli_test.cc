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

TEST(MatchCli, AMissingModelExitsTwoNamingIt) {
  const ProcessResult r =
      run_process({AGNX_BINARY, "match", "--model", "/nonexistent/model.pt", "--calib", "/nonexistent/c.npy"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/model.pt"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace agnx::testing
