// TokenTable: the bearer tokens a server accepts, each with a user name and
// a role, as read from an --auth-tokens file:
//
//   # TOKEN                            USER   ROLE
//   b7c2e0a1f4d35e6a9c8b7d1e2f3a4b5c   alice  writer
//
// One token per line: three fields separated by blanks. Lines whose first
// non-blank character is '#' and blank lines are ignored. A token is at least
// 16 visible ASCII characters and does not start with '#'; a user name is
// letters, digits and ". _ - @"; a role is reader, writer or admin
// (server/auth/role.h). A user may have several tokens; a token appears once.
//
// Only SHA-256 digests of the tokens are kept, and lookups compare the
// digest of the presented token with every entry in full, so neither the
// result nor the time taken reveals how much of a token was right. Error
// messages name the file and the line but never quote a field, so that a
// token pasted into the wrong column does not end up in a log.
//
// An immutable value: copyable, and safe to read from any number of threads.
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "server/auth/role.h"

namespace agnx::server {

// Who a token belongs to.
struct Identity {
  std::string user;
  Role role = Role::kReader;
};

inline constexpr std::size_t kMinTokenLength = 16;

class TokenTable {
 public:
  // Parses the text of a tokens file; `source` names it in errors
  // ("<source>:<line>: ..."). Errors (kInvalidArgument): a line without
  // exactly three fields, a short or malformed token, a bad user name, an
  // unknown role, a token given twice, no tokens at all.
  static Result<TokenTable> parse(std::string_view text, const std::string& source);

  // Reads and parses the file at `path`. Besides parse()'s errors: a file
  // that cannot be read (kIoError), and one that others (not its owner or
  // group) may read or write (kFailedPrecondition: chmod o-rwx it).
  static Result<TokenTable> load(const std::filesystem::path& path);

  // The identity of `token`; nullopt if the table does not hold it.
  std::optional<Identity> find(std::string_view token) const;

  std::size_t size() const { return entries_.size(); }

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Entry {
    Digest digest;
    Identity identity;
  };
  static Digest digest_of(std::string_view token);

  std::vector<Entry> entries_;
};

}  // namespace agnx::server
