// A matching submission as received: the header and the uploaded files,
// checked before anything is stored, so that a bad request fails at once
// with a status naming the field.
#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "agnapprox/v1/agnx.pb.h"
#include "server/library_registry.h"
#include "server/matching_job.h"
#include "server/submission_stream.h"

namespace agnx::server {

// Validates the header (check_header, and the library exists) and the
// inputs (the snapshot loads, the calibration data runs through it, sigma and
// pinned layers exist, test inputs and labels match) and returns the request
// to store. INVALID_ARGUMENT or NOT_FOUND naming the field otherwise.
grpc::Status validate_submission(const Submission& submission, const LibraryRegistry& libraries,
                                 MatchingRequest& request);

}  // namespace agnx::server
