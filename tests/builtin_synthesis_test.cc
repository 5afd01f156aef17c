// Checks the built-in designs against the tools: a fresh Yosys synthesis of
// sampled designs reproduces the committed cell counts, and an Icarus Verilog
// simulation of every netlist reproduces the product tables. ctest label
// `synthesis`; each test skips with a message when its tool is absent.
#include "tools/synthesis.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "core/builtin_designs.h"
#include "core/builtin_library.h"
#include "tests/support/temp_dir.h"

namespace agnx {
namespace {

using testing::TempDir;

bool iverilog_available() { return std::system("command -v iverilog > /dev/null && command -v vvp > /dev/null") == 0; }

#define AGNX_SKIP_WITHOUT_YOSYS()                                                          \
  if (!yosys_available()) {                                                                \
    GTEST_SKIP() << "yosys not found on PATH: install the Debian package yosys (0.23) to " \
                    "check the built-in cell counts";                                      \
  }

TEST(BuiltinSynthesis, BehaviouralExactMatchesTheDocumentedBaseline) {
  AGNX_SKIP_WITHOUT_YOSYS();
  TempDir dir;
  const auto cells = synthesize_cells(
      "module behavioural(input signed [7:0] a, input signed [7:0] b, output signed [15:0] y);\n"
      "  assign y = a * b;\nendmodule\n",
      "behavioural", dir.path());
  ASSERT_TRUE(cells.ok()) << cells.status().to_string();
  EXPECT_EQ(*cells, 404);  // Yosys 0.23 with the script of core/builtin_library.h
}

TEST(BuiltinSynthesis, SampledDesignsMatchTheCommittedCells) {
  AGNX_SKIP_WITHOUT_YOSYS();
  TempDir dir;
  const MultiplierLibrary& library = builtin_library();
  for (const BuiltinDesign& design : builtin_designs()) {
    if (design.name != "exact" && design.name != "trunc_comp_s_k5" && design.name != "drum_u_k4" &&
        design.name != "mitchell_s_f7") {
      continue;
    }
    const auto cells = synthesize_cells(design.circuit.verilog(design.name), design.name, dir.path());
    ASSERT_TRUE(cells.ok()) << cells.status().to_string();
    EXPECT_EQ(*cells, library.metric_of(*library.find(design.name)))
        << design.name << ": core/builtin_cells.inc is stale, rerun tools/synth_builtins";
  }
}

// Operand pairs: every pair of 16 corner values and 512 random pairs.
std::vector<std::pair<int, int>> sampled_pairs() {
  std::vector<std::pair<int, int>> pairs;
  const int corners[] = {0, 1, 2, 3, 7, 64, 85, 127, 128, 129, 170, 192, 200, 254, 255, 171};
  for (int x : corners)
    for (int w : corners) pairs.emplace_back(x, w);
  std::mt19937 random(2026);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 512; ++i) pairs.emplace_back(byte(random), byte(random));
  return pairs;
}

TEST(BuiltinSynthesis, NetlistSimulationMatchesTables) {
  if (!iverilog_available()) GTEST_SKIP() << "iverilog not found on PATH: install the Debian package iverilog";
  const std::vector<BuiltinDesign> designs = builtin_designs();
  const std::vector<std::pair<int, int>> pairs = sampled_pairs();  // operand bit patterns
  TempDir dir;
  std::ofstream verilog(dir.path() / "all.v");
  for (const BuiltinDesign& design : designs) verilog << design.circuit.verilog(design.name);
  verilog << "module testbench;\n  reg [7:0] a;\n  reg [7:0] b;\n";
  for (std::size_t i = 0; i < designs.size(); ++i) {
    verilog << "  wire [15:0] y" << i << ";\n  " << designs[i].name << " u" << i << "(a, b, y" << i << ");\n";
  }
  verilog << "  initial begin\n";
  for (const auto& [x, w] : pairs) {
    verilog << "    a = " << x << "; b = " << w << "; #1 $display(\"";
    for (std::size_t i = 0; i < designs.size(); ++i) verilog << "%0d ";
    verilog << "\"";
    for (std::size_t i = 0; i < designs.size(); ++i) verilog << ", y" << i;
    verilog << ");\n";
  }
  verilog << "  end\nendmodule\n";
  verilog.close();
  const std::string base = (dir.path() / "all").string();
  const std::string command = "iverilog -o " + base + ".vvp " + base + ".v > " + base + ".log 2>&1 && vvp -n " +
                              base + ".vvp > " + base + ".out 2>> " + base + ".log";
  ASSERT_EQ(std::system(command.c_str()), 0) << "simulation failed, see " << base << ".log";

  std::vector<std::vector<int32_t>> tables;
  for (const BuiltinDesign& design : designs) tables.push_back(design.circuit.product_table());
  std::ifstream out(base + ".out");
  std::string line;
  std::size_t checked = 0;
  for (const auto& [x, w] : pairs) {
    ASSERT_TRUE(std::getline(out, line)) << "simulation output ends early";
    std::istringstream values(line);
    for (std::size_t i = 0; i < designs.size(); ++i) {
      long y = -1;
      ASSERT_TRUE(values >> y) << line;
      const bool is_signed = designs[i].circuit.signedness() == Signedness::kSigned;
      // Table index of the bit patterns: value + 128 for signed operands.
      const std::size_t index = static_cast<std::size_t>(is_signed ? (x ^ 0x80) * 256 + (w ^ 0x80) : x * 256 + w);
      const long expected = tables[i][index] & 0xffff;  // the 16 output bits
      EXPECT_EQ(y, expected) << designs[i].name << " a=" << x << " b=" << w;
      ++checked;
    }
  }
  EXPECT_EQ(checked, designs.size() * pairs.size());
}

}  // namespace
}  // namespace agnx
