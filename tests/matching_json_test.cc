#include "core/matching_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace agnx {
namespace {

MatchingInfo sample_info() {
  MatchingInfo info;
  info.library = "evoapprox";
  info.metric = "PDK45_PWR";
  info.metric_max = 0.425;
  info.seed = 42;
  info.num_samples = 2;
  LayerInfo layer;
  layer.name = "conv1.0";
  layer.fan_in = 25;
  layer.opcount = 117600;
  layer.sigma = 0.15603069961071014;
  layer.out_std = 16632.09749839156;
  layer.max_std = layer.out_std * layer.sigma;
  layer.multiplier_name = "mul8s_1L2D";
  layer.multiplier_performance_metric = 0.2;
  layer.mul_std = 1234.5678901234567;
  layer.candidates = {{"mul8s_1KR3", 0.052, 146.23968437500002, 6928.485177916648},
                      {"mul8s_1L2D", 0.2, -0.1, 1234.5678901234567}};
  layer.sample_rows = {23742, 25681};
  info.layers.push_back(layer);
  layer.name = "linear3";
  layer.opcount = 840;
  layer.observed_mean = -0.25;
  layer.observed_std = 3.0;
  layer.rows = 64;
  layer.input_scale = 0.0123;
  layer.weight_scale = 0.0045;
  layer.w_dist.assign(256, 1.0 / 256);
  layer.x_dist_global.assign(256, 0.0);
  layer.x_dist_global[128] = 1.0;
  info.layers.push_back(layer);
  info.accuracy = ModelAccuracy{0.892, 0.998, 0.8925, 0.998, 0.645, 0.966};
  return info;
}

TEST(MatchingJson, UsesTheUpstreamFieldNames) {
  const MatchingInfo info = sample_info();
  const auto json = nlohmann::json::parse(matching_info_to_json(info));
  for (const char* key : {"layers", "metric_max", "opcount", "relative_energy_consumption", "seed", "num_samples"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json.at("opcount").get<int64_t>(), 117600 + 840);
  EXPECT_DOUBLE_EQ(json.at("relative_energy_consumption").get<double>(), info.relative_energy_consumption());
  const auto& layer = json.at("layers")[0];
  for (const char* key : {"name", "multiplier_name", "multiplier_performance_metric", "opcount", "fan_in", "sigma",
                          "out_std", "max_std", "mul_std", "candidates", "sample_rows"}) {
    EXPECT_TRUE(layer.contains(key)) << key;
  }
  EXPECT_EQ(layer.at("candidates")[0].at("name"), "mul8s_1KR3");
  EXPECT_EQ(layer.at("candidates")[0].at("std").get<double>(), 6928.485177916648);
}

TEST(MatchingJson, CarriesCaptureAndAccuracyFields) {
  const MatchingInfo info = sample_info();
  const auto json = nlohmann::json::parse(matching_info_to_json(info));
  EXPECT_EQ(json.at("accuracy").at("approximate_top1").get<double>(), 0.645);
  EXPECT_EQ(json.at("accuracy").at("quantized_top5").get<double>(), 0.998);
  const auto& layer = json.at("layers")[1];
  EXPECT_EQ(layer.at("rows").get<int64_t>(), 64);
  EXPECT_EQ(layer.at("input_scale").get<double>(), 0.0123);
  EXPECT_EQ(layer.at("x_dist_global").size(), 256u);
  EXPECT_FALSE(json.at("layers")[0].contains("rows"));
  EXPECT_FALSE(json.at("layers")[0].contains("x_dist_global"));
  const auto parsed = matching_info_from_json(json.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->accuracy->float_top1, 0.892);
  EXPECT_EQ(parsed->layers[1].weight_scale, 0.0045);
  EXPECT_EQ(parsed->layers[1].w_dist, info.layers[1].w_dist);
  EXPECT_TRUE(parsed->layers[0].x_dist_global.empty());
}

TEST(MatchingJson, OmitsAbsentValues) {
  MatchingInfo info = sample_info();
  info.seed.reset();
  info.accuracy.reset();
  const auto json = nlohmann::json::parse(matching_info_to_json(info));
  EXPECT_FALSE(json.contains("seed"));
  EXPECT_FALSE(json.contains("accuracy"));
  EXPECT_FALSE(json.at("layers")[0].contains("observed_mean"));
  EXPECT_EQ(json.at("layers")[1].at("observed_std").get<double>(), 3.0);
  EXPECT_EQ(matching_info_to_json(info).find("null"), std::string::npos);
}

TEST(MatchingJson, RoundTripsBitIdentically) {
  const MatchingInfo info = sample_info();
  const std::string text = matching_info_to_json(info, -1);
  const auto parsed = matching_info_from_json(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->layers[0].sigma, info.layers[0].sigma);
  EXPECT_EQ(parsed->layers[0].out_std, info.layers[0].out_std);
  EXPECT_EQ(parsed->layers[0].candidates[0].mean, info.layers[0].candidates[0].mean);
  EXPECT_EQ(parsed->layers[1].observed_mean, info.layers[1].observed_mean);
  EXPECT_FALSE(parsed->layers[0].observed_mean.has_value());
  EXPECT_EQ(parsed->seed, info.seed);
  EXPECT_EQ(matching_info_to_json(*parsed, -1), text);
}

TEST(MatchingJson, ErrorsNameTheField) {
  EXPECT_NE(matching_info_from_json("{not json").status().message().find("does not parse"), std::string::npos);
  // nlohmann alone reads 1e-400 as 0 and refuses 1e400 and hex without a word.
  auto document = nlohmann::json::parse(matching_info_to_json(sample_info()));
  document["metric_max"] = 0.125;
  const std::string text = document.dump();
  const auto with_metric_max = [&](const std::string& value) {
    return std::string(text).replace(text.find("0.125"), 5, value);
  };
  EXPECT_EQ(matching_info_from_json(with_metric_max("1e-400")).status().message(),
            "MatchingInfo JSON: '1e-400' is beyond the range of a double");
  EXPECT_EQ(matching_info_from_json(with_metric_max("0.0e-400"))->metric_max, 0.0);
  EXPECT_EQ(matching_info_from_json(with_metric_max("1e-300"))->metric_max, 1e-300);
  EXPECT_NE(matching_info_from_json(with_metric_max("0x10")).status().message().find("does not parse"), std::string::npos);
  EXPECT_NE(matching_info_from_json("[]").status().message().find("the document: expected an object"),
            std::string::npos);
  auto json = nlohmann::json::parse(matching_info_to_json(sample_info()));
  json["layers"][1]["fan_in"] = "many";
  EXPECT_EQ(matching_info_from_json(json.dump()).status().message(), "layers[1].fan_in: expected an integer");
  json = nlohmann::json::parse(matching_info_to_json(sample_info()));
  json["layers"][0]["candidates"][1].erase("std");
  EXPECT_EQ(matching_info_from_json(json.dump()).status().message(), "layers[0].candidates[1].std: missing");
  json = nlohmann::json::parse(matching_info_to_json(sample_info()));
  json["layers"][0]["sample_rows"][1] = -4;
  EXPECT_EQ(matching_info_from_json(json.dump()).status().message(),
            "layers[0].sample_rows[1]: expected a non-negative integer");
  json = nlohmann::json::parse(matching_info_to_json(sample_info()));
  json.erase("metric_max");
  EXPECT_EQ(matching_info_from_json(json.dump()).status().message(), "metric_max: missing");
}

}  // namespace
}  // namespace agnx
