// The Training service: search, retrain and sweep jobs (server/training_job.h)
// and sweep results. A submission's model and training data are checked in a
// model worker before anything is stored; the job then runs in the
// JobRunner. This class validates requests and translates messages.
#pragma once

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "server/auth/authenticator.h"
#include "server/job_runner.h"
#include "server/library_registry.h"
#include "store/tracking_store.h"

namespace agnx::server {

namespace pb = ::agnapprox::v1;

// A training submission may carry a whole training set: its own limit.
inline constexpr std::size_t kDefaultMaxTrainingUploadBytes = std::size_t{2} << 30;

class TrainingService final : public pb::Training::Service {
 public:
  // `authenticator` (null: none) names the creator of submitted runs; it and
  // the other references must outlive the service.
  TrainingService(store::TrackingStore& store, const LibraryRegistry& libraries, JobRunner& jobs,
                  const WorkerOptions& worker, std::filesystem::path work_dir, std::size_t max_upload_bytes,
                  const Authenticator* authenticator)
      : store_(store), libraries_(libraries), jobs_(jobs), worker_(worker), work_dir_(std::move(work_dir)),
        max_upload_bytes_(max_upload_bytes), authenticator_(authenticator) {}

  grpc::Status SubmitTraining(grpc::ServerContext*, grpc::ServerReader<pb::SubmitTrainingRequest>*,
                              pb::SubmitMatchingResponse*) override;
  grpc::Status GetSweep(grpc::ServerContext*, const pb::GetSweepRequest*, pb::Sweep*) override;

 private:
  store::TrackingStore& store_;
  const LibraryRegistry& libraries_;
  JobRunner& jobs_;
  WorkerOptions worker_;
  std::filesystem::path work_dir_;
  std::size_t max_upload_bytes_;
  const Authenticator* authenticator_;
};

}  // namespace agnx::server
