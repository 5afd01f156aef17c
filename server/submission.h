// A matching submission as received: the header and the uploaded files,
// checked before anything is stored, so that a bad request fails at once
// with a status naming the field.
//
// Only what needs no model runs here, in the server: the snapshot and the
// data are untrusted input for LibTorch, checked in a model worker
// (JobRunner::check_inputs) after validate_submission passed.
#pragma once

#include <cstddef>
#include <string>

#include <grpcpp/support/status.h>

#include "agnapprox/v1/agnx.pb.h"
#include "server/library_registry.h"
#include "server/submission_stream.h"
#include "server/worker/request.h"

namespace agnx::server {

// Validates the header (check_header, and the library exists), that a model
// and calibration data were uploaded, the calibration size
// (RESOURCE_EXHAUSTED over `max_calibration_bytes`) and that test inputs and
// labels come together, and fills the request to store. INVALID_ARGUMENT or
// NOT_FOUND naming the field otherwise.
grpc::Status validate_submission(const Submission& submission, const LibraryRegistry& libraries,
                                 std::size_t max_calibration_bytes, MatchingRequest& request);

}  // namespace agnx::server
