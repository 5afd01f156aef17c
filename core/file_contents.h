// The whole content of a file, read or written at once.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace agnx {

// The bytes of `path`. Errors: kIoError "PATH: cannot open" or "PATH: cannot read".
Result<std::string> read_file(const std::filesystem::path& path);

// Makes `path` hold `bytes`: written to PATH.partial, then renamed, so `path`
// is whole or absent. Errors name the file and the OS error:
// kResourceExhausted when the disk, a quota or the file size limit is full,
// kIoError otherwise; no PATH.partial stays behind.
Status write_file(const std::filesystem::path& path, std::string_view bytes);

}  // namespace agnx
