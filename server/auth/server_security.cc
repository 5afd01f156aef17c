#include "server/auth/server_security.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include "server/auth/grpc_auth.h"

namespace agnx::server {
namespace {

Result<std::string> read_flag_file(const std::string& flag, const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  if (!in || !std::filesystem::is_regular_file(path, ec)) {
    return Status::io_error(flag + " " + path.string() + ": cannot read the file");
  }
  std::ostringstream content;
  content << in.rdbuf();
  return std::move(content).str();
}

// Checks that `pair` holds a PEM certificate and the private key of it.
Status check_key_pair(const SecurityFlags& flags, const TlsKeyPair& pair) {
  const std::string cert_flag = "--tls-cert " + flags.tls_cert.string();
  const std::string key_flag = "--tls-key " + flags.tls_key.string();
  BIO* cert_bio = BIO_new_mem_buf(pair.certificate_chain.data(), static_cast<int>(pair.certificate_chain.size()));
  X509* certificate = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  BIO* key_bio = BIO_new_mem_buf(pair.private_key.data(), static_cast<int>(pair.private_key.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  Status status;
  if (certificate == nullptr) {
    status = Status::invalid_argument(cert_flag + ": no PEM certificate in the file");
  } else if (key == nullptr) {
    status = Status::invalid_argument(key_flag + ": no unencrypted PEM private key in the file");
  } else if (X509_check_private_key(certificate, key) != 1) {
    status = Status::invalid_argument(key_flag + ": not the private key of the certificate in " + cert_flag);
  }
  X509_free(certificate);
  EVP_PKEY_free(key);
  return status;
}

Result<std::optional<TlsKeyPair>> load_tls(const SecurityFlags& flags) {
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return Status::invalid_argument(flags.tls_cert.empty() ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key");
  }
  if (flags.tls_cert.empty()) return std::optional<TlsKeyPair>();
  TlsKeyPair pair;
  AGNX_ASSIGN_OR_RETURN(pair.certificate_chain, read_flag_file("--tls-cert", flags.tls_cert));
  AGNX_ASSIGN_OR_RETURN(pair.private_key, read_flag_file("--tls-key", flags.tls_key));
  AGNX_RETURN_IF_ERROR(check_key_pair(flags, pair));
  return std::optional<TlsKeyPair>(std::move(pair));
}

Status check_addresses(const SecurityFlags& flags, bool tokens, bool tls) {
  if (!tokens && !tls && !is_loopback_address(flags.listen)) {
    return Status::failed_precondition("--listen " + flags.listen +
                                       ": not a loopback address; serving beyond this machine needs "
                                       "--auth-tokens or --tls-cert");
  }
  if (!tokens && !flags.http.empty() && !is_loopback_address(flags.http)) {
    return Status::failed_precondition("--http " + flags.http +
                                       ": not a loopback address; serving the dashboard beyond this machine "
                                       "needs --auth-tokens");
  }
  return Status();
}

}  // namespace

bool is_loopback_address(std::string_view address) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string host(address.substr(0, colon));
  if (host == "localhost") return true;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    in6_addr v6{};
    return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
  }
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

Result<ServerSecurity> configure_security(const SecurityFlags& flags) {
  ServerSecurity security;
  if (!flags.auth_tokens.empty()) {
    auto table = TokenTable::load(flags.auth_tokens);
    if (!table.ok()) return table.status().with_context("--auth-tokens");
    security.authenticator = std::make_shared<Authenticator>(std::move(*table));
    security.notices.push_back(std::to_string(security.authenticator->size()) + " bearer token(s) from " +
                               flags.auth_tokens.string() + " (SIGHUP re-reads it)");
  }
  AGNX_ASSIGN_OR_RETURN(const std::optional<TlsKeyPair> tls, load_tls(flags));
  AGNX_RETURN_IF_ERROR(check_addresses(flags, security.authenticator != nullptr, tls.has_value()));
  if (tls) security.notices.push_back("TLS with the certificate " + flags.tls_cert.string());
  if (!tls && !security.authenticator) {
    security.notices.push_back("no --auth-tokens/--tls-cert: serving on loopback only");
  } else if (!tls && !is_loopback_address(flags.listen)) {
    security.notices.push_back("warning: no --tls-cert: bearer tokens cross the network in clear text");
  }
  security.credentials = server_credentials(tls, security.authenticator);
  return security;
}

}  // namespace agnx::server
