// Authentication and authorization of gRPC calls, before any service sees
// them: every call's `authorization: Bearer TOKEN` metadata goes through the
// Authenticator and its method through the role table (method_roles.h), in
// the transport's auth metadata processor, so that no method (a new one
// included) can be reached without passing the check.
#pragma once

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/auth/authenticator.h"

namespace agnx::server {

// A TLS server certificate chain and its private key, both PEM.
struct TlsKeyPair {
  std::string certificate_chain;
  std::string private_key;
};

// Credentials for ServerBuilder::AddListeningPort: TLS with `tls` if given,
// plain text otherwise; with an `authenticator`, every call must pass
// check_call() first, and fails with its status otherwise. Neither: gRPC's
// insecure credentials. The key pair is not checked here (see
// server_security.h); a bad one fails when the port is added.
std::shared_ptr<grpc::ServerCredentials> server_credentials(const std::optional<TlsKeyPair>& tls,
                                                            std::shared_ptr<const Authenticator> authenticator);

// The check of one call of `method` ("/package.Service/Method") with the
// metadata value `authorization` (empty if absent): OK for a public method or
// a known token whose role covers the method's; UNAUTHENTICATED for a
// missing, malformed or unknown token; PERMISSION_DENIED for a role below
// the method's or a method not in the table. Messages never quote a token.
grpc::Status check_call(const Authenticator& authenticator, std::string_view method, std::string_view authorization);

// The user name a call acts for, recorded as the creator of what it makes:
// the user of its bearer token, or "anonymous" when the server has no
// authenticator (null). UNAUTHENTICATED if the token has left the table
// since the call was admitted (a reload in between).
grpc::Status caller_user(const grpc::ServerContext& context, const Authenticator* authenticator, std::string* user);

}  // namespace agnx::server
