// What agnx-server's security flags make of its addresses:
//   --auth-tokens FILE   bearer tokens with users and roles (token_table.h),
//                        for gRPC calls and the dashboard's API alike
//   --tls-cert/--tls-key TLS for gRPC, and HTTPS for the dashboard
// With neither, the server is for this machine only: --listen and --http
// must be loopback addresses. The dashboard's API is open to anyone without
// tokens, so a non-loopback --http needs --auth-tokens whatever else is given.
#pragma once

#include <grpcpp/security/server_credentials.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "server/auth/authenticator.h"

namespace agnx::server {

struct SecurityFlags {
  std::string listen;                    // --listen
  std::string http;                      // --http; empty: no dashboard
  std::filesystem::path auth_tokens;     // empty: no authentication
  std::filesystem::path tls_cert, tls_key;  // both or neither
};

struct ServerSecurity {
  std::shared_ptr<grpc::ServerCredentials> credentials;  // for --listen
  std::shared_ptr<Authenticator> authenticator;          // null without --auth-tokens
  // What the server says at start about its security, one line each
  // (never a token).
  std::vector<std::string> notices;
};

// Reads the tokens file and the TLS files and checks the addresses. Errors
// name the flag: --tls-cert without --tls-key or the reverse, an unreadable
// or non-PEM file, a key that does not match the certificate, the tokens
// file's errors (TokenTable::load), and a non-loopback address the rules
// above refuse (kFailedPrecondition).
Result<ServerSecurity> configure_security(const SecurityFlags& flags);

// True for "HOST:PORT" addresses whose HOST is loopback: 127.0.0.0/8, ::1
// (in brackets: "[::1]:50051") or localhost.
bool is_loopback_address(std::string_view address);

}  // namespace agnx::server
