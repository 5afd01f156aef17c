// The Tracking service: experiments, runs, params, metrics, tags and
// artifacts, translated onto the TrackingStore. Thread-safe (the store is).
#pragma once

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "server/auth/authenticator.h"
#include "store/tracking_store.h"

namespace agnx::server {

namespace pb = ::agnapprox::v1;

class TrackingService final : public pb::Tracking::Service {
 public:
  // `authenticator` (null: none) names the creator of new runs; it and
  // `store` must outlive the service.
  TrackingService(store::TrackingStore& store, std::size_t max_upload_bytes, const Authenticator* authenticator)
      : store_(store), max_upload_bytes_(max_upload_bytes), authenticator_(authenticator) {}

  grpc::Status CreateExperiment(grpc::ServerContext*, const pb::CreateExperimentRequest*, pb::Experiment*) override;
  grpc::Status GetExperiment(grpc::ServerContext*, const pb::GetExperimentRequest*, pb::Experiment*) override;
  grpc::Status GetExperimentByName(grpc::ServerContext*, const pb::GetExperimentByNameRequest*,
                                   pb::Experiment*) override;
  grpc::Status ListExperiments(grpc::ServerContext*, const pb::ListExperimentsRequest*,
                               pb::ListExperimentsResponse*) override;
  grpc::Status DeleteExperiment(grpc::ServerContext*, const pb::GetExperimentRequest*, pb::Experiment*) override;
  grpc::Status RestoreExperiment(grpc::ServerContext*, const pb::GetExperimentRequest*, pb::Experiment*) override;

  grpc::Status CreateRun(grpc::ServerContext*, const pb::CreateRunRequest*, pb::Run*) override;
  grpc::Status GetRun(grpc::ServerContext*, const pb::GetRunRequest*, pb::Run*) override;
  grpc::Status UpdateRun(grpc::ServerContext*, const pb::UpdateRunRequest*, pb::Run*) override;
  grpc::Status DeleteRun(grpc::ServerContext*, const pb::GetRunRequest*, pb::Run*) override;
  grpc::Status RestoreRun(grpc::ServerContext*, const pb::GetRunRequest*, pb::Run*) override;
  grpc::Status SearchRuns(grpc::ServerContext*, const pb::SearchRunsRequest*, pb::SearchRunsResponse*) override;

  grpc::Status LogParam(grpc::ServerContext*, const pb::LogParamRequest*, pb::LogResponse*) override;
  grpc::Status LogMetric(grpc::ServerContext*, const pb::LogMetricRequest*, pb::LogResponse*) override;
  grpc::Status SetTag(grpc::ServerContext*, const pb::SetTagRequest*, pb::LogResponse*) override;
  grpc::Status LogBatch(grpc::ServerContext*, const pb::LogBatchRequest*, pb::LogResponse*) override;
  grpc::Status GetMetricHistory(grpc::ServerContext*, const pb::GetMetricHistoryRequest*,
                                pb::GetMetricHistoryResponse*) override;

  grpc::Status ListArtifacts(grpc::ServerContext*, const pb::GetRunRequest*, pb::ListArtifactsResponse*) override;
  grpc::Status UploadArtifact(grpc::ServerContext*, grpc::ServerReader<pb::UploadArtifactRequest>*,
                              pb::ArtifactInfo*) override;
  grpc::Status DownloadArtifact(grpc::ServerContext*, const pb::DownloadArtifactRequest*,
                                grpc::ServerWriter<pb::Chunk>*) override;

 private:
  grpc::Status reply_experiment(int64_t experiment_id, pb::Experiment* reply);
  grpc::Status reply_run(const std::string& run_id, pb::Run* reply);

  store::TrackingStore& store_;
  std::size_t max_upload_bytes_;
  const Authenticator* authenticator_;
};

}  // namespace agnx::server
