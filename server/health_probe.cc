// agnx-health: asks a gRPC server's health service whether it is serving.
//
//   agnx-health [--timeout SECONDS] [--service NAME] [--tls-ca FILE] ADDR
//
// Calls grpc.health.v1.Health/Check on ADDR (plain text, or TLS trusting the
// CA certificates of --tls-ca; health checks need no token) and exits 0 when
// the answer is SERVING, 1 otherwise: unreachable, timed out, NOT_SERVING, or
// a usage error. Meant for container HEALTHCHECKs and service monitors, where
// neither grpcurl nor grpc_health_probe is packaged.
#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "grpc/health/v1/health.grpc.pb.h"

int main(int argc, char** argv) {
  CLI::App app{"agnx-health: exit 0 if the gRPC server at ADDR reports SERVING, 1 otherwise.\n"
               "Example:\n"
               "  agnx-health --timeout 3 127.0.0.1:50051"};
  std::string address;
  double timeout_seconds = 5;
  std::string service;
  bool quiet = false;
  app.add_option("ADDR", address, "server address, e.g. 127.0.0.1:50051")->required();
  app.add_option("--timeout", timeout_seconds, "seconds to wait for the answer, connecting included")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--service", service, "service name to check (empty: the whole server)");
  std::string tls_ca;
  app.add_option("--tls-ca", tls_ca, "connect with TLS, trusting the CA certificates of this PEM file")
      ->check(CLI::ExistingFile);
  app.add_flag("-q,--quiet", quiet, "print nothing");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return e.get_exit_code() == 0 ? 0 : 1;  // Docker reserves exit status 2
  }

  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!tls_ca.empty()) {
    std::ifstream in(tls_ca, std::ios::binary);
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    credentials = grpc::SslCredentials(ssl);
  }
  auto channel = grpc::CreateChannel(address, credentials);
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::microseconds(static_cast<long long>(timeout_seconds * 1e6)));
  context.set_wait_for_ready(true);  // keep trying to connect until the deadline
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    if (!quiet) std::fprintf(stderr, "agnx-health: %s: error %d: %s\n", address.c_str(),
                             static_cast<int>(status.error_code()), status.error_message().c_str());
    return 1;
  }
  const auto serving = response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  if (!quiet) {
    std::printf("%s: %s\n", address.c_str(), grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()).c_str());
  }
  return serving ? 0 : 1;
}
