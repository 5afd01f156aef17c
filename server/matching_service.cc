#include "server/matching_service.h"

#include <chrono>

#include "core/matching_json.h"
#include "core/number_text.h"
#include "server/auth/grpc_auth.h"
#include "core/clock.h"
#include "server/experiments.h"
#include "server/grpc_status.h"
#include "server/matching_job.h"
#include "server/proto_convert.h"
#include "server/submission.h"
#include "server/worker/protocol.h"

namespace agnx::server {
namespace {

// Stores the run, its params and inputs and the job in one write (once per
// idempotency key): all durable on return. The inputs' bytes are linked from
// `inputs`, the job directory they were written to for the submission's check.
Result<store::SubmittedJob> store_submission(store::TrackingStore& store, const Submission& s,
                                             const MatchingRequest& request, const JobDirectory& inputs,
                                             int64_t experiment_id, const std::string& user) {
  store::JobSubmission job{experiment_id, s.header.run_name(), user, now_ms(), kMatchingKind, {}, {}, kJobIdTag};
  job.batch.params = {{"lambda", round_trip_text(request.lambda)},
                      {"library", request.library},
                      {"num_samples", std::to_string(request.num_samples)},
                      {"seed", std::to_string(request.seed)}};
  for (const auto& [layer, sigma] : request.sigma) job.batch.params["sigma." + layer] = round_trip_text(sigma);
  job.batch.tags = {{"agnx.kind", kMatchingKind}};
  const std::string request_json = to_json(request);  // as written to the job directory
  const std::filesystem::path& dir = inputs.path();
  job.artifacts = present_uploads({{kModelArtifact, s.model, dir / worker::kModelFile},
                                   {kCalibrationArtifact, s.calibration, dir / worker::kCalibrationFile},
                                   {kTestInputsArtifact, s.test_x, dir / worker::kTestInputsFile},
                                   {kTestLabelsArtifact, s.test_y, dir / worker::kTestLabelsFile},
                                   {kRequestArtifact, request_json, dir / worker::kRequestFile}});
  return store.submit_job(job, {s.header.idempotency_key()});
}

// How long CancelJob waits for the cancelled job to end.
constexpr auto kCancelWait = std::chrono::seconds(5);

// Returns once job `job_id` ended (here, or in the store when another
// replica runs it) or at `deadline`.
void wait_for_end(JobRunner& jobs, store::TrackingStore& store, int64_t job_id,
                  std::chrono::system_clock::time_point deadline) {
  constexpr auto kStorePoll = std::chrono::milliseconds(100);
  uint64_t version = 0;
  for (auto left = deadline - std::chrono::system_clock::now(); left > left.zero();
       left = deadline - std::chrono::system_clock::now()) {
    const auto wait = std::min(kStorePoll, std::chrono::duration_cast<std::chrono::milliseconds>(left));
    const auto change = jobs.wait_for_change(job_id, version, wait);
    if (change && store::is_terminal(change->state)) return;
    if (change) {
      version = change->version;
      continue;
    }
    const auto stored = store.get_job(job_id);
    if (!stored.ok() || store::is_terminal(stored->state)) return;
  }
}

pb::JobProgress to_message(int64_t job_id, const JobProgressView& view) {
  pb::JobProgress progress;
  progress.set_job_id(job_id);
  progress.set_state(store::job_state_name(view.state));
  progress.set_stage(view.stage);
  progress.set_step(static_cast<uint32_t>(view.step));
  progress.set_steps(static_cast<uint32_t>(view.steps));
  progress.set_percent(100.0 * view.fraction);
  progress.set_message(view.message);
  progress.set_epoch(static_cast<uint32_t>(view.epoch));
  progress.set_epochs(static_cast<uint32_t>(view.epochs));
  progress.set_point(static_cast<uint32_t>(view.point));
  progress.set_points(static_cast<uint32_t>(view.points));
  progress.set_final(store::is_terminal(view.state));
  return progress;
}

}  // namespace

grpc::Status MatchingService::SubmitMatching(grpc::ServerContext* context,
                                             grpc::ServerReader<pb::SubmitMatchingRequest>* reader,
                                             pb::SubmitMatchingResponse* reply) {
  std::string user;
  if (auto status = caller_user(*context, authenticator_, &user); !status.ok()) return status;
  Submission submission;
  const auto next = [reader](pb::SubmitMatchingRequest& message) { return reader->Read(&message); };
  if (auto status = read_submission(next, limits_.max_upload_bytes, submission); !status.ok()) return status;
  MatchingRequest request;
  if (auto status = validate_submission(submission, libraries_, limits_.max_calibration_bytes, request);
      !status.ok()) {
    return status;
  }
  // A worker that crashed or overran its limits on these inputs still makes a
  // run, whose job ends FAILED with the reason; any other error is the
  // client's and is answered at once.
  const auto inputs =
      jobs_.write_inputs({request, submission.model, submission.calibration, submission.test_x, submission.test_y});
  if (!inputs.ok()) return to_grpc(inputs.status());
  const Status checked = jobs_.check_inputs(*inputs);
  if (!checked.ok() && checked.code() != StatusCode::kAborted) return to_grpc(checked);
  const auto experiment = experiment_named(store_, submission.header.experiment());
  if (!experiment.ok()) return to_grpc(experiment.status());
  const auto stored = store_submission(store_, submission, request, *inputs, *experiment, user);
  if (!stored.ok()) return to_grpc(stored.status());
  if (stored->created && checked.ok()) jobs_.job_submitted();
  if (stored->created && !checked.ok()) {
    if (const Status failed = jobs_.fail(stored->job_id, checked); !failed.ok()) return to_grpc(failed);
  }
  reply->set_run_id(stored->run.run_id);
  reply->set_job_id(stored->job_id);
  return grpc::Status::OK;
}

grpc::Status MatchingService::WatchJob(grpc::ServerContext* context, const pb::GetJobRequest* request,
                                       grpc::ServerWriter<pb::JobProgress>* writer) {
  const auto job = store_.get_job(request->job_id());
  if (!job.ok()) return to_grpc(job.status());
  // Start from the stored state (a job of an earlier process, or one that ended).
  JobProgressView view;
  view.state = job->state;
  view.stage = store::job_state_name(job->state);
  view.fraction = job->progress;
  view.message = job->error;
  pb::JobProgress message = to_message(request->job_id(), view);
  if (!writer->Write(message) || message.final()) return grpc::Status::OK;
  uint64_t version = 0;
  while (!context->IsCancelled()) {
    const auto change = jobs_.wait_for_change(request->job_id(), version, std::chrono::milliseconds(500));
    if (!change) {
      // Nothing from its runner here or its notices (queued, or a notice
      // lost): poll the store, where its replica keeps the state and each
      // stage's progress; once notices came, only a new state is news.
      const auto stored = store_.get_job(request->job_id());
      if (stored.ok() &&
          (stored->state != view.state || (version == 0 && stored->progress != view.fraction))) {
        view.state = stored->state;
        view.stage = store::job_state_name(stored->state);
        view.fraction = stored->progress;
        view.message = stored->error;
        message = to_message(request->job_id(), view);
        if (!writer->Write(message) || message.final()) break;
      }
      continue;
    }
    version = change->version;
    view = *change;
    message = to_message(request->job_id(), view);
    if (!writer->Write(message) || message.final()) break;
  }
  return grpc::Status::OK;
}

grpc::Status MatchingService::GetJob(grpc::ServerContext*, const pb::GetJobRequest* request, pb::Job* reply) {
  const auto job = store_.get_job(request->job_id());
  if (!job.ok()) return to_grpc(job.status());
  to_proto(*job, reply);
  return grpc::Status::OK;
}

grpc::Status MatchingService::CancelJob(grpc::ServerContext* context, const pb::GetJobRequest* request,
                                        pb::Job* reply) {
  if (const Status s = jobs_.cancel(request->job_id()); !s.ok()) return to_grpc(s);
  // A running job's worker is killed at once: answer its final state, not the
  // state before the cancel took effect; a job that takes longer is answered
  // as it is then (still QUEUED or RUNNING).
  const auto deadline = std::min(std::chrono::system_clock::now() + kCancelWait,
                                 context->deadline() - std::chrono::milliseconds(200));
  wait_for_end(jobs_, store_, request->job_id(), deadline);
  return GetJob(context, request, reply);
}

grpc::Status MatchingService::GetMatchingResult(grpc::ServerContext*, const pb::GetMatchingResultRequest* request,
                                                pb::MatchingResult* reply) {
  const auto record = store_.get_matching(request->run_id());
  if (!record.ok()) return to_grpc(record.status());
  to_proto(request->run_id(), *record, reply);
  return grpc::Status::OK;
}

grpc::Status MatchingService::QueryEnergy(grpc::ServerContext*, const pb::QueryEnergyRequest* request,
                                          pb::QueryEnergyResponse* reply) {
  const auto experiment = store_.get_experiment_by_name(request->experiment());
  if (!experiment.ok()) return to_grpc(experiment.status());
  const auto points = store_.energy_points(experiment->experiment_id);
  if (!points.ok()) return to_grpc(points.status());
  const std::vector<store::EnergyPoint> front = store::pareto_front(*points);
  for (const auto& point : *points) {
    pb::EnergyPoint* out = reply->add_points();
    out->set_run_id(point.run_id);
    out->set_run_name(point.run_name);
    out->set_lambda(point.lambda);
    out->set_library(point.library);
    out->set_metric(point.metric);
    out->set_relative_energy(point.relative_energy);
    out->mutable_accuracies()->insert(point.accuracies.begin(), point.accuracies.end());
    out->set_pareto(std::any_of(front.begin(), front.end(), [&](const auto& p) { return p.run_id == point.run_id; }));
  }
  return grpc::Status::OK;
}

grpc::Status MatchingService::Reselect(grpc::ServerContext*, const pb::ReselectRequest* request,
                                       pb::MatchingResult* reply) {
  const auto record = store_.get_matching(request->run_id());
  if (!record.ok()) return to_grpc(record.status());
  const std::string name = request->library().empty() ? record->info.library : request->library();
  const auto library = libraries_.find(name);
  if (!library.ok()) return {grpc::StatusCode::NOT_FOUND, "library: " + library.status().message()};
  if (request->sigma_scale() < 0.0) return invalid_field("sigma_scale", "must be positive");
  ReselectOptions options;
  options.sigma_scale = request->sigma_scale() == 0.0 ? 1.0 : request->sigma_scale();
  options.pinned_exact.assign(request->pin_exact().begin(), request->pin_exact().end());
  const auto info = reselect(record->info, **library, options);
  if (!info.ok()) return to_grpc(info.status());
  to_proto(request->run_id(), {record->lambda, *info}, reply);
  return grpc::Status::OK;
}

}  // namespace agnx::server
