// ArtifactFiles: the bytes of artifacts, content-addressed by sha256 under
// <root>/<sha[0:2]>/<sha>. A new file is written to <root>/tmp, fsynced,
// renamed into place and its directory fsynced, so a file under its name is
// always complete. Equal contents share one file. A file that cannot be
// written whole (disk full, I/O error) is removed again.
//
// Several processes on several hosts may share one root (e.g. on NFS): temp
// names hold the host name, random bits, the pid and a counter. A put, also of
// content already there, leaves the file's mtime at "now", and
// remove_unreferenced only removes files older than a grace period, so a file
// put shortly before its reference is committed (by any process) survives a
// concurrent remove_unreferenced, provided the reference commits within the
// grace period and the hosts' clocks (and the file server's) agree to well
// within it.
//
// Thread safety: every member may be called from any number of threads and
// processes; remove_unreferenced must not overlap another remove_unreferenced
// of the same root (the stores exclude it).
#pragma once

#include <chrono>
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
  explicit ArtifactFiles(std::filesystem::path root);

  // Stores `content` durably; returns its sha256. Content already stored is
  // not written again, but its file's mtime is set to now (kIoError naming
  // the file if that fails). With `same_bytes`, a file holding exactly
  // `content`, that file is hard-linked into place where it can be (same
  // file system) instead of the bytes being written again (its mtime, shared
  // by the link, is set to now); it must not be modified afterwards. Errors
  // leave no file behind: kResourceExhausted when the disk, a quota or the
  // file size limit is full, kIoError otherwise; both name the file and the
  // OS error.
  Result<std::string> put(std::string_view content, const std::filesystem::path& same_bytes = {}) const;
  // The content of `sha256`, verified against it.
  Result<std::string> get(const std::string& sha256) const;
  // The file holding the content of `sha256`, to read or hard-link, never to
  // modify; it stays while the content is referenced. kNotFound if missing.
  Result<std::filesystem::path> file(const std::string& sha256) const;
  // Removes every stored file whose sha256 is not in `referenced` and whose
  // mtime is at or before now - `grace` (a file put since then is kept), and
  // the temporary files as old; returns how many content files were removed.
  // A put that refreshes a file while it is being removed keeps it (it is
  // moved aside, checked again and moved back). Errors (kIoError) name the
  // file; the files removed until then stay removed.
  Result<int64_t> remove_unreferenced(const std::set<std::string>& referenced, std::chrono::seconds grace) const;

  // A new name under <root>/tmp for a file of `sha256`, unique across the
  // instances, processes and hosts sharing the root.
  std::filesystem::path temp_path(const std::string& sha256) const;

 private:
  std::filesystem::path path_of(const std::string& sha256) const;
  // Removes content file `path` if it is older than `cutoff` (see
  // remove_unreferenced); returns whether it did.
  Result<bool> remove_if_stale(const std::filesystem::path& path, std::filesystem::file_time_type cutoff) const;

  std::filesystem::path root_;
  std::string tag_;  // "<host>.<random hex>", fixed per instance
};

}  // namespace agnx::store
