// A small file system that fills up on demand: a tmpfs with a size limit,
// mounted in a mount namespace of this process's own, so it never shows
// outside, vanishes with the process and is seen by the processes it starts
// afterwards (a server whose data directory is on it).
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace agnx::testing {

// Mounts a tmpfs of `megabytes` on `dir`. Returns "" or why the kernel
// refused (not root, no CAP_SYS_ADMIN).
inline std::string mount_private_tmpfs(const std::filesystem::path& dir, int megabytes) {
  if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("making / private: ") + std::strerror(errno);
  }
  const std::string size = "size=" + std::to_string(megabytes) + "m";
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, size.c_str()) != 0) {
    return std::string("mounting a tmpfs: ") + std::strerror(errno);
  }
  return {};
}

// Writes `path` until its file system is full. Returns "" once a write failed
// with ENOSPC, else what went wrong.
inline std::string fill_up(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "opening " + path.string() + ": " + std::strerror(errno);
  const std::string chunk(64 << 10, 'f');
  while (::write(fd, chunk.data(), chunk.size()) > 0) {
  }
  const int error = errno;
  ::close(fd);
  return error == ENOSPC ? "" : "filling " + path.string() + ": " + std::strerror(error);
}

}  // namespace agnx::testing
