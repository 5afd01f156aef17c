#include "store/artifact_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

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

// Sets the mtime of `path` to now. Errors name the file.
Status touch(const std::filesystem::path& path) {
  if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) == 0) return {};
  return errno_error("refreshing the time of " + path.string());
}

// Makes new file `tmp` hold `content` durably, modified now: a hard link to
// `same_bytes` (holding those bytes) where one can be made, else the bytes
// written.
Status link_or_write(const std::filesystem::path& tmp, std::string_view content,
                     const std::filesystem::path& same_bytes) {
  if (!same_bytes.empty() && ::link(same_bytes.c_str(), tmp.c_str()) == 0) {
    AGNX_RETURN_IF_ERROR(touch(tmp));
    return fsync_path(tmp, O_RDONLY | O_CLOEXEC);
  }
  return write_file_durably(tmp, content);
}

// "<host>.<64 random bits in hex>", the host name reduced to [A-Za-z0-9-].
std::string host_and_random_tag() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) std::strcpy(host.data(), "unknown-host");
  std::string tag(host.data());
  for (char& c : tag) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') c = '_';
  }
  std::random_device random;
  const uint64_t bits = (uint64_t{random()} << 32) ^ random();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(bits));
  return tag + "." + hex;
}

// Whether `path` was last modified at or before `cutoff`; false if it is gone.
Result<bool> modified_by(const std::filesystem::path& path, std::filesystem::file_time_type cutoff) {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path, ec);
  if (ec == std::errc::no_such_file_or_directory) return false;
  if (ec) return Status::io_error("reading the time of " + path.string() + ": " + ec.message());
  return mtime <= cutoff;
}

Status remove_file(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_error("removing " + path.string());
  return {};
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

ArtifactFiles::ArtifactFiles(std::filesystem::path root) : root_(std::move(root)), tag_(host_and_random_tag()) {}

std::filesystem::path ArtifactFiles::path_of(const std::string& sha256) const {
  return root_ / sha256.substr(0, 2) / sha256;
}

std::filesystem::path ArtifactFiles::temp_path(const std::string& sha256) const {
  static std::atomic<uint64_t> counter{0};
  return root_ / "tmp" /
         (sha256 + "." + tag_ + "." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1)));
}

Result<std::string> ArtifactFiles::put(std::string_view content, const std::filesystem::path& same_bytes) const {
  std::string sha = sha256_hex(content);
  const std::filesystem::path target = path_of(sha);
  if (::utimensat(AT_FDCWD, target.c_str(), nullptr, 0) == 0) return sha;  // stored: young again
  if (errno != ENOENT) return errno_error("refreshing the time of " + target.string());
  std::error_code ec;
  const std::filesystem::path tmp_dir = root_ / "tmp";
  for (const std::filesystem::path& dir : {tmp_dir, target.parent_path()}) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::io_error("creating " + dir.string() + ": " + ec.message());
  }
  const std::filesystem::path tmp = temp_path(sha);
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

Result<int64_t> ArtifactFiles::remove_unreferenced(const std::set<std::string>& referenced,
                                                   std::chrono::seconds grace) const {
  const std::filesystem::file_time_type cutoff = std::filesystem::file_time_type::clock::now() - grace;
  std::error_code ec;
  if (!std::filesystem::exists(root_, ec)) return int64_t{0};
  std::filesystem::create_directories(root_ / "tmp", ec);  // where files are moved aside
  if (ec) return Status::io_error("creating " + (root_ / "tmp").string() + ": " + ec.message());
  int64_t removed = 0;
  for (const auto& dir : std::filesystem::directory_iterator(root_, ec)) {
    const bool is_tmp = dir.path().filename() == "tmp";
    for (const auto& file : std::filesystem::directory_iterator(dir.path(), ec)) {
      if (is_tmp) {
        AGNX_ASSIGN_OR_RETURN(const bool stale, modified_by(file.path(), cutoff));
        if (stale) AGNX_RETURN_IF_ERROR(remove_file(file.path()));
      } else if (!referenced.contains(file.path().filename().string())) {
        AGNX_ASSIGN_OR_RETURN(const bool gone, remove_if_stale(file.path(), cutoff));
        removed += gone ? 1 : 0;
      }
    }
  }
  if (ec) return Status::io_error("listing " + root_.string() + ": " + ec.message());
  return removed;
}

Result<bool> ArtifactFiles::remove_if_stale(const std::filesystem::path& path,
                                            std::filesystem::file_time_type cutoff) const {
  AGNX_ASSIGN_OR_RETURN(const bool stale, modified_by(path, cutoff));
  if (!stale) return false;
  // A put may refresh the file right now: once it is aside (atomically),
  // a put writes it anew, and a refresh that came first shows here.
  const std::filesystem::path aside = temp_path(path.filename().string());
  if (::rename(path.c_str(), aside.c_str()) != 0) {
    if (errno == ENOENT) return false;
    return errno_error("moving " + path.string() + " aside");
  }
  const Result<bool> still_stale = modified_by(aside, cutoff);
  if (still_stale.ok() && *still_stale) {
    AGNX_RETURN_IF_ERROR(remove_file(aside));
    return true;
  }
  if (::rename(aside.c_str(), path.c_str()) != 0) return errno_error("moving " + aside.string() + " back");
  if (!still_stale.ok()) return still_stale.status();
  return false;
}

}  // namespace agnx::store
