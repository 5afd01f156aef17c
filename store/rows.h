// The store's entities as SQL rows, shared by the SQL backends: the column
// lists both schemas have, and readers of a result row of either backend.
// A `Row` is any type with store/sqlite.h Statement's column accessors
// (is_null, text, int64, real, blob, optional_real, optional_int64), such as
// store/postgres.h's pg::Row. Blobs hold little-endian arrays.
//
// All functions are pure and thread-safe.
#pragma once

#include <bit>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/entities.h"

namespace agnx::store {

static_assert(std::endian::native == std::endian::little, "blobs are stored little-endian");

// The columns of a RunInfo, in read_run_info's order.
inline constexpr const char* kRunColumns =
    "runs.run_id, runs.experiment_id, runs.run_name, runs.user_id, runs.status, runs.start_time, runs.end_time, "
    "runs.lifecycle_stage";
inline constexpr const char* kExperimentColumns =
    "experiment_id, name, lifecycle_stage, creation_time, last_update_time";
inline constexpr const char* kJobColumns =
    "job_id, run_id, kind, state, attempts, progress, error, creation_time, update_time, start_time, end_time, "
    "owner, lease_expires, cancel_requested";
// matching_results' columns of read_matching_head.
inline constexpr const char* kMatchingColumns =
    "lambda, library, metric, metric_max, seed, num_samples, float_top1, float_top5, quantized_top1, "
    "quantized_top5, approximate_top1, approximate_top5";
// matching_layers' columns of read_layer.
inline constexpr const char* kLayerColumns =
    "name, fan_in, opcount, sigma, out_std, max_std, multiplier_name, multiplier_metric, mul_std, sample_rows, "
    "observed_mean, observed_std, feature_rows, input_scale, weight_scale, w_dist, x_dist_global";

template <typename T>
std::span<const std::byte> bytes_of(const std::vector<T>& values) {
  return std::as_bytes(std::span(values));
}

template <typename T>
std::vector<T> values_of(const std::string& blob) {
  std::vector<T> values(blob.size() / sizeof(T));
  std::memcpy(values.data(), blob.data(), values.size() * sizeof(T));
  return values;
}

template <typename Row>
Result<RunInfo> read_run_info(const Row& row) {
  RunInfo info;
  info.run_id = row.text(0);
  info.experiment_id = row.int64(1);
  info.run_name = row.text(2);
  info.user_id = row.text(3);
  AGNX_ASSIGN_OR_RETURN(info.status, parse_run_status(row.text(4)));
  info.start_time = row.int64(5);
  info.end_time = row.optional_int64(6);
  AGNX_ASSIGN_OR_RETURN(info.lifecycle, parse_lifecycle(row.text(7)));
  return info;
}

template <typename Row>
Result<Experiment> read_experiment(const Row& row) {
  Experiment e;
  e.experiment_id = row.int64(0);
  e.name = row.text(1);
  AGNX_ASSIGN_OR_RETURN(e.lifecycle, parse_lifecycle(row.text(2)));
  e.creation_time = row.int64(3);
  e.last_update_time = row.int64(4);
  return e;
}

template <typename Row>
Result<Job> read_job(const Row& row) {
  Job job;
  job.job_id = row.int64(0);
  if (!row.is_null(1)) job.run_id = row.text(1);
  job.kind = row.text(2);
  AGNX_ASSIGN_OR_RETURN(job.state, parse_job_state(row.text(3)));
  job.attempts = row.int64(4);
  job.progress = row.real(5);
  job.error = row.text(6);
  job.creation_time = row.int64(7);
  job.update_time = row.int64(8);
  job.start_time = row.optional_int64(9);
  job.end_time = row.optional_int64(10);
  if (!row.is_null(11)) job.owner = row.text(11);
  job.lease_expires = row.optional_int64(12);
  job.cancel_requested = row.int64(13) != 0;
  return job;
}

// key, value, timestamp, step.
template <typename Row>
Metric read_metric(const Row& row) {
  return {row.text(0), row.real(1), row.int64(2), row.int64(3)};
}

// A MatchingRecord without its layers, from kMatchingColumns.
template <typename Row>
MatchingRecord read_matching_head(const Row& row) {
  MatchingRecord record;
  MatchingInfo& info = record.info;
  record.lambda = row.real(0);
  info.library = row.text(1);
  info.metric = row.text(2);
  info.metric_max = row.real(3);
  if (auto seed = row.optional_int64(4)) info.seed = std::bit_cast<uint64_t>(*seed);
  if (auto n = row.optional_int64(5)) info.num_samples = static_cast<std::size_t>(*n);
  if (!row.is_null(6)) {
    info.accuracy = ModelAccuracy{row.real(6), row.real(7), row.real(8), row.real(9), row.real(10), row.real(11)};
  }
  return record;
}

// A layer without its candidates, from kLayerColumns.
template <typename Row>
LayerInfo read_layer(const Row& row) {
  LayerInfo layer;
  layer.name = row.text(0);
  layer.fan_in = row.int64(1);
  layer.opcount = row.int64(2);
  layer.sigma = row.real(3);
  layer.out_std = row.real(4);
  layer.max_std = row.real(5);
  layer.multiplier_name = row.text(6);
  layer.multiplier_performance_metric = row.real(7);
  layer.mul_std = row.real(8);
  layer.sample_rows = values_of<uint64_t>(row.blob(9));
  layer.observed_mean = row.optional_real(10);
  layer.observed_std = row.optional_real(11);
  layer.rows = row.optional_int64(12);
  layer.input_scale = row.optional_real(13);
  layer.weight_scale = row.optional_real(14);
  layer.w_dist = values_of<double>(row.blob(15));
  layer.x_dist_global = values_of<double>(row.blob(16));
  return layer;
}

}  // namespace agnx::store
