#include "core/capture.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/dataset.h"
#include "core/lut_directory.h"
#include "core/sampling.h"
#include "tests/support/shared_data.h"

namespace agnx {
namespace {

using testing::matches_reference;

FloatTensor first_images(const FloatTensor& all, int64_t count) {
  FloatTensor out{all.shape, {}};
  out.shape[0] = count;
  const std::size_t per_image = all.values.size() / static_cast<std::size_t>(all.batch());
  out.values.assign(all.values.begin(), all.values.begin() + static_cast<std::ptrdiff_t>(per_image * count));
  return out;
}

struct LenetCase {
  std::filesystem::path shared;
  nlohmann::json reference;
  Model model;
  FloatTensor calibration;  // the first 64 images, as the reference used
};

LenetCase load_lenet(const std::filesystem::path& shared, const std::string& calibration_file) {
  auto model = Model::load_file(shared / "models/lenet5_fmnist_stdev.pt");
  EXPECT_TRUE(model.ok()) << model.status().to_string();
  auto calibration = load_inputs(shared / "models" / calibration_file);
  EXPECT_TRUE(calibration.ok()) << calibration.status().to_string();
  return {shared, testing::read_json_file(shared / "reference/lenet5_fmnist/lenet5_fmnist.matching.json"),
          std::move(*model), first_images(*calibration, 64)};
}

CaptureOptions with_reference_rows(const nlohmann::json& reference) {
  CaptureOptions options;
  options.num_threads = 2;
  for (const auto& layer : reference.at("layers")) {
    options.sample_rows[layer.at("name").get<std::string>()] = layer.at("sample_rows").get<std::vector<uint64_t>>();
  }
  return options;
}

MultiplierLibrary evoapprox_signed(const std::filesystem::path& shared) {
  return load_lut_directory(shared / "evoapprox")->filtered("evoapprox_signed", [](const Multiplier& m) {
    return m.is_signed();
  });
}

TEST(Model, FindsTheLenetLayersInExecutionOrder) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto model = Model::load_file(shared / "models/lenet5_fmnist_stdev.pt");
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  std::vector<std::string> names;
  for (const auto& layer : model->layers()) names.push_back(layer.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv1.0", "conv2.0", "linear1", "linear2", "linear3"}));
  EXPECT_EQ(model->layers()[0].kind, LayerKind::kConv2d);
  EXPECT_EQ(model->layers()[4].kind, LayerKind::kLinear);
  const auto sigma = testing::read_json_file(shared / "models/lenet5_fmnist.json").at("sigma");
  for (const auto& name : names) EXPECT_DOUBLE_EQ(*model->stdev(name), sigma.at(name).get<double>()) << name;
}

TEST(CaptureParity, LenetMatchesTheReference) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const LenetCase lenet = load_lenet(shared, "lenet5_fmnist_calib.npy");
  const auto captures = capture_layers(lenet.model, lenet.calibration, with_reference_rows(lenet.reference));
  ASSERT_TRUE(captures.ok()) << captures.status().to_string();
  const auto& layers = lenet.reference.at("layers");
  ASSERT_EQ(captures->size(), layers.size());
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const LayerCapture& c = (*captures)[l];
    const auto& expected = layers[l];
    SCOPED_TRACE(c.stats.name);
    EXPECT_EQ(c.stats.name, expected.at("name").get<std::string>());
    EXPECT_EQ(c.stats.fan_in, expected.at("fan_in").get<int64_t>());
    EXPECT_EQ(c.stats.opcount, expected.at("opcount").get<int64_t>());
    EXPECT_EQ(c.rows, expected.at("rows").get<int64_t>());
    EXPECT_TRUE(matches_reference(c.stats.out_std, expected.at("out_std").get<double>())) << c.stats.out_std;
    EXPECT_TRUE(matches_reference(c.stats.out_std * c.stats.sigma, expected.at("max_std").get<double>()));
    const auto w_dist = expected.at("w_dist").get<std::vector<double>>();
    const auto x_dist = expected.at("x_dist_global").get<std::vector<double>>();
    for (std::size_t i = 0; i < kOperandValues; ++i) {
      EXPECT_TRUE(matches_reference(c.stats.w_dist[i], w_dist[i])) << i;
      EXPECT_TRUE(matches_reference(c.x_dist_global[i], x_dist[i])) << i;
    }
  }
}

TEST(CaptureParity, LenetSelectionMatchesTheReference) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const LenetCase lenet = load_lenet(shared, "lenet5_fmnist_calib.pt");
  const auto info =
      select_multipliers(lenet.model, lenet.calibration, evoapprox_signed(shared), with_reference_rows(lenet.reference));
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_NEAR(info->relative_energy_consumption(), lenet.reference.at("relative_energy").get<double>(), 1e-12);
  for (std::size_t l = 0; l < info->layers.size(); ++l) {
    EXPECT_EQ(info->layers[l].multiplier_name, lenet.reference.at("layers")[l].at("selected").get<std::string>());
  }
}

