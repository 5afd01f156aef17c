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
  out->set_state(store::job_state_name(in.state));
  out->set_attempts(in.attempts);
  out->set_progress(in.progress);
  out->set_error(in.error);
  out->set_creation_time(in.creation_time);
  out->set_update_time(in.update_time);
}

void to_proto(const MatchingInfo& in, pb::MatchingInfo* out) {
  for (std::size_t i = 0; i < in.layers.size(); ++i) {
    const LayerInfo& layer = in.layers[i];
    pb::LayerInfo* l = out->add_layers();
    l->set_name(layer.name);
    l->set_multiplier_name(layer.multiplier_name);
    l->set_multiplier_performance_metric(layer.multiplier_performance_metric);
    l->set_opcount(layer.opcount);
    l->set_fan_in(layer.fan_in);
    l->set_sigma(layer.sigma);
    l->set_out_std(layer.out_std);
    l->set_max_std(layer.max_std);
    l->set_mul_std(layer.mul_std);
    l->set_relative_opcount(in.relative_opcount(i));
    l->set_relative_energy_consumption(in.relative_energy_consumption(i));
    for (const auto& c : layer.candidates) {
      pb::Candidate* candidate = l->add_candidates();
      candidate->set_name(c.name);
      candidate->set_metric(c.metric);
      candidate->set_mean(c.mean);
      candidate->set_std(c.std);
    }
    if (layer.observed_mean) l->set_observed_mean(*layer.observed_mean);
    if (layer.observed_std) l->set_observed_std(*layer.observed_std);
  }
  out->set_library(in.library);
  out->set_metric(in.metric);
  out->set_metric_max(in.metric_max);
  out->set_opcount(in.opcount());
  out->set_relative_energy_consumption(in.relative_energy_consumption());
  if (in.seed) out->set_seed(*in.seed);
  if (in.num_samples) out->set_num_samples(static_cast<uint32_t>(*in.num_samples));
  if (in.accuracy) {
    pb::Accuracy* a = out->mutable_accuracy();
    a->set_float_top1(in.accuracy->float_top1);
    a->set_float_top5(in.accuracy->float_top5);
    a->set_quantized_top1(in.accuracy->quantized_top1);
    a->set_quantized_top5(in.accuracy->quantized_top5);
    a->set_approximate_top1(in.accuracy->approximate_top1);
    a->set_approximate_top5(in.accuracy->approximate_top5);
  }
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
