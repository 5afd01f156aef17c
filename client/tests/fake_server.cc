#include "client/tests/fake_server.h"

#include <cstdio>
#include <cstdlib>

namespace agnx::testing {

namespace {

using grpc::ServerContext;
using grpc::Status;
using grpc::StatusCode;

using StatePtr = std::shared_ptr<FakeState>;
using Lock = std::lock_guard<std::mutex>;

// Records the call's authorization metadata; the error when a required token is missing.
Status check_auth(FakeState& state, const ServerContext* context) {
  std::string value;
  const auto& metadata = context->client_metadata();
  if (const auto it = metadata.find("authorization"); it != metadata.end()) {
    value.assign(it->second.data(), it->second.size());
  }
  state.authorization.push_back(value);
  if (!state.required_token.empty() && value != "Bearer " + state.required_token) {
    return {StatusCode::UNAUTHENTICATED, "missing or wrong bearer token"};
  }
  return Status::OK;
}

#define FAKE_AUTH()                                            \
  Lock lock(state_->mu);                                       \
  if (Status auth = check_auth(*state_, context); !auth.ok()) \
  return auth

Status not_found(const std::string& what) { return {StatusCode::NOT_FOUND, what + " not found"}; }

pb::LayerInfo layer(const std::string& name, const std::string& multiplier, double metric, double sigma,
                    double max_std, double mul_std) {
  pb::LayerInfo l;
  l.set_name(name);
  l.set_multiplier_name(multiplier);
  l.set_multiplier_performance_metric(metric);
  l.set_sigma(sigma);
  l.set_max_std(max_std);
  l.set_mul_std(mul_std);
  l.set_opcount(1000);
  l.set_fan_in(25);
  return l;
}

pb::MatchingResult canned_result(const std::string& run_id) {
  pb::MatchingResult result;
  result.set_run_id(run_id);
  result.set_lambda(0.5);
  pb::MatchingInfo* info = result.mutable_info();
  *info->add_layers() = layer("conv1.0", "trunc4", 250, 0.156, 2595.1, 1915.8);
  *info->add_layers() = layer("linear3", "exact", 322, 0.0145, 356.7, 0);
  info->mutable_layers(0)->set_observed_std(1893.9);
  info->set_library("builtin");
  info->set_metric("cells");
  info->set_metric_max(322);
  info->set_opcount(2000);
  info->set_relative_energy_consumption(0.888);
  info->mutable_accuracy()->set_float_top1(0.892);
  info->mutable_accuracy()->set_quantized_top1(0.89);
  info->mutable_accuracy()->set_approximate_top1(0.885);
  result.set_json(FakeServer::kRun1Json);
  return result;
}

pb::Run make_run(const std::string& id, int64_t experiment_id, const std::string& name) {
  pb::Run run;
  run.mutable_info()->set_run_id(id);
  run.mutable_info()->set_experiment_id(experiment_id);
  run.mutable_info()->set_run_name(name);
  run.mutable_info()->set_status("RUNNING");
  run.mutable_info()->set_start_time(1764230400000);
  run.mutable_info()->set_lifecycle("active");
  return run;
}

class TrackingService final : public pb::Tracking::Service {
 public:
  explicit TrackingService(StatePtr state) : state_(std::move(state)) {}

  Status CreateExperiment(ServerContext* context, const pb::CreateExperimentRequest* request,
                          pb::Experiment* response) override {
    FAKE_AUTH();
    if (request->name().empty()) return {StatusCode::INVALID_ARGUMENT, "name is empty"};
    if (state_->experiments.contains(request->name())) {
      return {StatusCode::ALREADY_EXISTS, "experiment '" + request->name() + "' already exists"};
    }
    pb::Experiment e;
    e.set_experiment_id(state_->next_id++);
    e.set_name(request->name());
    e.set_lifecycle("active");
    e.set_creation_time(1764230400000);
    state_->experiments[e.name()] = e;
    *response = e;
    return Status::OK;
  }

  Status GetExperimentByName(ServerContext* context, const pb::GetExperimentByNameRequest* request,
                             pb::Experiment* response) override {
    FAKE_AUTH();
    const auto it = state_->experiments.find(request->name());
    if (it == state_->experiments.end()) return not_found("experiment '" + request->name() + "'");
    *response = it->second;
    return Status::OK;
  }

  Status ListExperiments(ServerContext* context, const pb::ListExperimentsRequest*,
                         pb::ListExperimentsResponse* response) override {
    FAKE_AUTH();
    for (const auto& [name, e] : state_->experiments) *response->add_experiments() = e;
    return Status::OK;
  }