TEST(Capture, PtAndNpyAndExplicitSigmaAgree) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const LenetCase from_npy = load_lenet(shared, "lenet5_fmnist_calib.npy");
  const LenetCase from_pt = load_lenet(shared, "lenet5_fmnist_calib.pt");
  EXPECT_EQ(from_npy.calibration.values, from_pt.calibration.values);
  CaptureOptions options;
  options.num_samples = 64;
  options.seed = 3;
  const MultiplierLibrary library = evoapprox_signed(shared);
  const auto a = select_multipliers(from_npy.model, from_npy.calibration, library, options);
  for (const auto& layer : from_pt.model.layers()) options.sigma[layer.name] = *from_pt.model.stdev(layer.name);
  const auto b = select_multipliers(from_pt.model, from_pt.calibration, library, options);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->layers.size(), b->layers.size());
  for (std::size_t l = 0; l < a->layers.size(); ++l) {
    EXPECT_EQ(a->layers[l].sample_rows, b->layers[l].sample_rows);
    EXPECT_EQ(a->layers[l].multiplier_name, b->layers[l].multiplier_name);
    EXPECT_EQ(a->layers[l].max_std, b->layers[l].max_std);
  }
}

TEST(Capture, SeededDrawIsTheSpecDraw) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const LenetCase lenet = load_lenet(shared, "lenet5_fmnist_calib.npy");
  CaptureOptions options;
  options.num_samples = 16;
  options.seed = 77;
  const auto captures = capture_layers(lenet.model, lenet.calibration, options);
  ASSERT_TRUE(captures.ok()) << captures.status().to_string();
  for (std::size_t l = 0; l < captures->size(); ++l) {
    const auto& c = (*captures)[l];
    EXPECT_EQ(c.stats.sample_rows, draw_sample_rows(static_cast<uint64_t>(c.rows), 16, 77, l));
    EXPECT_EQ(c.stats.sample_features.rows, 16u);
  }
}

TEST(Capture, BadInputsAreNamedErrors) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const LenetCase lenet = load_lenet(shared, "lenet5_fmnist_calib.npy");
  FloatTensor wrong{{2, 3, 28, 28}, std::vector<float>(2 * 3 * 28 * 28, 0.5f)};
  const auto shape = capture_layers(lenet.model, wrong, {});
  ASSERT_FALSE(shape.ok());
  EXPECT_NE(shape.status().message().find("lenet5_fmnist_stdev.pt"), std::string::npos) << shape.status().message();
  EXPECT_FALSE(capture_layers(lenet.model, FloatTensor{{0, 1, 28, 28}, {}}, {}).ok());
  CaptureOptions unknown;
  unknown.sigma["conv9"] = 0.1;
  EXPECT_EQ(capture_layers(lenet.model, lenet.calibration, unknown).status().message(),
            "sigma given for unknown layer conv9");
  CaptureOptions nan_sigma;
  nan_sigma.sigma["linear1"] = std::nan("");
  EXPECT_EQ(capture_layers(lenet.model, lenet.calibration, nan_sigma).status().message(),
            "sigma of layer linear1 is not a finite number");
  CaptureOptions outside;
  outside.sample_rows["linear3"] = {64};
  EXPECT_NE(capture_layers(lenet.model, lenet.calibration, outside).status().message().find("linear3: sample row 64"),
            std::string::npos);
  const auto no_stdev = Model::load_file(shared / "models/lenet5_fmnist.pt");
  ASSERT_TRUE(no_stdev.ok());
  EXPECT_NE(capture_layers(*no_stdev, lenet.calibration, {}).status().message().find("layer conv1.0: has no stdev"),
            std::string::npos);
}

TEST(Model, MalformedSnapshotsAreErrors) {
  EXPECT_EQ(Model::load_file("/nonexistent/model.pt").status().code(), StatusCode::kIoError);
  const auto garbage = Model::load_bytes("this is not a zip archive", "upload.pt");
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("cannot load model upload.pt"), std::string::npos);
  AGNX_SKIP_WITHOUT_SHARED(shared);
  std::ifstream in(shared / "models/lenet5_fmnist_stdev.pt", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto truncated = Model::load_bytes(std::string_view(bytes).substr(0, bytes.size() / 2), "half.pt");
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("half.pt"), std::string::npos);
  ASSERT_TRUE(Model::load_bytes(bytes, "whole.pt").ok());
}

TEST(Dataset, BadDataIsNamed) {
  EXPECT_NE(parse_inputs("hello", "x.bin").status().message().find("x.bin: unknown format"), std::string::npos);
  AGNX_SKIP_WITHOUT_SHARED(shared);
  EXPECT_NE(load_inputs(shared / "models/lenet5_fmnist_test_y.npy").status().message().find("must be float32"),
            std::string::npos);
  EXPECT_NE(load_labels(shared / "models/lenet5_fmnist_calib.npy").status().message().find("integer array"),
            std::string::npos);
  const auto labels = load_labels(shared / "models/lenet5_fmnist_test_y.npy");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(labels->size(), 2000u);
}

}  // namespace
}  // namespace agnx
