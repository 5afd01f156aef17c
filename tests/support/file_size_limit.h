// A full disk on demand, without root: lowers a process's file size limit
// (RLIMIT_FSIZE), so the kernel fails every write at or beyond that offset of
// any regular file with EFBIG, as a disk that filled up there would.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <csignal>

namespace agnx::testing {

// Sets the soft RLIMIT_FSIZE of process `pid` (0: this one) to `bytes`; the
// hard limit stays. Returns false if the kernel refused.
inline bool set_file_size_limit(pid_t pid, rlim_t bytes) {
  rlimit limit{};
  if (::prlimit(pid, RLIMIT_FSIZE, nullptr, &limit) != 0) return false;
  limit.rlim_cur = bytes;
  return ::prlimit(pid, RLIMIT_FSIZE, &limit, nullptr) == 0;
}

// This process's limit lowered to `bytes` for the object's lifetime (SIGXFSZ
// ignored, so a write beyond it fails instead of killing the test).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    std::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    set_file_size_limit(0, bytes);
  }
  ~FileSizeLimit() { ::setrlimit(RLIMIT_FSIZE, &saved_); }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
};

}  // namespace agnx::testing
