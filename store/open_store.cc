#include "store/open_store.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "store/migrations.h"
#include "store/postgres_migrations.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace agnx::store {
namespace {

constexpr std::string_view kDataDir = "data_dir=";
constexpr std::string_view kPoolSize = "pool_size=";
constexpr std::size_t kMaxPoolSize = 1000;

// pool_size's value: a number of connections in [1, kMaxPoolSize].
Result<std::size_t> parse_pool_size(std::string_view value, const std::string& display) {
  std::size_t size = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), size);
  if (error != std::errc() || end != value.data() + value.size() || size < 1 || size > kMaxPoolSize) {
    return Status::invalid_argument("store '" + display + "': pool_size must be a number of connections from 1 to " +
                                    std::to_string(kMaxPoolSize));
  }
  return size;
}

bool is_hex_escape(std::string_view text, std::size_t i) {
  return text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
         std::isxdigit(static_cast<unsigned char>(text[i + 2]));
}

// `text` with its %XX escapes decoded.
std::string percent_decoded(std::string_view text) {
  std::string decoded;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!is_hex_escape(text, i)) {
      decoded += text[i];
      continue;
    }
    decoded += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return decoded;
}

// A postgresql:// URI: the URI libpq gets (data_dir and pool_size taken out,
// a connect_timeout added unless given), data_dir and pool_size.
Result<StoreLocation> parse_postgres_uri(std::string_view uri) {
  const std::string display = redact_store_uri(uri);
  const std::size_t question = uri.find('?');
  std::string conninfo(uri.substr(0, question));
  std::string parameters;
  std::string data_dir;
  std::size_t pool_size = kDefaultPoolSize;
  bool has_timeout = false;
  std::string_view query = question == std::string_view::npos ? "" : uri.substr(question + 1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    if (part.starts_with(kDataDir)) {
      data_dir = percent_decoded(part.substr(kDataDir.size()));
      continue;
    }
    if (part.starts_with(kPoolSize)) {
      AGNX_ASSIGN_OR_RETURN(pool_size, parse_pool_size(part.substr(kPoolSize.size()), display));
      continue;
    }
    has_timeout = has_timeout || part.starts_with("connect_timeout=");
    if (!part.empty()) parameters += (parameters.empty() ? "" : "&") + std::string(part);
  }
  if (data_dir.empty()) {
    return Status::invalid_argument("store '" + display +
                                    "': no data_dir; add ?data_dir=DIR, the directory of the store's artifacts");
  }
  if (!has_timeout) {
    parameters += (parameters.empty() ? "" : "&") + ("connect_timeout=" + std::to_string(kDefaultConnectTimeoutSeconds));
  }
  return StoreLocation{"postgresql", std::filesystem::path(data_dir), conninfo + "?" + parameters, display, pool_size};
}

}  // namespace

std::string redact_store_uri(std::string_view uri) {
  std::string out(uri);
  const std::size_t scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    const std::size_t authority = scheme_end + 3;
    const std::size_t end = out.find_first_of("/?", authority);
    const std::size_t at = out.rfind('@', end);
    const std::size_t colon = out.find(':', authority);
    if (at != std::string::npos && at >= authority && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  for (std::size_t pos = out.find("password="); pos != std::string::npos; pos = out.find("password=", pos + 1)) {
    if (pos == 0 || (out[pos - 1] != '?' && out[pos - 1] != '&')) continue;
    const std::size_t value = pos + 9;
    const std::size_t value_end = std::min(out.find('&', value), out.size());
    out.replace(value, value_end - value, "***");
  }
  return out;
}

Result<StoreLocation> parse_store_uri(std::string_view uri) {
  if (uri.empty()) return Status::invalid_argument("the store URI is empty; give sqlite:DIR or a directory");
  // A scheme is lower-case letters before the first ':'; anything else is a directory.
  const auto colon = uri.find(':');
  const bool has_scheme = colon != std::string_view::npos && colon > 0 &&
                          uri.substr(0, colon).find_first_not_of("abcdefghijklmnopqrstuvwxyz") == std::string_view::npos;
  if (!has_scheme) return StoreLocation{"sqlite", std::filesystem::path(uri), "", std::string(uri)};
  const std::string scheme(uri.substr(0, colon));
  if (scheme == "postgresql" || scheme == "postgres") return parse_postgres_uri(uri);
  if (scheme != "sqlite") {
    return Status::invalid_argument("store '" + redact_store_uri(uri) + "': unknown scheme '" + scheme +
                                    "' (this server knows sqlite:DIR and postgresql://...)");
  }
  if (colon + 1 == uri.size()) return Status::invalid_argument("store '" + std::string(uri) + "': no directory");
  return StoreLocation{scheme, std::filesystem::path(uri.substr(colon + 1)), "", std::string(uri)};
}

Result<std::unique_ptr<TrackingStore>> open_store(std::string_view uri) {
  AGNX_ASSIGN_OR_RETURN(const StoreLocation location, parse_store_uri(uri));
  if (location.scheme == "postgresql") {
    PostgresStoreOptions options;
    options.conninfo = location.conninfo;
    options.display = location.display;
    options.artifact_root = location.directory / "artifacts";
    options.max_connections = location.pool_size;
    AGNX_ASSIGN_OR_RETURN(std::unique_ptr<PostgresTrackingStore> store, PostgresTrackingStore::open(options));
    return std::unique_ptr<TrackingStore>(std::move(store));
  }
  SqliteStoreOptions options;
  options.data_dir = location.directory;
  AGNX_ASSIGN_OR_RETURN(std::unique_ptr<SqliteTrackingStore> store, SqliteTrackingStore::open(options));
  return std::unique_ptr<TrackingStore>(std::move(store));
}

Result<std::vector<std::string>> migrate_store(std::string_view uri, bool dry_run) {
  AGNX_ASSIGN_OR_RETURN(const StoreLocation location, parse_store_uri(uri));
  std::vector<Migration> migrations;
  if (location.scheme == "postgresql") {
    AGNX_ASSIGN_OR_RETURN(auto connection, pg::Connection::open(location.conninfo, location.display));
    AGNX_ASSIGN_OR_RETURN(migrations, dry_run ? pending_postgres_migrations(*connection)
                                              : apply_postgres_migrations(*connection));
  } else {
    const auto database = SqliteTrackingStore::database_path(location.directory);
    std::error_code ignored;
    std::filesystem::create_directories(location.directory, ignored);
    AGNX_ASSIGN_OR_RETURN(migrations, dry_run ? pending_migrations(database) : apply_migrations(database));
  }
  std::vector<std::string> labels;
  for (const Migration& m : migrations) labels.push_back(m.label());
  return labels;
}

}  // namespace agnx::store
