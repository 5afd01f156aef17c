// Benchmark: the LUT GEMM kernel on LeNet5 and ResNet-like convolution shapes
// against (a) the naive per-element triple loop over the product table and
// (b) LibTorch's float convolution of the same shape, plus the time and peak
// memory of capturing the LeNet5 fixture. All measured in this run.
//
// Usage: lut_gemm_bench [--threads N]
#include <ATen/Parallel.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>

#include "core/capture.h"
#include "core/dataset.h"
#include "core/lut_directory.h"
#include "core/lut_gemm.h"
#include "tests/support/shared_data.h"

namespace {

using Clock = std::chrono::steady_clock;

template <typename Body>
double best_seconds(int repetitions, Body&& body) {
  double best = 1e30;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = Clock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

// A convolution: batch x channels x size^2 input, out channels, 3x3 or other kernel.
struct ConvShape {
  const char* name;
  int64_t batch, channels, size, out_channels, kernel, padding;
  int64_t m() const { return batch * size * size; }  // stride 1, same padding
  int64_t k() const { return channels * kernel * kernel; }
};

void run_shape(const ConvShape& shape, const agnx::Multiplier& multiplier, std::size_t threads) {
  std::mt19937_64 engine(1);
  std::uniform_int_distribution<int> value(-127, 127);
  const auto m = static_cast<std::size_t>(shape.m()), k = static_cast<std::size_t>(shape.k()),
             n = static_cast<std::size_t>(shape.out_channels);
  std::vector<int8_t> a(m * k), b(k * n);
  for (int8_t& v : a) v = static_cast<int8_t>(value(engine));
  for (int8_t& v : b) v = static_cast<int8_t>(value(engine));
  std::vector<int32_t> out(m * n), naive(m * n);
  const agnx::LutGemm gemm(multiplier, b, k, n);
  const double lut = best_seconds(5, [&] { gemm.multiply(a, m, out, threads); });
  const double lut_one = best_seconds(5, [&] { gemm.multiply(a, m, out, 1); });
  // The naive loop is slow: time it on a slice of the rows and scale.
  const std::size_t naive_rows = std::min<std::size_t>(m, 2048);
  const double naive_time =
      best_seconds(1, [&] {
        agnx::lut_gemm_naive(multiplier, std::span(a).first(naive_rows * k), b, naive_rows, k, n, naive);
      }) * static_cast<double>(m) / static_cast<double>(naive_rows);
  const bool identical = std::equal(naive.begin(), naive.begin() + static_cast<std::ptrdiff_t>(naive_rows * n), out.begin());

  const at::Tensor input = torch::randn({shape.batch, shape.channels, shape.size, shape.size});
  const at::Tensor weight = torch::randn({shape.out_channels, shape.channels, shape.kernel, shape.kernel});
  torch::NoGradGuard no_grad;
  const double conv = best_seconds(5, [&] { (void)at::conv2d(input, weight, {}, 1, shape.padding); });
  const double macs = static_cast<double>(m * k * n);
  std::printf("%-22s %6zux%4zux%4zu  LUT %8.2f ms %6.2f G LUT-MAC/s (%zu thr), %6.2f G/s (1 thr) | naive %9.1f ms "
              "(x%.1f) | float conv %7.2f ms (LUT/float time %.2f) | %s\n",
              shape.name, m, k, n, lut * 1e3, macs / lut / 1e9, threads, macs / lut_one / 1e9, naive_time * 1e3,
              naive_time / lut, conv * 1e3, lut / conv, identical ? "bit-exact" : "MISMATCH");
}

long peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t threads = 2;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::max(1ul, std::strtoul(argv[i + 1], nullptr, 10));
  }
  at::set_num_threads(static_cast<int>(threads));
  std::printf("threads: LUT GEMM %zu, LibTorch intra-op %d (hardware %u)\n", threads, at::get_num_threads(),
              std::thread::hardware_concurrency());
  const agnx::Multiplier exact = agnx::Multiplier::exact("exact", {});
  const ConvShape shapes[] = {
      {"lenet conv1 (b64)", 64, 1, 28, 6, 5, 2},     {"lenet conv2 (b64)", 64, 6, 10, 16, 5, 2},
      {"conv 32768x144x32", 8, 16, 64, 32, 3, 1},    {"resnet 56x56 64->64", 1, 64, 56, 64, 3, 1},
      {"resnet 28x28 128->128", 1, 128, 28, 128, 3, 1},
  };
  for (const auto& shape : shapes) run_shape(shape, exact, threads);

  const auto shared = agnx::testing::shared_dir();
  if (!shared) {
    std::puts("capture: SKIPPED (../shared not found)");
    return 0;
  }
  const long before = peak_rss_mib();
  const auto model = agnx::Model::load_file(*shared / "models/lenet5_fmnist_stdev.pt");
  const auto calibration = agnx::load_inputs(*shared / "models/lenet5_fmnist_calib.npy");
  const auto library = agnx::load_lut_directory(*shared / "evoapprox");
  if (!model.ok() || !calibration.ok() || !library.ok()) return 1;
  agnx::CaptureOptions options;
  options.num_threads = threads;
  const auto start = Clock::now();
  const auto info = agnx::select_multipliers(*model, *calibration, *library, options);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!info.ok()) return 1;
  std::printf("capture + selection, LeNet5 on %lld calibration images, %zu multipliers: %.3f s; peak RSS %ld MiB "
              "(%ld MiB before loading)\n",
              static_cast<long long>(calibration->batch()), library->size(), seconds, peak_rss_mib(), before);
  return 0;
}
