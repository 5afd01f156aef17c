// ArtifactFiles: the bytes of artifacts, content-addressed by sha256 under
// <root>/<sha[0:2]>/<sha>. A new file is written to <root>/tmp, fsynced,
// renamed into place and its directory fsynced, so a file under its name is
// always complete. Equal contents share one file. A file that cannot be
// written whole (disk full, I/O error) is removed again.
//
// Thread safety: put/get from any number of threads; remove_unreferenced must
// not overlap a put whose reference is not committed yet (the store excludes it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>

#include "core/status.h"

namespace agnx::store {

// Checks an artifact path: non-empty, relative, '/'-separated, no empty, "."
// or ".." component, no NUL or backslash. Errors name the path.
Status validate_artifact_path(std::string_view path);

class ArtifactFiles {
 public:
  explicit ArtifactFiles(std::filesystem::path root) : root_(std::move(root)) {}

  // Stores `content` durably; returns its sha256. With `same_bytes`, a file
  // holding exactly `content`, that file is hard-linked into place where it
  // can be (same file system) instead of the bytes being written again; it
  // must not be modified afterwards. Errors leave no file behind:
  // kResourceExhausted when the disk, a quota or the file size limit is
  // full, kIoError otherwise; both name the file and the OS error.
  Result<std::string> put(std::string_view content, const std::filesystem::path& same_bytes = {}) const;
  // The content of `sha256`, verified against it.
  Result<std::string> get(const std::string& sha256) const;
  // The file holding the content of `sha256`, to read or hard-link, never to
  // modify; it stays while the content is referenced. kNotFound if missing.
  Result<std::filesystem::path> file(const std::string& sha256) const;
  // Removes every stored file whose sha256 is not in `referenced` (and stale
  // temporary files); returns how many content files were removed.
  Result<int64_t> remove_unreferenced(const std::set<std::string>& referenced) const;

 private:
  std::filesystem::path path_of(const std::string& sha256) const;

  std::filesystem::path root_;
};

}  // namespace agnx::store
