#include "core/builtin_designs.h"

#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <utility>

namespace agnx {
namespace {

using Wire = Circuit::Wire;
using Bits = Circuit::Bits;
// Bits to add up, grouped by weight: columns[c] holds bits of weight 2^c.
using Columns = std::vector<std::vector<Wire>>;

constexpr int kWidth = Circuit::kProductBits;

void add_number(Columns& columns, const Bits& x, int shift = 0) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t column = i + static_cast<std::size_t>(shift);
    if (column < columns.size()) columns[column].push_back(x[i]);
  }
}

// Adds `value` modulo 2^columns.size() as constant bits.
void add_constant(Circuit& c, Columns& columns, int64_t value) {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if ((static_cast<uint64_t>(value) >> i) & 1u) columns[i].push_back(c.one());
  }
}

// The sum of all bits, modulo 2^columns.size(): full adders while a column
// holds three bits or more, then a half adder, carries into the next column.
Bits sum_columns(Circuit& c, Columns columns) {
  Bits sum;
  for (std::size_t column = 0; column < columns.size(); ++column) {
    std::deque<Wire> bits(columns[column].begin(), columns[column].end());
    const auto carry_out = [&](Wire carry) {
      if (column + 1 < columns.size()) columns[column + 1].push_back(carry);
    };
    while (bits.size() >= 2) {
      const Wire x = bits[0], y = bits[1];
      bits.pop_front();
      bits.pop_front();
      const Wire half = c.gate_xor(x, y);
      if (bits.empty()) {
        bits.push_back(half);
        carry_out(c.gate_and(x, y));
        break;
      }
      const Wire z = bits.front();
      bits.pop_front();
      bits.push_back(c.gate_xor(half, z));
      carry_out(c.gate_or(c.gate_and(x, y), c.gate_and(z, half)));
    }
    sum.push_back(bits.empty() ? c.zero() : bits.front());
  }
  return sum;
}

Bits add(Circuit& c, const Bits& x, const Bits& y, int width) {
  Columns columns(static_cast<std::size_t>(width));
  add_number(columns, x);
  add_number(columns, y);
  return sum_columns(c, std::move(columns));
}

// negate ? -x : x, `width` bits; x is zero-extended.
Bits negate_if(Circuit& c, Bits x, Wire negate, int width) {
  x.resize(static_cast<std::size_t>(width), c.zero());
  Columns columns(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) columns[i].push_back(c.gate_xor(x[i], negate));
  columns[0].push_back(negate);
  return sum_columns(c, std::move(columns));
}

// One-hot leading one of x: bit t is set iff t is the highest set bit.
Bits leading_one(Circuit& c, const Bits& x) {
  Bits onehot(x.size());
  Wire higher = c.zero();
  for (std::size_t t = x.size(); t-- > 0;) {
    onehot[t] = c.gate_and(x[t], c.gate_not(higher));
    higher = c.gate_or(higher, x[t]);
  }
  return onehot;
}

Wire any_of(Circuit& c, const Bits& x) {
  Wire any = c.zero();
  for (Wire w : x) any = c.gate_or(any, w);
  return any;
}

// The binary number of the set bit of a one-hot vector.
Bits encode(Circuit& c, const Bits& onehot, int width) {
  Bits code(static_cast<std::size_t>(width), c.zero());
  for (std::size_t t = 0; t < onehot.size(); ++t) {
    for (int q = 0; q < width; ++q) {
      if ((t >> q) & 1u) code[static_cast<std::size_t>(q)] = c.gate_or(code[static_cast<std::size_t>(q)], onehot[t]);
    }
  }
  return code;
}

// x << s where select[s] is the one-hot shift amount; 0 if no bit is set.
Bits shift_left_onehot(Circuit& c, const Bits& x, const Bits& select, int width) {
  Bits result(static_cast<std::size_t>(width), c.zero());
  for (std::size_t s = 0; s < select.size(); ++s) {
    for (std::size_t i = 0; i < x.size() && i + s < result.size(); ++i) {
      result[i + s] = c.gate_or(result[i + s], c.gate_and(select[s], x[i]));
    }
  }
  return result;
}

