#include "tests/support/shared_data.h"

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "core/integer_moments.h"
#include "core/sampling.h"

namespace agnx::testing {

std::optional<std::filesystem::path> shared_dir() {
  const char* from_env = std::getenv("AGNX_SHARED_DIR");
  const std::filesystem::path dir = from_env ? std::filesystem::path(from_env)
                                             : std::filesystem::path(AGNX_SOURCE_DIR) / ".." / "shared";
  if (!std::filesystem::is_directory(dir / "reference")) return std::nullopt;
  return dir.lexically_normal();
}

bool shared_data_required() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  nlohmann::json document = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    std::cerr << "cannot read JSON from " << path << "\n";
    std::abort();
  }
  return document;
}

std::vector<int64_t> integer_outputs(const Int8Matrix& features, const NpyArray& weights) {
  const auto fan_in = static_cast<std::size_t>(weights.shape[1]);
  const auto outputs = static_cast<std::size_t>(weights.shape[2]);
  const auto* w = reinterpret_cast<const int8_t*>(weights.data.data());
  std::vector<int64_t> y(features.rows * outputs, 0);
  for (std::size_t r = 0; r < features.rows; ++r) {
    const auto row = features.row(r);
    for (std::size_t k = 0; k < fan_in; ++k) {
      for (std::size_t o = 0; o < outputs; ++o) y[r * outputs + o] += int64_t{row[k]} * w[k * outputs + o];
    }
  }
  return y;
}

namespace {

Result<NpyArray> read_int8_npy(const std::filesystem::path& path, std::size_t rank) {
  AGNX_ASSIGN_OR_RETURN(NpyArray array, read_npy(path));
  if (array.dtype != NpyDtype::kInt8 || array.shape.size() != rank) {
    return Status::invalid_argument(path.string() + ": expected an int8 array of rank " + std::to_string(rank));
  }
  return array;
}

Result<LayerStats> load_layer(const std::filesystem::path& dir, const nlohmann::json& reference) {
  LayerStats layer;
  layer.name = reference.at("name").get<std::string>();
  layer.fan_in = reference.at("fan_in").get<int64_t>();
  layer.opcount = reference.at("opcount").get<int64_t>();
  layer.sigma = reference.at("sigma").get<double>();
  layer.sample_rows = reference.at("sample_rows").get<std::vector<uint64_t>>();

  AGNX_ASSIGN_OR_RETURN(NpyArray features, read_int8_npy(dir / (layer.name + ".features.npy"), 2));
  AGNX_ASSIGN_OR_RETURN(NpyArray weights, read_int8_npy(dir / (layer.name + ".weights.npy"), 3));
  if (weights.shape[0] != 1 || weights.shape[1] != features.shape[1]) {
    return Status::invalid_argument(layer.name + ": expected weights [1, fan_in, outputs]");
  }
  Int8Matrix matrix{static_cast<std::size_t>(features.shape[0]), static_cast<std::size_t>(features.shape[1]), {}};
  const auto* begin = reinterpret_cast<const int8_t*>(features.data.data());
  matrix.values.assign(begin, begin + features.data.size());

  IntegerMoments moments;
  for (int64_t y : integer_outputs(matrix, weights)) moments.add(y);
  layer.out_std = moments.std();
  layer.w_dist = operand_distribution({reinterpret_cast<const int8_t*>(weights.data.data()), weights.data.size()});
  AGNX_ASSIGN_OR_RETURN(layer.sample_features, gather_rows(matrix, layer.sample_rows));
  return layer;
}

}  // namespace

Result<LenetFixture> load_lenet_fixture(const std::filesystem::path& dir) {
  LenetFixture fixture;
  fixture.reference = read_json_file(dir / "lenet5_fmnist.matching.json");
  for (const auto& reference : fixture.reference.at("layers")) {
    AGNX_ASSIGN_OR_RETURN(LayerStats layer, load_layer(dir, reference));
    fixture.layers.push_back(std::move(layer));
  }
  return fixture;
}

}  // namespace agnx::testing
