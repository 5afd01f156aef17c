// The whole content of a file, read at once.
#pragma once

#include <filesystem>
#include <string>

#include "core/status.h"

namespace agnx {

// The bytes of `path`. Errors: kIoError "PATH: cannot open" or "PATH: cannot read".
Result<std::string> read_file(const std::filesystem::path& path);

}  // namespace agnx
