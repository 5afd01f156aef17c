#include "core/circuit.h"

#include <utility>

namespace agnx {
namespace {

// The Verilog wire of gate `i`: "n<i>" (built by appending: GCC 12 warns
// falsely on `"n" + std::to_string(i)`).
std::string gate_name(std::size_t i) {
  std::string name("n");
  name += std::to_string(i);
  return name;
}

}  // namespace

Circuit::Circuit(Signedness signedness) : signedness_(signedness) {
  nodes_.push_back({Op::kConstant, 0, 0});
  nodes_.push_back({Op::kConstant, 1, 0});
  for (Wire i = 0; i < 2 * kOperandBits; ++i) nodes_.push_back({Op::kInput, i, 0});
}

Circuit::Bits Circuit::a_bits() const {
  Bits bits;
  for (int i = 0; i < kOperandBits; ++i) bits.push_back(a(i));
  return bits;
}

Circuit::Bits Circuit::b_bits() const {
  Bits bits;
  for (int i = 0; i < kOperandBits; ++i) bits.push_back(b(i));
  return bits;
}

Circuit::Wire Circuit::add_gate(Op op, Wire x, Wire y) {
  if (op != Op::kNot && x > y) std::swap(x, y);  // commutative: one key per pair
  const auto key = std::make_tuple(op, x, y);
  if (const auto it = existing_.find(key); it != existing_.end()) return it->second;
  const auto wire = static_cast<Wire>(nodes_.size());
  nodes_.push_back({op, x, y});
  existing_.emplace(key, wire);
  return wire;
}

Circuit::Wire Circuit::gate_not(Wire x) {
  if (is_constant(x)) return x == zero() ? one() : zero();
  if (nodes_[x].op == Op::kNot) return nodes_[x].x;
  return add_gate(Op::kNot, x, 0);
}

Circuit::Wire Circuit::gate_and(Wire x, Wire y) {
  if (x == zero() || y == zero()) return zero();
  if (x == one()) return y;
  if (y == one() || x == y) return x;
  return add_gate(Op::kAnd, x, y);
}

Circuit::Wire Circuit::gate_or(Wire x, Wire y) {
  if (x == one() || y == one()) return one();
  if (x == zero()) return y;
  if (y == zero() || x == y) return x;
  return add_gate(Op::kOr, x, y);
}

Circuit::Wire Circuit::gate_xor(Wire x, Wire y) {
  if (x == y) return zero();
  if (x == zero()) return y;
  if (y == zero()) return x;
  if (x == one()) return gate_not(y);
  if (y == one()) return gate_not(x);
  return add_gate(Op::kXor, x, y);
}

Circuit::Wire Circuit::mux(Wire select, Wire if_one, Wire if_zero) {
  if (if_one == if_zero) return if_one;
  return gate_or(gate_and(select, if_one), gate_and(gate_not(select), if_zero));
}

void Circuit::set_product(Bits product) {
  product.resize(kProductBits, zero());
  product_ = std::move(product);
}

std::vector<bool> Circuit::live_nodes() const {
  std::vector<bool> live(nodes_.size(), false);
  for (Wire w : product_) live[w] = true;
  for (std::size_t i = nodes_.size(); i-- > 0;) {
    if (!live[i]) continue;
    const Node& node = nodes_[i];
    if (node.op == Op::kConstant || node.op == Op::kInput) continue;
    live[node.x] = true;
    if (node.op != Op::kNot) live[node.y] = true;
  }
  return live;
}

std::size_t Circuit::gate_count() const {
  const std::vector<bool> live = live_nodes();
  std::size_t count = 0;
  for (std::size_t i = 2 + 2 * kOperandBits; i < nodes_.size(); ++i) count += live[i];
  return count;
}

std::vector<int32_t> Circuit::product_table() const {
  const std::vector<bool> live = live_nodes();
  const unsigned sign_flip = signedness_ == Signedness::kSigned ? 0x80u : 0u;
  std::vector<int32_t> table(kTableSize);
  std::vector<uint64_t> values(nodes_.size());
  values[one()] = ~uint64_t{0};
  // Word `w` holds the 64 pairs w*64 .. w*64+63 of the table.
  for (std::size_t word = 0; word < kTableSize / 64; ++word) {
    for (int bit = 0; bit < 2 * kOperandBits; ++bit) values[a(0) + static_cast<Wire>(bit)] = 0;
    for (unsigned t = 0; t < 64; ++t) {
      const std::size_t pair = word * 64 + t;
      const unsigned x = (static_cast<unsigned>(pair >> 8)) ^ sign_flip;
      const unsigned w = (static_cast<unsigned>(pair & 255)) ^ sign_flip;
      for (int bit = 0; bit < kOperandBits; ++bit) {
        values[a(bit)] |= uint64_t{(x >> bit) & 1u} << t;
        values[b(bit)] |= uint64_t{(w >> bit) & 1u} << t;
      }
    }
    for (std::size_t i = 2 + 2 * kOperandBits; i < nodes_.size(); ++i) {
      if (!live[i]) continue;
      const Node& node = nodes_[i];
      switch (node.op) {
        case Op::kNot: values[i] = ~values[node.x]; break;
        case Op::kAnd: values[i] = values[node.x] & values[node.y]; break;
        case Op::kOr: values[i] = values[node.x] | values[node.y]; break;
        case Op::kXor: values[i] = values[node.x] ^ values[node.y]; break;
        case Op::kConstant:
        case Op::kInput: break;
      }
    }
    for (unsigned t = 0; t < 64; ++t) {
      int32_t product = 0;
      for (int bit = 0; bit < kProductBits; ++bit) {
        product |= static_cast<int32_t>((values[product_[static_cast<std::size_t>(bit)]] >> t) & 1u) << bit;
      }
      if (signedness_ == Signedness::kSigned && product >= 32768) product -= 65536;
      table[word * 64 + t] = product;
    }
  }
  return table;
}

std::string Circuit::operand(Wire w) const {
  const Node& node = nodes_[w];
  if (node.op == Op::kConstant) return node.x == 0 ? "1'b0" : "1'b1";
  if (node.op == Op::kInput) {
    std::string bit(node.x < kOperandBits ? "a[" : "b[");
    bit += std::to_string(node.x % kOperandBits);
    return bit + "]";
  }
  return gate_name(w);
}

std::string Circuit::verilog(std::string_view module_name) const {
  const std::vector<bool> live = live_nodes();
  std::string out = "module " + std::string(module_name) + "(a, b, y);\n";
  out += "  input [7:0] a;\n  input [7:0] b;\n  output [15:0] y;\n";
  for (std::size_t i = 2 + 2 * kOperandBits; i < nodes_.size(); ++i) {
    if (live[i]) out += "  wire " + gate_name(i) + ";\n";
  }
  for (std::size_t i = 2 + 2 * kOperandBits; i < nodes_.size(); ++i) {
    if (!live[i]) continue;
    const Node& node = nodes_[i];
    const std::string x = operand(node.x);
    std::string expression;
    switch (node.op) {
      case Op::kNot: expression = "~" + x; break;
      case Op::kAnd: expression = x + " & " + operand(node.y); break;
      case Op::kOr: expression = x + " | " + operand(node.y); break;
      case Op::kXor: expression = x + " ^ " + operand(node.y); break;
      case Op::kConstant:
      case Op::kInput: break;
    }
    out += "  assign " + gate_name(i) + " = " + expression + ";\n";
  }
  for (int bit = 0; bit < kProductBits; ++bit) {
    out += "  assign y[" + std::to_string(bit) + "] = " + operand(product_[static_cast<std::size_t>(bit)]) + ";\n";
  }
  return out + "endmodule\n";
}

}  // namespace agnx
