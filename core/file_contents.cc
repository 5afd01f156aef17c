#include "core/file_contents.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace agnx {
namespace {

// The error of the failed system call that set errno, on `what`.
Status os_error(const std::string& what) {
  const int error = errno;
  const std::string message = what + ": " + std::strerror(error);
  if (error == ENOSPC || error == EDQUOT || error == EFBIG) return Status::resource_exhausted(message);
  return Status::io_error(message);
}

// Writes all of `bytes` to `fd`, the file `name`.
Status write_all(int fd, std::string_view bytes, const std::string& name) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("cannot write " + name);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(path.string() + ": cannot open");
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return Status::io_error(path.string() + ": cannot read");
  return std::move(contents).str();
}

Status write_file(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path partial = path.string() + ".partial";
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return os_error("cannot create " + partial.string());
  Status written = write_all(fd, bytes, partial.string());
  if (::close(fd) != 0 && written.ok()) written = os_error("cannot close " + partial.string());
  if (written.ok() && ::rename(partial.c_str(), path.c_str()) != 0) {
    written = os_error("cannot rename " + partial.string());
  }
  if (!written.ok()) ::unlink(partial.c_str());
  return written;
}

}  // namespace agnx