// x << amount (binary), a logarithmic shifter.
Bits shift_left(Circuit& c, Bits x, const Bits& amount, int width) {
  x.resize(static_cast<std::size_t>(width), c.zero());
  for (std::size_t q = 0; q < amount.size(); ++q) {
    const std::size_t step = std::size_t{1} << q;
    Bits shifted(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) shifted[i] = c.mux(amount[q], i >= step ? x[i - step] : c.zero(), x[i]);
    x = std::move(shifted);
  }
  return x;
}

Bits bitwise_and_not(Circuit& c, const Bits& x, const Bits& y) {
  Bits result(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) result[i] = c.gate_and(x[i], c.gate_not(y[i]));
  return result;
}

// A partial-product bit x_i * y_j and its probability of being 1 under
// uniform operands.
struct PartialProduct {
  int i;
  int j;
  Wire bit;
  double p_one;
};

// The partial products of x * y: plain AND terms if unsigned; Baugh-Wooley
// if signed (NAND where exactly one operand bit is a sign bit, plus the
// constant returned in `constant`).
std::vector<PartialProduct> partial_products(Circuit& c, const Bits& x, const Bits& y, int64_t& constant) {
  const bool is_signed = c.signedness() == Signedness::kSigned;
  const int top = static_cast<int>(x.size()) - 1;
  constant = is_signed ? (int64_t{1} << (top + 1)) + (int64_t{1} << (2 * top + 1)) : 0;
  std::vector<PartialProduct> products;
  for (int j = 0; j <= top; ++j) {
    for (int i = 0; i <= top; ++i) {
      const Wire bit = c.gate_and(x[static_cast<std::size_t>(i)], y[static_cast<std::size_t>(j)]);
      const bool inverted = is_signed && ((i == top) != (j == top));
      products.push_back({i, j, inverted ? c.gate_not(bit) : bit, inverted ? 0.75 : 0.25});
    }
  }
  return products;
}

// The sum of the partial products of x * y that `keep` accepts, plus the
// Baugh-Wooley constant and `correction`.
Bits array_product(Circuit& c, const Bits& x, const Bits& y, const std::function<bool(int, int)>& keep,
                   int64_t correction = 0) {
  int64_t constant = 0;
  Columns columns(kWidth);
  for (const PartialProduct& p : partial_products(c, x, y, constant)) {
    if (keep(p.i, p.j)) columns[static_cast<std::size_t>(p.i + p.j)].push_back(p.bit);
  }
  add_constant(c, columns, constant + correction);
  return sum_columns(c, std::move(columns));
}

// The rounded expected value of the partial products that `keep` rejects.
int64_t expected_dropped(Circuit& c, const std::function<bool(int, int)>& keep) {
  int64_t constant = 0;
  double expected = 0.0;
  for (const PartialProduct& p : partial_products(c, c.a_bits(), c.b_bits(), constant)) {
    if (!keep(p.i, p.j)) expected += p.p_one * std::ldexp(1.0, p.i + p.j);
  }
  return std::llround(expected);
}

// A product of two 8-bit magnitudes (0..255, or 0..128 from a signed operand).
using MagnitudeProduct = std::function<Bits(Circuit&, const Bits&, const Bits&)>;

// A circuit applying `product` to the operands, in sign-magnitude form if signed.
Circuit magnitude_circuit(Signedness signedness, const MagnitudeProduct& product) {
  Circuit c(signedness);
  if (signedness == Signedness::kUnsigned) {
    c.set_product(product(c, c.a_bits(), c.b_bits()));
    return c;
  }
  const Wire sign_a = c.a(7), sign_b = c.b(7);
  const Bits magnitude_a = negate_if(c, c.a_bits(), sign_a, 8);
  const Bits magnitude_b = negate_if(c, c.b_bits(), sign_b, 8);
  c.set_product(negate_if(c, product(c, magnitude_a, magnitude_b), c.gate_xor(sign_a, sign_b), kWidth));
  return c;
}

Circuit array_circuit(Signedness signedness, const std::function<bool(int, int)>& keep, bool compensate = false) {
  Circuit c(signedness);
  const int64_t correction = compensate ? expected_dropped(c, keep) : 0;
  c.set_product(array_product(c, c.a_bits(), c.b_bits(), keep, correction));
  return c;
}

