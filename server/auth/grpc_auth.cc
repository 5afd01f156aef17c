#include "server/auth/grpc_auth.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>

#include <cstdlib>

#include "server/auth/method_roles.h"

namespace agnx::server {
namespace {

std::string_view view(const grpc_slice& slice) {
  return {reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)), GRPC_SLICE_LENGTH(slice)};
}

// gRPC core's auth metadata processor, run for every call on the transport's
// thread; it answers at once (lookups do not block).
struct CallChecker {
  std::shared_ptr<const Authenticator> authenticator;

  static void process(void* state, grpc_auth_context*, const grpc_metadata* metadata, std::size_t count,
                      grpc_process_auth_metadata_done_cb done, void* user_data) {
    std::string_view method, authorization;
    for (std::size_t i = 0; i < count; ++i) {
      const std::string_view key = view(metadata[i].key);
      if (key == ":path") method = view(metadata[i].value);
      if (key == "authorization" && authorization.empty()) authorization = view(metadata[i].value);
    }
    const grpc::Status status = check_call(*static_cast<CallChecker*>(state)->authenticator, method, authorization);
    done(user_data, nullptr, 0, nullptr, 0, static_cast<grpc_status_code>(status.error_code()),
         status.ok() ? nullptr : status.error_message().c_str());
  }

  static void destroy(void* state) { delete static_cast<CallChecker*>(state); }
};

// Server credentials made from gRPC core's, which (unlike the C++ insecure
// credentials) take an auth metadata processor in plain text too.
class CoreServerCredentials final : public grpc::ServerCredentials {
 public:
  explicit CoreServerCredentials(grpc_server_credentials* core) : core_(core) {}
  ~CoreServerCredentials() override { grpc_server_credentials_release(core_); }
  CoreServerCredentials(const CoreServerCredentials&) = delete;
  CoreServerCredentials& operator=(const CoreServerCredentials&) = delete;

  // The processor is fixed when the credentials are made; replacing it
  // would bypass the call check, so it is a programming error.
  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override { std::abort(); }

 private:
  int AddPortToServer(const std::string& address, grpc_server* server) override {
    return grpc_server_add_http2_port(server, address.c_str(), core_);
  }

  grpc_server_credentials* core_;
};

}  // namespace

std::shared_ptr<grpc::ServerCredentials> server_credentials(const std::optional<TlsKeyPair>& tls,
                                                            std::shared_ptr<const Authenticator> authenticator) {
  if (!tls && !authenticator) return grpc::InsecureServerCredentials();
  grpc_server_credentials* core = nullptr;
  if (tls) {
    grpc_ssl_pem_key_cert_pair pair{tls->private_key.c_str(), tls->certificate_chain.c_str()};
    core = grpc_ssl_server_credentials_create_ex(nullptr, &pair, 1, GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
                                                 nullptr);
  } else {
    core = grpc_insecure_server_credentials_create();
  }
  if (authenticator) {
    auto* checker = new CallChecker{std::move(authenticator)};
    grpc_server_credentials_set_auth_metadata_processor(
        core, {&CallChecker::process, &CallChecker::destroy, checker});
  }
  return std::make_shared<CoreServerCredentials>(core);
}

grpc::Status check_call(const Authenticator& authenticator, std::string_view method, std::string_view authorization) {
  if (is_public_method(method)) return grpc::Status::OK;
  if (!bearer_token(authorization)) {
    return {grpc::StatusCode::UNAUTHENTICATED, "this server needs the metadata 'authorization: Bearer TOKEN'"};
  }
  const std::optional<Identity> identity = authenticator.authenticate(authorization);
  if (!identity) return {grpc::StatusCode::UNAUTHENTICATED, "the bearer token is not valid"};
  const std::optional<Role> needed = required_role(method);
  if (!needed) {
    return {grpc::StatusCode::PERMISSION_DENIED, "no role may call " + std::string(method) + ": it has no entry in "
                                                  "the server's method table"};
  }
  if (!role_allows(identity->role, *needed)) {
    return {grpc::StatusCode::PERMISSION_DENIED, "user '" + identity->user + "' has the " +
                                                     role_name(identity->role) + " role; " + std::string(method) +
                                                     " needs " + role_name(*needed)};
  }
  return grpc::Status::OK;
}

grpc::Status caller_user(const grpc::ServerContext& context, const Authenticator* authenticator, std::string* user) {
  if (authenticator == nullptr) {
    *user = "anonymous";
    return grpc::Status::OK;
  }
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find("authorization");
  std::optional<Identity> identity;
  if (found != metadata.end()) identity = authenticator->authenticate({found->second.data(), found->second.size()});
  if (!identity) return {grpc::StatusCode::UNAUTHENTICATED, "the bearer token is no longer valid"};
  *user = identity->user;
  return grpc::Status::OK;
}

}  // namespace agnx::server
