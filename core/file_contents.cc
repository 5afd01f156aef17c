#include "core/file_contents.h"

#include <fstream>
#include <sstream>

namespace agnx {

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(path.string() + ": cannot open");
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return Status::io_error(path.string() + ": cannot read");
  return std::move(contents).str();
}

}  // namespace agnx
