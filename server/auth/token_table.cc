#include "server/auth/token_table.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

namespace agnx::server {
namespace {

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t at = 0;
  while (true) {
    at = line.find_first_not_of(" \t\r", at);
    if (at == std::string_view::npos) return fields;
    const std::size_t end = std::min(line.find_first_of(" \t\r", at), line.size());
    fields.push_back(line.substr(at, end - at));
    at = end;
  }
}

bool is_token(std::string_view token) {
  return token.size() >= kMinTokenLength && token.front() != '#' &&
         std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c < 127; });
}

bool is_user_name(std::string_view user) {
  return std::all_of(user.begin(), user.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-' || c == '@';
  });
}

// Why `fields` is not a "TOKEN USER ROLE" line, without quoting any of them;
// empty if it is one.
std::string line_error(const std::vector<std::string_view>& fields) {
  if (fields.size() != 3) return "expected three fields, TOKEN USER ROLE, found " + std::to_string(fields.size());
  if (!is_token(fields[0])) {
    return "the token must be at least " + std::to_string(kMinTokenLength) + " visible ASCII characters";
  }
  if (!is_user_name(fields[1])) return "the user name may hold only letters, digits and . _ - @";
  if (!parse_role(fields[2])) return "the role must be reader, writer or admin";
  return {};
}

}  // namespace

TokenTable::Digest TokenTable::digest_of(std::string_view token) {
  Digest digest{};
  EVP_Digest(token.data(), token.size(), digest.data(), nullptr, EVP_sha256(), nullptr);
  return digest;
}

Result<TokenTable> TokenTable::parse(std::string_view text, const std::string& source) {
  TokenTable table;
  std::map<Digest, std::size_t> line_of_token;
  for (std::size_t line_number = 1; !text.empty(); ++line_number) {
    const std::size_t newline = std::min(text.find('\n'), text.size());
    const std::vector<std::string_view> fields = split_fields(text.substr(0, newline));
    text.remove_prefix(std::min(newline + 1, text.size()));
    if (fields.empty() || fields[0].front() == '#') continue;
    const std::string where = source + ":" + std::to_string(line_number) + ": ";
    if (const std::string error = line_error(fields); !error.empty()) return Status::invalid_argument(where + error);
    const Digest digest = digest_of(fields[0]);
    if (const auto [first, inserted] = line_of_token.emplace(digest, line_number); !inserted) {
      return Status::invalid_argument(where + "the same token as line " + std::to_string(first->second));
    }
    table.entries_.push_back({digest, {std::string(fields[1]), *parse_role(fields[2])}});
  }
  if (table.entries_.empty()) return Status::invalid_argument(source + ": no tokens");
  return table;
}

Result<TokenTable> TokenTable::load(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return Status::io_error(path.string() + ": cannot read the tokens file: " + std::strerror(errno));
  }
  if ((info.st_mode & S_IRWXO) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    return Status::failed_precondition(path.string() + ": others may read or write it (mode " + mode +
                                       "); run chmod o-rwx on it");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in || !S_ISREG(info.st_mode)) return Status::io_error(path.string() + ": cannot read the tokens file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::io_error(path.string() + ": cannot read the tokens file");
  return parse(text.str(), path.string());
}

std::optional<Identity> TokenTable::find(std::string_view token) const {
  const Digest digest = digest_of(token);
  const Entry* match = nullptr;
  for (const Entry& entry : entries_) {  // every entry, no early exit
    const bool equal = CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0;
    match = equal ? &entry : match;
  }
  if (match == nullptr) return std::nullopt;
  return match->identity;
}

}  // namespace agnx::server
