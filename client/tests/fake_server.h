// FakeServer: an in-process stand-in for agnx-server in client tests.
//
// Implements the generated Tracking, Matching and Multipliers services with
// canned in-memory behaviour, listening on 127.0.0.1 at a port the system
// picks. It records what it receives (metadata, headers, uploaded bytes and
// their chunk sizes) so tests can check what the client sent.
//
// Canned state: experiment "lenet" (id 1) with run "run-1" (params lambda
// 0.5, library builtin; metric relative_energy; tag stage=tuned; a matching
// result of two layers; job 7, SUCCEEDED) and run "run-2" (no matching; job
// 8 QUEUED, which a cancel ends CANCELLED; job 9 RUNNING, which a cancel
// leaves RUNNING, like a job that does not stop within the server's wait);
// libraries "builtin" (exact, trunc4) and "evo". A submission creates run
// "run-N" and job N (N from 100) whose progress stream runs queued, loading,
// features 1..3, selection and ends SUCCEEDED, or FAILED when its run_name is
// "fail". Unknown ids are NOT_FOUND naming them.
//
// Thread safety: the server's threads and the test thread share State under
// its mutex; read it through state() with the lock held.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "agnapprox/v1/agnx.grpc.pb.h"

namespace agnx::testing {

namespace pb = ::agnapprox::v1;

// The canned job that a CancelJob leaves RUNNING.
inline constexpr int64_t kSlowToStopJob = 9;

struct FakeState {
  std::mutex mu;
  // Every call's `authorization` metadata ("" when absent).
  std::vector<std::string> authorization;
  // Set: calls without "Bearer <required_token>" fail UNAUTHENTICATED.
  std::string required_token;

  std::map<std::string, pb::Experiment> experiments;  // by name
  std::map<std::string, pb::Run> runs;                // by id
  std::map<std::string, pb::MatchingResult> results;  // by run id
  std::map<int64_t, pb::Job> jobs;
  int64_t next_id = 100;

  // The last submission: its header, each part's bytes and chunk sizes
  // ("model", "calibration", "test_x", "test_y").
  pb::MatchingHeader submitted_header;
  std::map<std::string, std::string> submitted;
  std::map<std::string, std::vector<std::size_t>> submitted_chunks;

  // The last training submission: its header and each part's bytes
  // ("model", "train_x", "train_y", "calibration", "test_x", "test_y").
  pb::TrainingHeader training_header;
  std::map<std::string, std::string> training_parts;

  // The last import: its header, each file's bytes and chunk sizes.
  pb::ImportHeader import_header;
  std::map<std::string, std::string> imported;
  std::map<std::string, std::vector<std::size_t>> imported_chunks;

  pb::SearchRunsRequest last_search;
  pb::ReselectRequest last_reselect;
  std::vector<pb::LogMetricRequest> logged_metrics;  // every attempt, also failed ones
  int unavailable_log_metrics = 0;  // the next this many LogMetric calls fail UNAVAILABLE
  std::vector<int64_t> cancelled_jobs;
};

class FakeServer {
 public:
  // Starts listening (in plain text, or with `credentials`, e.g. TLS);
  // aborts the test binary if it cannot.
  FakeServer();
  explicit FakeServer(std::shared_ptr<grpc::ServerCredentials> credentials);
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  // "127.0.0.1:PORT".
  std::string address() const { return address_; }
  FakeState& state() { return *state_; }

  // The canonical MatchingResult.json of run-1 (what `runs show --json`
  // must reproduce under "matching").
  static const char* kRun1Json;

 private:
  std::shared_ptr<FakeState> state_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace agnx::testing
