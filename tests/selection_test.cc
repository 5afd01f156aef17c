#include "core/selection.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/lut_directory.h"
#include "core/matching_json.h"
#include "tests/support/shared_data.h"

namespace agnx {
namespace {

using testing::matches_reference;

MultiplierLibrary evoapprox_signed(const std::filesystem::path& shared) {
  return load_lut_directory(shared / "evoapprox")->filtered("evoapprox_signed", [](const Multiplier& m) {
    return m.is_signed();
  });
}

// A small layer whose rows are uniform over a few values.
LayerStats toy_layer(std::string name, double sigma) {
  LayerStats layer;
  layer.name = std::move(name);
  layer.fan_in = 4;
  layer.opcount = 400;
  layer.sigma = sigma;
  layer.out_std = 1000.0;
  layer.w_dist.fill(0.0);
  layer.w_dist[operand_index(-100)] = 0.5;
  layer.w_dist[operand_index(90)] = 0.5;
  layer.sample_features = {2, 4, {100, -50, 3, 0, 127, 127, -128, 1}};
  return layer;
}

// Multiplier "off_by_K": exact plus K on every product, with metric `cells`.
std::shared_ptr<const Multiplier> offset_multiplier(int offset, double cells) {
  std::vector<int32_t> table(kTableSize);
  for (int x = -128; x <= 127; ++x)
    for (int w = -128; w <= 127; ++w) table[operand_index(x) * 256 + operand_index(w)] = x * w + (x % 3) * offset;
  return std::make_shared<const Multiplier>(
      *Multiplier::create("off_by_" + std::to_string(offset), Signedness::kSigned, table, {{"cells", cells}}));
}

MultiplierLibrary toy_library(bool with_exact) {
  std::vector<std::shared_ptr<const Multiplier>> multipliers{offset_multiplier(100, 50), offset_multiplier(10, 200)};
  if (with_exact) multipliers.push_back(std::make_shared<const Multiplier>(Multiplier::exact("exact", {{"cells", 400}})));
  return *MultiplierLibrary::create("toy", "cells", multipliers);
}

TEST(SelectionParity, LenetMatchesUpstream) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto fixture = testing::load_lenet_fixture(shared / "reference/lenet5_fmnist");
  ASSERT_TRUE(fixture.ok()) << fixture.status().to_string();
  const MultiplierLibrary library = evoapprox_signed(shared);
  ASSERT_EQ(library.size(), 13u);
  const auto info = select_multipliers(fixture->layers, library, {.num_threads = 2});
  ASSERT_TRUE(info.ok()) << info.status().to_string();

  const auto& reference = fixture->reference;
  EXPECT_DOUBLE_EQ(info->metric_max, reference.at("metric_max").get<double>());
  EXPECT_EQ(info->opcount(), reference.at("total_opcount").get<int64_t>());
  EXPECT_NEAR(info->relative_energy_consumption(), reference.at("relative_energy").get<double>(), 1e-12);
  ASSERT_EQ(info->layers.size(), reference.at("layers").size());
  for (std::size_t l = 0; l < info->layers.size(); ++l) {
    const LayerInfo& layer = info->layers[l];
    const auto& expected = reference.at("layers")[l];
    SCOPED_TRACE(layer.name);
    EXPECT_EQ(layer.name, expected.at("name").get<std::string>());
    EXPECT_TRUE(matches_reference(layer.out_std, expected.at("out_std").get<double>())) << layer.out_std;
    EXPECT_TRUE(matches_reference(layer.max_std, expected.at("max_std").get<double>())) << layer.max_std;
    const auto w_dist = expected.at("w_dist").get<std::vector<double>>();
    for (std::size_t i = 0; i < kOperandValues; ++i) EXPECT_TRUE(matches_reference(fixture->layers[l].w_dist[i], w_dist[i]));
    ASSERT_EQ(layer.candidates.size(), expected.at("multipliers").size());
    for (const auto& m : expected.at("multipliers")) {
      const auto name = m.at("name").get<std::string>();
      const auto c = std::find_if(layer.candidates.begin(), layer.candidates.end(),
                                  [&](const auto& candidate) { return candidate.name == name; });
      ASSERT_NE(c, layer.candidates.end()) << name;
      EXPECT_TRUE(matches_reference(c->mean, m.at("mean").get<double>())) << name << " mean " << c->mean;
      EXPECT_TRUE(matches_reference(c->std, m.at("std").get<double>())) << name << " std " << c->std;
      EXPECT_DOUBLE_EQ(c->metric, m.at("metric").get<double>());
    }
    EXPECT_EQ(layer.multiplier_name, expected.at("selected").get<std::string>());
    EXPECT_DOUBLE_EQ(layer.multiplier_performance_metric, expected.at("selected_metric").get<double>());
  }
}

TEST(SelectionParity, ResultsDoNotDependOnThreadCount) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto fixture = testing::load_lenet_fixture(shared / "reference/lenet5_fmnist");
  ASSERT_TRUE(fixture.ok()) << fixture.status().to_string();
  const MultiplierLibrary library = evoapprox_signed(shared);
  const auto one = select_multipliers(fixture->layers, library, {.num_threads = 1});
  const auto four = select_multipliers(fixture->layers, library, {.num_threads = 4});
  ASSERT_TRUE(one.ok() && four.ok());
  EXPECT_EQ(matching_info_to_json(*one), matching_info_to_json(*four));
}

