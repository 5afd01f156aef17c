// Benchmark: the LUT GEMM kernel on LeNet5 and ResNet-like convolution shapes,
// like against like, all measured in this run:
// (a) LUT GEMM against the naive per-element triple loop over the product
//     table, over every row, and against a float GEMM (at::matmul) of the
//     same unfolded operands;
// (b) the whole approximate convolution (unfolding plus LUT GEMM, what
//     deployment runs) against LibTorch's float convolution of the same shape.
// Every output of (a) and (b) must equal the naive loop's, else the benchmark
// exits 1. Then the time and peak memory of capturing the LeNet5 fixture.
//
// Usage: lut_gemm_bench [--threads N]
#include <ATen/Parallel.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "bench/timing.h"
#include "core/builtin_library.h"
#include "core/capture.h"
#include "core/dataset.h"
#include "core/layer_math.h"
#include "core/lut_directory.h"
#include "tests/support/command_line.h"
#include "tests/support/shared_data.h"

namespace {

using agnx::bench::best_seconds;

// A convolution: batch x channels x size^2 input, out channels, kernel^2,
// stride 1, same padding.
struct ConvShape {
  const char* name;
  int64_t batch, channels, size, out_channels, kernel, padding;
  int64_t m() const { return batch * size * size; }
  int64_t k() const { return channels * kernel * kernel; }
};

// Integers in -127..127 as float32, the way deployment holds quantized values.
at::Tensor random_integers(at::IntArrayRef shape) {
  return torch::randint(-127, 128, shape, torch::TensorOptions().dtype(torch::kFloat32));
}

// Times the LUT GEMM and the approximate convolution of `shape` against the
// naive loop and float32 LibTorch; returns whether every output matched.
bool run_shape(const ConvShape& shape, const agnx::Multiplier& multiplier, std::size_t threads) {
  const at::Tensor input = random_integers({shape.batch, shape.channels, shape.size, shape.size});
  const at::Tensor weight = random_integers({shape.out_channels, shape.channels, shape.kernel, shape.kernel});
  const c10::optional<at::Tensor> no_bias;
  const agnx::ConvGeometry geometry{{1, 1}, {shape.padding, shape.padding}, {1, 1}, 1};
  const agnx::LayerCall call{0, input, weight, no_bias, geometry};
  const auto m = static_cast<std::size_t>(shape.m()), k = static_cast<std::size_t>(shape.k()),
             n = static_cast<std::size_t>(shape.out_channels);
  // The unfolded operands: a [m, k] (one row per output position), b [k, n].
  const std::vector<int8_t> a =
      agnx::ReceptiveFields(input, geometry, shape.kernel, shape.kernel, shape.size, shape.size).group_matrix(0);
  const at::Tensor b_float = weight.reshape({shape.out_channels, -1}).t().contiguous();
  const at::Tensor b_int8 = b_float.to(torch::kInt8);
  const std::span<const int8_t> b(b_int8.data_ptr<int8_t>(), k * n);
  const at::Tensor a_float = torch::from_blob(const_cast<int8_t*>(a.data()), {shape.m(), shape.k()}, torch::kInt8)
                                 .to(torch::kFloat32);

  std::vector<int32_t> out(m * n), naive(m * n);
  const agnx::LutGemm gemm(multiplier, b, k, n);
  const double lut = best_seconds(5, [&] { gemm.multiply(a, m, out, threads); });
  const double lut_one = best_seconds(5, [&] { gemm.multiply(a, m, out, 1); });
  const double naive_time = best_seconds(1, [&] { agnx::lut_gemm_naive(multiplier, a, b, m, k, n, naive); });
  const double float_gemm = best_seconds(5, [&] { (void)at::matmul(a_float, b_float); });

  const agnx::LayerLut layer(multiplier, weight, true, 1);
  at::Tensor conv_out;
  const double lut_conv = best_seconds(5, [&] { conv_out = layer.outputs(call, input, threads); });
  torch::NoGradGuard no_grad;
  const double float_conv = best_seconds(5, [&] { (void)at::conv2d(input, weight, {}, 1, shape.padding); });

  const at::Tensor naive_conv = torch::from_blob(naive.data(), {shape.batch, shape.size, shape.size, shape.out_channels},
                                                 torch::kInt32).permute({0, 3, 1, 2});
  const bool gemm_exact = out == naive, conv_exact = at::equal(conv_out, naive_conv);
  const double macs = static_cast<double>(m * k * n);
  std::printf("%-22s %6zux%4zux%4zu  GEMM: LUT %8.2f ms %5.2f G LUT-MAC/s (%zu thr), %5.2f G/s (1 thr) | naive %9.1f ms "
              "(x%.1f) | float GEMM %7.2f ms (LUT/float %.2f) %s | conv: LUT %8.2f ms, float %7.2f ms (LUT/float %.2f) %s\n",
              shape.name, m, k, n, lut * 1e3, macs / lut / 1e9, threads, macs / lut_one / 1e9, naive_time * 1e3,
              naive_time / lut, float_gemm * 1e3, lut / float_gemm, gemm_exact ? "bit-exact" : "MISMATCH",
              lut_conv * 1e3, float_conv * 1e3, lut_conv / float_conv, conv_exact ? "bit-exact" : "MISMATCH");
  return gemm_exact && conv_exact;
}

long peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t threads = 2;
  CLI::App app{"lut_gemm_bench: the LUT GEMM kernel and the approximate convolution on LeNet5 and ResNet-like "
               "shapes, against a naive loop and LibTorch's float GEMM and convolution"};
  app.add_option("--threads", threads, "LUT GEMM and LibTorch intra-op threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  if (const auto exit_status = agnx::testing::parse_command_line(app, argc, argv)) return *exit_status;
  at::set_num_threads(static_cast<int>(threads));
  std::printf("threads: LUT GEMM %zu, LibTorch intra-op %d (hardware %u)\n", threads, at::get_num_threads(),
              std::thread::hardware_concurrency());
  // An approximate table, so that a wrong index cannot hide behind x*w.
  const agnx::Multiplier& multiplier = *agnx::builtin_library().find("drum_s_k6");
  std::printf("multiplier: %s\n", multiplier.name().c_str());
  const ConvShape shapes[] = {
      {"lenet conv1 (b64)", 64, 1, 28, 6, 5, 2},     {"lenet conv2 (b64)", 64, 6, 10, 16, 5, 2},
      {"conv 32768x144x32", 8, 16, 64, 32, 3, 1},    {"resnet 56x56 64->64", 1, 64, 56, 64, 3, 1},
      {"resnet 28x28 128->128", 1, 128, 28, 128, 3, 1},
  };
  bool all_exact = true;
  for (const auto& shape : shapes) all_exact = run_shape(shape, multiplier, threads) && all_exact;
  if (!all_exact) {
    std::puts("FAILED: a LUT output differs from the naive loop's");
    return 1;
  }

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
  agnx::Result<agnx::MatchingInfo> info = agnx::Status::internal("not run");
  const double seconds = best_seconds(1, [&] { info = agnx::select_multipliers(*model, *calibration, *library, options); });
  if (!info.ok()) return 1;
  std::printf("capture + selection, LeNet5 on %lld calibration images, %zu multipliers: %.3f s; peak RSS %ld MiB "
              "(%ld MiB before loading)\n",
              static_cast<long long>(calibration->batch()), library->size(), seconds, peak_rss_mib(), before);
  return 0;
}
