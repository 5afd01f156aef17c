// A SubmitMatching request stream as it arrives: its messages assembled into
// a Submission, and the header's own checks. Neither loads the model nor
// asks the library registry or the store, so this is all the request
// handling that a client's bytes reach before the model is loaded (and
// what fuzz/fuzz_matching_request.cc exercises).
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include <grpcpp/support/status.h>

#include "agnapprox/v1/agnx.pb.h"

namespace agnx::server {

// A matching submission as received: the header and the uploaded files.
struct Submission {
  agnapprox::v1::MatchingHeader header;
  std::string model;
  std::string calibration;
  std::string test_x;
  std::string test_y;
};

// Reads the next message of a stream into `message`; false at the end.
using NextSubmissionMessage = std::function<bool(agnapprox::v1::SubmitMatchingRequest& message)>;

// Reads a whole SubmitMatching stream from `next` into `submission`: the
// header first, then chunks of the uploaded files, each appended to its
// file in order. Errors: INVALID_ARGUMENT naming "header" when the first
// message is not the header or a later one is (or carries no part);
// RESOURCE_EXHAUSTED naming "upload" as soon as the chunks exceed
// `upload_limit` bytes in all (the rest of the stream is not read).
grpc::Status read_submission(const NextSubmissionMessage& next, std::size_t upload_limit, Submission& submission);

// The checks of `header` that need nothing else: an experiment name, a
// finite lambda and finite sigmas, at most 1,000,000 samples, an
// idempotency key of at most 128 letters, digits and . _ : -.
// INVALID_ARGUMENT naming the field otherwise.
grpc::Status check_header(const agnapprox::v1::MatchingHeader& header);

}  // namespace agnx::server