  Status GetRun(ServerContext* context, const pb::GetRunRequest* request, pb::Run* response) override {
    FAKE_AUTH();
    const auto it = state_->runs.find(request->run_id());
    if (it == state_->runs.end()) return not_found("run '" + request->run_id() + "'");
    *response = it->second;
    return Status::OK;
  }

  // Pages of one run each, so clients must follow page tokens.
  Status SearchRuns(ServerContext* context, const pb::SearchRunsRequest* request,
                    pb::SearchRunsResponse* response) override {
    FAKE_AUTH();
    state_->last_search = *request;
    std::vector<const pb::Run*> matching;
    for (const auto& [id, run] : state_->runs) {
      for (const int64_t e : request->experiment_ids()) {
        if (run.info().experiment_id() == e) matching.push_back(&run);
      }
    }
    const std::size_t start = request->page_token().empty() ? 0 : std::stoul(request->page_token());
    if (start < matching.size()) *response->add_runs() = *matching[start];
    if (start + 1 < matching.size()) response->set_next_page_token(std::to_string(start + 1));
    return Status::OK;
  }

  Status LogParam(ServerContext* context, const pb::LogParamRequest* request, pb::LogResponse*) override {
    FAKE_AUTH();
    const auto it = state_->runs.find(request->run_id());
    if (it == state_->runs.end()) return not_found("run '" + request->run_id() + "'");
    (*it->second.mutable_params())[request->key()] = request->value();
    return Status::OK;
  }

  Status LogMetric(ServerContext* context, const pb::LogMetricRequest* request, pb::LogResponse*) override {
    FAKE_AUTH();
    const auto it = state_->runs.find(request->run_id());
    if (it == state_->runs.end()) return not_found("run '" + request->run_id() + "'");
    state_->logged_metrics.push_back(*request);
    if (state_->unavailable_log_metrics > 0) {
      --state_->unavailable_log_metrics;
      return {StatusCode::UNAVAILABLE, "the server is restarting"};
    }
    *it->second.add_metrics() = request->metric();
    return Status::OK;
  }

  Status SetTag(ServerContext* context, const pb::SetTagRequest* request, pb::LogResponse*) override {
    FAKE_AUTH();
    const auto it = state_->runs.find(request->run_id());
    if (it == state_->runs.end()) return not_found("run '" + request->run_id() + "'");
    (*it->second.mutable_tags())[request->key()] = request->value();
    return Status::OK;
  }

 private:
  StatePtr state_;
};

// Records a training submission and answers a run and job id (no job runs).
class TrainingService final : public pb::Training::Service {
 public:
  explicit TrainingService(StatePtr state) : state_(std::move(state)) {}

  Status SubmitTraining(ServerContext* context, grpc::ServerReader<pb::SubmitTrainingRequest>* reader,
                        pb::SubmitMatchingResponse* response) override {
    {
      FAKE_AUTH();
    }
    pb::TrainingHeader header;
    std::map<std::string, std::string> parts;
    for (pb::SubmitTrainingRequest message; reader->Read(&message);) {
      switch (message.part_case()) {
        case pb::SubmitTrainingRequest::kHeader: header = message.header(); break;
        case pb::SubmitTrainingRequest::kModel: parts["model"] += message.model(); break;
        case pb::SubmitTrainingRequest::kTrainX: parts["train_x"] += message.train_x(); break;
        case pb::SubmitTrainingRequest::kTrainY: parts["train_y"] += message.train_y(); break;
        case pb::SubmitTrainingRequest::kCalibration: parts["calibration"] += message.calibration(); break;
        case pb::SubmitTrainingRequest::kTestX: parts["test_x"] += message.test_x(); break;
        case pb::SubmitTrainingRequest::kTestY: parts["test_y"] += message.test_y(); break;
        default: return {StatusCode::INVALID_ARGUMENT, "empty message"};
      }
    }
    Lock lock(state_->mu);
    state_->training_header = header;
    state_->training_parts = parts;
    const int64_t id = state_->next_id++;
    response->set_run_id("run-" + std::to_string(id));
    response->set_job_id(id);
    return Status::OK;
  }

 private:
  StatePtr state_;
};

class MatchingService final : public pb::Matching::Service {
 public:
  explicit MatchingService(StatePtr state) : state_(std::move(state)) {}

