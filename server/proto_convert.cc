#include "server/proto_convert.h"

#include "core/matching_json.h"

namespace agnx::server {

void to_proto(const store::Experiment& in, pb::Experiment* out) {
  out->set_experiment_id(in.experiment_id);
  out->set_name(in.name);
  out->set_lifecycle(store::lifecycle_name(in.lifecycle));
  out->set_creation_time(in.creation_time);
  out->set_last_update_time(in.last_update_time);
}

void to_proto(const store::RunInfo& in, pb::RunInfo* out) {
  out->set_run_id(in.run_id);
  out->set_experiment_id(in.experiment_id);
  out->set_run_name(in.run_name);
  out->set_user_id(in.user_id);
  out->set_status(store::run_status_name(in.status));
  out->set_start_time(in.start_time);
  if (in.end_time) out->set_end_time(*in.end_time);
  out->set_lifecycle(store::lifecycle_name(in.lifecycle));
}

void to_proto(const store::Metric& in, pb::Metric* out) {
  out->set_key(in.key);
  out->set_value(in.value);
  out->set_timestamp(in.timestamp);
  out->set_step(in.step);
}

void to_proto(const store::Run& in, pb::Run* out) {
  to_proto(in.info, out->mutable_info());
  out->mutable_params()->insert(in.params.begin(), in.params.end());
  out->mutable_tags()->insert(in.tags.begin(), in.tags.end());
  for (const auto& [key, metric] : in.metrics) to_proto(metric, out->add_metrics());
}

void to_proto(const store::ArtifactInfo& in, pb::ArtifactInfo* out) {
  out->set_path(in.path);
  out->set_size(in.size);
  out->set_sha256(in.sha256);
}

void to_proto(const store::Job& in, pb::Job* out) {
  out->set_job_id(in.job_id);
  out->set_run_id(in.run_id.value_or(""));
  out->set_kind(in.kind);
  out->set_state(store::job_state_name(in.state));
  out->set_attempts(in.attempts);
  out->set_progress(in.progress);
  out->set_error(in.error);
  out->set_creation_time(in.creation_time);
  out->set_update_time(in.update_time);
  out->set_owner(in.owner.value_or(""));
  out->set_lease_expires(in.lease_expires.value_or(0));
  out->set_cancel_requested(in.cancel_requested);
}

void to_proto(const std::string& run_id, const store::MatchingRecord& in, pb::MatchingResult* out) {
  out->set_run_id(run_id);
  out->set_lambda(in.lambda);
  to_proto(in.info, out->mutable_info());
  out->set_json(matching_info_to_json(in.info));
}

store::Metric from_proto(const pb::Metric& in, int64_t now) {
  return {in.key(), in.value(), in.timestamp() == 0 ? now : in.timestamp(), in.step()};
}

}  // namespace agnx::server
