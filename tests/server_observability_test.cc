// agnx-server's observability on the real binary: GET /metrics on the
// dashboard port counts gRPC calls by method and code and times them, counts
// the store's group commits, shows a finished job in agnx_jobs and the warm
// worker; it needs the reader token when tokens are configured. The JSON log
// has a line per gRPC call at --log-level debug (none at info) and a line
// per job state change at info.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "client/tests/subprocess.h"
#include "tests/support/http_client.h"
#include "tests/support/matching_client.h"
#include "tests/support/server_process.h"
#include "tests/support/shared_data.h"
#include "tests/support/temp_dir.h"

namespace agnx {
namespace {

namespace pb = ::agnapprox::v1;
using testing::ServerProcess;

constexpr const char* kReaderToken = "reader-token-0b5e1c77d2";

// A scrape: each sample line's name and labels -> its value.
using Samples = std::map<std::string, double>;

Samples parse_samples(const std::string& text) {
  Samples samples;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t space = line.rfind(' ');
    if (line.empty() || line.front() == '#' || space == std::string::npos) continue;
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

// The value of `series` in `samples`, 0 when absent (a series not yet created).
double value(const Samples& samples, const std::string& series) {
  const auto found = samples.find(series);
  return found == samples.end() ? 0.0 : found->second;
}

std::string handled(const std::string& method, const std::string& code) {
  return "agnx_grpc_server_handled_total{grpc_service=\"agnapprox.v1.Tracking\",grpc_method=\"" + method +
         "\",grpc_code=\"" + code + "\"}";
}

std::string latency_count(const std::string& method) {
  return "agnx_grpc_server_handling_seconds_count{grpc_service=\"agnapprox.v1.Tracking\",grpc_method=\"" + method +
         "\"}";
}

// The lines of a JSON-lines log file that parse, others skipped.
std::vector<nlohmann::json> json_lines(const std::filesystem::path& file) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_object()) lines.push_back(std::move(json));
  }
  return lines;
}

std::vector<nlohmann::json> lines_with_msg(const std::filesystem::path& file, const std::string& msg) {
  std::vector<nlohmann::json> found;
  for (auto& line : json_lines(file)) {
    if (line.value("msg", "") == msg) found.push_back(std::move(line));
  }
  return found;
}

class ObservabilityTest : public ::testing::Test {
 protected:
  // Starts the server with a dashboard and `args`, its stderr to stderr_path().
  void start(std::vector<std::string> args = {}) {
    args.insert(args.end(), {"--http", "127.0.0.1:0"});
    auto server = ServerProcess::start(AGNX_SERVER_BINARY, dir_.path() / "data", args, stderr_path());
    ASSERT_TRUE(server.ok()) << server.status().to_string();
    server_ = std::move(*server);
    const std::string output = server_->wait_for_output("/\n");
    const std::string marker = "dashboard on http://127.0.0.1:";
    ASSERT_NE(output.find(marker), std::string::npos) << output;
    http_port_ = static_cast<uint16_t>(std::stoi(output.substr(output.find(marker) + marker.size())));
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    tracking_ = pb::Tracking::NewStub(channel_);
  }

  // Stops the server (its channel first, so no connection delays the
  // shutdown); its log is then complete.
  void stop() {
    tracking_.reset();
    channel_.reset();
    server_.reset();
  }

  std::filesystem::path stderr_path() const { return dir_.path() / "server.stderr"; }