TEST(Selection, ChoosesTheCheapestWithinTolerance) {
  const MultiplierLibrary library = toy_library(true);
  const auto loose = select_layer_multiplier(toy_layer("l", 10.0), library);
  ASSERT_TRUE(loose.ok()) << loose.status().to_string();
  EXPECT_EQ(loose->multiplier_name, "off_by_100");
  const auto tight = select_layer_multiplier(toy_layer("l", 1e-9), library);
  ASSERT_TRUE(tight.ok()) << tight.status().to_string();
  EXPECT_EQ(tight->multiplier_name, "exact");
  EXPECT_EQ(tight->mul_std, 0.0);
  // Candidates are kept for every multiplier, sorted by name.
  ASSERT_EQ(tight->candidates.size(), 3u);
  EXPECT_EQ(tight->candidates[0].name, "exact");
  EXPECT_EQ(tight->candidates[1].name, "off_by_10");
  EXPECT_LT(tight->candidates[1].std, tight->candidates[2].std);
}

TEST(Selection, NegativeSigmaUsesItsMagnitude) {
  const auto info = select_layer_multiplier(toy_layer("l", -10.0), toy_library(true));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->sigma, 10.0);
  EXPECT_EQ(info->max_std, 10000.0);
}

TEST(Selection, TiesGoToLowerStdThenName) {
  const std::vector<CandidatePrediction> candidates{
      {"b", 1.0, 0.0, 5.0}, {"a", 1.0, 0.0, 5.0}, {"c", 1.0, 0.0, 4.0}, {"d", 2.0, 0.0, 0.0}};
  EXPECT_EQ(*choose_candidate(candidates, 10.0, "l"), 2u);  // c: same metric, lower std
  EXPECT_EQ(*choose_candidate(std::span(candidates).first(2), 10.0, "l"), 1u);  // a before b
  EXPECT_EQ(*choose_candidate(candidates, 4.5, "l"), 2u);
  EXPECT_EQ(*choose_candidate(candidates, 1.0, "l"), 3u);
}