// DRUM's operand: the K bits from the leading one down, the lowest forced to
// 1 when bits below were cut; `shift` gets the one-hot amount they were cut by.
Bits drum_operand(Circuit& c, const Bits& x, int k, Bits& shift) {
  const Bits leading = leading_one(c, x);
  const auto cuts = static_cast<std::size_t>(8 - k);
  shift.assign(cuts + 1, c.zero());
  for (std::size_t s = 1; s <= cuts; ++s) shift[s] = leading[s + static_cast<std::size_t>(k) - 1];
  const Wire cut = any_of(c, Bits(shift.begin() + 1, shift.end()));
  shift[0] = c.gate_not(cut);
  Bits segment(static_cast<std::size_t>(k));
  for (std::size_t q = 0; q < segment.size(); ++q) {
    Wire bit = c.gate_and(shift[0], x[q]);
    for (std::size_t s = 1; s <= cuts; ++s) bit = c.gate_or(bit, c.gate_and(shift[s], x[s + q]));
    segment[q] = bit;
  }
  segment[0] = c.gate_or(segment[0], cut);
  return segment;
}

Bits drum_product(Circuit& c, const Bits& x, const Bits& y, int k) {
  Bits shift_x, shift_y;
  const Bits segment_x = drum_operand(c, x, k, shift_x);
  const Bits segment_y = drum_operand(c, y, k, shift_y);
  Columns columns(static_cast<std::size_t>(2 * k));
  for (std::size_t j = 0; j < segment_y.size(); ++j) {
    for (std::size_t i = 0; i < segment_x.size(); ++i) columns[i + j].push_back(c.gate_and(segment_x[i], segment_y[j]));
  }
  const Bits product = sum_columns(c, std::move(columns));
  return shift_left_onehot(c, shift_left_onehot(c, product, shift_x, kWidth), shift_y, kWidth);
}

// Mitchell's logarithm of x: characteristic (3 bits) and the fraction's top
// `fraction_bits` bits (of 7) below the leading one.
struct Logarithm {
  Bits characteristic;
  Bits fraction;
  Wire nonzero;
};

Logarithm logarithm(Circuit& c, const Bits& x, int fraction_bits) {
  const Bits leading = leading_one(c, x);
  const Bits shift(leading.rbegin(), leading.rend());  // leading one at t: shift by 7 - t
  Bits fraction = shift_left_onehot(c, x, shift, 7);
  for (int i = 0; i < 7 - fraction_bits; ++i) fraction[static_cast<std::size_t>(i)] = c.zero();
  return {encode(c, leading, 3), fraction, any_of(c, x)};
}

Bits mitchell_product(Circuit& c, const Bits& x, const Bits& y, int fraction_bits) {
  const Logarithm log_x = logarithm(c, x, fraction_bits), log_y = logarithm(c, y, fraction_bits);
  Bits mantissa = add(c, log_x.fraction, log_y.fraction, 8);
  const Wire carry = mantissa[7];
  mantissa[7] = c.one();  // 1.f, or (x1 + x2) itself when the fractions carried
  Columns exponent(4);
  add_number(exponent, log_x.characteristic);
  add_number(exponent, log_y.characteristic);
  exponent[0].push_back(carry);
  const Bits shifted = shift_left(c, mantissa, sum_columns(c, std::move(exponent)), 23);
  const Wire nonzero = c.gate_and(log_x.nonzero, log_y.nonzero);
  Bits product;
  for (std::size_t i = 7; i < shifted.size(); ++i) product.push_back(c.gate_and(shifted[i], nonzero));
  return product;
}

Bits ilm_product(Circuit& c, Bits x, Bits y, int iterations) {
  Columns columns(kWidth);
  for (int i = 0; i < iterations; ++i) {
    const Bits leading_x = leading_one(c, x), leading_y = leading_one(c, y);
    x = bitwise_and_not(c, x, leading_x);
    y = bitwise_and_not(c, y, leading_y);
    add_number(columns, shift_left_onehot(c, leading_x, leading_y, kWidth));
    add_number(columns, shift_left_onehot(c, x, leading_y, kWidth));
    add_number(columns, shift_left_onehot(c, y, leading_x, kWidth));
  }
  return sum_columns(c, std::move(columns));
}

// x rounded to the nearest power of two (ties up), one-hot over 9 bits.
Bits round_to_power_of_two(Circuit& c, const Bits& x) {
  const Bits leading = leading_one(c, x);
  Bits rounded(9, c.zero());
  for (std::size_t i = 0; i < 8; ++i) {
    const Wire below = i >= 1 ? x[i - 1] : c.zero();
    rounded[i] = c.gate_or(rounded[i], c.gate_and(leading[i], c.gate_not(below)));
    rounded[i + 1] = c.gate_and(leading[i], below);
  }
  return rounded;
}

