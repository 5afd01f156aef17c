// core/hardware_export.h: which files a matching result exports, their
// names, their content against the library's tables and circuits,
// determinism, and the errors. (Simulating and synthesizing the files is
// server_export_test's, label `synthesis`.)
#include "core/hardware_export.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/builtin_designs.h"
#include "core/builtin_library.h"

namespace agnx {
namespace {

LayerInfo layer(const std::string& name, const std::string& multiplier, double metric, int64_t opcount) {
  LayerInfo l;
  l.name = name;
  l.multiplier_name = multiplier;
  l.multiplier_performance_metric = metric;
  l.opcount = opcount;
  l.sigma = 0.1;
  l.out_std = 10.0;
  l.max_std = 1.0;
  l.mul_std = 0.5;
  return l;
}

// Three layers over `exact` and the unsigned drum_u_k4 (used twice).
MatchingInfo builtin_result() {
  const MultiplierLibrary& library = builtin_library();
  MatchingInfo info;
  info.library = library.name();
  info.metric = library.metric();
  info.metric_max = library.max_metric();
  const double drum = library.metric_of(*library.find("drum_u_k4"));
  info.layers = {layer("conv1.0", "drum_u_k4", drum, 100), layer("linear1", "exact", 322, 300),
                 layer("linear3", "drum_u_k4", drum, 50)};
  info.layers[1].observed_std = 0.0;
  return info;
}

const ExportedFile* find(const std::vector<ExportedFile>& files, const std::string& name) {
  for (const auto& f : files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// The 65,536 entries of a testbench's hex file.
std::vector<unsigned> hex_entries(const std::string& hex) {
  std::istringstream in(hex);
  std::string line;
  std::vector<unsigned> entries;
  while (std::getline(in, line)) {
    if (!line.starts_with("//")) entries.push_back(static_cast<unsigned>(std::stoul(line, nullptr, 16)));
  }
  return entries;
}

TEST(HardwareExport, BuiltinDesignsExportTheirNetlistsAndTables) {
  const ExportedRun run{"0123abcd", "lambda-0.5", 0.5};
  const auto files = export_hardware(builtin_result(), builtin_library(), run);
  ASSERT_TRUE(files.ok()) << files.status().to_string();
  std::vector<std::string> names;
  for (const auto& f : *files) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"README.md", "manifest.json", "rtl/agnx_drum_u_k4.v",
                                             "rtl/agnx_exact.v", "run.sh", "tb/agnx_drum_u_k4.hex",
                                             "tb/agnx_drum_u_k4_tb.v", "tb/agnx_exact.hex", "tb/agnx_exact_tb.v"}));
  EXPECT_TRUE(find(*files, "run.sh")->executable);
  EXPECT_FALSE(find(*files, "README.md")->executable);

