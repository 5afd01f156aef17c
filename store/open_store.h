// Opening a tracking store by name: the one place that knows the backends.
// The server, its maintenance commands (migrate, gc, backup) and tools name
// a store by URI and get the backend-neutral TrackingStore contract.
//
//   sqlite:DIR   the SQLite store in DIR (database and artifacts)
//   DIR          the same: agnx-server's --data-dir short form
//   postgresql://[USER[:PASSWORD]@][HOST][:PORT]/DBNAME?data_dir=DIR[&PARAM=VALUE...]
//   postgres://...  the same
//                the PostgreSQL store (store/postgres_store.h) in database
//                DBNAME, and DIR for the files a server keeps beside it:
//                artifacts in DIR/artifacts, job scratch space in DIR/tmp
//                (as sqlite:DIR, without the database). Replicas of one
//                database share DIR (a shared file system). data_dir is
//                required. pool_size=N (1 to 1000, default
//                kDefaultPoolSize) is the most connections the store keeps
//                to the database (its transactions in flight at once; each
//                replica has its own). Every other parameter goes to libpq as written
//                (sslmode, host=/unix/socket/dir, connect_timeout, ...), and
//                connect_timeout defaults to 10 s, so an unreachable server
//                fails fast (kUnavailable naming the URI, password hidden);
//                credentials it refuses fail kFailedPrecondition.
//
// Adding a backend: its own files and CMake target, a scheme here, and one
// line in tests/store_test.cc's backend list (the contract suite).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/tracking_store.h"

namespace agnx::store {

inline constexpr int kDefaultConnectTimeoutSeconds = 10;
inline constexpr std::size_t kDefaultPoolSize = 8;

struct StoreLocation {
  std::string scheme;               // "sqlite" or "postgresql"
  std::filesystem::path directory;  // the store's own directory (database or not, artifacts, tmp)
  std::string conninfo;             // postgresql: the URI libpq gets (no data_dir, a connect_timeout)
  std::string display;              // the URI as errors and logs name it: no password
  std::size_t pool_size = kDefaultPoolSize;  // postgresql: the most connections its store keeps
};

// Parses a store URI. Errors (kInvalidArgument, naming the URI without its
// password): empty, an unknown scheme, no directory (for postgresql: no
// data_dir), a pool_size out of range.
Result<StoreLocation> parse_store_uri(std::string_view uri);

// `uri` with the password of its user info and of a password= parameter
// replaced by "***".
std::string redact_store_uri(std::string_view uri);

// Opens (creating and migrating it if needed) the store `uri` names.
// Errors: those of parse_store_uri and of the backend's open.
Result<std::unique_ptr<TrackingStore>> open_store(std::string_view uri);

// Applies the pending schema migrations of the store `uri` names (or, with
// `dry_run`, only lists them); returns their labels in order.
Result<std::vector<std::string>> migrate_store(std::string_view uri, bool dry_run);

}  // namespace agnx::store
