#include "store/artifact_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "store/sha256.h"

namespace agnx::store {
namespace {

// The error of a failed system call (errno) on `what`: kResourceExhausted
// when the disk, a quota or the file size limit is full, else kIoError.
Status errno_error(const std::string& what) {
  const int error = errno;
  const std::string message = what + ": " + std::strerror(error);
  if (error == ENOSPC || error == EDQUOT || error == EFBIG) {
    return Status::resource_exhausted("out of space " + message);
  }
  return Status::io_error(message);
}

Status fsync_path(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return errno_error("opening " + path.string());
  const Status synced = ::fsync(fd) == 0 ? Status() : errno_error("syncing " + path.string());
  ::close(fd);
  return synced;
}

Status write_file_durably(const std::filesystem::path& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("creating " + path.string());
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status status = errno_error("writing " + path.string());
      ::close(fd);
      return status;
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status status = errno_error("syncing " + path.string());
    ::close(fd);
    return status;
  }
  if (::close(fd) != 0) return errno_error("closing " + path.string());
  return {};
}

// Makes new file `tmp` hold `content` durably: a hard link to `same_bytes`
// (holding those bytes) where one can be made, else the bytes written.
Status link_or_write(const std::filesystem::path& tmp, std::string_view content,
                     const std::filesystem::path& same_bytes) {
  if (!same_bytes.empty() && ::link(same_bytes.c_str(), tmp.c_str()) == 0) {
    return fsync_path(tmp, O_RDONLY | O_CLOEXEC);
  }
  return write_file_durably(tmp, content);
}

std::string unique_suffix() {
  static std::atomic<uint64_t> counter{0};
  return std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
}

}  // namespace

Status validate_artifact_path(std::string_view path) {
  const std::string quoted = "artifact path '" + std::string(path) + "'";
  if (path.empty()) return Status::invalid_argument("artifact path is empty");
  if (path.find('\0') != std::string_view::npos) return Status::invalid_argument(quoted + " contains NUL");
  if (path.find('\\') != std::string_view::npos) return Status::invalid_argument(quoted + " contains a backslash");
  if (path.front() == '/') return Status::invalid_argument(quoted + " is absolute");
  std::size_t begin = 0;
  while (begin <= path.size()) {
    const std::size_t end = std::min(path.find('/', begin), path.size());
    const std::string_view part = path.substr(begin, end - begin);
    if (part.empty() || part == "." || part == "..") {
      return Status::invalid_argument(quoted + " has an empty, '.' or '..' component");
    }
    begin = end + 1;
  }
  return {};
}

std::filesystem::path ArtifactFiles::path_of(const std::string& sha256) const {
  return root_ / sha256.substr(0, 2) / sha256;
}

Result<std::string> ArtifactFiles::put(std::string_view content, const std::filesystem::path& same_bytes) const {
  std::string sha = sha256_hex(content);
  const std::filesystem::path target = path_of(sha);
  std::error_code ec;
  if (std::filesystem::exists(target, ec)) return sha;
  const std::filesystem::path tmp_dir = root_ / "tmp";
  for (const std::filesystem::path& dir : {tmp_dir, target.parent_path()}) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::io_error("creating " + dir.string() + ": " + ec.message());
  }
  const std::filesystem::path tmp = tmp_dir / (sha + "." + unique_suffix());
  Status written = link_or_write(tmp, content, same_bytes);
  if (written.ok() && ::rename(tmp.c_str(), target.c_str()) != 0) {
    written = errno_error("renaming " + tmp.string() + " to " + target.string());
  }
  if (!written.ok()) {
    std::filesystem::remove(tmp, ec);  // a partial file must not stay behind
    return written;
  }
  AGNX_RETURN_IF_ERROR(fsync_path(target.parent_path(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return sha;
}

Result<std::string> ArtifactFiles::get(const std::string& sha256) const {
  const std::filesystem::path path = path_of(sha256);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("artifact file " + path.string() + " is missing");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (sha256_hex(content) != sha256) return Status::io_error("artifact file " + path.string() + " is corrupt");
  return content;
}

Result<std::filesystem::path> ArtifactFiles::file(const std::string& sha256) const {
  std::filesystem::path path = path_of(sha256);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Status::not_found("artifact file " + path.string() + " is missing");
  return path;
}

Result<int64_t> ArtifactFiles::remove_unreferenced(const std::set<std::string>& referenced) const {
  std::error_code ec;
  if (!std::filesystem::exists(root_, ec)) return int64_t{0};
  int64_t removed = 0;
  for (const auto& dir : std::filesystem::directory_iterator(root_, ec)) {
    const bool is_tmp = dir.path().filename() == "tmp";
    for (const auto& file : std::filesystem::directory_iterator(dir.path(), ec)) {
      if (!is_tmp && referenced.contains(file.path().filename().string())) continue;
      if (!std::filesystem::remove(file.path(), ec)) {
        return Status::io_error("removing " + file.path().string() + ": " + ec.message());
      }
      if (!is_tmp) ++removed;
    }
  }
  if (ec) return Status::io_error("listing " + root_.string() + ": " + ec.message());
  return removed;
}

}  // namespace agnx::store
