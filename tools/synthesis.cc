#include "tools/synthesis.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace agnx {

bool yosys_available() { return std::system("command -v yosys > /dev/null 2>&1") == 0; }

Result<int> synthesize_cells(const std::string& verilog, const std::string& top, const std::filesystem::path& work_dir) {
  const std::filesystem::path source = work_dir / (top + ".v"), report = work_dir / (top + ".stat"),
                              log = work_dir / (top + ".log");
  std::ofstream(source) << verilog;
  const std::string script = "read_verilog " + source.string() + "; synth -flatten -top " + top + "; abc -g " +
                             kAbcGates + "; tee -q -o " + report.string() + " stat";
  const std::string command = "yosys -q -p '" + script + "' > " + log.string() + " 2>&1";
  if (std::system(command.c_str()) != 0) {
    return Status::failed_precondition("yosys failed on " + source.string() + ", see " + log.string());
  }
  std::ifstream in(report);
  std::string line;
  int cells = -1;
  while (std::getline(in, line)) {
    const auto at = line.find("Number of cells:");
    if (at != std::string::npos) std::istringstream(line.substr(at + 16)) >> cells;
  }
  if (cells < 0) return Status::internal(report.string() + ": no 'Number of cells:' line in the yosys report");
  return cells;
}

}  // namespace agnx