  Samples scrape() {
    const testing::HttpReply reply = testing::http_get(http_port_, "/metrics");
    EXPECT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(reply.headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    return parse_samples(reply.body);
  }

  grpc::Status create_experiment(const std::string& name, pb::Experiment* experiment) {
    grpc::ClientContext context;
    pb::CreateExperimentRequest request;
    request.set_name(name);
    return tracking_->CreateExperiment(&context, request, experiment);
  }

  grpc::Status get_experiment(int64_t id) {
    grpc::ClientContext context;
    pb::GetExperimentRequest request;
    request.set_experiment_id(id);
    pb::Experiment experiment;
    return tracking_->GetExperiment(&context, request, &experiment);
  }

  testing::TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  uint16_t http_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Tracking::Stub> tracking_;
};

TEST_F(ObservabilityTest, MetricsCountCallsByMethodAndCodeAndTheStoresGroupCommits) {
  ASSERT_NO_FATAL_FAILURE(start({"--warm-worker", "off"}));
  const Samples before = scrape();
  for (const char* family : {"agnx_grpc_server_handled_total", "agnx_grpc_server_handling_seconds",
                             "agnx_store_write_group_size", "agnx_store_write_queue_depth", "agnx_jobs",
                             "agnx_warm_workers", "agnx_warm_worker_steps"}) {
    EXPECT_NE(testing::http_get(http_port_, "/metrics").body.find(std::string("# TYPE ") + family + " "),
              std::string::npos)
        << family;
  }

  pb::Experiment experiment;
  ASSERT_TRUE(create_experiment("observed", &experiment).ok());
  pb::Run run;
  {
    grpc::ClientContext context;
    pb::CreateRunRequest request;
    request.set_experiment_id(experiment.experiment_id());
    ASSERT_TRUE(tracking_->CreateRun(&context, request, &run).ok());
  }
  for (int step = 0; step < 3; ++step) {
    grpc::ClientContext context;
    pb::LogBatchRequest request;
    request.set_run_id(run.info().run_id());
    pb::Metric* metric = request.add_metrics();
    metric->set_key("loss");
    metric->set_value(1.0 / (step + 1));
    metric->set_step(step);
    pb::LogResponse reply;
    ASSERT_TRUE(tracking_->LogBatch(&context, request, &reply).ok());
  }
  pb::Experiment unnamed;
  EXPECT_EQ(create_experiment("", &unnamed).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(get_experiment(987654).error_code(), grpc::StatusCode::NOT_FOUND);

  const Samples after = scrape();
  const auto moved = [&](const std::string& series) { return value(after, series) - value(before, series); };
  EXPECT_EQ(moved(handled("CreateExperiment", "OK")), 1);
  EXPECT_EQ(moved(handled("CreateExperiment", "INVALID_ARGUMENT")), 1);
  EXPECT_EQ(moved(handled("CreateRun", "OK")), 1);
  EXPECT_EQ(moved(handled("LogBatch", "OK")), 3);
  EXPECT_EQ(moved(handled("LogBatch", "INVALID_ARGUMENT")), 0);
  EXPECT_EQ(moved(handled("GetExperiment", "NOT_FOUND")), 1);
  EXPECT_EQ(moved(latency_count("CreateExperiment")), 2);
  EXPECT_EQ(moved(latency_count("LogBatch")), 3);
  EXPECT_EQ(value(after, latency_count("LogBatch")),
            value(after, "agnx_grpc_server_handling_seconds_bucket{grpc_service=\"agnapprox.v1.Tracking\","
                         "grpc_method=\"LogBatch\",le=\"+Inf\"}"));
  EXPECT_GT(value(after, "agnx_grpc_server_handling_seconds_sum{grpc_service=\"agnapprox.v1.Tracking\","
                         "grpc_method=\"LogBatch\"}"),
            0.0);
  // Five writes (the experiment, the run, three batches) went through the
  // group commit, one call at a time: five groups of one.
  EXPECT_EQ(moved("agnx_store_write_group_size_sum"), 5);
  EXPECT_EQ(moved("agnx_store_write_group_size_count"), 5);
  EXPECT_EQ(moved("agnx_store_write_group_size_bucket{le=\"1\"}"), 5);
  EXPECT_EQ(value(after, "agnx_store_write_queue_depth"), 0);
  EXPECT_EQ(value(after, "agnx_warm_workers"), 0);  // --warm-worker off
}

TEST_F(ObservabilityTest, MetricsNeedAKnownTokenWhenTokensAreConfigured) {
  const std::filesystem::path tokens = dir_.path() / "tokens";
  std::ofstream(tokens) << kReaderToken << " rita reader\n";
  ::chmod(tokens.c_str(), 0600);
  ASSERT_NO_FATAL_FAILURE(start({"--auth-tokens", tokens.string(), "--warm-worker", "off"}));
  const testing::HttpReply anonymous = testing::http_get(http_port_, "/metrics");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.headers.at("www-authenticate"), "Bearer realm=\"agnx\"");
  EXPECT_EQ(testing::http_get(http_port_, "/metrics", "Bearer wrong-token").status, 401);
  const testing::HttpReply reader = testing::http_get(http_port_, "/metrics", std::string("Bearer ") + kReaderToken);
  EXPECT_EQ(reader.status, 200);
  EXPECT_NE(reader.body.find("# TYPE agnx_grpc_server_handled_total counter\n"), std::string::npos) << reader.body;
}

TEST_F(ObservabilityTest, DebugLogsALinePerGrpcCall) {
  ASSERT_NO_FATAL_FAILURE(start({"--log-level", "debug", "--warm-worker", "off"}));
  pb::Experiment experiment;
  ASSERT_TRUE(create_experiment("logged", &experiment).ok());
  EXPECT_EQ(get_experiment(424242).error_code(), grpc::StatusCode::NOT_FOUND);
  stop();

  const auto calls = lines_with_msg(stderr_path(), "grpc call");
  ASSERT_EQ(calls.size(), 2u) << testing::read_file(stderr_path());
  EXPECT_EQ(calls[0]["level"], "debug");
  EXPECT_EQ(calls[0]["method"], "/agnapprox.v1.Tracking/CreateExperiment");
  EXPECT_EQ(calls[0]["code"], "OK");
  EXPECT_EQ(calls[1]["method"], "/agnapprox.v1.Tracking/GetExperiment");
  EXPECT_EQ(calls[1]["code"], "NOT_FOUND");
  for (const auto& call : calls) {
    EXPECT_TRUE(call["latency_ms"].is_number() && call["latency_ms"].get<double>() >= 0.0) << call;
    EXPECT_TRUE(call["peer"].get<std::string>().starts_with("ipv4:127.0.0.1:")) << call;
  }
}

TEST_F(ObservabilityTest, InfoLogsNoGrpcCalls) {
  ASSERT_NO_FATAL_FAILURE(start({"--warm-worker", "off"}));  // --log-level info by default
  pb::Experiment experiment;
  ASSERT_TRUE(create_experiment("quiet", &experiment).ok());
  EXPECT_EQ(get_experiment(424242).error_code(), grpc::StatusCode::NOT_FOUND);
  stop();
  EXPECT_TRUE(lines_with_msg(stderr_path(), "grpc call").empty()) << testing::read_file(stderr_path());
}

TEST(Observability, ABadLogLevelIsRefused) {
  testing::TempDir dir;
  const auto result = testing::run_process(
      {AGNX_SERVER_BINARY, "--data-dir", (dir.path() / "data").string(), "--log-level", "verbose"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--log-level: log level 'verbose' is not one of error, warn, info, debug"),
            std::string::npos)
      << result.err;
}

// A LeNet5 matching job: agnx_jobs shows it SUCCEEDED, and the info log has
// its two state changes.
TEST_F(ObservabilityTest, AFinishedJobShowsInJobsByStateAndInTheLog) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  ASSERT_NO_FATAL_FAILURE(start({"--threads-per-job", "2"}));
  testing::MatchingClient client(server_->address());
  pb::MatchingHeader header;
  header.set_experiment("observed jobs");
  header.set_lambda(0.5);
  header.set_library("builtin");
  header.set_num_samples(128);
  pb::SubmitMatchingResponse submitted;
  const testing::MatchingInputs inputs{testing::read_file(shared / "models/lenet5_fmnist_stdev.pt"),
                                       testing::read_file(shared / "models/lenet5_fmnist_calib.npy"), "", ""};
  ASSERT_TRUE(client.submit(header, inputs, &submitted).ok());
  ASSERT_EQ(client.watch(submitted.job_id()).state(), "SUCCEEDED");

  const Samples samples = scrape();
  EXPECT_EQ(value(samples, "agnx_jobs{state=\"SUCCEEDED\",kind=\"matching\"}"), 1);
  EXPECT_EQ(value(samples, "agnx_jobs{state=\"RUNNING\",kind=\"matching\"}"), 0);
  EXPECT_EQ(samples.count("agnx_jobs{state=\"QUEUED\",kind=\"matching\"}"), 1u);  // zeros are shown
  EXPECT_EQ(value(samples, "agnx_warm_workers"), 1);  // the job's steps were forked from it
  EXPECT_EQ(value(samples, "agnx_warm_worker_steps"), 0);
  EXPECT_EQ(value(samples, "agnx_grpc_server_handled_total{grpc_service=\"agnapprox.v1.Matching\","
                           "grpc_method=\"SubmitMatching\",grpc_code=\"OK\"}"),
            1);
  stop();

  const auto changes = lines_with_msg(stderr_path(), "job state");
  ASSERT_EQ(changes.size(), 2u) << testing::read_file(stderr_path());
  for (const auto& change : changes) {
    EXPECT_EQ(change["level"], "info");
    EXPECT_EQ(change["job_id"], submitted.job_id());
    EXPECT_EQ(change["kind"], "matching");
    EXPECT_EQ(change["run_id"], submitted.run_id());
    EXPECT_EQ(change["attempt"], 1);
    EXPECT_EQ(change["error"], "");
  }
  EXPECT_EQ(changes[0]["from"], "QUEUED");
  EXPECT_EQ(changes[0]["to"], "RUNNING");
  EXPECT_EQ(changes[1]["from"], "RUNNING");
  EXPECT_EQ(changes[1]["to"], "SUCCEEDED");
}

}  // namespace
}  // namespace agnx
