// Opening a tracking store by name: the one place that knows the backends.
// The server, its maintenance commands (migrate, gc, backup) and tools name
// a store by URI and get the backend-neutral TrackingStore contract.
//
//   sqlite:DIR   the SQLite store in DIR (database and artifacts)
//   DIR          the same: agnx-server's --data-dir short form
//
// Adding a backend: its own files and CMake target, a scheme here, and one
// line in tests/store_test.cc's backend list (the contract suite).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/tracking_store.h"

namespace agnx::store {

struct StoreLocation {
  std::string scheme;              // "sqlite"
  std::filesystem::path directory; // the store's own directory (database, artifacts, tmp)
};

// Parses a store URI. Errors (kInvalidArgument, naming the URI): empty, an
// unknown scheme, no directory.
Result<StoreLocation> parse_store_uri(std::string_view uri);

// Opens (creating and migrating it if needed) the store `uri` names.
// Errors: those of parse_store_uri and of the backend's open.
Result<std::unique_ptr<TrackingStore>> open_store(std::string_view uri);

// Applies the pending schema migrations of the store `uri` names (or, with
// `dry_run`, only lists them); returns their labels in order.
Result<std::vector<std::string>> migrate_store(std::string_view uri, bool dry_run);

}  // namespace agnx::store