Bits roba_product(Circuit& c, const Bits& x, const Bits& y) {
  const Bits rounded_x = round_to_power_of_two(c, x), rounded_y = round_to_power_of_two(c, y);
  Columns columns(kWidth);
  add_number(columns, shift_left_onehot(c, y, rounded_x, kWidth));
  add_number(columns, shift_left_onehot(c, x, rounded_y, kWidth));
  const Bits both = shift_left_onehot(c, rounded_x, rounded_y, kWidth);
  for (std::size_t i = 0; i < both.size(); ++i) columns[i].push_back(c.gate_not(both[i]));  // - both = ~both + 1
  columns[0].push_back(c.one());
  return sum_columns(c, std::move(columns));
}

void add_family(std::vector<BuiltinDesign>& designs, Signedness signedness) {
  const bool is_signed = signedness == Signedness::kSigned;
  const std::string s = is_signed ? "_s" : "_u";
  const auto add_design = [&](std::string name, std::string family, Circuit circuit) {
    designs.push_back({std::move(name), std::move(family), std::move(circuit)});
  };
  add_design(is_signed ? "exact" : "exact_u", "exact", array_circuit(signedness, [](int, int) { return true; }));
  for (int k : {1, 2, 3, 4, 5, 6, 7, 8, 10, 12}) {
    const auto keep = [k](int i, int j) { return i + j >= k; };
    add_design("trunc" + s + "_k" + std::to_string(k), "trunc", array_circuit(signedness, keep));
    if (k >= 2) add_design("trunc_comp" + s + "_k" + std::to_string(k), "trunc_comp", array_circuit(signedness, keep, true));
  }
  // Break levels chosen so that no BAM equals a truncated or perforated design.
  for (const auto& [h, v] : {std::pair{1, 4}, {1, 6}, {1, 7}, {2, 4}, {2, 6}, {2, 8}, {3, 4}, {3, 6}, {3, 8}}) {
    const auto keep = [h, v](int i, int j) { return i + j >= v && j >= h; };
    add_design("bam" + s + "_h" + std::to_string(h) + "_v" + std::to_string(v), "bam", array_circuit(signedness, keep));
  }
  for (const auto& [first, count] : {std::pair{0, 1}, {0, 2}, {0, 3}, {1, 2}, {2, 2}, {2, 3}}) {
    Circuit c(signedness);
    Bits b = c.b_bits();
    for (int j = first; j < first + count; ++j) b[static_cast<std::size_t>(j)] = c.zero();
    c.set_product(array_product(c, c.a_bits(), b, [](int, int) { return true; }));
    add_design("perf" + s + "_j" + std::to_string(first) + "_p" + std::to_string(count), "perf", std::move(c));
  }
  // Signed k = 2 would overflow 16 bits: |-128| becomes 192, and 192^2 > 2^15.
  for (int k = is_signed ? 3 : 2; k <= 6; ++k) {
    add_design("drum" + s + "_k" + std::to_string(k), "drum",
               magnitude_circuit(signedness, [k](Circuit& c, const Bits& x, const Bits& y) { return drum_product(c, x, y, k); }));
  }
  for (int f : {7, 5, 3, 0}) {
    add_design("mitchell" + s + "_f" + std::to_string(f), "mitchell",
               magnitude_circuit(signedness, [f](Circuit& c, const Bits& x, const Bits& y) { return mitchell_product(c, x, y, f); }));
  }
  for (int i : {1, 2}) {
    add_design("ilm" + s + "_i" + std::to_string(i), "ilm",
               magnitude_circuit(signedness, [i](Circuit& c, const Bits& x, const Bits& y) { return ilm_product(c, x, y, i); }));
  }
  add_design("roba" + s, "roba", magnitude_circuit(signedness, roba_product));
}

}  // namespace

std::vector<BuiltinDesign> builtin_designs() {
  std::vector<BuiltinDesign> designs;
  add_family(designs, Signedness::kSigned);
  add_family(designs, Signedness::kUnsigned);
  return designs;
}

}  // namespace agnx
