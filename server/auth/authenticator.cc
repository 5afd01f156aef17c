#include "server/auth/authenticator.h"

#include <cctype>

namespace agnx::server {

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return std::nullopt;
  }
  return authorization.substr(kScheme.size());
}

Authenticator::Authenticator(TokenTable table) : table_(std::make_shared<const TokenTable>(std::move(table))) {}

void Authenticator::replace(TokenTable table) { table_.store(std::make_shared<const TokenTable>(std::move(table))); }

std::optional<Identity> Authenticator::authenticate(std::string_view authorization) const {
  const std::optional<std::string_view> token = bearer_token(authorization);
  if (!token) return std::nullopt;
  return table_.load()->find(*token);
}

std::size_t Authenticator::size() const { return table_.load()->size(); }

}  // namespace agnx::server
