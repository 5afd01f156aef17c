// The Matching service: matching jobs (submission, progress, cancellation),
// their results, energy queries and re-selection. Engine work runs in the
// JobRunner; this class validates requests and translates messages.
#pragma once

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "server/auth/authenticator.h"
#include "server/job_runner.h"
#include "server/library_registry.h"
#include "store/tracking_store.h"

namespace agnx::server {

namespace pb = ::agnapprox::v1;

struct SubmissionLimits {
  std::size_t max_upload_bytes = std::size_t{512} << 20;       // a whole submission
  std::size_t max_calibration_bytes = std::size_t{256} << 20;  // its calibration data
};

class MatchingService final : public pb::Matching::Service {
 public:
  // `authenticator` (null: none) names the creator of submitted runs; it and
  // the other references must outlive the service.
  MatchingService(store::TrackingStore& store, LibraryRegistry& libraries, JobRunner& jobs,
                  const SubmissionLimits& limits, const Authenticator* authenticator)
      : store_(store), libraries_(libraries), jobs_(jobs), limits_(limits), authenticator_(authenticator) {}

  grpc::Status SubmitMatching(grpc::ServerContext*, grpc::ServerReader<pb::SubmitMatchingRequest>*,
                              pb::SubmitMatchingResponse*) override;
  grpc::Status WatchJob(grpc::ServerContext*, const pb::GetJobRequest*, grpc::ServerWriter<pb::JobProgress>*) override;
  grpc::Status GetJob(grpc::ServerContext*, const pb::GetJobRequest*, pb::Job*) override;
  grpc::Status CancelJob(grpc::ServerContext*, const pb::GetJobRequest*, pb::Job*) override;
  grpc::Status GetMatchingResult(grpc::ServerContext*, const pb::GetMatchingResultRequest*,
                                 pb::MatchingResult*) override;
  grpc::Status QueryEnergy(grpc::ServerContext*, const pb::QueryEnergyRequest*, pb::QueryEnergyResponse*) override;
  grpc::Status Reselect(grpc::ServerContext*, const pb::ReselectRequest*, pb::MatchingResult*) override;
  // In matching_export.cc.
  grpc::Status DownloadRunExport(grpc::ServerContext*, const pb::GetRunRequest*,
                                 grpc::ServerWriter<pb::ExportChunk>*) override;

 private:
  store::TrackingStore& store_;
  LibraryRegistry& libraries_;
  JobRunner& jobs_;
  SubmissionLimits limits_;
  const Authenticator* authenticator_;
};

}  // namespace agnx::server
