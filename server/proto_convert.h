// Conversions between the API's messages and agnx's values (store entities,
// core's MatchingInfo). Pure functions, no I/O.
#pragma once

#include "agnapprox/v1/agnx.pb.h"
#include "proto/core_convert.h"
#include "core/selection.h"
#include "store/entities.h"

namespace agnx::server {

namespace pb = ::agnapprox::v1;

void to_proto(const store::Experiment& in, pb::Experiment* out);
void to_proto(const store::RunInfo& in, pb::RunInfo* out);
void to_proto(const store::Run& in, pb::Run* out);
void to_proto(const store::Metric& in, pb::Metric* out);
void to_proto(const store::ArtifactInfo& in, pb::ArtifactInfo* out);
void to_proto(const store::Job& in, pb::Job* out);
// The full MatchingResult of a run: structured info plus the canonical JSON.
void to_proto(const std::string& run_id, const store::MatchingRecord& in, pb::MatchingResult* out);

store::Metric from_proto(const pb::Metric& in, int64_t now);

}  // namespace agnx::server