  // The netlists are the built-in circuits' own Verilog; the unsigned one is wrapped.
  for (const BuiltinDesign& design : builtin_designs()) {
    if (design.name == "exact") {
      EXPECT_NE(find(*files, "rtl/agnx_exact.v")->content.find(design.circuit.verilog("agnx_exact")),
                std::string::npos);
    }
    if (design.name == "drum_u_k4") {
      const std::string& rtl = find(*files, "rtl/agnx_drum_u_k4.v")->content;
      EXPECT_NE(rtl.find(design.circuit.verilog("agnx_drum_u_k4__magnitude")), std::string::npos);
      EXPECT_NE(rtl.find("module agnx_drum_u_k4(a, b, y);"), std::string::npos);
      EXPECT_NE(rtl.find("Gate-level netlist"), std::string::npos);
    }
  }
  // The hex files hold product(x, w) at {a, b}, two's complement.
  for (const char* name : {"exact", "drum_u_k4"}) {
    const Multiplier& m = *builtin_library().find(name);
    const auto entries = hex_entries(find(*files, std::string("tb/agnx_") + name + ".hex")->content);
    ASSERT_EQ(entries.size(), 65536u);
    for (int i = 0; i < 65536; ++i) {
      const int x = static_cast<int8_t>(i >> 8), w = static_cast<int8_t>(i & 0xff);
      ASSERT_EQ(entries[static_cast<std::size_t>(i)], static_cast<unsigned>(m.product(x, w)) & 0xffffu)
          << name << " " << x << " " << w;
    }
  }
  const std::string& script = find(*files, "run.sh")->content;
  EXPECT_NE(script.find("synthesize agnx_drum_u_k4 agnx_drum_u_k4__magnitude"), std::string::npos);
  EXPECT_NE(script.find(std::string("abc -g ") + kAbcGates), std::string::npos);
}

TEST(HardwareExport, ManifestAndReadmeDescribeTheRun) {
  const MatchingInfo info = builtin_result();
  const auto files = export_hardware(info, builtin_library(), {"0123abcd", "lambda | 0.5", 0.5});
  ASSERT_TRUE(files.ok()) << files.status().to_string();
  const auto manifest = nlohmann::json::parse(find(*files, "manifest.json")->content);
  EXPECT_EQ(manifest["run_id"], "0123abcd");
  EXPECT_EQ(manifest["metric"], "cells");
  EXPECT_DOUBLE_EQ(manifest["relative_energy"].get<double>(), info.relative_energy_consumption());
  ASSERT_EQ(manifest["layers"].size(), 3u);
  EXPECT_EQ(manifest["layers"][0]["module"], "agnx_drum_u_k4");
  EXPECT_EQ(manifest["layers"][0]["opcount"], 100);
  EXPECT_TRUE(manifest["layers"][0]["observed_std"].is_null());
  EXPECT_EQ(manifest["layers"][1]["observed_std"], 0.0);
  EXPECT_DOUBLE_EQ(manifest["layers"][2]["relative_energy"].get<double>(), info.relative_energy_consumption(2));
  ASSERT_EQ(manifest["modules"].size(), 2u);  // in order of first use
  EXPECT_EQ(manifest["modules"][0]["core"], "agnx_drum_u_k4__magnitude");
  EXPECT_EQ(manifest["modules"][0]["form"], "netlist");
  EXPECT_EQ(manifest["modules"][0]["layers"], (nlohmann::json{"conv1.0", "linear3"}));
  EXPECT_EQ(manifest["modules"][1]["metric"], builtin_library().metric_of(*builtin_library().find("exact")));
  const std::string& readme = find(*files, "README.md")->content;
  EXPECT_NE(readme.find("lambda \\| 0.5"), std::string::npos);  // user text cannot break the tables
  EXPECT_NE(readme.find("## Energy by layer"), std::string::npos);
  EXPECT_NE(readme.find("| linear1 | `agnx_exact` | 300 |"), std::string::npos);
}

TEST(HardwareExport, TableOnlyMultipliersGetSafelyNamedBehaviouralModels) {
  std::vector<int32_t> table(kTableSize);
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) table[static_cast<std::size_t>(a * 256 + b)] = (a * b) & ~3;
  auto evil = Multiplier::create("../x/../mul8u\n1!", Signedness::kUnsigned, table, {{"PWR", 1.0}});
  const Multiplier exact = Multiplier::exact("e", {});
  auto clash = Multiplier::create("x mul8u-1", Signedness::kSigned,
                                  std::vector<int32_t>(exact.table().begin(), exact.table().end()), {{"PWR", 2.0}});
  ASSERT_TRUE(evil.ok() && clash.ok());
  auto library = MultiplierLibrary::create("evo", "PWR", {std::make_shared<const Multiplier>(*evil),
                                                          std::make_shared<const Multiplier>(*clash)});
  ASSERT_TRUE(library.ok());
  MatchingInfo info;
  info.library = "evo";
  info.metric = "PWR";
  info.metric_max = 2.0;
  info.layers = {layer("a", evil->name(), 1.0, 10), layer("b", "x mul8u-1", 2.0, 10)};
  const auto files = export_hardware(info, *library, {"r", "r", 1.0});
  ASSERT_TRUE(files.ok()) << files.status().to_string();
  const ExportedFile* model = find(*files, "rtl/agnx_x_mul8u_1.v");
  ASSERT_NE(model, nullptr);
  EXPECT_NE(model->content.find("BEHAVIOURAL MODEL"), std::string::npos);
  EXPECT_NE(model->content.find("module agnx_x_mul8u_1__magnitude(a, b, y);"), std::string::npos);
  EXPECT_NE(model->content.find("'../x/../mul8u?1!'"), std::string::npos);  // one comment line
  EXPECT_NE(find(*files, "rtl/agnx_x_mul8u_1_2.v"), nullptr);  // the second of the same stem
  for (const auto& f : *files) EXPECT_EQ(f.name.find(".."), std::string::npos) << f.name;
}

TEST(HardwareExport, SameInputsGiveTheSameBytes) {
  const auto first = export_hardware(builtin_result(), builtin_library(), {"0123abcd", "x", 0.5});
  const auto second = export_hardware(builtin_result(), builtin_library(), {"0123abcd", "x", 0.5});
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_EQ(first->size(), second->size());
  for (std::size_t i = 0; i < first->size(); ++i) {
    EXPECT_EQ((*first)[i].name, (*second)[i].name);
    EXPECT_EQ((*first)[i].content, (*second)[i].content) << (*first)[i].name;
  }
}

TEST(HardwareExport, Errors) {
  MatchingInfo empty;
  EXPECT_EQ(export_hardware(empty, builtin_library(), {}).status().code(), StatusCode::kInvalidArgument);

  MatchingInfo unknown = builtin_result();
  unknown.layers[1].multiplier_name = "mul8s_1KR3";
  const auto missing = export_hardware(unknown, builtin_library(), {});
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("layer 'linear1': multiplier 'mul8s_1KR3'"), std::string::npos)
      << missing.status().message();

  std::vector<int32_t> table(kTableSize, 40000);
  auto wide = Multiplier::create("wide", Signedness::kUnsigned, table, {{"PWR", 1.0}});
  auto library = MultiplierLibrary::create("w", "PWR", {std::make_shared<const Multiplier>(*wide)});
  MatchingInfo info;
  info.metric_max = 1.0;
  info.layers = {layer("a", "wide", 1.0, 1)};
  const auto overflow = export_hardware(info, *library, {});
  EXPECT_EQ(overflow.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(overflow.status().message().find("'wide'"), std::string::npos);
}

}  // namespace
}  // namespace agnx
