#include "core/lut_gemm.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <thread>

#include "core/operands.h"

namespace agnx {
namespace {

constexpr std::size_t kMaxBlockN = 64;          // output columns per expanded table row (256 bytes)
constexpr std::size_t kTableBudget = 16 * 64;     // k * block_n per table: 16 * 256 * 64 * 4 bytes = 1 MiB
constexpr std::size_t kExpandedMinRows = 512;     // below this, building T costs more than it saves

// The expanded tables' width: the smallest of 8, 16, 32, 64 that covers n
// (narrow layers waste no lanes), and the k depth that fills the budget.
struct Blocking {
  std::size_t n;
  std::size_t k;
};
Blocking blocking_for(std::size_t n_size) {
  std::size_t width = 8;
  while (width < std::min(n_size, kMaxBlockN)) width *= 2;
  return {width, kTableBudget / width};
}

// acc[0..width) += each of the `count` rows of T selected by x[k]. Compiled
// for AVX2 and for the baseline; the loader picks one at start-up.
__attribute__((target_clones("avx2", "default"))) void add_table_rows(uint32_t* acc, const uint32_t* table,
                                                                         const int8_t* x, std::size_t count,
                                                                         std::size_t width) {
  for (std::size_t k = 0; k < count; ++k) {
    const uint32_t* row = table + (k * kOperandValues + operand_index(x[k])) * width;
    for (std::size_t n = 0; n < width; ++n) acc[n] += row[n];
  }
}

__attribute__((target_clones("avx2", "default"))) void add_products(uint32_t* acc, const uint32_t* table_row,
                                                                       const uint8_t* w_index, std::size_t count) {
  for (std::size_t n = 0; n < count; ++n) acc[n] += table_row[w_index[n]];
}

}  // namespace

LutGemm::LutGemm(const Multiplier& multiplier, std::span<const int8_t> b, std::size_t k_size, std::size_t n_size)
    : table_(kTableSize), b_index_(b.size()), k_size_(k_size), n_size_(n_size) {
  assert(b.size() == k_size * n_size);
  for (int x = kOperandMin; x <= kOperandMax; ++x) {
    for (int w = kOperandMin; w <= kOperandMax; ++w) {
      table_[operand_index(x) * kOperandValues + operand_index(w)] = static_cast<uint32_t>(multiplier.product(x, w));
    }
  }
  for (std::size_t i = 0; i < b.size(); ++i) b_index_[i] = static_cast<uint8_t>(operand_index(b[i]));
}

void LutGemm::multiply(std::span<const int8_t> a, std::size_t m_size, std::span<int32_t> out,
                       std::size_t num_threads) const {
  assert(a.size() == m_size * k_size_ && out.size() == m_size * n_size_);
  const std::size_t workers = std::clamp<std::size_t>(num_threads, 1, std::max<std::size_t>(1, m_size / kExpandedMinRows));
  if (workers == 1) return multiply_rows(a.data(), 0, m_size, out.data());
  std::vector<std::jthread> threads;
  const std::size_t chunk = (m_size + workers - 1) / workers;
  for (std::size_t first = 0; first < m_size; first += chunk) {
    threads.emplace_back([=, this] { multiply_rows(a.data(), first, std::min(m_size, first + chunk), out.data()); });
  }
}

void LutGemm::multiply_rows(const int8_t* a, std::size_t first_row, std::size_t end_row, int32_t* out) const {
  if (end_row - first_row >= kExpandedMinRows) {
    multiply_rows_expanded(a, first_row, end_row, out);
  } else {
    multiply_rows_direct(a, first_row, end_row, out);
  }
}

void LutGemm::multiply_rows_direct(const int8_t* a, std::size_t first_row, std::size_t end_row, int32_t* out) const {
  std::vector<uint32_t> acc(n_size_);
  for (std::size_t m = first_row; m < end_row; ++m) {
    std::fill(acc.begin(), acc.end(), 0u);
    for (std::size_t k = 0; k < k_size_; ++k) {
      const uint32_t* table_row = table_.data() + operand_index(a[m * k_size_ + k]) * kOperandValues;
      add_products(acc.data(), table_row, b_index_.data() + k * n_size_, n_size_);
    }
    std::memcpy(out + m * n_size_, acc.data(), n_size_ * sizeof(int32_t));
  }
}

void LutGemm::multiply_rows_expanded(const int8_t* a, std::size_t first_row, std::size_t end_row,
                                     int32_t* out) const {
  const Blocking block = blocking_for(n_size_);
  std::vector<uint32_t> expanded(block.k * kOperandValues * block.n, 0u);
  for (std::size_t n0 = 0; n0 < n_size_; n0 += block.n) {
    const std::size_t n_count = std::min(block.n, n_size_ - n0);
    for (std::size_t k0 = 0; k0 < k_size_; k0 += block.k) {
      const std::size_t k_count = std::min(block.k, k_size_ - k0);
      // T[k][x][n] = product(x, b[k0 + k][n0 + n]); columns past n_count are summed but never stored.
      for (std::size_t k = 0; k < k_count; ++k) {
        const uint8_t* w_index = b_index_.data() + (k0 + k) * n_size_ + n0;
        for (std::size_t x = 0; x < kOperandValues; ++x) {
          const uint32_t* table_row = table_.data() + x * kOperandValues;
          uint32_t* t = expanded.data() + (k * kOperandValues + x) * block.n;
          for (std::size_t n = 0; n < n_count; ++n) t[n] = table_row[w_index[n]];
        }
      }
      uint32_t acc[kMaxBlockN];
      for (std::size_t m = first_row; m < end_row; ++m) {
        int32_t* out_row = out + m * n_size_ + n0;
        if (k0 == 0) {
          std::fill(acc, acc + block.n, 0u);
        } else {
          std::memcpy(acc, out_row, n_count * sizeof(uint32_t));
        }
        add_table_rows(acc, expanded.data(), a + m * k_size_ + k0, k_count, block.n);
        std::memcpy(out_row, acc, n_count * sizeof(uint32_t));
      }
    }
  }
}

void lut_gemm_naive(const Multiplier& multiplier, std::span<const int8_t> a, std::span<const int8_t> b,
                    std::size_t m_size, std::size_t k_size, std::size_t n_size, std::span<int32_t> out) {
  for (std::size_t m = 0; m < m_size; ++m) {
    for (std::size_t n = 0; n < n_size; ++n) {
      uint32_t sum = 0;
      for (std::size_t k = 0; k < k_size; ++k) {
        sum += static_cast<uint32_t>(multiplier.product(a[m * k_size + k], b[k * n_size + n]));
      }
      out[m * n_size + n] = static_cast<int32_t>(sum);
    }
  }
}

}  // namespace agnx
