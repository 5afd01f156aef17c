#include "server/training_service.h"

#include <nlohmann/json.hpp>

#include "core/builtin_library.h"
#include "core/number_text.h"
#include "core/lut_directory.h"
#include "server/auth/grpc_auth.h"
#include "core/clock.h"
#include "server/experiments.h"
#include "server/grpc_status.h"
#include "server/matching_job.h"
#include "server/proto_convert.h"
#include "server/training_job.h"
#include "server/upload_stream.h"
#include "server/worker/training_work.h"

namespace agnx::server {
namespace {

// A training submission as received.
struct TrainingSubmission {
  pb::TrainingHeader header;
  std::string model, train_x, train_y, calibration, test_x, test_y;
};

// Where the file chunk that `message` carries belongs in `s`.
grpc::Status chunk_of(const pb::SubmitTrainingRequest& message, TrainingSubmission& s, UploadChunk& chunk) {
  switch (message.part_case()) {
    case pb::SubmitTrainingRequest::kModel: chunk = {&s.model, &message.model()}; break;
    case pb::SubmitTrainingRequest::kTrainX: chunk = {&s.train_x, &message.train_x()}; break;
    case pb::SubmitTrainingRequest::kTrainY: chunk = {&s.train_y, &message.train_y()}; break;
    case pb::SubmitTrainingRequest::kCalibration: chunk = {&s.calibration, &message.calibration()}; break;
    case pb::SubmitTrainingRequest::kTestX: chunk = {&s.test_x, &message.test_x()}; break;
    case pb::SubmitTrainingRequest::kTestY: chunk = {&s.test_y, &message.test_y()}; break;
    default: break;
  }
  return grpc::Status::OK;
}

grpc::Status read_training(grpc::ServerReader<pb::SubmitTrainingRequest>& reader, std::size_t limit,
                           TrainingSubmission& submission) {
  return read_upload_stream<pb::SubmitTrainingRequest>(
      [&](pb::SubmitTrainingRequest& message) { return reader.Read(&message); }, limit,
      {"the training header", "upload", "training submission"}, submission.header,
      [&](const pb::SubmitTrainingRequest& message, UploadChunk& chunk) { return chunk_of(message, submission, chunk); });
}

// The request the header asks for, checked; the uploads each kind needs.
Result<TrainingRequest> training_request(const TrainingSubmission& s, store::TrackingStore& store,
                                         const LibraryRegistry& libraries) {
  const pb::TrainingHeader& h = s.header;
  if (h.experiment().empty()) return Status::invalid_argument("header.experiment: must name an experiment");
  TrainingRequest r;
  r.kind = h.kind();
  r.lambdas.assign(h.lambdas().begin(), h.lambdas().end());
  r.library = h.library().empty() ? kBuiltinLibraryName : h.library();
  if (h.has_search_epochs()) r.search_epochs = h.search_epochs();
  if (h.has_retrain_epochs()) r.retrain_epochs = h.retrain_epochs();
  if (h.has_sigma_max()) r.sigma_max = h.sigma_max();
  if (h.has_num_samples()) r.num_samples = h.num_samples();
  r.seed = h.seed();
  r.has_test_data = !s.test_x.empty() || !s.test_y.empty();
  r.source_run = h.source_run();
  if (h.has_uint8_inputs()) {
    r.uint8_inputs = true;
    r.uint8_scale = h.uint8_inputs().scale();
    r.uint8_mean = h.uint8_inputs().mean();
    r.uint8_std = h.uint8_inputs().std();
  }
  if (const Status checked = check_training_request(r); !checked.ok()) {
    return Status::invalid_argument("header." + checked.message());
  }
  if (r.kind == kRetrainKind) {
    if (r.source_run.empty()) return Status::invalid_argument("header.source_run: a retrain job needs a matched run");
    auto source = store.get_matching(r.source_run);
    if (!source.ok()) return Status::not_found("header.source_run: run " + r.source_run + " has no matching result");
    r.library = source->info.library;
  } else if (s.model.empty()) {
    return Status::invalid_argument("model: a " + r.kind + " job needs a float model");
  }
  AGNX_RETURN_IF_ERROR(libraries.find(r.library).status().with_context("header.library"));
  if (s.train_x.empty() || s.train_y.empty()) return Status::invalid_argument("train_x, train_y: both are required");
  if (r.kind == kSweepKind && s.calibration.empty()) {
    return Status::invalid_argument("calibration: a sweep matches, so it needs calibration data");
  }
  if (s.test_x.empty() != s.test_y.empty()) return Status::invalid_argument("test_x, test_y: give both or neither");
  return r;
}

// Writes the model and training data to a job directory (their one copy on
// disk: the store links them in) and checks in a worker that they train.
Result<JobDirectory> check_in_worker(const WorkerOptions& worker, const std::filesystem::path& work_dir,
                                     const TrainingRequest& request, const std::string& model,
                                     const TrainingSubmission& s) {
  AGNX_ASSIGN_OR_RETURN(JobDirectory job, JobDirectory::create(work_dir));
  TrainingRequest check = request;
  check.has_test_data = false;
  AGNX_RETURN_IF_ERROR(job.write(worker::kStepFile, to_json(TrainingStep{"check", 0.0, check})));
  AGNX_RETURN_IF_ERROR(job.write(worker::kModelFile, model));
  AGNX_RETURN_IF_ERROR(job.write(worker::kTrainInputsFile, s.train_x));
  AGNX_RETURN_IF_ERROR(job.write(worker::kTrainLabelsFile, s.train_y));
  AGNX_RETURN_IF_ERROR(run_in_worker(worker, "train", job, kDefaultLutMetric, {}));
  return job;
}

store::RunBatch submission_batch(const TrainingRequest& r) {
  store::RunBatch batch;
  batch.params = {{"library", r.library},
                  {"search_epochs", std::to_string(r.search_epochs)},
                  {"retrain_epochs", std::to_string(r.retrain_epochs)},
                  {"sigma_max", round_trip_text(r.sigma_max)},
                  {"seed", std::to_string(r.seed)}};
  if (r.kind == kSearchKind) batch.params["lambda"] = round_trip_text(r.lambdas[0]);
  if (r.kind == kSweepKind) {
    std::string lambdas;
    for (const double l : r.lambdas) lambdas += (lambdas.empty() ? "" : ",") + round_trip_text(l);
    batch.params["lambdas"] = lambdas;
  }
  if (r.kind == kRetrainKind) batch.params["source_run"] = r.source_run;
  batch.tags = {{"agnx.kind", r.kind}};
  return batch;
}

// Stores the run, its inputs and params and the job in one write (once per
// idempotency key); the model and training data are linked from `checked`,
// the job directory of the submission's check.
Result<store::SubmittedJob> store_training(store::TrackingStore& store, const TrainingSubmission& s,
                                           const TrainingRequest& request, const JobDirectory& checked,
                                           int64_t experiment, const std::string& user) {
  store::JobSubmission job{experiment, s.header.run_name(), user, now_ms(), request.kind,
                           submission_batch(request), {}, kJobIdTag};
  const std::string request_json = to_json(request);
  const std::filesystem::path& dir = checked.path();
  job.artifacts = present_uploads({{kModelArtifact, s.model, dir / worker::kModelFile},  // s.model or none
                                   {kTrainInputsArtifact, s.train_x, dir / worker::kTrainInputsFile},
                                   {kTrainLabelsArtifact, s.train_y, dir / worker::kTrainLabelsFile},
                                   {kCalibrationArtifact, s.calibration, {}},
                                   {kTestInputsArtifact, s.test_x, {}},
                                   {kTestLabelsArtifact, s.test_y, {}},
                                   {kTrainingRequestArtifact, request_json, {}}});
  return store.submit_job(job, {s.header.idempotency_key()});
}

void to_proto(const nlohmann::json& summary, pb::Sweep* out) {
  out->set_run_id(summary.at("run_id"));
  for (const auto& point : summary.at("points")) {
    pb::SweepPoint* p = out->add_points();
    p->set_lambda(point.at("lambda"));
    p->set_run_id(point.at("run_id"));
    for (const auto& [layer, sigma] : point.at("sigma").items()) (*p->mutable_sigma())[layer] = sigma;
    p->set_relative_energy(point.at("relative_energy"));
    const auto& top1 = point.at("top1");
    p->mutable_top1()->set_float_(top1.value("float", 0.0));
    p->mutable_top1()->set_quantized(top1.value("quantized", 0.0));
    p->mutable_top1()->set_approximate(top1.value("approximate", 0.0));
    p->mutable_top1()->set_retrained(top1.value("retrained", 0.0));
  }
  for (const auto& index : summary.at("pareto")) out->add_pareto(index.get<uint32_t>());
  out->set_json(summary.dump(2));
}

}  // namespace

grpc::Status TrainingService::SubmitTraining(grpc::ServerContext* context,
                                             grpc::ServerReader<pb::SubmitTrainingRequest>* reader,
                                             pb::SubmitMatchingResponse* reply) {
  std::string user;
  if (auto status = caller_user(*context, authenticator_, &user); !status.ok()) return status;
  TrainingSubmission submission;
  if (auto status = read_training(*reader, max_upload_bytes_, submission); !status.ok()) return status;
  const auto request = training_request(submission, store_, libraries_);
  if (!request.ok()) return to_grpc(request.status());
  std::string model = submission.model;
  if (request->kind == kRetrainKind) {
    auto source_model = store_.read_artifact(request->source_run, kModelArtifact);
    if (!source_model.ok()) return to_grpc(source_model.status().with_context("header.source_run"));
    model = std::move(*source_model);
  }
  const auto checked = check_in_worker(worker_, work_dir_, *request, model, submission);
  if (!checked.ok()) return to_grpc(checked.status());
  const auto experiment = experiment_named(store_, submission.header.experiment());
  if (!experiment.ok()) return to_grpc(experiment.status());
  const auto stored = store_training(store_, submission, *request, *checked, *experiment, user);
  if (!stored.ok()) return to_grpc(stored.status());
  if (stored->created) jobs_.job_submitted();
  reply->set_run_id(stored->run.run_id);
  reply->set_job_id(stored->job_id);
  return grpc::Status::OK;
}

grpc::Status TrainingService::GetSweep(grpc::ServerContext*, const pb::GetSweepRequest* request, pb::Sweep* reply) {
  const auto summary = sweep_summary(store_, request->run_id());
  if (!summary.ok()) return to_grpc(summary.status());
  to_proto(nlohmann::json::parse(*summary), reply);
  return grpc::Status::OK;
}

}  // namespace agnx::server
