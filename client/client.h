// Client: a typed connection to an agnx server (the services of
// proto/agnapprox/v1/agnx.proto: Tracking, Matching, Multipliers).
//
//   auto client = agnx::client::Client::connect({.address = "127.0.0.1:50051"});
//   if (!client.ok()) ...;
//   auto run = client->get_run("3f2a...");
//   if (!run.ok()) std::cerr << run.status().to_string();  // "NOT_FOUND: ..."
//
// Every call returns the server's answer or a Status: the gRPC status as the
// server sent it (code and message), UNAVAILABLE when no server answers,
// DEADLINE_EXCEEDED when the call's deadline passed, or a local error naming
// the file that could not be read for an upload. Nothing throws.
//
// Retries (ClientOptions::retry, off by default): a unary call that failed
// with UNAVAILABLE or DEADLINE_EXCEEDED is sent again after a pause, waiting
// for the server to be back (up to the call's deadline). Every unary call is
// safe to repeat: reads and the naturally idempotent writes do no harm, and
// create_experiment, create_run, log_metric and log_batch carry an
// idempotency key, the same in every attempt (the caller's, or one generated
// per call), so the server applies such a write exactly once even when an
// answer was lost to a crash or a broken connection. Streaming calls
// (uploads, downloads, submit_matching, watch_job) are not retried.
//
// Uploads (model snapshots, calibration and test data, multiplier tables)
// are streamed in chunks of kChunkSize bytes; files are read piece by piece
// while sending, never loaded whole.
//
// Thread safety: a Client is safe for concurrent use from several threads
// without external synchronization (each call has its own gRPC context).
// It is movable, not copyable. The connection is made lazily, on the first
// call, and re-made by gRPC after failures.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "client/result.h"

namespace agnx::client {

namespace pb = ::agnapprox::v1;

inline constexpr const char* kDefaultAddress = "127.0.0.1:50051";
// The size of every upload chunk but the last: 1 MiB.
inline constexpr std::size_t kChunkSize = std::size_t{1} << 20;

// Bytes to upload: a file, read in chunks while sending, or a buffer.
// A plain value; copying a memory source copies its bytes.
class UploadSource {
 public:
  // An empty buffer named "".
  UploadSource() = default;
  // The content of `path`, read when the upload runs.
  static UploadSource file(std::filesystem::path path);
  // `bytes` themselves; `name` is what messages and file-name fields call them.
  static UploadSource memory(std::string bytes, std::string name);

  // The file path or the given name.
  const std::string& name() const { return name_; }
  // The file name without directories ("NAME.bin"), or the given name.
  std::string file_name() const;

  // Calls `sink` with consecutive pieces of the content, each at most
  // `chunk_size` (> 0) bytes, at least once (an empty content gives one empty
  // piece). Stops early, returning OK, when `sink` returns false. Errors:
  // NOT_FOUND for a file that cannot be opened, DATA_LOSS for a read error,
  // both naming the file.
  Status for_each_chunk(std::size_t chunk_size, const std::function<bool(std::string_view)>& sink) const;

 private:
  std::string name_;
  std::optional<std::filesystem::path> path_;
  std::string bytes_;
};

// The inputs of a matching job.
struct MatchingInputs {
  UploadSource model;        // a TorchScript snapshot
  UploadSource calibration;  // .npy or torch.save'd tensor
  std::optional<UploadSource> test_x;
  std::optional<UploadSource> test_y;
};

// The inputs of a training job (search, retrain, sweep).
struct TrainingInputs {
  std::optional<UploadSource> model;        // search, sweep: the float snapshot
  UploadSource train_x;                     // .npy or torch.save'd tensor [N, ...]
  UploadSource train_y;                     // integer labels [N]
  std::optional<UploadSource> calibration;  // sweep
  std::optional<UploadSource> test_x;
  std::optional<UploadSource> test_y;
};

// One file of a run's hardware handoff (Client::download_run_export).
struct ExportedFile {
  std::string path;  // relative: segments of letters, digits, '.', '_', '-' joined by '/'
  std::string data;
  bool executable = false;
};

struct RetryPolicy {
  int max_attempts = 1;  // of a unary call, >= 1; 1: no retries
  // The pause before the second attempt; it doubles up to max_backoff, and
  // each pause is drawn between half and all of it.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
};

// A fresh idempotency key: 32 hex digits, the first 12 the time in ms.
std::string new_idempotency_key();

struct ClientOptions {
  std::string address = kDefaultAddress;  // host:port
  // Deadline of every call but watch_job, which lasts until its job ends.
  // Zero: no deadline.
  std::chrono::milliseconds deadline{std::chrono::seconds(30)};
  // Sent as `authorization: Bearer TOKEN` metadata with every call when set.
  std::string token;
  // TLS with the system's root certificates, or with those of ca_file (PEM)
  // when it is set (which implies TLS).
  bool tls = false;
  std::filesystem::path ca_file;
  RetryPolicy retry;
};

class Client {
 public:
  // A client of the server at options.address. Does not contact the server.
  // Errors: an empty address (INVALID_ARGUMENT), an unreadable CA file
  // (NOT_FOUND naming it).
  static Result<Client> connect(const ClientOptions& options);

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  const ClientOptions& options() const;

