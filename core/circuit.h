// A combinational gate-level circuit of an 8x8 multiplier.
//
// A Circuit is built gate by gate from the operand bits a[0..7] and b[0..7]
// (two's complement for a signed circuit, plain binary for an unsigned one)
// and ends in a 16-bit product y[0..15]. The same gates give both the
// multiplier's product table (product_table(), bit-parallel evaluation) and
// its structural Verilog netlist (verilog()), so the two cannot disagree.
//
// The builder folds constants and reuses an identical gate instead of adding
// it again; gates that do not reach the product are left out of both views.
// A Circuit is a plain value: not safe to build from several threads at once,
// safe to read concurrently once built.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/multiplier.h"

namespace agnx {

class Circuit {
 public:
  // A signal: the output of a gate, an operand bit or a constant.
  using Wire = uint32_t;
  // Bits of a number, least significant first.
  using Bits = std::vector<Wire>;

  static constexpr int kOperandBits = 8;
  static constexpr int kProductBits = 16;

  explicit Circuit(Signedness signedness);

  Signedness signedness() const { return signedness_; }
  Wire zero() const { return 0; }
  Wire one() const { return 1; }
  // REQUIRES: 0 <= bit < kOperandBits.
  Wire a(int bit) const { return static_cast<Wire>(2 + bit); }
  Wire b(int bit) const { return static_cast<Wire>(2 + kOperandBits + bit); }
  Bits a_bits() const;
  Bits b_bits() const;

  Wire gate_not(Wire x);
  Wire gate_and(Wire x, Wire y);
  Wire gate_or(Wire x, Wire y);
  Wire gate_xor(Wire x, Wire y);
  // select ? if_one : if_zero.
  Wire mux(Wire select, Wire if_one, Wire if_zero);

  // Sets the product. Bits beyond `product` are 0; bits past kProductBits
  // are dropped (the product is taken modulo 2^16).
  void set_product(Bits product);

  // The number of gates that reach the product.
  std::size_t gate_count() const;

  // The product for every operand pair, in Multiplier's table layout: the
  // 16-bit result read as two's complement if signed, else as unsigned.
  // REQUIRES: set_product() was called.
  std::vector<int32_t> product_table() const;

  // A structural Verilog module `module_name(a, b, y)` with `input [7:0] a,
  // b` and `output [15:0] y`, one continuous assignment per gate.
  std::string verilog(std::string_view module_name) const;

 private:
  enum class Op : uint8_t { kConstant, kInput, kNot, kAnd, kOr, kXor };
  struct Node {
    Op op;
    Wire x;
    Wire y;
  };

  Wire add_gate(Op op, Wire x, Wire y);
  bool is_constant(Wire w) const { return w < 2; }
  // For each node: does it reach the product?
  std::vector<bool> live_nodes() const;
  // Writes the 64 products of one simulated word (`values`: each node's
  // value for 64 pairs) to `products`.
  void store_products(const std::vector<uint64_t>& values, std::span<int32_t> products) const;
  std::string operand(Wire w) const;

  Signedness signedness_;
  std::vector<Node> nodes_;
  std::map<std::tuple<Op, Wire, Wire>, Wire> existing_;
  Bits product_;
};

}  // namespace agnx