  Status SubmitMatching(ServerContext* context, grpc::ServerReader<pb::SubmitMatchingRequest>* reader,
                        pb::SubmitMatchingResponse* response) override {
    {
      FAKE_AUTH();
      state_->submitted.clear();
      state_->submitted_chunks.clear();
    }
    pb::SubmitMatchingRequest message;
    bool first = true;
    pb::MatchingHeader header;
    std::map<std::string, std::string> parts;
    std::map<std::string, std::vector<std::size_t>> chunks;
    while (reader->Read(&message)) {
      if (first != message.has_header()) return {StatusCode::INVALID_ARGUMENT, "the header must come first, once"};
      first = false;
      const std::string* data = nullptr;
      std::string part;
      switch (message.part_case()) {
        case pb::SubmitMatchingRequest::kHeader: header = message.header(); continue;
        case pb::SubmitMatchingRequest::kModel: part = "model", data = &message.model(); break;
        case pb::SubmitMatchingRequest::kCalibration: part = "calibration", data = &message.calibration(); break;
        case pb::SubmitMatchingRequest::kTestX: part = "test_x", data = &message.test_x(); break;
        case pb::SubmitMatchingRequest::kTestY: part = "test_y", data = &message.test_y(); break;
        default: return {StatusCode::INVALID_ARGUMENT, "empty message"};
      }
      parts[part] += *data;
      chunks[part].push_back(data->size());
    }
    Lock lock(state_->mu);
    if (first) return {StatusCode::INVALID_ARGUMENT, "no header"};
    if (!parts.contains("model")) return {StatusCode::INVALID_ARGUMENT, "model: missing"};
    state_->submitted_header = header;
    state_->submitted = parts;
    state_->submitted_chunks = chunks;
    auto& experiments = state_->experiments;
    if (!experiments.contains(header.experiment())) {
      pb::Experiment e;
      e.set_experiment_id(state_->next_id++);
      e.set_name(header.experiment());
      e.set_lifecycle("active");
      experiments[e.name()] = e;
    }
    const int64_t id = state_->next_id++;
    const std::string run_id = "run-" + std::to_string(id);
    pb::Run run = make_run(run_id, experiments[header.experiment()].experiment_id(), header.run_name());
    (*run.mutable_params())["lambda"] = std::to_string(header.lambda());
    state_->runs[run_id] = run;
    pb::Job job;
    job.set_job_id(id);
    job.set_run_id(run_id);
    job.set_state(header.run_name() == "fail" ? "FAILED" : "SUCCEEDED");
    if (header.run_name() == "fail") {
      job.set_error("model: not a TorchScript archive");
    } else {
      state_->results[run_id] = canned_result(run_id);
    }
    state_->jobs[id] = job;
    response->set_run_id(run_id);
    response->set_job_id(id);
    return Status::OK;
  }

  Status WatchJob(ServerContext* context, const pb::GetJobRequest* request,
                  grpc::ServerWriter<pb::JobProgress>* writer) override {
    pb::Job job;
    {
      FAKE_AUTH();
      const auto it = state_->jobs.find(request->job_id());
      if (it == state_->jobs.end()) return not_found("job " + std::to_string(request->job_id()));
      job = it->second;
    }
    const auto send = [&](const std::string& state, const std::string& stage, uint32_t step, uint32_t steps,
                          double percent, bool final, const std::string& message = "") {
      pb::JobProgress p;
      p.set_job_id(job.job_id());
      p.set_state(state);
      p.set_stage(stage);
      p.set_step(step);
      p.set_steps(steps);
      p.set_percent(percent);
      p.set_final(final);
      p.set_message(message);
      writer->Write(p);
    };
    send("QUEUED", "queued", 0, 0, 0, false);
    send("RUNNING", "loading", 1, 1, 10, false);
    if (job.state() == "FAILED") {
      send("FAILED", "loading", 1, 1, 10, true, job.error());
      return Status::OK;
    }
    for (uint32_t step = 1; step <= 3; ++step) send("RUNNING", "features", step, 3, 10 + 20 * step, false);
    send("RUNNING", "selection", 1, 1, 90, false);
    send("SUCCEEDED", "saving", 1, 1, 100, true);
    return Status::OK;
  }

  Status GetJob(ServerContext* context, const pb::GetJobRequest* request, pb::Job* response) override {
    FAKE_AUTH();
    const auto it = state_->jobs.find(request->job_id());
    if (it == state_->jobs.end()) return not_found("job " + std::to_string(request->job_id()));
    *response = it->second;
    return Status::OK;
  }

