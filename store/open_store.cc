#include "store/open_store.h"

#include "store/migrations.h"
#include "store/sqlite_store.h"

namespace agnx::store {

Result<StoreLocation> parse_store_uri(std::string_view uri) {
  if (uri.empty()) return Status::invalid_argument("the store URI is empty; give sqlite:DIR or a directory");
  // A scheme is lower-case letters before the first ':'; anything else is a directory.
  const auto colon = uri.find(':');
  const bool has_scheme = colon != std::string_view::npos && colon > 0 &&
                          uri.substr(0, colon).find_first_not_of("abcdefghijklmnopqrstuvwxyz") == std::string_view::npos;
  if (!has_scheme) return StoreLocation{"sqlite", std::filesystem::path(uri)};
  const std::string scheme(uri.substr(0, colon));
  if (scheme != "sqlite") {
    return Status::invalid_argument("store '" + std::string(uri) + "': unknown scheme '" + scheme +
                                    "' (this server knows sqlite:DIR)");
  }
  if (colon + 1 == uri.size()) return Status::invalid_argument("store '" + std::string(uri) + "': no directory");
  return StoreLocation{scheme, std::filesystem::path(uri.substr(colon + 1))};
}

Result<std::unique_ptr<TrackingStore>> open_store(std::string_view uri) {
  AGNX_ASSIGN_OR_RETURN(const StoreLocation location, parse_store_uri(uri));
  SqliteStoreOptions options;
  options.data_dir = location.directory;
  AGNX_ASSIGN_OR_RETURN(std::unique_ptr<SqliteTrackingStore> store, SqliteTrackingStore::open(options));
  return std::unique_ptr<TrackingStore>(std::move(store));
}

Result<std::vector<std::string>> migrate_store(std::string_view uri, bool dry_run) {
  AGNX_ASSIGN_OR_RETURN(const StoreLocation location, parse_store_uri(uri));
  const auto database = SqliteTrackingStore::database_path(location.directory);
  std::error_code ignored;
  std::filesystem::create_directories(location.directory, ignored);
  AGNX_ASSIGN_OR_RETURN(const std::vector<Migration> migrations,
                        dry_run ? pending_migrations(database) : apply_migrations(database));
  std::vector<std::string> labels;
  for (const Migration& m : migrations) labels.push_back(m.label());
  return labels;
}

}  // namespace agnx::store
