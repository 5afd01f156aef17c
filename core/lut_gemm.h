// Matrix products through an approximate multiplier's product table.
//
//   out[m][n] = sum_k product(a[m][k], b[k][n])      (int32 accumulation)
//
// a is [M, K] int8 (activations, e.g. unfolded receptive fields), b is
// [K, N] int8 (weights), product() is the multiplier's table (sign-magnitude
// for unsigned ones). The sum wraps modulo 2^32 like an int32 accumulator;
// the result is bit-identical to the naive triple loop whatever the blocking
// or thread count.
//
// Two kernels: for few rows, a direct table lookup per product; for many
// rows, weight-stationary expanded tables: for a block of k and n, T[k][x][n]
// = product(x, b[k][n]) is built once, after which each row adds contiguous
// table rows (SIMD adds, no gathers). A LutGemm is immutable after
// construction and may be used from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/multiplier.h"

namespace agnx {

class LutGemm {
 public:
  // Prepares the weights b [k_size, n_size] for `multiplier` (copied).
  // REQUIRES: b.size() == k_size * n_size.
  LutGemm(const Multiplier& multiplier, std::span<const int8_t> b, std::size_t k_size, std::size_t n_size);

  std::size_t k_size() const { return k_size_; }
  std::size_t n_size() const { return n_size_; }

  // Computes out [m_size, n_size] from a [m_size, k_size] on `num_threads`
  // threads (>= 1). REQUIRES: the sizes match.
  void multiply(std::span<const int8_t> a, std::size_t m_size, std::span<int32_t> out,
                std::size_t num_threads = 1) const;

 private:
  void multiply_rows(const int8_t* a, std::size_t first_row, std::size_t end_row, int32_t* out) const;
  void multiply_rows_direct(const int8_t* a, std::size_t first_row, std::size_t end_row, int32_t* out) const;
  void multiply_rows_expanded(const int8_t* a, std::size_t first_row, std::size_t end_row, int32_t* out) const;

  std::vector<uint32_t> table_;  // product(x, w) at [(x+128)*256 + (w+128)], as uint32 (wrapping sums)
  std::vector<uint8_t> b_index_; // b[k][n] + 128
  std::size_t k_size_;
  std::size_t n_size_;
};

// The naive triple loop over the table, for tests and benchmarks.
void lut_gemm_naive(const Multiplier& multiplier, std::span<const int8_t> a, std::span<const int8_t> b,
                    std::size_t m_size, std::size_t k_size, std::size_t n_size, std::span<int32_t> out);

}  // namespace agnx