  Status CancelJob(ServerContext* context, const pb::GetJobRequest* request, pb::Job* response) override {
    FAKE_AUTH();
    const auto it = state_->jobs.find(request->job_id());
    if (it == state_->jobs.end()) return not_found("job " + std::to_string(request->job_id()));
    if (it->second.state() == "SUCCEEDED" || it->second.state() == "FAILED") {
      return {StatusCode::FAILED_PRECONDITION, "job " + std::to_string(request->job_id()) + " already ended " +
                                                   it->second.state()};
    }
    if (request->job_id() != kSlowToStopJob) it->second.set_state("CANCELLED");
    state_->cancelled_jobs.push_back(request->job_id());
    *response = it->second;
    return Status::OK;
  }

  Status GetMatchingResult(ServerContext* context, const pb::GetMatchingResultRequest* request,
                           pb::MatchingResult* response) override {
    FAKE_AUTH();
    const auto it = state_->results.find(request->run_id());
    if (it == state_->results.end()) return not_found("matching result of run '" + request->run_id() + "'");
    *response = it->second;
    return Status::OK;
  }

  Status QueryEnergy(ServerContext* context, const pb::QueryEnergyRequest* request,
                     pb::QueryEnergyResponse* response) override {
    FAKE_AUTH();
    if (!state_->experiments.contains(request->experiment())) {
      return not_found("experiment '" + request->experiment() + "'");
    }
    for (const double lambda : {0.25, 0.5}) {
      pb::EnergyPoint* p = response->add_points();
      p->set_run_id(lambda == 0.5 ? "run-1" : "run-0");
      p->set_run_name("lambda-" + std::to_string(lambda));
      p->set_lambda(lambda);
      p->set_library("builtin");
      p->set_metric("cells");
      p->set_relative_energy(lambda == 0.5 ? 0.5 : 0.75);
      (*p->mutable_accuracies())["approximate_top1"] = lambda == 0.5 ? 0.885 : 0.8;
      p->set_pareto(lambda == 0.5);
    }
    return Status::OK;
  }

  Status Reselect(ServerContext* context, const pb::ReselectRequest* request, pb::MatchingResult* response) override {
    FAKE_AUTH();
    state_->last_reselect = *request;
    const auto it = state_->results.find(request->run_id());
    if (it == state_->results.end()) return not_found("matching result of run '" + request->run_id() + "'");
    *response = it->second;
    response->mutable_info()->mutable_layers(0)->set_multiplier_name("exact");
    return Status::OK;
  }

 private:
  StatePtr state_;
};

class MultipliersService final : public pb::Multipliers::Service {
 public:
  explicit MultipliersService(StatePtr state) : state_(std::move(state)) {}

  Status ListLibraries(ServerContext* context, const pb::ListLibrariesRequest*,
                       pb::ListLibrariesResponse* response) override {
    FAKE_AUTH();
    pb::Library* builtin = response->add_libraries();
    builtin->set_name("builtin");
    builtin->set_metric("cells");
    builtin->set_size(2);
    builtin->set_metric_max(322);
    builtin->set_builtin(true);
    pb::Library* evo = response->add_libraries();
    evo->set_name("evo");
    evo->set_metric("PDK45_PWR");
    evo->set_size(49);
    evo->set_metric_max(0.425);
    return Status::OK;
  }

  Status ListMultipliers(ServerContext* context, const pb::ListMultipliersRequest* request,
                         pb::ListMultipliersResponse* response) override {
    FAKE_AUTH();
    if (request->library() != "builtin") return not_found("library '" + request->library() + "'");
    for (const auto& [name, metric] : {std::pair{"exact", 322.0}, std::pair{"trunc4", 250.0}}) {
      pb::MultiplierSummary* m = response->add_multipliers();
      m->set_name(name);
      m->set_signed_(true);
      m->set_metric(metric);
    }
    return Status::OK;
  }

  Status GetMultiplier(ServerContext* context, const pb::GetMultiplierRequest* request,
                       pb::MultiplierDetail* response) override {
    FAKE_AUTH();
    if (request->library() != "builtin") return not_found("library '" + request->library() + "'");
    if (request->name() != "trunc4") return not_found("multiplier '" + request->name() + "' of library builtin");
    response->mutable_summary()->set_name("trunc4");
    response->mutable_summary()->set_signed_(true);
    response->mutable_summary()->set_metric(250);
    (*response->mutable_metrics())["cells"] = 250;
    (*response->mutable_metrics())["relative_cells"] = 0.776;
    response->mutable_characterization()->set_mae(7.5);
    response->mutable_characterization()->set_mae_pct(0.0114);
    return Status::OK;
  }