  // ---- Tracking
  Result<pb::Experiment> create_experiment(const std::string& name) const;
  Result<pb::Experiment> get_experiment_by_name(const std::string& name) const;
  Result<std::vector<pb::Experiment>> list_experiments(pb::ViewType view = pb::ACTIVE_ONLY) const;

  // With retries on, an empty `idempotency_key` gets a generated one; a key of
  // the caller's makes the write once-only across the caller's own restarts.
  Result<pb::Run> create_run(int64_t experiment_id, const std::string& run_name,
                             const std::string& idempotency_key = "") const;
  Result<pb::Run> get_run(const std::string& run_id) const;
  Result<pb::Run> update_run(const std::string& run_id, const std::string& status) const;
  // One page of runs.
  Result<pb::SearchRunsResponse> search_runs(const pb::SearchRunsRequest& request) const;
  // Follows page tokens from `request` until the last page or until `limit`
  // (> 0) runs are collected; limit 0 collects every page.
  Result<std::vector<pb::Run>> search_all_runs(pb::SearchRunsRequest request, std::size_t limit = 0) const;

  Status log_param(const std::string& run_id, const std::string& key, const std::string& value) const;
  // timestamp 0: the server's time of logging.
  Status log_metric(const std::string& run_id, const std::string& key, double value, int64_t step = 0,
                    int64_t timestamp = 0) const;
  Status set_tag(const std::string& run_id, const std::string& key, const std::string& value) const;
  // With retries on, a request without idempotency_key gets a generated one.
  Status log_batch(const pb::LogBatchRequest& request) const;
  Result<std::vector<pb::Metric>> get_metric_history(const std::string& run_id, const std::string& key) const;

  Result<std::vector<pb::ArtifactInfo>> list_artifacts(const std::string& run_id) const;
  // Streams `source` to the run's artifact `path`.
  Result<pb::ArtifactInfo> upload_artifact(const std::string& run_id, const std::string& path,
                                           const UploadSource& source) const;
  // The artifact's bytes, chunk by chunk, to `sink`; returns the byte count.
  Result<int64_t> download_artifact(const std::string& run_id, const std::string& path,
                                    const std::function<void(std::string_view)>& sink) const;

  // ---- Matching
  // Streams the header, then the model, the calibration data and the test
  // data if given, each in chunks. Answers once the server holds the job.
  Result<pb::SubmitMatchingResponse> submit_matching(const pb::MatchingHeader& header,
                                                     const MatchingInputs& inputs) const;
  // Calls `on_progress` (on the calling thread) with every progress message
  // of the job until the final one, which it returns. A stream that ends
  // without a final message is UNAVAILABLE ("the server closed ...").
  Result<pb::JobProgress> watch_job(int64_t job_id,
                                    const std::function<void(const pb::JobProgress&)>& on_progress) const;
  Result<pb::Job> get_job(int64_t job_id) const;
  Result<pb::Job> cancel_job(int64_t job_id) const;
  Result<pb::MatchingResult> get_matching_result(const std::string& run_id) const;

  // Training (Training service): a search, retrain or sweep job from
  // `header` and the uploads; watch it with watch_job.
  Result<pb::SubmitMatchingResponse> submit_training(const pb::TrainingHeader& header,
                                                     const TrainingInputs& inputs) const;
  Result<pb::Sweep> get_sweep(const std::string& run_id) const;
  Result<pb::QueryEnergyResponse> query_energy(const std::string& experiment) const;
  Result<pb::MatchingResult> reselect(const pb::ReselectRequest& request) const;
  // The run's hardware handoff (Verilog, testbenches, run.sh, manifest,
  // README), every file whole. Errors: the server's; INTERNAL for a stream
  // that names an unsafe path (".." or any character outside the set above),
  // names a file twice or starts without a path.
  Result<std::vector<ExportedFile>> download_run_export(const std::string& run_id) const;

  // ---- Multipliers
  Result<std::vector<pb::Library>> list_libraries() const;
  Result<std::vector<pb::MultiplierSummary>> list_multipliers(const std::string& library) const;
  Result<pb::MultiplierDetail> get_multiplier(const std::string& library, const std::string& name) const;
  // Streams the header, then every file (metrics.csv and the tables), each
  // in chunks under its file_name(). metric "" means the server's default.
  Result<pb::Library> import_library(const std::string& name, const std::string& metric,
                                     const std::vector<UploadSource>& files) const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace agnx::client
