// Benchmark: every prediction of the LeNet5 fixture (5 layers x 13 signed
// EvoApprox multipliers x 512 sampled rows) with agnx's selection, against
// two formulations of the upstream algorithm timed in the same run on the
// same inputs:
// (a) NumPy, vectorized the way agnapprox is (upstream_population_prediction.py
//     next to this file, run by Debian's python3): one 256x256
//     error_prediction per sampled row and multiplier;
// (b) the same algorithm as naive C++.
// Checks that all three give the same predictions (within 1e-9, relative) and
// selections; exits 1 if not, or if the NumPy baseline cannot run.
//
// Usage: population_prediction_bench [--threads N] [--repetitions R]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "bench/timing.h"
#include "core/error_model.h"
#include "core/lut_directory.h"
#include "core/selection.h"
#include "tests/support/command_line.h"
#include "tests/support/shared_data.h"
#include "tests/support/temp_dir.h"

namespace {

using agnx::ErrorStats;
using agnx::bench::best_seconds;
// Per layer, every multiplier's prediction, in library order.
using Predictions = std::vector<std::vector<agnx::CandidatePrediction>>;

// Upstream's population_prediction, literally: one full error_prediction per
// sampled row, then Eq. 15/16.
ErrorStats naive_population_prediction(const agnx::ErrorMap& emap, const agnx::LayerStats& layer) {
  const auto fan_in = static_cast<double>(layer.fan_in);
  double sum = 0.0, sum_squares = 0.0;
  for (std::size_t r = 0; r < layer.sample_features.rows; ++r) {
    const auto x_dist = agnx::operand_distribution(layer.sample_features.row(r));
    const ErrorStats s = *agnx::error_prediction(emap, x_dist, layer.w_dist, fan_in);
    sum += s.mean;
    sum_squares += s.mean * s.mean + s.std * s.std;
  }
  const auto n = static_cast<double>(layer.sample_features.rows);
  return {sum / n, std::sqrt((sum_squares - sum * sum / n) / n)};
}

Predictions naive_predictions(std::span<const agnx::LayerStats> layers, const agnx::MultiplierLibrary& library) {
  Predictions predictions(layers.size());
  for (std::size_t l = 0; l < layers.size(); ++l) {
    for (const auto& m : library.multipliers()) {
      const ErrorStats s = naive_population_prediction(m->error_map(), layers[l]);
      predictions[l].push_back({m->name(), library.metric_of(*m), s.mean, s.std * static_cast<double>(layers[l].fan_in)});
    }
  }
  return predictions;
}

// Writes the workload for upstream_population_prediction.py into `dir`.
std::filesystem::path write_workload(const std::filesystem::path& dir, std::span<const agnx::LayerStats> layers,
                                     const agnx::MultiplierLibrary& library) {
  nlohmann::json workload{{"layers", nlohmann::json::array()}, {"multipliers", nlohmann::json::array()}};
  for (const auto& layer : layers) {
    const auto& rows = layer.sample_features;
    std::vector<int64_t> values(rows.values.begin(), rows.values.end());
    const auto samples = dir / (layer.name + ".samples.npy"), w_dist = dir / (layer.name + ".w_dist.npy");
    (void)agnx::write_npy(samples, agnx::NpyArray::from_int64(agnx::NpyDtype::kInt8,
                                                             {static_cast<int64_t>(rows.rows), static_cast<int64_t>(rows.cols)}, values));
    (void)agnx::write_npy(w_dist, agnx::NpyArray::from_double(agnx::NpyDtype::kFloat64, {256}, layer.w_dist));
    workload["layers"].push_back({{"name", layer.name}, {"fan_in", layer.fan_in}, {"samples", samples}, {"w_dist", w_dist}});
  }
  for (const auto& m : library.multipliers()) {
    const auto emap = dir / (m->name() + ".emap.npy");
    (void)agnx::write_npy(emap, agnx::NpyArray::from_double(agnx::NpyDtype::kFloat64, {256, 256}, m->error_map().values()));
    workload["multipliers"].push_back({{"name", m->name()}, {"emap", emap}});
  }
  const auto path = dir / "workload.json";
  std::ofstream(path) << workload.dump();
  return path;
}

// Runs the NumPy baseline; its predictions and its own timing of them.
agnx::Result<std::pair<Predictions, double>> numpy_predictions(std::span<const agnx::LayerStats> layers,
                                                               const agnx::MultiplierLibrary& library) {
  const agnx::testing::TempDir dir;
  const auto workload = write_workload(dir.path(), layers, library);
  const auto result_path = dir.path() / "result.json";
  const std::string command = std::string(AGNX_PYTHON) + " " + AGNX_UPSTREAM_SCRIPT + " " + workload.string() + " " +
                              result_path.string();
  if (std::system(command.c_str()) != 0) {
    return agnx::Status::failed_precondition("the NumPy baseline failed: " + command + " (needs python3-numpy)");
  }
  const nlohmann::json result = agnx::testing::read_json_file(result_path);
  Predictions predictions(layers.size());
  for (std::size_t l = 0; l < layers.size(); ++l) {
    for (std::size_t i = 0; i < library.size(); ++i) {
      const auto& p = result.at("predictions").at(l).at(i);
      predictions[l].push_back({library.at(i).name(), library.metric_of(library.at(i)), p.at(0).get<double>(),
                                p.at(1).get<double>() * static_cast<double>(layers[l].fan_in)});
    }
  }
  return std::pair{std::move(predictions), result.at("seconds").get<double>()};
}

double relative_difference(double a, double b) {
  const double scale = std::max(std::abs(a), std::abs(b));
  return scale == 0.0 ? 0.0 : std::abs(a - b) / scale;
}

// Prints how far `other` is from agnx's `info`; true if within 1e-9 and
// choosing the same multipliers.
bool same_results(const agnx::MatchingInfo& info, const Predictions& other, const char* what) {
  double worst = 0.0;
  std::size_t selections_differing = 0;
  for (std::size_t l = 0; l < other.size(); ++l) {
    for (const auto& c : other[l]) {
      const auto& ours = *std::find_if(info.layers[l].candidates.begin(), info.layers[l].candidates.end(),
                                       [&](const auto& o) { return o.name == c.name; });
      worst = std::max({worst, relative_difference(ours.mean, c.mean), relative_difference(ours.std, c.std)});
    }
    const auto chosen = agnx::choose_candidate(other[l], info.layers[l].max_std, info.layers[l].name);
    if (!chosen.ok() || other[l][*chosen].name != info.layers[l].multiplier_name) ++selections_differing;
  }
  const bool same = worst <= 1e-9 && selections_differing == 0;
  std::printf("%-22s largest relative difference to agnx %.3g, selections differing %zu: %s\n", what, worst,
              selections_differing, same ? "identical" : "DIFFER");
  return same;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, repetitions = 20;
  CLI::App app{"population_prediction_bench: the LeNet5 fixture's predictions with agnx's selection, next to "
               "upstream's algorithm in NumPy and in naive C++ (needs ../shared)"};
  app.add_option("--threads", threads, "threads of agnx's selection")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--repetitions", repetitions, "runs of each, the best one counts")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  if (const auto exit_status = agnx::testing::parse_command_line(app, argc, argv)) return *exit_status;
  const auto shared = agnx::testing::shared_dir();
  if (!shared) {
    std::puts("SKIPPED: ../shared not found (set AGNX_SHARED_DIR)");
    return 0;
  }
  const auto fixture = agnx::testing::load_lenet_fixture(*shared / "reference/lenet5_fmnist");
  const auto evoapprox = agnx::load_lut_directory(*shared / "evoapprox");
  if (!fixture.ok() || !evoapprox.ok()) {
    std::fprintf(stderr, "cannot load the fixture: %s %s\n", fixture.status().to_string().c_str(),
                 evoapprox.status().to_string().c_str());
    return 1;
  }
  const auto library = evoapprox->filtered("evoapprox_signed", [](const auto& m) { return m.is_signed(); });
  const auto& layers = fixture->layers;
  std::printf("workload: %zu layers x %zu multipliers x %zu samples; hardware threads %u\n", layers.size(),
              library.size(), layers.front().sample_features.rows, std::thread::hardware_concurrency());

  const auto time_agnx = [&](int num_threads) {
    return best_seconds(repetitions, [&] {
      if (!agnx::select_multipliers(layers, library, {.num_threads = static_cast<std::size_t>(num_threads)}).ok()) std::abort();
    });
  };
  const double fast_one = time_agnx(1), fast = time_agnx(threads);
  const auto info = *agnx::select_multipliers(layers, library, {.num_threads = static_cast<std::size_t>(threads)});
  Predictions naive;
  const double naive_seconds = best_seconds(1, [&] { naive = naive_predictions(layers, library); });
  const auto numpy = numpy_predictions(layers, library);
  if (!numpy.ok()) {
    std::fprintf(stderr, "%s\n", numpy.status().to_string().c_str());
    return 1;
  }
  const double numpy_seconds = numpy->second;

  std::printf("agnx selection, 1 thread:          %10.3f ms (best of %d)\n", fast_one * 1e3, repetitions);
  std::printf("agnx selection, %d threads:         %10.3f ms (best of %d)\n", threads, fast * 1e3, repetitions);
  std::printf("naive C++ upstream formulation:    %10.3f ms (1 thread, 1 run)\n", naive_seconds * 1e3);
  std::printf("NumPy upstream formulation:        %10.3f ms (Debian python3, 1 run)\n", numpy_seconds * 1e3);
  std::printf("speedup vs naive C++:              %10.1fx (%d threads), %.1fx (1 thread)\n", naive_seconds / fast,
              threads, naive_seconds / fast_one);
  std::printf("speedup vs NumPy upstream:         %10.1fx (%d threads), %.1fx (1 thread); goal >= 1000x\n",
              numpy_seconds / fast, threads, numpy_seconds / fast_one);
  const bool naive_same = same_results(info, naive, "naive C++:");
  const bool numpy_same = same_results(info, numpy->first, "NumPy:");
  std::printf("%s\n", naive_same && numpy_same ? "results: identical" : "results: DIFFER");
  return naive_same && numpy_same ? 0 : 1;
}