  Status ImportLibrary(ServerContext* context, grpc::ServerReader<pb::ImportLibraryRequest>* reader,
                       pb::Library* response) override {
    { FAKE_AUTH(); }
    pb::ImportLibraryRequest message;
    pb::ImportHeader header;
    bool first = true;
    std::map<std::string, std::string> files;
    std::map<std::string, std::vector<std::size_t>> chunks;
    while (reader->Read(&message)) {
      if (first != message.has_header()) return {StatusCode::INVALID_ARGUMENT, "the header must come first, once"};
      if (first) {
        header = message.header();
        first = false;
        continue;
      }
      files[message.file().file_name()] += message.file().data();
      chunks[message.file().file_name()].push_back(message.file().data().size());
    }
    Lock lock(state_->mu);
    if (!files.contains("metrics.csv")) return {StatusCode::INVALID_ARGUMENT, "metrics.csv: missing"};
    if (header.name() == "builtin") return {StatusCode::ALREADY_EXISTS, "library 'builtin' already exists"};
    state_->import_header = header;
    state_->imported = files;
    state_->imported_chunks = chunks;
    response->set_name(header.name());
    response->set_metric(header.metric().empty() ? "PDK45_PWR" : header.metric());
    response->set_size(static_cast<uint32_t>(files.size() - 1));
    response->set_metric_max(0.425);
    return Status::OK;
  }

 private:
  StatePtr state_;
};

}  // namespace

const char* FakeServer::kRun1Json =
    R"({"layers":[{"name":"conv1.0","multiplier_name":"trunc4","multiplier_performance_metric":250,)"
    R"("opcount":1000,"fan_in":25,"sigma":0.156,"max_std":2595.1,"mul_std":1915.8,"observed_std":1893.9},)"
    R"({"name":"linear3","multiplier_name":"exact","multiplier_performance_metric":322,"opcount":1000,)"
    R"("fan_in":25,"sigma":0.0145,"max_std":356.7,"mul_std":0}],"library":"builtin","metric":"cells",)"
    R"("metric_max":322,"opcount":2000,"relative_energy_consumption":0.888,)"
    R"("accuracy":{"float_top1":0.892,"quantized_top1":0.89,"approximate_top1":0.885}})";

FakeServer::FakeServer() : FakeServer(grpc::InsecureServerCredentials()) {}

FakeServer::FakeServer(std::shared_ptr<grpc::ServerCredentials> credentials)
    : state_(std::make_shared<FakeState>()) {
  pb::Experiment lenet;
  lenet.set_experiment_id(1);
  lenet.set_name("lenet");
  lenet.set_lifecycle("active");
  lenet.set_creation_time(1764230400000);
  state_->experiments["lenet"] = lenet;
  pb::Run run1 = make_run("run-1", 1, "lambda-0.5");
  run1.mutable_info()->set_status("FINISHED");
  run1.mutable_info()->set_end_time(1764230460000);
  (*run1.mutable_params())["lambda"] = "0.5";
  (*run1.mutable_params())["library"] = "builtin";
  (*run1.mutable_tags())["stage"] = "tuned";
  pb::Metric* energy = run1.add_metrics();
  energy->set_key("relative_energy");
  energy->set_value(0.888);
  state_->runs["run-1"] = run1;
  state_->runs["run-2"] = make_run("run-2", 1, "tracking-only");
  state_->results["run-1"] = canned_result("run-1");
  pb::Job job;
  job.set_job_id(7);
  job.set_run_id("run-1");
  job.set_state("SUCCEEDED");
  job.set_attempts(1);
  job.set_progress(1.0);
  state_->jobs[7] = job;
  pb::Job queued;
  queued.set_job_id(8);
  queued.set_run_id("run-2");
  queued.set_state("QUEUED");
  state_->jobs[8] = queued;
  pb::Job running = queued;
  running.set_job_id(kSlowToStopJob);
  running.set_state("RUNNING");
  state_->jobs[kSlowToStopJob] = running;

  services_.push_back(std::make_unique<TrackingService>(state_));
  services_.push_back(std::make_unique<MatchingService>(state_));
  services_.push_back(std::make_unique<TrainingService>(state_));
  services_.push_back(std::make_unique<MultipliersService>(state_));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", credentials, &port);
  for (const auto& service : services_) builder.RegisterService(service.get());
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    std::fprintf(stderr, "FakeServer: cannot listen on 127.0.0.1\n");
    std::abort();
  }
  address_ = "127.0.0.1:" + std::to_string(port);
}

FakeServer::~FakeServer() { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1)); }

}  // namespace agnx::testing
