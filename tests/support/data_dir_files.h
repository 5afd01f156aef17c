// What a store's data directory holds on disk, for tests of write failures.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "store/sqlite_store.h"

namespace agnx::testing {

// The regular files below `dir` (0 if it does not exist).
inline std::size_t files_under(const std::filesystem::path& dir) {
  std::error_code ec;
  std::size_t count = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); it != decltype(it)(); ++it) {
    if (it->is_regular_file()) ++count;
  }
  return count;
}

// The size of the larger of the database and its WAL: writes below it (plus
// what a test adds) stay within a file size limit set from it.
inline uintmax_t largest_database_file(const std::filesystem::path& data_dir) {
  const std::filesystem::path db = store::SqliteTrackingStore::database_path(data_dir);
  std::error_code ec;
  const uintmax_t wal = std::filesystem::file_size(db.string() + "-wal", ec);
  return std::max(std::filesystem::file_size(db), ec ? 0 : wal);
}

}  // namespace agnx::testing
