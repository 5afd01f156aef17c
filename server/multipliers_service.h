// The Multipliers service: the libraries a server offers, their multipliers
// with characterization, and importing a library of product tables.
#pragma once

#include <filesystem>

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "server/library_registry.h"

namespace agnx::server {

namespace pb = ::agnapprox::v1;

// `libraries` must outlive the service; it is shared with the job runner
// and safe to use from any thread, as is the service (gRPC calls its
// methods concurrently; it holds no state of its own besides its options).
class MultipliersService final : public pb::Multipliers::Service {
 public:
  // Imports are unpacked in a fresh directory under `scratch_dir` (created if
  // missing), removed again when the import ends. An upload over
  // `max_upload_bytes` in all is refused with RESOURCE_EXHAUSTED.
  MultipliersService(LibraryRegistry& libraries, std::filesystem::path scratch_dir, std::size_t max_upload_bytes)
      : libraries_(libraries), scratch_dir_(std::move(scratch_dir)), max_upload_bytes_(max_upload_bytes) {}

  grpc::Status ListLibraries(grpc::ServerContext*, const pb::ListLibrariesRequest*, pb::ListLibrariesResponse*) override;
  grpc::Status ListMultipliers(grpc::ServerContext*, const pb::ListMultipliersRequest*,
                               pb::ListMultipliersResponse*) override;
  grpc::Status GetMultiplier(grpc::ServerContext*, const pb::GetMultiplierRequest*, pb::MultiplierDetail*) override;
  grpc::Status ImportLibrary(grpc::ServerContext*, grpc::ServerReader<pb::ImportLibraryRequest>*, pb::Library*) override;

 private:
  LibraryRegistry& libraries_;
  std::filesystem::path scratch_dir_;
  std::size_t max_upload_bytes_;
};

}  // namespace agnx::server