TEST(Selection, BadInputsAreNamedErrors) {
  const MultiplierLibrary library = toy_library(true);
  LayerStats nan_sigma = toy_layer("conv1", std::nan(""));
  EXPECT_EQ(select_layer_multiplier(nan_sigma, library).status().message(), "layer conv1: sigma is not a finite number");

  const MultiplierLibrary empty = library.filtered("nothing", [](const Multiplier&) { return false; });
  EXPECT_NE(select_layer_multiplier(toy_layer("l", 1.0), empty).status().message().find("library nothing is empty"),
            std::string::npos);

  const auto no_fit = select_layer_multiplier(toy_layer("fc3", 1e-9), toy_library(false));
  EXPECT_EQ(no_fit.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(no_fit.status().message().find("layer fc3: no multiplier fits: max_std is 1e-06"), std::string::npos);
  EXPECT_NE(no_fit.status().message().find("(off_by_10)"), std::string::npos);

  LayerStats wrong_shape = toy_layer("conv2", 1.0);
  wrong_shape.sample_features.cols = 3;
  EXPECT_NE(select_layer_multiplier(wrong_shape, library).status().message().find("layer conv2: sampled feature rows"),
            std::string::npos);
  LayerStats bad_w = toy_layer("conv3", 1.0);
  bad_w.w_dist[0] = 0.7;
  EXPECT_NE(select_layer_multiplier(bad_w, library).status().message().find("layer conv3: w_dist sums to"),
            std::string::npos);
  LayerStats no_rows = toy_layer("conv4", 1.0);
  no_rows.sample_features = {};
  EXPECT_NE(select_layer_multiplier(no_rows, library).status().message().find("no sampled feature rows"),
            std::string::npos);
  const std::vector<LayerStats> twice{toy_layer("same", 1.0), toy_layer("same", 1.0)};
  EXPECT_NE(select_multipliers(twice, library).status().message().find("two layers are named same"), std::string::npos);
  EXPECT_FALSE(select_multipliers({}, library).ok());
}

TEST(Selection, RelativeEnergyWeighsLayersByOpcount) {
  MatchingInfo info;
  info.metric_max = 4.0;
  info.layers.resize(2);
  info.layers[0].opcount = 300;
  info.layers[0].multiplier_performance_metric = 1.0;
  info.layers[1].opcount = 100;
  info.layers[1].multiplier_performance_metric = 4.0;
  EXPECT_EQ(info.opcount(), 400);
  EXPECT_DOUBLE_EQ(info.relative_opcount(0), 0.75);
  EXPECT_DOUBLE_EQ(info.relative_energy_consumption(0), 0.75 * 0.25);
  EXPECT_DOUBLE_EQ(info.relative_energy_consumption(1), 0.25);
  EXPECT_DOUBLE_EQ(info.relative_energy_consumption(), 0.4375);
}

TEST(Reselect, ReusesStoredPredictions) {
  const MultiplierLibrary library = toy_library(true);
  const std::vector<LayerStats> layers{toy_layer("first", 10.0), toy_layer("last", 10.0)};
  const auto info = select_multipliers(layers, library);
  ASSERT_TRUE(info.ok());
  const auto same = reselect(*info, library);
  ASSERT_TRUE(same.ok()) << same.status().to_string();
  EXPECT_EQ(matching_info_to_json(*same), matching_info_to_json(*info));

  // A tighter tolerance moves to the exact multiplier.
  const auto tighter = reselect(*info, library, {.sigma_scale = 1e-12, .pinned_exact = {}});
  ASSERT_TRUE(tighter.ok()) << tighter.status().to_string();
  EXPECT_EQ(tighter->layers[0].multiplier_name, "exact");
  EXPECT_DOUBLE_EQ(tighter->layers[0].sigma, 10.0 * 1e-12);

  // Pinning keeps the other layers as they were.
  const auto pinned = reselect(*info, library, {.pinned_exact = {"last"}});
  ASSERT_TRUE(pinned.ok()) << pinned.status().to_string();
  EXPECT_EQ(pinned->layers[0].multiplier_name, "off_by_100");
  EXPECT_EQ(pinned->layers[1].multiplier_name, "exact");
  EXPECT_EQ(pinned->layers[1].candidates.size(), 3u);

  // A smaller search space changes the choice and metric_max.
  const MultiplierLibrary subset =
      library.filtered("no_cheapest", [](const Multiplier& m) { return m.name() != "off_by_100"; });
  const auto smaller = reselect(*info, subset);
  ASSERT_TRUE(smaller.ok());
  EXPECT_EQ(smaller->layers[0].multiplier_name, "off_by_10");
  EXPECT_EQ(smaller->library, "no_cheapest");
  EXPECT_DOUBLE_EQ(smaller->metric_max, 400.0);
}

TEST(Reselect, BadRequestsAreNamed) {
  const MultiplierLibrary library = toy_library(true);
  const std::vector<LayerStats> layers{toy_layer("first", 10.0)};
  const auto info = *select_multipliers(layers, library);
  EXPECT_NE(reselect(info, library, {.pinned_exact = {"nope"}}).status().message().find("pinned layer nope"),
            std::string::npos);
  EXPECT_NE(reselect(info, toy_library(false), {.pinned_exact = {"first"}}).status().message().find("holds none"),
            std::string::npos);
  const MultiplierLibrary other = *MultiplierLibrary::create("other", "cells", {offset_multiplier(7, 1)});
  EXPECT_NE(reselect(info, other).status().message().find("no stored prediction for multiplier off_by_7"),
            std::string::npos);
  EXPECT_FALSE(reselect(info, library, {.sigma_scale = 0.0, .pinned_exact = {}}).ok());
  EXPECT_FALSE(reselect(info, library, {.sigma_scale = std::nan(""), .pinned_exact = {}}).ok());
}

}  // namespace
}  // namespace agnx
