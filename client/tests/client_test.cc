// The client library against the in-process fake server.
#include "client/client.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "client/tests/fake_server.h"
#include "tests/support/temp_dir.h"

namespace agnx::client {
namespace {

using agnx::testing::FakeServer;
using agnx::testing::TempDir;

std::string pattern_bytes(std::size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + seed) % 251);
  return bytes;
}

Client connect_to(const FakeServer& server, const std::string& token = "") {
  ClientOptions options;
  options.address = server.address();
  options.token = token;
  options.deadline = std::chrono::seconds(10);
  auto client = Client::connect(options);
  EXPECT_TRUE(client.ok()) << client.status().to_string();
  return std::move(client).value();
}

TEST(ClientStatus, NamesTheCode) {
  EXPECT_EQ(Status().to_string(), "OK");
  EXPECT_EQ(Status(grpc::StatusCode::NOT_FOUND, "run 'x' not found").to_string(), "NOT_FOUND: run 'x' not found");
  EXPECT_STREQ(status_code_name(grpc::StatusCode::RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
}

TEST(UploadSource, MemoryComesInChunksOfAtMostTheChunkSize) {
  const std::string bytes = pattern_bytes(2 * kChunkSize + kChunkSize / 2, 1);
  std::vector<std::size_t> sizes;
  std::string joined;
  const Status status = UploadSource::memory(bytes, "m").for_each_chunk(kChunkSize, [&](std::string_view piece) {
    sizes.push_back(piece.size());
    joined += piece;
    return true;
  });
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{kChunkSize, kChunkSize, kChunkSize / 2}));
  EXPECT_EQ(joined, bytes);
}

TEST(UploadSource, EmptyContentIsOneEmptyPiece) {
  int calls = 0;
  ASSERT_TRUE(UploadSource::memory("", "e").for_each_chunk(8, [&](std::string_view piece) {
    EXPECT_TRUE(piece.empty());
    ++calls;
    return true;
  }).ok());
  EXPECT_EQ(calls, 1);
}

