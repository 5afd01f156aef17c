#include "core/hardware_export.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "core/builtin_designs.h"
#include "core/builtin_library.h"

namespace agnx {
namespace {

using nlohmann::ordered_json;

constexpr std::size_t kMaxStemLength = 48;

// One exported module: a distinct multiplier of the result.
struct ExportedModule {
  std::string name;                   // the Verilog module (and file stem)
  const Multiplier* multiplier;       // in the library
  const Circuit* circuit = nullptr;   // its built-in netlist, or null (behavioural)
  std::vector<std::string> layers;    // that use it, in execution order
  bool is_signed() const { return multiplier->is_signed(); }
  // The module that holds the netlist or the table model.
  std::string core() const { return is_signed() ? name : name + "__magnitude"; }
};

// `text` on one line: control characters become '?', so user text cannot
// leave a comment or a table row.
std::string one_line(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

// A Markdown table cell of user text.
std::string cell(const std::string& text) {
  std::string out;
  for (char c : one_line(text)) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

// The multiplier's name as a module stem: ASCII letters and digits, runs of
// anything else as one '_', never a leading, trailing or doubled '_'.
std::string module_stem(const std::string& name) {
  std::string stem;
  bool gap = false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 || static_cast<unsigned char>(c) >= 0x80) {
      gap = true;
      continue;
    }
    const bool separate = gap && !stem.empty();
    if (stem.size() + (separate ? 2 : 1) > kMaxStemLength) break;
    if (separate) stem += '_';
    gap = false;
    stem += c;
  }
  return "agnx_" + (stem.empty() ? std::string("multiplier") : stem);
}

// Every product of `m` on signed operands must fit the 16-bit output.
Status check_output_range(const Multiplier& m) {
  for (int x = -128; x < 128; ++x) {
    for (int w = -128; w < 128; ++w) {
      const int64_t p = m.product(x, w);
      if (p < -32768 || p > 32767) {
        return Status::failed_precondition("multiplier '" + m.name() + "': product " + std::to_string(p) + " of " +
                                           std::to_string(x) + " and " + std::to_string(w) +
                                           " does not fit the signed 16-bit output");
      }
    }
  }
  return Status();
}

// The built-in design that computes exactly `m`'s table, if any.
const Circuit* builtin_circuit(const Multiplier& m, const std::vector<BuiltinDesign>& designs) {
  for (const BuiltinDesign& design : designs) {
    if (design.name != m.name() || design.circuit.signedness() != m.signedness()) continue;
    const std::vector<int32_t> table = design.circuit.product_table();
    if (std::equal(table.begin(), table.end(), m.table().begin(), m.table().end())) return &design.circuit;
  }
  return nullptr;
}

// The distinct multipliers of `info`, in the order of first use, named.
Result<std::vector<ExportedModule>> plan_modules(const MatchingInfo& info, const MultiplierLibrary& library,
                                                 const std::vector<BuiltinDesign>& designs) {
  std::vector<ExportedModule> modules;
  std::map<std::string, std::size_t> by_multiplier;
  std::set<std::string> names;
  for (const LayerInfo& layer : info.layers) {
    if (const auto it = by_multiplier.find(layer.multiplier_name); it != by_multiplier.end()) {
      modules[it->second].layers.push_back(layer.name);
      continue;
    }
    const Multiplier* m = library.find(layer.multiplier_name);
    if (m == nullptr) {
      return Status::failed_precondition("layer '" + layer.name + "': multiplier '" + layer.multiplier_name +
                                         "' is not in library '" + library.name() + "'");
    }
    AGNX_RETURN_IF_ERROR(check_output_range(*m));
    const std::string stem = module_stem(m->name());
    std::string name = stem;
    for (int n = 2; names.contains(name); ++n) name = stem + "_" + std::to_string(n);
    names.insert(name);
    by_multiplier.emplace(m->name(), modules.size());
    modules.push_back({name, m, builtin_circuit(*m, designs), {layer.name}});
  }
  return modules;
}

// A behavioural model of `m`'s table as module `name`: one 4096-bit row of
// 16-bit products per value of a, indexed by b.
std::string table_model(const Multiplier& m, const std::string& name) {
  const unsigned flip = m.is_signed() ? 0x80u : 0u;  // bit pattern -> table index
  std::string out = "module " + name + "(a, b, y);\n  input [7:0] a;\n  input [7:0] b;\n  output [15:0] y;\n";
  out += "  reg [4095:0] row;  // entry b: bits [16*b +: 16]\n  always @* begin\n    case (a)\n";
  const auto table = m.table();
  char entry[8];
  for (unsigned a = 0; a < 256; ++a) {
    std::snprintf(entry, sizeof entry, "%02x", a);
    out += "      8'h" + std::string(entry) + ": row = 4096'h";
    for (unsigned b = 256; b-- > 0;) {
      const auto product = static_cast<uint32_t>(table[((a ^ flip) * 256) + (b ^ flip)]) & 0xffffu;
      std::snprintf(entry, sizeof entry, "%04x", product);
      out += entry;
    }
    out += ";\n";
  }
  out += "    endcase\n  end\n  assign y = row[{b, 4'b0000} +: 16];\nendmodule\n";
  return out;
}

std::string sign_magnitude_wrapper(const ExportedModule& module) {
  return "\n// " + module.name + ": " + module.core() +
         " in sign-magnitude form, y = sign(a) != sign(b) ? -m(|a|, |b|) : m(|a|, |b|).\n"
         "module " + module.name + "(a, b, y);\n  input [7:0] a;\n  input [7:0] b;\n  output [15:0] y;\n"
         "  wire [7:0] a_magnitude = a[7] ? -a : a;\n  wire [7:0] b_magnitude = b[7] ? -b : b;\n"
         "  wire [15:0] m;\n  " + module.core() + " magnitude(.a(a_magnitude), .b(b_magnitude), .y(m));\n"
         "  assign y = (a[7] ^ b[7]) ? -m : m;\nendmodule\n";
}

std::string rtl_file(const ExportedModule& module, const MultiplierLibrary& library) {
  const Multiplier& m = *module.multiplier;
  std::string out = "// " + module.name + ": multiplier '" + one_line(m.name()) + "' of library '" +
                    one_line(library.name()) + "' (" + library.metric() + " " +
                    format("%.6g", library.metric_of(m)) + "), " + (m.is_signed() ? "signed" : "unsigned") + ".\n";
  if (module.circuit != nullptr) {
    out += "// Gate-level netlist of the built-in design: the gates its product table is computed from.\n";
  } else {
    out += "// BEHAVIOURAL MODEL generated from the multiplier's product table: no gate-level netlist\n"
           "// is known for it. It computes the same products; it is not the published circuit.\n";
  }
  out += "// Interface: a, b two's complement operands; y their 16-bit two's complement product.\n";
  if (!m.is_signed()) out += "// " + module.core() + " multiplies magnitudes 0..255 (unsigned); " + module.name +
                             " applies it to signed operands.\n";
  out += module.circuit != nullptr ? module.circuit->verilog(module.core()) : table_model(m, module.core());
  if (!m.is_signed()) out += sign_magnitude_wrapper(module);
  return out;
}

// Line i + 1 after the comment: the 16-bit product of the bit patterns {a, b} = i.
std::string product_hex(const ExportedModule& module) {
  std::string out = "// " + module.name + ": 16-bit products of '" + one_line(module.multiplier->name()) +
                    "', one per line, entry {a, b} (bit patterns; a, b two's complement)\n";
  out.reserve(out.size() + 65536 * 5);
  char entry[8];
  for (int i = 0; i < 65536; ++i) {
    const int x = static_cast<int8_t>(i >> 8), w = static_cast<int8_t>(i & 0xff);
    std::snprintf(entry, sizeof entry, "%04x\n", static_cast<unsigned>(module.multiplier->product(x, w)) & 0xffffu);
    out += entry;
  }
  return out;
}

std::string testbench(const ExportedModule& module) {
  const std::string& n = module.name;
  return "// Self-checking testbench of " + n + ": all 65,536 operand pairs against tb/" + n + ".hex.\n"
         "// Run from the export's directory: prints one PASS or FAIL line.\n"
         "module " + n + "_tb;\n  reg [7:0] a;\n  reg [7:0] b;\n  wire [15:0] y;\n"
         "  reg [15:0] expected [0:65535];\n  integer i;\n  integer errors;\n"
         "  " + n + " dut(.a(a), .b(b), .y(y));\n  initial begin\n"
         "    $readmemh(\"tb/" + n + ".hex\", expected);\n    errors = 0;\n"
         "    for (i = 0; i < 65536; i = i + 1) begin\n      {a, b} = i;\n      #1;\n"
         "      if (y !== expected[i]) begin\n"
         "        if (errors < 5) $display(\"mismatch " + n +
         ": a=%0d b=%0d y=%h expected %h\", $signed(a), $signed(b), y, expected[i]);\n"
         "        errors = errors + 1;\n      end\n    end\n"
         "    if (errors == 0) $display(\"PASS " + n + ": 65536 operand pairs\");\n"
         "    else $display(\"FAIL " + n + ": %0d of 65536 operand pairs differ\", errors);\n"
         "    $finish;\n  end\nendmodule\n";
}

constexpr const char* kRunScriptHead = R"sh(#!/bin/sh
# Simulates every testbench with Icarus Verilog (one PASS or FAIL line each)
# and synthesizes every module with Yosys using the built-in library's cost
# script, printing "cells TOP N" (for an unsigned multiplier also its
# netlist or model TOP__magnitude, which is what the library's cells count).
# --no-synthesis: simulate only. Exits 1 if a testbench or a tool fails.
set -u
cd "$(dirname "$0")" || exit 1
synthesis=1
[ "${1:-}" = "--no-synthesis" ] && synthesis=0
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
failed=0

simulate() {
  if iverilog -o "$work/$1.vvp" "rtl/$1.v" "tb/$1_tb.v" && vvp -n "$work/$1.vvp" > "$work/$1.out"; then
    grep -E '^(PASS|FAIL|mismatch) ' "$work/$1.out"
    grep -q "^PASS $1:" "$work/$1.out" || failed=1
  else
    echo "FAIL $1: the simulation did not run"
    failed=1
  fi
}

synthesize() {
  if yosys -q -p "read_verilog rtl/$1.v; synth -flatten -top $2; abc -g )sh";

constexpr const char* kRunScriptSynthesize = R"sh(; tee -q -o $work/$2.stat stat" \
      > "$work/$2.log" 2>&1; then
    echo "cells $2 $(sed -n 's/.*Number of cells: *\([0-9][0-9]*\).*/\1/p' "$work/$2.stat" | tail -n 1)"
  else
    echo "FAIL $2: yosys failed"
    failed=1
  fi
}

)sh";

std::string run_script(const std::vector<ExportedModule>& modules) {
  std::string out = std::string(kRunScriptHead) + kAbcGates + kRunScriptSynthesize;
  for (const ExportedModule& module : modules) out += "simulate " + module.name + "\n";
  out += "if [ $synthesis = 1 ]; then\n";
  for (const ExportedModule& module : modules) {
    if (!module.is_signed()) out += "  synthesize " + module.name + " " + module.core() + "\n";
    out += "  synthesize " + module.name + " " + module.name + "\n";
  }
  return out + "fi\nexit $failed\n";
}

std::string dump(const ordered_json& value) {
  return value.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

ordered_json optional_number(const std::optional<double>& value) {
  return value ? ordered_json(*value) : ordered_json(nullptr);
}

std::string manifest(const MatchingInfo& info, const MultiplierLibrary& library, const ExportedRun& run,
                     const std::vector<ExportedModule>& modules) {
  std::map<std::string, const ExportedModule*> by_multiplier;
  for (const ExportedModule& m : modules) by_multiplier[m.multiplier->name()] = &m;
  ordered_json layers = ordered_json::array();
  for (std::size_t i = 0; i < info.layers.size(); ++i) {
    const LayerInfo& l = info.layers[i];
    layers.push_back({{"layer", l.name},
                      {"module", by_multiplier.at(l.multiplier_name)->name},
                      {"multiplier", l.multiplier_name},
                      {"opcount", l.opcount},
                      {"relative_opcount", info.relative_opcount(i)},
                      {"sigma", l.sigma},
                      {"max_std", l.max_std},
                      {"predicted_std", l.mul_std},
                      {"observed_std", optional_number(l.observed_std)},
                      {"metric", l.multiplier_performance_metric},
                      {"relative_energy", info.relative_energy_consumption(i)}});
  }
  ordered_json list = ordered_json::array();
  for (const ExportedModule& m : modules) {
    list.push_back({{"module", m.name},
                    {"multiplier", m.multiplier->name()},
                    {"signedness", m.is_signed() ? "signed" : "unsigned"},
                    {"form", m.circuit != nullptr ? "netlist" : "behavioural"},
                    {"core", m.core()},
                    {"metric", library.metric_of(*m.multiplier)},
                    {"layers", m.layers},
                    {"files", {"rtl/" + m.name + ".v", "tb/" + m.name + "_tb.v", "tb/" + m.name + ".hex"}}});
  }
  return dump({{"run_id", run.run_id},
               {"run_name", run.run_name},
               {"lambda", run.lambda},
               {"library", info.library},
               {"metric", info.metric},
               {"metric_max", info.metric_max},
               {"relative_energy", info.relative_energy_consumption()},
               {"layers", std::move(layers)},
               {"modules", std::move(list)}});
}

std::string readme_layers(const MatchingInfo& info, const std::map<std::string, std::string>& module_of) {
  std::string out = "| layer | module | opcount | sigma | max std | predicted std | observed std | " +
                    cell(info.metric) + " |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const LayerInfo& l : info.layers) {
    out += "| " + cell(l.name) + " | `" + module_of.at(l.multiplier_name) + "` | " + std::to_string(l.opcount) +
           " | " + format("%.6g", l.sigma) + " | " + format("%.6g", l.max_std) + " | " + format("%.6g", l.mul_std) +
           " | " + (l.observed_std ? format("%.6g", *l.observed_std) : "-") + " | " +
           format("%.6g", l.multiplier_performance_metric) + " |\n";
  }
  return out;
}

std::string readme_energy(const MatchingInfo& info) {
  const double total = info.relative_energy_consumption();
  std::string out = "| layer | share of multiplications | " + cell(info.metric) +
                    " / metric max | relative energy | share of the run's energy |\n"
                    "| --- | ---: | ---: | ---: | ---: |\n";
  for (std::size_t i = 0; i < info.layers.size(); ++i) {
    const LayerInfo& l = info.layers[i];
    const double energy = info.relative_energy_consumption(i);
    out += "| " + cell(l.name) + " | " + format("%.4f", info.relative_opcount(i)) + " | " +
           format("%.4f", info.metric_max > 0 ? l.multiplier_performance_metric / info.metric_max : 0.0) + " | " +
           format("%.4f", energy) + " | " + format("%.1f%%", total > 0 ? 100.0 * energy / total : 0.0) + " |\n";
  }
  return out + "| **total** | 1.0000 | | " + format("%.4f", total) + " | 100.0% |\n";
}

std::string readme(const MatchingInfo& info, const ExportedRun& run, const std::vector<ExportedModule>& modules) {
  std::map<std::string, std::string> module_of;
  for (const ExportedModule& m : modules) module_of[m.multiplier->name()] = m.name;
  std::string out = "# Hardware handoff of run `" + cell(run.run_id) + "`" +
                    (run.run_name.empty() ? std::string() : " (" + cell(run.run_name) + ")") + "\n\n";
  out += "The multipliers agnx chose per layer (lambda " + format("%.6g", run.lambda) + ", library `" +
         cell(info.library) + "`, metric `" + cell(info.metric) + "`, metric max " +
         format("%.6g", info.metric_max) + "). Relative energy of the run: **" +
         format("%.4f", info.relative_energy_consumption()) +
         "** (every multiplication at the library's most expensive multiplier: 1).\n\n"
         "Every module is `module M(a, b, y)` with `input [7:0] a, b` (activation, weight; two's complement) "
         "and `output [15:0] y` (their approximate product, two's complement).\n\n## Layers\n\n";
  out += readme_layers(info, module_of) + "\n## Energy by layer\n\n" + readme_energy(info);
  out += "\n## Modules\n\n| module | multiplier | form | signedness | files |\n| --- | --- | --- | --- | --- |\n";
  for (const ExportedModule& m : modules) {
    out += "| `" + m.name + "` | " + cell(m.multiplier->name()) + " | " +
           (m.circuit != nullptr ? "gate-level netlist" : "behavioural (from the table)") + " | " +
           (m.is_signed() ? "signed" : "unsigned, sign-magnitude wrapper") + " | `rtl/" + m.name + ".v`, `tb/" +
           m.name + "_tb.v`, `tb/" + m.name + ".hex` |\n";
  }
  out += "\n## Checking\n\n`sh run.sh` simulates every testbench with Icarus Verilog (all 65,536 operand pairs "
         "against the product table) and synthesizes every module with Yosys (`synth -flatten; abc -g " +
         std::string(kAbcGates) + "; stat`), printing the cells per module; `sh run.sh --no-synthesis` "
         "simulates only. `manifest.json` holds the same tables for scripts.\n";
  return out;
}

}  // namespace

Result<std::vector<ExportedFile>> export_hardware(const MatchingInfo& info, const MultiplierLibrary& library,
                                                  const ExportedRun& run) {
  if (info.layers.empty()) return Status::invalid_argument("the matching result has no layers to export");
  const std::vector<BuiltinDesign> designs = builtin_designs();
  AGNX_ASSIGN_OR_RETURN(const std::vector<ExportedModule> modules, plan_modules(info, library, designs));
  std::vector<ExportedFile> files = {{"README.md", readme(info, run, modules)},
                                     {"manifest.json", manifest(info, library, run, modules)},
                                     {"run.sh", run_script(modules), true}};
  for (const ExportedModule& module : modules) {
    files.push_back({"rtl/" + module.name + ".v", rtl_file(module, library)});
    files.push_back({"tb/" + module.name + "_tb.v", testbench(module)});
    files.push_back({"tb/" + module.name + ".hex", product_hex(module)});
  }
  std::sort(files.begin(), files.end(), [](const auto& x, const auto& y) { return x.name < y.name; });
  return files;
}

}  // namespace agnx
