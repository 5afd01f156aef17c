// SHA-256 (OpenSSL libcrypto's EVP API), as 64 lower-case hex digits.
#pragma once

#include <string>
#include <string_view>

namespace agnx::store {

std::string sha256_hex(std::string_view bytes);

}  // namespace agnx::store