TEST(UploadSource, FileIsReadInChunksAndAMissingFileIsNamed) {
  TempDir dir;
  const auto path = dir.path() / "model.pt";
  const std::string bytes = pattern_bytes(10, 3);
  std::ofstream(path, std::ios::binary) << bytes;
  std::vector<std::string> pieces;
  ASSERT_TRUE(UploadSource::file(path).for_each_chunk(4, [&](std::string_view piece) {
    pieces.emplace_back(piece);
    return true;
  }).ok());
  EXPECT_EQ(pieces, (std::vector<std::string>{bytes.substr(0, 4), bytes.substr(4, 4), bytes.substr(8)}));
  EXPECT_EQ(UploadSource::file(path).file_name(), "model.pt");

  const Status missing = UploadSource::file(dir.path() / "nope.pt").for_each_chunk(4, [](auto) { return true; });
  EXPECT_EQ(missing.code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(missing.message().find("nope.pt"), std::string::npos) << missing.message();
}

TEST(Connect, RejectsAnEmptyAddressAndAMissingCaFile) {
  ClientOptions options;
  options.address = "";
  EXPECT_EQ(Client::connect(options).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  options.address = "127.0.0.1:1";
  options.ca_file = "/nonexistent/ca.pem";
  const auto client = Client::connect(options);
  EXPECT_EQ(client.status().code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(client.status().message().find("/nonexistent/ca.pem"), std::string::npos);
}

TEST(Client, SubmitStreamsHeaderAndInputsIntactInChunks) {
  FakeServer server;
  const Client client = connect_to(server);
  TempDir dir;
  const std::string model = pattern_bytes(2 * kChunkSize + 12345, 7);
  std::ofstream(dir.path() / "model.pt", std::ios::binary) << model;
  const std::string calibration = pattern_bytes(kChunkSize, 9);

  pb::MatchingHeader header;
  header.set_experiment("new-exp");
  header.set_lambda(0.25);
  (*header.mutable_sigma())["conv1.0"] = 0.5;
  header.add_pin_exact("linear3");
  MatchingInputs inputs;
  inputs.model = UploadSource::file(dir.path() / "model.pt");
  inputs.calibration = UploadSource::memory(calibration, "calib");
  inputs.test_y = UploadSource::memory("labels", "y");
  inputs.test_x = UploadSource::memory("inputs", "x");
  const auto submitted = client.submit_matching(header, inputs);
  ASSERT_TRUE(submitted.ok()) << submitted.status().to_string();
  EXPECT_EQ(submitted->run_id(), "run-" + std::to_string(submitted->job_id()));

  auto& state = server.state();
  std::lock_guard lock(state.mu);
  EXPECT_EQ(state.submitted_header.experiment(), "new-exp");
  EXPECT_EQ(state.submitted_header.lambda(), 0.25);
  EXPECT_EQ(state.submitted_header.sigma().at("conv1.0"), 0.5);
  ASSERT_EQ(state.submitted_header.pin_exact_size(), 1);
  EXPECT_EQ(state.submitted.at("model"), model);
  EXPECT_EQ(state.submitted.at("calibration"), calibration);
  EXPECT_EQ(state.submitted.at("test_x"), "inputs");
  EXPECT_EQ(state.submitted.at("test_y"), "labels");
  EXPECT_EQ(state.submitted_chunks.at("model"), (std::vector<std::size_t>{kChunkSize, kChunkSize, 12345}));
  EXPECT_EQ(state.submitted_chunks.at("calibration"), (std::vector<std::size_t>{kChunkSize}));
}

TEST(Client, SubmitWithAnUnreadableFileFailsLocallyNamingIt) {
  FakeServer server;
  const Client client = connect_to(server);
  MatchingInputs inputs;
  inputs.model = UploadSource::file("/nonexistent/model.pt");
  inputs.calibration = UploadSource::memory("c", "calib");
  pb::MatchingHeader header;
  header.set_experiment("e");
  const auto submitted = client.submit_matching(header, inputs);
  EXPECT_EQ(submitted.status().code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(submitted.status().message().find("/nonexistent/model.pt"), std::string::npos);
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Client, TlsWithACaFileReachesATlsServer) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "openssl not installed";
  TempDir dir;
  const std::string key = (dir.path() / "key.pem").string();
  const std::string cert = (dir.path() / "cert.pem").string();
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key + " -out " + cert +
                              " -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({slurp(key), slurp(cert)});
  FakeServer server(grpc::SslServerCredentials(ssl));

  ClientOptions options;
  options.address = server.address();
  options.ca_file = cert;
  options.deadline = std::chrono::seconds(10);
  const auto run = Client::connect(options)->get_run("run-1");
  ASSERT_TRUE(run.ok()) << run.status().to_string();
  EXPECT_EQ(run->info().run_id(), "run-1");

  options.ca_file.clear();  // plain text against a TLS server fails
  EXPECT_FALSE(Client::connect(options)->get_run("run-1").ok());
}

TEST(Client, SendsTheBearerTokenOnlyWhenGiven) {
  FakeServer server;
  ASSERT_TRUE(connect_to(server, "s3cret").get_run("run-1").ok());
  ASSERT_TRUE(connect_to(server).get_run("run-1").ok());
  std::lock_guard lock(server.state().mu);
  EXPECT_EQ(server.state().authorization, (std::vector<std::string>{"Bearer s3cret", ""}));
}

TEST(Client, AWrongTokenIsUnauthenticated) {
  FakeServer server;
  {
    std::lock_guard lock(server.state().mu);
    server.state().required_token = "right";
  }
  EXPECT_EQ(connect_to(server, "wrong").get_run("run-1").status().code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(connect_to(server, "right").get_run("run-1").ok());
}

TEST(Client, UnknownRunIsNotFoundWithTheServersMessage) {
  FakeServer server;
  const auto run = connect_to(server).get_run("nope");
  EXPECT_EQ(run.status().code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(run.status().message(), "run 'nope' not found");
}

TEST(Client, NoServerIsUnavailable) {
  std::string address;
  { address = FakeServer().address(); }
  ClientOptions options;
  options.address = address;
  options.deadline = std::chrono::seconds(5);
  const auto run = Client::connect(options)->get_run("run-1");
  EXPECT_EQ(run.status().code(), grpc::StatusCode::UNAVAILABLE) << run.status().to_string();
}

Client retrying_client(const FakeServer& server, int max_attempts) {
  ClientOptions options;
  options.address = server.address();
  options.deadline = std::chrono::seconds(10);
  options.retry = {max_attempts, std::chrono::milliseconds(1), std::chrono::milliseconds(4)};
  return std::move(*Client::connect(options));
}

TEST(ClientRetry, AnUnavailableWriteIsSentAgainWithTheSameIdempotencyKey) {
  FakeServer server;
  server.state().unavailable_log_metrics = 2;
  ASSERT_TRUE(retrying_client(server, 3).log_metric("run-2", "loss", 0.5, 1).ok());
  const auto& attempts = server.state().logged_metrics;
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(attempts[0].idempotency_key().size(), 32u);
  EXPECT_EQ(attempts[1].idempotency_key(), attempts[0].idempotency_key());
  EXPECT_EQ(attempts[2].idempotency_key(), attempts[0].idempotency_key());
  EXPECT_EQ(server.state().runs.at("run-2").metrics_size(), 1);

  ASSERT_TRUE(retrying_client(server, 3).log_metric("run-2", "loss", 0.4, 2).ok());
  EXPECT_NE(attempts.back().idempotency_key(), attempts[0].idempotency_key()) << "each call has a key of its own";
}

TEST(ClientRetry, GivesUpAfterMaxAttemptsAndNeverRetriesOtherErrors) {
  FakeServer server;
  server.state().unavailable_log_metrics = 5;
  EXPECT_EQ(retrying_client(server, 3).log_metric("run-2", "loss", 0.5).code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server.state().logged_metrics.size(), 3u);
  EXPECT_EQ(retrying_client(server, 3).get_run("nope").status().code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(server.state().authorization.size(), 4u) << "NOT_FOUND was sent once";
}

TEST(ClientRetry, OffByDefaultWithoutKeys) {
  FakeServer server;
  server.state().unavailable_log_metrics = 1;
  EXPECT_EQ(connect_to(server).log_metric("run-2", "loss", 0.5).code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_EQ(server.state().logged_metrics.size(), 1u);
  EXPECT_TRUE(server.state().logged_metrics[0].idempotency_key().empty());

  ClientOptions options;
  options.address = server.address();
  options.retry.max_attempts = 0;
  EXPECT_EQ(Client::connect(options).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(Client, WatchJobDeliversEveryProgressMessageAndReturnsTheFinalOne) {
  FakeServer server;
  const Client client = connect_to(server);
  MatchingInputs inputs;
  inputs.model = UploadSource::memory("m", "model");
  inputs.calibration = UploadSource::memory("c", "calib");
  pb::MatchingHeader header;
  header.set_experiment("lenet");
  const auto submitted = client.submit_matching(header, inputs);
  ASSERT_TRUE(submitted.ok());
  std::vector<std::string> stages;
  const auto final = client.watch_job(submitted->job_id(), [&](const pb::JobProgress& p) { stages.push_back(p.stage()); });
  ASSERT_TRUE(final.ok()) << final.status().to_string();
  EXPECT_EQ(final->state(), "SUCCEEDED");
  EXPECT_TRUE(final->final());
  EXPECT_EQ(stages, (std::vector<std::string>{"queued", "loading", "features", "features", "features", "selection",
                                              "saving"}));
  EXPECT_EQ(client.watch_job(999, nullptr).status().code(), grpc::StatusCode::NOT_FOUND);
}

TEST(Client, SearchAllRunsFollowsPageTokensUpToTheLimit) {
  FakeServer server;
  const Client client = connect_to(server);
  pb::SearchRunsRequest request;
  request.add_experiment_ids(1);
  const auto all = client.search_all_runs(request);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].info().run_id(), "run-1");
  EXPECT_EQ((*all)[1].info().run_id(), "run-2");
  const auto one = client.search_all_runs(request, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
}

TEST(Client, ImportLibrarySendsEveryFileUnderItsNameInChunks) {
  FakeServer server;
  const Client client = connect_to(server);
  TempDir dir;
  const std::string table = pattern_bytes(kChunkSize + 10, 5);
  std::ofstream(dir.path() / "mul8s_A.bin", std::ios::binary) << table;
  const auto library = client.import_library(
      "evo2", "PDK45_AREA",
      {UploadSource::memory("name,signed,PDK45_AREA\nmul8s_A,1,3\n", "metrics.csv"),
       UploadSource::file(dir.path() / "mul8s_A.bin")});
  ASSERT_TRUE(library.ok()) << library.status().to_string();
  EXPECT_EQ(library->name(), "evo2");
  std::lock_guard lock(server.state().mu);
  EXPECT_EQ(server.state().import_header.metric(), "PDK45_AREA");
  EXPECT_EQ(server.state().imported.at("mul8s_A.bin"), table);
  EXPECT_EQ(server.state().imported_chunks.at("mul8s_A.bin"), (std::vector<std::size_t>{kChunkSize, 10}));
  EXPECT_EQ(server.state().imported_chunks.at("metrics.csv").size(), 1u);
}

TEST(Client, TrackingCallsReachTheRun) {
  FakeServer server;
  const Client client = connect_to(server);
  ASSERT_TRUE(client.log_param("run-2", "optimizer", "adam").ok());
  ASSERT_TRUE(client.set_tag("run-2", "stage", "draft").ok());
  ASSERT_TRUE(client.log_metric("run-2", "accuracy", 0.91, 3).ok());
  const auto run = client.get_run("run-2");
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->params().at("optimizer"), "adam");
  EXPECT_EQ(run->tags().at("stage"), "draft");
  ASSERT_EQ(run->metrics_size(), 1);
  EXPECT_EQ(run->metrics(0).step(), 3);
  EXPECT_EQ(client.log_param("nope", "k", "v").code(), grpc::StatusCode::NOT_FOUND);
  const auto created = client.create_experiment("lenet");
  EXPECT_EQ(created.status().code(), grpc::StatusCode::ALREADY_EXISTS);
}

}  // namespace
}  // namespace agnx::client
