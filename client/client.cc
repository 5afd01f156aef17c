#include "client/client.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include <grpcpp/grpcpp.h>

namespace agnx::client {

// ------------------------------------------------------------ UploadSource

UploadSource UploadSource::file(std::filesystem::path path) {
  UploadSource source;
  source.name_ = path.string();
  source.path_ = std::move(path);
  return source;
}

UploadSource UploadSource::memory(std::string bytes, std::string name) {
  UploadSource source;
  source.name_ = std::move(name);
  source.bytes_ = std::move(bytes);
  return source;
}

std::string UploadSource::file_name() const {
  return path_ ? path_->filename().string() : name_;
}

Status UploadSource::for_each_chunk(std::size_t chunk_size,
                                    const std::function<bool(std::string_view)>& sink) const {
  if (chunk_size == 0) return {grpc::StatusCode::INVALID_ARGUMENT, "chunk size must be positive"};
  if (!path_) {
    const std::string_view all(bytes_);
    if (all.empty()) {
      sink(all);
      return {};
    }
    for (std::size_t offset = 0; offset < all.size(); offset += chunk_size) {
      if (!sink(all.substr(offset, chunk_size))) return {};
    }
    return {};
  }
  std::error_code ec;
  if (std::filesystem::is_directory(*path_, ec)) {
    return {grpc::StatusCode::INVALID_ARGUMENT, name_ + ": is a directory, not a file"};
  }
  std::ifstream in(*path_, std::ios::binary);
  if (!in) return {grpc::StatusCode::NOT_FOUND, name_ + ": cannot open file"};
  std::string buffer(chunk_size, '\0');
  bool sent_any = false;
  while (true) {
    in.read(buffer.data(), static_cast<std::streamsize>(chunk_size));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (in.bad()) return {grpc::StatusCode::DATA_LOSS, name_ + ": read error"};
    if (got > 0 || !sent_any) {
      sent_any = true;
      if (!sink(std::string_view(buffer.data(), got))) return {};
    }
    if (got < chunk_size) break;
  }
  return {};
}

// ------------------------------------------------------------------ Client

struct Client::Impl {
  ClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::Tracking::Stub> tracking;
  std::unique_ptr<pb::Matching::Stub> matching;
  std::unique_ptr<pb::Training::Stub> training;
  std::unique_ptr<pb::Multipliers::Stub> multipliers;

  // A context with the bearer token and, unless `streaming_forever`, the deadline.
  std::unique_ptr<grpc::ClientContext> context(bool with_deadline = true) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!options.token.empty()) ctx->AddMetadata("authorization", "Bearer " + options.token);
    if (with_deadline && options.deadline.count() > 0) {
      ctx->set_deadline(std::chrono::system_clock::now() + options.deadline);
    }
    return ctx;
  }

  // Runs one unary call `call(context, response)`, retried as options.retry says.
  template <typename Response, typename Call>
  Result<Response> unary(Call&& call) const {
    std::chrono::milliseconds backoff = options.retry.initial_backoff;
    for (int attempt = 1;; ++attempt) {
      auto ctx = context();
      // A retry waits for the server to be back (bounded by the deadline).
      if (attempt > 1 && options.deadline.count() > 0) ctx->set_wait_for_ready(true);
      Response response;
      const grpc::Status status = call(ctx.get(), &response);
      if (status.ok()) return response;
      const bool retryable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                             status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
      if (!retryable || attempt >= options.retry.max_attempts) return Status::from_grpc(status);
      std::this_thread::sleep_for(jittered(backoff));
      backoff = std::min(backoff * 2, options.retry.max_backoff);
    }
  }

  // `given`, or with retries on and `given` empty, a new idempotency key.
  std::string idempotency_key(const std::string& given) const {
    return given.empty() && options.retry.max_attempts > 1 ? new_idempotency_key() : given;
  }

  // A pause between half and all of `backoff`, so clients do not retry in step.
  static std::chrono::milliseconds jittered(std::chrono::milliseconds backoff) {
    thread_local std::mt19937_64 random(std::random_device{}());
    return std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(backoff.count() / 2, backoff.count())(random));
  }

  // Runs a client-streaming call: `open(context, response)` gives the writer,
  // `write_all(writer)` sends the messages and returns a local error or OK.
  template <typename Request, typename Response, typename Open, typename WriteAll>
  Result<Response> upload(Open&& open, WriteAll&& write_all) const {
    auto ctx = context();
    Response response;
    std::unique_ptr<grpc::ClientWriter<Request>> writer = open(ctx.get(), &response);
    const Status local = write_all(*writer);
    if (!local.ok()) {
      ctx->TryCancel();
      (void)writer->Finish();
      return local;
    }
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    if (!status.ok()) return Status::from_grpc(status);
    return response;
  }
};

