#include "core/circuit.h"

#include <array>
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

// The table is simulated 64 operand pairs at a time, one bit of a 64-bit
// word per pair: word `w` holds pairs 64w .. 64w+63 (pair = a << 8 | b, each
// operand XOR `sign_flip`). Within a word `a` is the same for every pair
// (w / 4), and b's bits 0-5 are those of the pair's place in the word.
std::vector<int32_t> Circuit::product_table() const {
  // Bit t of kPlaceBits[k] is bit k of t.
  constexpr uint64_t kPlaceBits[6] = {0xAAAAAAAAAAAAAAAAull, 0xCCCCCCCCCCCCCCCCull, 0xF0F0F0F0F0F0F0F0ull,
                                      0xFF00FF00FF00FF00ull, 0xFFFF0000FFFF0000ull, 0xFFFFFFFF00000000ull};
  const std::vector<bool> live = live_nodes();
  std::vector<Wire> gates;  // the live gates, in order
  for (std::size_t i = 2 + 2 * kOperandBits; i < nodes_.size(); ++i) {
    if (live[i]) gates.push_back(static_cast<Wire>(i));
  }
  const unsigned sign_flip = signedness_ == Signedness::kSigned ? 0x80u : 0u;
  const auto every_pair = [](unsigned bit_set) { return bit_set ? ~uint64_t{0} : uint64_t{0}; };
  std::vector<int32_t> table(kTableSize);
  std::vector<uint64_t> values(nodes_.size());
  values[one()] = ~uint64_t{0};
  for (std::size_t word = 0; word < kTableSize / 64; ++word) {
    const unsigned x = static_cast<unsigned>(word >> 2) ^ sign_flip;
    const unsigned w_high = static_cast<unsigned>((word & 3) << 6) ^ sign_flip;  // b's bits 6 and 7
    for (int bit = 0; bit < kOperandBits; ++bit) {
      values[a(bit)] = every_pair((x >> bit) & 1u);
      values[b(bit)] = bit < 6 ? kPlaceBits[bit] : every_pair((w_high >> bit) & 1u);
    }
    for (const Wire i : gates) {
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
    store_products(values, std::span(table).subspan(word * 64, 64));
  }
  return table;
}

void Circuit::store_products(const std::vector<uint64_t>& values, std::span<int32_t> products) const {
  // Byte i of kSpread[v] is bit i of v.
  static constexpr auto kSpread = [] {
    std::array<uint64_t, 256> spread{};
    for (unsigned v = 0; v < 256; ++v) {
      for (unsigned i = 0; i < 8; ++i) spread[v] |= uint64_t{(v >> i) & 1u} << (8 * i);
    }
    return spread;
  }();
  // Eight pairs at a time: byte lane i of `low` and `high` gathers the
  // product bits 0-7 and 8-15 of pair 8 * group + i.
  for (unsigned group = 0; group < 8; ++group) {
    uint64_t low = 0, high = 0;
    for (unsigned bit = 0; bit < 8; ++bit) {
      low |= kSpread[(values[product_[bit]] >> (8 * group)) & 255u] << bit;
      high |= kSpread[(values[product_[bit + 8]] >> (8 * group)) & 255u] << bit;
    }
    for (unsigned i = 0; i < 8; ++i) {
      int32_t product = static_cast<int32_t>(((low >> (8 * i)) & 255u) | (((high >> (8 * i)) & 255u) << 8));
      if (signedness_ == Signedness::kSigned && product >= 32768) product -= 65536;
      products[8 * group + i] = product;
    }
  }
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
