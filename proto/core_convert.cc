#include "proto/core_convert.h"

namespace agnx {

namespace pb = ::agnapprox::v1;

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

grpc::Status to_grpc(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return grpc::Status::OK;
    case StatusCode::kInvalidArgument: return {grpc::StatusCode::INVALID_ARGUMENT, status.message()};
    case StatusCode::kNotFound: return {grpc::StatusCode::NOT_FOUND, status.message()};
    case StatusCode::kAlreadyExists: return {grpc::StatusCode::ALREADY_EXISTS, status.message()};
    case StatusCode::kFailedPrecondition: return {grpc::StatusCode::FAILED_PRECONDITION, status.message()};
    case StatusCode::kResourceExhausted: return {grpc::StatusCode::RESOURCE_EXHAUSTED, status.message()};
    case StatusCode::kAborted: return {grpc::StatusCode::ABORTED, status.message()};
    case StatusCode::kUnavailable: return {grpc::StatusCode::UNAVAILABLE, status.message()};
    case StatusCode::kCancelled: return {grpc::StatusCode::CANCELLED, status.message()};
    case StatusCode::kIoError:
    case StatusCode::kInternal: return {grpc::StatusCode::INTERNAL, status.message()};
  }
  return {grpc::StatusCode::UNKNOWN, status.message()};
}

}  // namespace agnx
