#include "core/circuit.h"

#include <gtest/gtest.h>

namespace agnx {
namespace {

TEST(Circuit, FoldsConstantsAndReusesGates) {
  Circuit c(Signedness::kUnsigned);
  const Circuit::Wire x = c.a(0), y = c.b(0);
  EXPECT_EQ(c.gate_and(x, c.zero()), c.zero());
  EXPECT_EQ(c.gate_and(x, c.one()), x);
  EXPECT_EQ(c.gate_or(x, c.one()), c.one());
  EXPECT_EQ(c.gate_xor(x, x), c.zero());
  EXPECT_EQ(c.gate_not(c.gate_not(x)), x);
  EXPECT_EQ(c.gate_and(x, y), c.gate_and(y, x));
  EXPECT_EQ(c.mux(x, y, y), y);
}

TEST(Circuit, TableFollowsTheGatesAndSignedness) {
  // y = a (sign-extended if signed) XOR b, bit by bit.
  for (Signedness signedness : {Signedness::kSigned, Signedness::kUnsigned}) {
    Circuit c(signedness);
    Circuit::Bits y;
    for (int i = 0; i < 16; ++i) {
      const int bit = std::min(i, 7);
      y.push_back(signedness == Signedness::kSigned || i < 8 ? c.gate_xor(c.a(bit), c.b(bit)) : c.zero());
    }
    c.set_product(y);
    EXPECT_EQ(c.gate_count(), 8u);
    const std::vector<int32_t> table = c.product_table();
    const int offset = signedness == Signedness::kSigned ? -128 : 0;
    for (int i = 0; i < 256; ++i) {
      for (int j = 0; j < 256; ++j) {
        const int x = i + offset, w = j + offset;
        const int expected = signedness == Signedness::kSigned ? static_cast<int8_t>(x ^ w) : (x ^ w);
        ASSERT_EQ(table[static_cast<std::size_t>(i * 256 + j)], expected) << x << " " << w;
      }
    }
  }
}

TEST(Circuit, VerilogHasOneAssignmentPerLiveGate) {
  Circuit c(Signedness::kUnsigned);
  c.gate_or(c.a(1), c.b(1));  // dead: does not reach the product
  c.set_product({c.gate_and(c.a(0), c.b(0)), c.one()});
  const std::string verilog = c.verilog("m");
  EXPECT_NE(verilog.find("module m(a, b, y);"), std::string::npos);
  EXPECT_NE(verilog.find("= a[0] & b[0];"), std::string::npos);
  EXPECT_NE(verilog.find("assign y[1] = 1'b1;"), std::string::npos);
  EXPECT_NE(verilog.find("assign y[15] = 1'b0;"), std::string::npos);
  EXPECT_EQ(verilog.find("|"), std::string::npos);
  EXPECT_EQ(c.gate_count(), 1u);
}

}  // namespace
}  // namespace agnx