namespace {

// Sends `source` as messages made by `make(piece)`. A failed write means the
// server ended the call; Finish() then tells why, so stop quietly.
template <typename Request, typename Make>
Status write_chunks(grpc::ClientWriter<Request>& writer, const UploadSource& source, bool& stream_open,
                    Make&& make) {
  if (!stream_open) return {};
  return source.for_each_chunk(kChunkSize, [&](std::string_view piece) {
    if (!writer.Write(make(piece))) stream_open = false;
    return stream_open;
  });
}

// A relative path of non-empty segments of letters, digits, '.', '_' and
// '-', none of them "." or "..".
bool is_safe_export_path(const std::string& path) {
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    const std::string segment = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    for (char c : segment) {
      const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!letter && c != '.' && c != '_' && c != '-') return false;
    }
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

}  // namespace

std::string new_idempotency_key() {
  thread_local std::mt19937_64 random(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  std::string key(32, '0');
  const auto put = [&](std::size_t begin, std::size_t digits, uint64_t bits) {
    for (std::size_t i = begin + digits; i-- > begin; bits >>= 4) key[i] = kHex[bits & 0xf];
  };
  put(0, 12, static_cast<uint64_t>(now));
  put(12, 4, random());
  put(16, 16, random());
  return key;
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Result<Client> Client::connect(const ClientOptions& options) {
  if (options.address.empty()) return Status(grpc::StatusCode::INVALID_ARGUMENT, "server address is empty");
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls || !options.ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      std::ifstream in(options.ca_file, std::ios::binary);
      if (!in) return Status(grpc::StatusCode::NOT_FOUND, options.ca_file.string() + ": cannot open CA file");
      ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (ssl.pem_root_certs.empty()) {
        return Status(grpc::StatusCode::INVALID_ARGUMENT, options.ca_file.string() + ": CA file is empty");
      }
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  if (options.retry.max_attempts < 1 || options.retry.initial_backoff.count() < 1 ||
      options.retry.max_backoff < options.retry.initial_backoff) {
    return Status(grpc::StatusCode::INVALID_ARGUMENT,
                  "retry policy: max_attempts >= 1 and 1 ms <= initial_backoff <= max_backoff are required");
  }
  grpc::ChannelArguments args;
  // Chunks are 1 MiB; answers such as a MatchingResult with every candidate
  // can be larger than gRPC's 4 MiB default.
  args.SetMaxReceiveMessageSize(64 << 20);
  // A retrying client reconnects to a restarted server at least as often as
  // it retries (gRPC's own reconnect backoff grows to 120 s).
  if (options.retry.max_attempts > 1) {
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(options.retry.max_backoff.count()));
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->channel = grpc::CreateCustomChannel(options.address, credentials, args);
  impl->tracking = pb::Tracking::NewStub(impl->channel);
  impl->matching = pb::Matching::NewStub(impl->channel);
  impl->training = pb::Training::NewStub(impl->channel);
  impl->multipliers = pb::Multipliers::NewStub(impl->channel);
  return Client(std::move(impl));
}

const ClientOptions& Client::options() const { return impl_->options; }

// ---------------------------------------------------------------- Tracking

Result<pb::Experiment> Client::create_experiment(const std::string& name) const {
  pb::CreateExperimentRequest request;
  request.set_name(name);
  request.set_idempotency_key(impl_->idempotency_key(""));
  return impl_->unary<pb::Experiment>(
      [&](auto* ctx, auto* response) { return impl_->tracking->CreateExperiment(ctx, request, response); });
}

Result<pb::Experiment> Client::get_experiment_by_name(const std::string& name) const {
  pb::GetExperimentByNameRequest request;
  request.set_name(name);
  return impl_->unary<pb::Experiment>(
      [&](auto* ctx, auto* response) { return impl_->tracking->GetExperimentByName(ctx, request, response); });
}

Result<std::vector<pb::Experiment>> Client::list_experiments(pb::ViewType view) const {
  pb::ListExperimentsRequest request;
  request.set_view(view);
  auto response = impl_->unary<pb::ListExperimentsResponse>(
      [&](auto* ctx, auto* r) { return impl_->tracking->ListExperiments(ctx, request, r); });
  if (!response.ok()) return response.status();
  return std::vector<pb::Experiment>(response->experiments().begin(), response->experiments().end());
}

Result<pb::Run> Client::create_run(int64_t experiment_id, const std::string& run_name,
                                   const std::string& idempotency_key) const {
  pb::CreateRunRequest request;
  request.set_experiment_id(experiment_id);
  request.set_run_name(run_name);
  request.set_idempotency_key(impl_->idempotency_key(idempotency_key));
  return impl_->unary<pb::Run>([&](auto* ctx, auto* r) { return impl_->tracking->CreateRun(ctx, request, r); });
}

Result<pb::Run> Client::get_run(const std::string& run_id) const {
  pb::GetRunRequest request;
  request.set_run_id(run_id);
  return impl_->unary<pb::Run>([&](auto* ctx, auto* r) { return impl_->tracking->GetRun(ctx, request, r); });
}

Result<pb::Run> Client::update_run(const std::string& run_id, const std::string& status) const {
  pb::UpdateRunRequest request;
  request.set_run_id(run_id);
  request.set_status(status);
  return impl_->unary<pb::Run>([&](auto* ctx, auto* r) { return impl_->tracking->UpdateRun(ctx, request, r); });
}

Result<pb::SearchRunsResponse> Client::search_runs(const pb::SearchRunsRequest& request) const {
  return impl_->unary<pb::SearchRunsResponse>(
      [&](auto* ctx, auto* r) { return impl_->tracking->SearchRuns(ctx, request, r); });
}

Result<std::vector<pb::Run>> Client::search_all_runs(pb::SearchRunsRequest request, std::size_t limit) const {
  std::vector<pb::Run> runs;
  while (true) {
    if (limit > 0) request.set_max_results(static_cast<int32_t>(limit - runs.size()));
    auto page = search_runs(request);
    if (!page.ok()) return page.status();
    for (const auto& run : page->runs()) {
      if (limit > 0 && runs.size() >= limit) break;
      runs.push_back(run);
    }
    if (page->next_page_token().empty() || (limit > 0 && runs.size() >= limit)) break;
    request.set_page_token(page->next_page_token());
  }
  return runs;
}

Status Client::log_param(const std::string& run_id, const std::string& key, const std::string& value) const {
  pb::LogParamRequest request;
  request.set_run_id(run_id);
  request.set_key(key);
  request.set_value(value);
  return impl_->unary<pb::LogResponse>([&](auto* ctx, auto* r) { return impl_->tracking->LogParam(ctx, request, r); })
      .status();
}

Status Client::log_metric(const std::string& run_id, const std::string& key, double value, int64_t step,
                          int64_t timestamp) const {
  pb::LogMetricRequest request;
  request.set_run_id(run_id);
  pb::Metric* metric = request.mutable_metric();
  metric->set_key(key);
  metric->set_value(value);
  metric->set_step(step);
  metric->set_timestamp(timestamp);
  request.set_idempotency_key(impl_->idempotency_key(""));
  return impl_->unary<pb::LogResponse>([&](auto* ctx, auto* r) { return impl_->tracking->LogMetric(ctx, request, r); })
      .status();
}

Status Client::set_tag(const std::string& run_id, const std::string& key, const std::string& value) const {
  pb::SetTagRequest request;
  request.set_run_id(run_id);
  request.set_key(key);
  request.set_value(value);
  return impl_->unary<pb::LogResponse>([&](auto* ctx, auto* r) { return impl_->tracking->SetTag(ctx, request, r); })
      .status();
}

Status Client::log_batch(const pb::LogBatchRequest& request) const {
  pb::LogBatchRequest keyed = request;
  keyed.set_idempotency_key(impl_->idempotency_key(request.idempotency_key()));
  return impl_->unary<pb::LogResponse>([&](auto* ctx, auto* r) { return impl_->tracking->LogBatch(ctx, keyed, r); })
      .status();
}

Result<std::vector<pb::Metric>> Client::get_metric_history(const std::string& run_id, const std::string& key) const {
  pb::GetMetricHistoryRequest request;
  request.set_run_id(run_id);
  request.set_key(key);
  auto response = impl_->unary<pb::GetMetricHistoryResponse>(
      [&](auto* ctx, auto* r) { return impl_->tracking->GetMetricHistory(ctx, request, r); });
  if (!response.ok()) return response.status();
  return std::vector<pb::Metric>(response->metrics().begin(), response->metrics().end());
}

Result<std::vector<pb::ArtifactInfo>> Client::list_artifacts(const std::string& run_id) const {
  pb::GetRunRequest request;
  request.set_run_id(run_id);
  auto response = impl_->unary<pb::ListArtifactsResponse>(
      [&](auto* ctx, auto* r) { return impl_->tracking->ListArtifacts(ctx, request, r); });
  if (!response.ok()) return response.status();
  return std::vector<pb::ArtifactInfo>(response->artifacts().begin(), response->artifacts().end());
}

Result<pb::ArtifactInfo> Client::upload_artifact(const std::string& run_id, const std::string& path,
                                                 const UploadSource& source) const {
  return impl_->upload<pb::UploadArtifactRequest, pb::ArtifactInfo>(
      [&](auto* ctx, auto* response) { return impl_->tracking->UploadArtifact(ctx, response); },
      [&](grpc::ClientWriter<pb::UploadArtifactRequest>& writer) {
        pb::UploadArtifactRequest header;
        header.mutable_header()->set_run_id(run_id);
        header.mutable_header()->set_path(path);
        bool open = writer.Write(header);
        return write_chunks(writer, source, open, [](std::string_view piece) {
          pb::UploadArtifactRequest message;
          message.set_data(std::string(piece));
          return message;
        });
      });
}

Result<int64_t> Client::download_artifact(const std::string& run_id, const std::string& path,
                                          const std::function<void(std::string_view)>& sink) const {
  pb::DownloadArtifactRequest request;
  request.set_run_id(run_id);
  request.set_path(path);
  auto ctx = impl_->context();
  auto reader = impl_->tracking->DownloadArtifact(ctx.get(), request);
  pb::Chunk chunk;
  int64_t total = 0;
  while (reader->Read(&chunk)) {
    total += static_cast<int64_t>(chunk.data().size());
    sink(chunk.data());
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return Status::from_grpc(status);
  return total;
}

// ---------------------------------------------------------------- Matching

Result<pb::SubmitMatchingResponse> Client::submit_matching(const pb::MatchingHeader& header,
                                                           const MatchingInputs& inputs) const {
  return impl_->upload<pb::SubmitMatchingRequest, pb::SubmitMatchingResponse>(
      [&](auto* ctx, auto* response) { return impl_->matching->SubmitMatching(ctx, response); },
      [&](grpc::ClientWriter<pb::SubmitMatchingRequest>& writer) -> Status {
        pb::SubmitMatchingRequest first;
        *first.mutable_header() = header;
        bool open = writer.Write(first);
        using Setter = void (pb::SubmitMatchingRequest::*)(const std::string&);
        const auto send = [&](const UploadSource& source, Setter setter) {
          return write_chunks(writer, source, open, [&](std::string_view piece) {
            pb::SubmitMatchingRequest message;
            (message.*setter)(std::string(piece));
            return message;
          });
        };
        Status status = send(inputs.model, &pb::SubmitMatchingRequest::set_model);
        if (status.ok()) status = send(inputs.calibration, &pb::SubmitMatchingRequest::set_calibration);
        if (status.ok() && inputs.test_x) status = send(*inputs.test_x, &pb::SubmitMatchingRequest::set_test_x);
        if (status.ok() && inputs.test_y) status = send(*inputs.test_y, &pb::SubmitMatchingRequest::set_test_y);
        return status;
      });
}

Result<pb::SubmitMatchingResponse> Client::submit_training(const pb::TrainingHeader& header,
                                                           const TrainingInputs& inputs) const {
  return impl_->upload<pb::SubmitTrainingRequest, pb::SubmitMatchingResponse>(
      [&](auto* ctx, auto* response) { return impl_->training->SubmitTraining(ctx, response); },
      [&](grpc::ClientWriter<pb::SubmitTrainingRequest>& writer) -> Status {
        pb::SubmitTrainingRequest first;
        *first.mutable_header() = header;
        bool open = writer.Write(first);
        using Setter = void (pb::SubmitTrainingRequest::*)(const std::string&);
        const std::pair<const std::optional<UploadSource>, Setter> parts[] = {
            {inputs.model, &pb::SubmitTrainingRequest::set_model},
            {inputs.train_x, &pb::SubmitTrainingRequest::set_train_x},
            {inputs.train_y, &pb::SubmitTrainingRequest::set_train_y},
            {inputs.calibration, &pb::SubmitTrainingRequest::set_calibration},
            {inputs.test_x, &pb::SubmitTrainingRequest::set_test_x},
            {inputs.test_y, &pb::SubmitTrainingRequest::set_test_y}};
        for (const auto& [source, setter] : parts) {
          if (!source) continue;
          const Status status = write_chunks(writer, *source, open, [&, set = setter](std::string_view piece) {
            pb::SubmitTrainingRequest message;
            (message.*set)(std::string(piece));
            return message;
          });
          if (!status.ok()) return status;
        }
        return Status();
      });
}

Result<std::vector<ExportedFile>> Client::download_run_export(const std::string& run_id) const {
  pb::GetRunRequest request;
  request.set_run_id(run_id);
  auto ctx = impl_->context();
  auto reader = impl_->matching->DownloadRunExport(ctx.get(), request);
  std::vector<ExportedFile> files;
  std::set<std::string> paths;
  Status broken;
  pb::ExportChunk chunk;
  while (broken.ok() && reader->Read(&chunk)) {
    if (!chunk.path().empty()) {
      if (!is_safe_export_path(chunk.path()) || !paths.insert(chunk.path()).second) {
        broken = Status(grpc::StatusCode::INTERNAL, "the server sent an unsafe or repeated export path '" +
                                                        chunk.path() + "'");
        break;
      }
      files.push_back({chunk.path(), {}, chunk.executable()});
    } else if (files.empty()) {
      broken = Status(grpc::StatusCode::INTERNAL, "the server's export starts without a file name");
      break;
    }
    files.back().data += chunk.data();
  }
  if (!broken.ok()) {
    ctx->TryCancel();
    reader->Finish();
    return broken;
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return Status::from_grpc(status);
  return files;
}

Result<pb::Sweep> Client::get_sweep(const std::string& run_id) const {
  pb::GetSweepRequest request;
  request.set_run_id(run_id);
  return impl_->unary<pb::Sweep>([&](auto* ctx, auto* r) { return impl_->training->GetSweep(ctx, request, r); });
}

Result<pb::JobProgress> Client::watch_job(int64_t job_id,
                                          const std::function<void(const pb::JobProgress&)>& on_progress) const {
  pb::GetJobRequest request;
  request.set_job_id(job_id);
  auto ctx = impl_->context(/*with_deadline=*/false);
  auto reader = impl_->matching->WatchJob(ctx.get(), request);
  pb::JobProgress progress;
  std::optional<pb::JobProgress> last;
  while (reader->Read(&progress)) {
    if (on_progress) on_progress(progress);
    if (progress.final()) {
      last = progress;
      ctx->TryCancel();  // nothing more is expected; do not wait for the server to close
      break;
    }
  }
  const grpc::Status status = reader->Finish();
  if (last) return *last;
  if (!status.ok()) return Status::from_grpc(status);
  return Status(grpc::StatusCode::UNAVAILABLE,
                "the server closed the progress stream of job " + std::to_string(job_id) + " before it ended");
}

Result<pb::Job> Client::get_job(int64_t job_id) const {
  pb::GetJobRequest request;
  request.set_job_id(job_id);
  return impl_->unary<pb::Job>([&](auto* ctx, auto* r) { return impl_->matching->GetJob(ctx, request, r); });
}

Result<pb::Job> Client::cancel_job(int64_t job_id) const {
  pb::GetJobRequest request;
  request.set_job_id(job_id);
  return impl_->unary<pb::Job>([&](auto* ctx, auto* r) { return impl_->matching->CancelJob(ctx, request, r); });
}

Result<pb::MatchingResult> Client::get_matching_result(const std::string& run_id) const {
  pb::GetMatchingResultRequest request;
  request.set_run_id(run_id);
  return impl_->unary<pb::MatchingResult>(
      [&](auto* ctx, auto* r) { return impl_->matching->GetMatchingResult(ctx, request, r); });
}

Result<pb::QueryEnergyResponse> Client::query_energy(const std::string& experiment) const {
  pb::QueryEnergyRequest request;
  request.set_experiment(experiment);
  return impl_->unary<pb::QueryEnergyResponse>(
      [&](auto* ctx, auto* r) { return impl_->matching->QueryEnergy(ctx, request, r); });
}

Result<pb::MatchingResult> Client::reselect(const pb::ReselectRequest& request) const {
  return impl_->unary<pb::MatchingResult>(
      [&](auto* ctx, auto* r) { return impl_->matching->Reselect(ctx, request, r); });
}

// ------------------------------------------------------------- Multipliers

Result<std::vector<pb::Library>> Client::list_libraries() const {
  pb::ListLibrariesRequest request;
  auto response = impl_->unary<pb::ListLibrariesResponse>(
      [&](auto* ctx, auto* r) { return impl_->multipliers->ListLibraries(ctx, request, r); });
  if (!response.ok()) return response.status();
  return std::vector<pb::Library>(response->libraries().begin(), response->libraries().end());
}

Result<std::vector<pb::MultiplierSummary>> Client::list_multipliers(const std::string& library) const {
  pb::ListMultipliersRequest request;
  request.set_library(library);
  auto response = impl_->unary<pb::ListMultipliersResponse>(
      [&](auto* ctx, auto* r) { return impl_->multipliers->ListMultipliers(ctx, request, r); });
  if (!response.ok()) return response.status();
  return std::vector<pb::MultiplierSummary>(response->multipliers().begin(), response->multipliers().end());
}

Result<pb::MultiplierDetail> Client::get_multiplier(const std::string& library, const std::string& name) const {
  pb::GetMultiplierRequest request;
  request.set_library(library);
  request.set_name(name);
  return impl_->unary<pb::MultiplierDetail>(
      [&](auto* ctx, auto* r) { return impl_->multipliers->GetMultiplier(ctx, request, r); });
}

Result<pb::Library> Client::import_library(const std::string& name, const std::string& metric,
                                           const std::vector<UploadSource>& files) const {
  return impl_->upload<pb::ImportLibraryRequest, pb::Library>(
      [&](auto* ctx, auto* response) { return impl_->multipliers->ImportLibrary(ctx, response); },
      [&](grpc::ClientWriter<pb::ImportLibraryRequest>& writer) -> Status {
        pb::ImportLibraryRequest first;
        first.mutable_header()->set_name(name);
        first.mutable_header()->set_metric(metric);
        bool open = writer.Write(first);
        for (const UploadSource& file : files) {
          const std::string file_name = file.file_name();
          Status status = write_chunks(writer, file, open, [&](std::string_view piece) {
            pb::ImportLibraryRequest message;
            message.mutable_file()->set_file_name(file_name);
            message.mutable_file()->set_data(std::string(piece));
            return message;
          });
          if (!status.ok()) return status;
        }
        return {};
      });
}

}  // namespace agnx::client
