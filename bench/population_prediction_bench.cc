// Benchmark: every prediction of the LeNet5 fixture (5 layers x 13 signed
// EvoApprox multipliers x 512 sampled rows) with agnx's selection, against
// (a) a naive C++ formulation of the upstream algorithm, error_prediction's
// full 256x256 sums for every sampled row, timed in the same run, and
// (b) the upstream Python time recorded in the fixture.
// Checks that both formulations give the same predictions and selections.
//
// Usage: population_prediction_bench [--threads N] [--repetitions R]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "core/error_model.h"
#include "core/lut_directory.h"
#include "core/selection.h"
#include "tests/support/shared_data.h"

namespace {

using agnx::ErrorStats;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

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

double relative_difference(double a, double b) {
  const double scale = std::max(std::abs(a), std::abs(b));
  return scale == 0.0 ? 0.0 : std::abs(a - b) / scale;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t threads = 2, repetitions = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::strtoul(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--repetitions") == 0) repetitions = std::strtoul(argv[i + 1], nullptr, 10);
  }
  threads = std::max<std::size_t>(threads, 1);
  repetitions = std::max<std::size_t>(repetitions, 1);
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
  const double upstream_seconds = fixture->reference.at("reference_seconds_population_prediction").get<double>();

  std::printf("workload: %zu layers x %zu multipliers x %zu samples; hardware threads %u\n", layers.size(),
              library.size(), layers.front().sample_features.rows, std::thread::hardware_concurrency());

  auto time_fast = [&](std::size_t num_threads) {
    double best = 1e30;
    for (std::size_t r = 0; r < repetitions; ++r) {
      const auto start = Clock::now();
      const auto info = agnx::select_multipliers(layers, library, {.num_threads = num_threads});
      best = std::min(best, seconds_since(start));
      if (!info.ok()) std::abort();
    }
    return best;
  };
  const double fast_one = time_fast(1);
  const double fast = time_fast(threads);
  const auto info = *agnx::select_multipliers(layers, library, {.num_threads = threads});

  // The naive formulation, single-threaded, once (it is slow).
  const auto naive_start = Clock::now();
  double worst_difference = 0.0;
  std::size_t selections_differing = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    std::vector<agnx::CandidatePrediction> naive;
    for (const auto& m : library.multipliers()) {
      const ErrorStats s = naive_population_prediction(m->error_map(), layers[l]);
      naive.push_back({m->name(), library.metric_of(*m), s.mean, s.std * static_cast<double>(layers[l].fan_in)});
    }
    for (const auto& c : naive) {
      const auto& ours = *std::find_if(info.layers[l].candidates.begin(), info.layers[l].candidates.end(),
                                       [&](const auto& o) { return o.name == c.name; });
      worst_difference = std::max({worst_difference, relative_difference(ours.mean, c.mean),
                                   relative_difference(ours.std, c.std)});
    }
    const auto chosen = agnx::choose_candidate(naive, info.layers[l].max_std, info.layers[l].name);
    if (!chosen.ok() || naive[*chosen].name != info.layers[l].multiplier_name) ++selections_differing;
  }
  const double naive_seconds = seconds_since(naive_start);

  std::printf("agnx selection, 1 thread:          %10.3f ms (best of %zu)\n", fast_one * 1e3, repetitions);
  std::printf("agnx selection, %zu threads:         %10.3f ms (best of %zu)\n", threads, fast * 1e3, repetitions);
  std::printf("naive C++ upstream formulation:    %10.3f ms (1 thread, 1 run)\n", naive_seconds * 1e3);
  std::printf("upstream agnapprox (fixture):      %10.3f ms\n", upstream_seconds * 1e3);
  std::printf("speedup vs naive C++:              %10.1fx (%zu threads), %.1fx (1 thread)\n", naive_seconds / fast,
              threads, naive_seconds / fast_one);
  std::printf("speedup vs upstream:               %10.1fx (%zu threads), %.1fx (1 thread); goal >= 1000x\n",
              upstream_seconds / fast, threads, upstream_seconds / fast_one);
  std::printf("largest relative difference to naive: %.3g; selections differing: %zu\n", worst_difference,
              selections_differing);
  const bool identical = worst_difference <= 1e-9 && selections_differing == 0;
  std::printf("%s\n", identical ? "results: identical" : "results: DIFFER");
  return identical ? 0 : 1;
}
