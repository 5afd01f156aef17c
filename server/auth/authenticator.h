// Authenticator: the server's current TokenTable, which a reload (SIGHUP)
// may replace while calls are being checked. Both transports use it: gRPC
// metadata `authorization: Bearer TOKEN` and the dashboard's HTTP
// `Authorization: Bearer TOKEN` header.
//
// Thread safety: authenticate(), size() and replace() may run concurrently
// from any threads; each lookup sees either the old table or the new one,
// whole. Not copyable.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "server/auth/token_table.h"

namespace agnx::server {

// The TOKEN of an authorization value "Bearer TOKEN" (the scheme in any
// letter case, one space); nullopt for anything else, an empty value included.
std::optional<std::string_view> bearer_token(std::string_view authorization);

class Authenticator {
 public:
  explicit Authenticator(TokenTable table);
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Makes `table` the one later lookups use.
  void replace(TokenTable table);

  // The identity behind an authorization value "Bearer TOKEN"; nullopt when
  // the value is not a bearer token or the table does not hold the token.
  std::optional<Identity> authenticate(std::string_view authorization) const;

  // The number of tokens in the current table.
  std::size_t size() const;

 private:
  std::atomic<std::shared_ptr<const TokenTable>> table_;
};

}  // namespace agnx::server
