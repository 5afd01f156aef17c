// agnx-server's authentication, authorization and TLS, against the real
// binary: every RPC of every service (from the API's descriptors) and every
// dashboard route with no token, a wrong token and each role; runs record
// their creator; SIGHUP reloads the tokens file and a bad file keeps the old
// tokens; no token ever reaches a log; TLS with a CA made at test time, for
// gRPC and the dashboard (HTTPS only); the loopback rule without
// --auth-tokens/--tls-cert; `agnx --tls-ca --token`.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <set>
#include <sstream>

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "client/tests/subprocess.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/support/http_client.h"
#include "tests/support/https_client.h"
#include "tests/support/server_process.h"
#include "tests/support/shared_data.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"

namespace agnx {
namespace {

namespace pb = ::agnapprox::v1;
using testing::ServerProcess;
using testing::TempDir;

constexpr const char* kReaderToken = "reader-token-4f1c9a7e2b";
constexpr const char* kWriterToken = "writer-token-8d3e6b0c5a";
constexpr const char* kAdminToken = "admin-token-1a2b3c4d5e6f";
constexpr const char* kWrongToken = "wrong-token-0000000000";
// Runs the servers that must refuse to start: one that starts anyway fails
// the test (exit 124) instead of hanging it.
constexpr const char* kTimeout = "/usr/bin/timeout";

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes a tokens file only its owner may read.
void write_tokens(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
  ::chmod(path.c_str(), 0600);
}

std::string three_roles() {
  return std::string("# test tokens\n") + kReaderToken + " rita reader\n" + kWriterToken + " walt writer\n" +
         kAdminToken + " ada admin\n";
}

std::unique_ptr<grpc::ClientContext> context_with(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  if (!token.empty()) context->AddMetadata("authorization", std::string("Bearer ") + token);
  return context;
}

// Calls `method` with one empty message, whatever its kind (unary or
// streaming: on the wire all are streams), reads every answer and returns
// the call's status. Empty requests are valid protobuf for every method.
grpc::Status call_generic(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                          const std::string& token) {
  grpc::GenericStub stub(channel);
  auto context = context_with(token);
  grpc::CompletionQueue queue;
  const auto next = [&queue] {
    void* tag = nullptr;
    bool ok = false;
    return queue.Next(&tag, &ok) && ok;
  };
  auto call = stub.PrepareCall(context.get(), method, &queue);
  call->StartCall(nullptr);
  next();
  grpc::Slice empty("", 0);
  call->Write(grpc::ByteBuffer(&empty, 1), nullptr);
  next();
  call->WritesDone(nullptr);
  next();
  grpc::ByteBuffer reply;
  do {
    call->Read(&reply, nullptr);
  } while (next());
  grpc::Status status;
  call->Finish(&status, nullptr);
  next();
  queue.Shutdown();
  while (next()) {
  }
  return status;
}

// Every method of every service of the API, from its descriptors.
std::vector<std::string> api_methods() {
  const google::protobuf::FileDescriptor* file = pb::CreateRunRequest::descriptor()->file();
  std::vector<std::string> methods;
  for (int s = 0; s < file->service_count(); ++s) {
    for (int m = 0; m < file->service(s)->method_count(); ++m) {
      methods.push_back("/" + file->service(s)->full_name() + "/" + file->service(s)->method(m)->name());
    }
  }
  return methods;
}

// The role the README promises for `method`.
int needed_rank(const std::string& method) {
  static const std::set<std::string> admin = {"/agnapprox.v1.Tracking/DeleteExperiment",
                                              "/agnapprox.v1.Tracking/RestoreExperiment",
                                              "/agnapprox.v1.Multipliers/ImportLibrary"};
  if (admin.contains(method)) return 2;
  const std::string name = method.substr(method.rfind('/') + 1);
  for (const char* read : {"Get", "List", "Search", "Query", "Watch", "Download", "Reselect"}) {
    if (name.rfind(read, 0) == 0) return 0;
  }
  return 1;
}

bool passed_auth(const grpc::Status& status) {
  return status.error_code() != grpc::StatusCode::UNAUTHENTICATED &&
         status.error_code() != grpc::StatusCode::PERMISSION_DENIED;
}

class AuthServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tokens_ = dir_.path() / "tokens";
    write_tokens(tokens_, three_roles());
  }

  void start(std::vector<std::string> args = {}) {
    args.insert(args.end(), {"--auth-tokens", tokens_.string()});
    auto server = ServerProcess::start(AGNX_SERVER_BINARY, dir_.path() / "data", args, log_path());
    ASSERT_TRUE(server.ok()) << server.status().to_string();
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  }

  std::filesystem::path log_path() const { return dir_.path() / "server.stderr"; }

  pb::Experiment create_experiment(const std::string& name) {
    pb::CreateExperimentRequest request;
    request.set_name(name);
    pb::Experiment experiment;
    EXPECT_TRUE(pb::Tracking::NewStub(channel_)->CreateExperiment(context_with(kWriterToken).get(), request,
                                                                  &experiment).ok());
    return experiment;
  }

  TempDir dir_;
  std::filesystem::path tokens_;
  std::unique_ptr<ServerProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(AuthServerTest, EveryRpcChecksTheTokenAndTheRole) {
  ASSERT_NO_FATAL_FAILURE(start());
  const std::vector<std::string> methods = api_methods();
  ASSERT_EQ(methods.size(), 34u);
  const std::pair<const char*, int> holders[] = {{kReaderToken, 0}, {kWriterToken, 1}, {kAdminToken, 2}};
  for (const std::string& method : methods) {
    grpc::Status status = call_generic(channel_, method, "");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method << ": " << status.error_message();
    status = call_generic(channel_, method, kWrongToken);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method << ": " << status.error_message();
    for (const auto& [token, rank] : holders) {
      status = call_generic(channel_, method, token);
      if (rank >= needed_rank(method)) {
        EXPECT_TRUE(passed_auth(status)) << method << " rank " << rank << ": " << status.error_message();
        EXPECT_NE(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << method << ": not served";
      } else {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << method << " rank " << rank;
      }
    }
  }
}

TEST_F(AuthServerTest, HealthIsOpenAndReflectionNeedsAReader) {
  ASSERT_NO_FATAL_FAILURE(start());
  grpc::health::v1::HealthCheckResponse health;
  grpc::ClientContext health_context;
  ASSERT_TRUE(grpc::health::v1::Health::NewStub(channel_)->Check(&health_context, {}, &health).ok());
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  const std::string reflection = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
  EXPECT_EQ(call_generic(channel_, reflection, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(call_generic(channel_, reflection, kReaderToken).ok());
}

TEST_F(AuthServerTest, RunsRecordTheirCreator) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto tracking = pb::Tracking::NewStub(channel_);
  const pb::Experiment experiment = create_experiment("team");
  pb::CreateRunRequest create;
  create.set_experiment_id(experiment.experiment_id());
  pb::Run run;
  ASSERT_TRUE(tracking->CreateRun(context_with(kWriterToken).get(), create, &run).ok());
  EXPECT_EQ(run.info().user_id(), "walt");
  ASSERT_TRUE(tracking->CreateRun(context_with(kAdminToken).get(), create, &run).ok());
  EXPECT_EQ(run.info().user_id(), "ada");

  const auto shared = testing::shared_dir();
  if (!shared && testing::shared_data_required()) GTEST_FAIL() << "../shared not found (CI=true)";
  if (!shared) GTEST_SKIP() << "../shared not found: SubmitMatching's creator not checked";
  auto matching = pb::Matching::NewStub(channel_);
  auto context = context_with(kWriterToken);
  pb::SubmitMatchingResponse submitted;
  auto writer = matching->SubmitMatching(context.get(), &submitted);
  pb::SubmitMatchingRequest message;
  message.mutable_header()->set_experiment("team");
  message.mutable_header()->set_lambda(0.5);
  message.mutable_header()->set_num_samples(16);
  ASSERT_TRUE(writer->Write(message));
  message.set_model(read_file(*shared / "models/lenet5_fmnist_stdev.pt"));
  ASSERT_TRUE(writer->Write(message));
  message.set_calibration(read_file(*shared / "models/lenet5_fmnist_calib.npy"));
  ASSERT_TRUE(writer->Write(message));
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  pb::GetJobRequest job;
  job.set_job_id(submitted.job_id());
  pb::Job cancelled;
  EXPECT_TRUE(matching->CancelJob(context_with(kWriterToken).get(), job, &cancelled).ok());
  pb::GetRunRequest get;
  get.set_run_id(submitted.run_id());
  ASSERT_TRUE(tracking->GetRun(context_with(kReaderToken).get(), get, &run).ok());
  EXPECT_EQ(run.info().user_id(), "walt");
}

// Every route of the dashboard's API (server/http/http_api.h).
TEST_F(AuthServerTest, EveryDashboardRouteNeedsAToken) {
  ASSERT_NO_FATAL_FAILURE(start({"--http", "127.0.0.1:0"}));
  const std::string output = server_->wait_for_output("/\n");
  const std::string marker = "dashboard on http://127.0.0.1:";
  ASSERT_NE(output.find(marker), std::string::npos) << output;
  const auto port = static_cast<uint16_t>(std::stoi(output.substr(output.find(marker) + marker.size())));
  const pb::Experiment experiment = create_experiment("dashboard");
  pb::CreateRunRequest create;
  create.set_experiment_id(experiment.experiment_id());
  pb::Run run;
  ASSERT_TRUE(pb::Tracking::NewStub(channel_)->CreateRun(context_with(kWriterToken).get(), create, &run).ok());

  const std::string id = std::to_string(experiment.experiment_id());
  const std::pair<std::string, int> routes[] = {
      {"/api/experiments", 200},
      {"/api/experiments/" + id, 200},
      {"/api/experiments/" + id + "/runs", 200},
      {"/api/experiments/" + id + "/energy", 200},
      {"/api/experiments/" + id + "/pareto", 200},
      {"/api/runs/" + run.info().run_id(), 200},
      {"/api/runs/" + run.info().run_id() + "/matching", 404},  // not a matching run
      {"/api/jobs", 200},
      {"/api/jobs/12345", 404},
      {"/api/no/such/route", 404},
  };
  for (const auto& [route, with_token] : routes) {
    EXPECT_EQ(testing::http_get(port, route).status, 401) << route;
    EXPECT_EQ(testing::http_get(port, route, std::string("Bearer ") + kWrongToken).status, 401) << route;
    for (const char* token : {kReaderToken, kWriterToken, kAdminToken}) {
      EXPECT_EQ(testing::http_get(port, route, std::string("Bearer ") + token).status, with_token) << route;
    }
  }
  EXPECT_EQ(testing::http_get(port, "/").status, 200) << "the page is public; it asks for the token";
}

TEST_F(AuthServerTest, SighupReloadsTheTokensAndABadFileKeepsThem) {
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string list = "/agnapprox.v1.Tracking/ListExperiments";
  const std::string create = "/agnapprox.v1.Tracking/CreateExperiment";
  ASSERT_TRUE(call_generic(channel_, list, kReaderToken).ok());

  const std::string fresh = "fresh-token-7e6d5c4b3a";
  write_tokens(tokens_, fresh + " nina writer\n");
  server_->send_signal(SIGHUP);
  const std::string reloaded = "SIGHUP: 1 bearer token(s) from " + tokens_.string();
  ASSERT_NE(server_->wait_for_output(reloaded).find(reloaded), std::string::npos);
  EXPECT_EQ(call_generic(channel_, list, kReaderToken).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(call_generic(channel_, list, fresh).ok());
  EXPECT_TRUE(passed_auth(call_generic(channel_, create, fresh)));

  const std::string pasted = "pasted-secret-9f8e7d6c5b";
  write_tokens(tokens_, "# a broken edit\n" + fresh + " nina writer\nnina " + pasted + " writer\n");
  server_->send_signal(SIGHUP);
  std::string log;
  for (int i = 0; i < 100 && log.find("keeping") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    log = read_file(log_path());
  }
  EXPECT_NE(log.find("SIGHUP: --auth-tokens: " + tokens_.string() + ":3:"), std::string::npos) << log;
  EXPECT_NE(log.find("keeping the 1 token(s) in use"), std::string::npos) << log;
  EXPECT_TRUE(call_generic(channel_, list, fresh).ok());

  EXPECT_EQ(call_generic(channel_, list, kWrongToken).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  server_->send_signal(SIGTERM);
  const std::string all_output = server_->wait_for_output("shutting down") + read_file(log_path());
  ASSERT_NE(all_output.find("SIGTERM, shutting down"), std::string::npos) << all_output;
  for (const std::string& token : {std::string(kReaderToken), std::string(kWriterToken), std::string(kAdminToken),
                                   std::string(kWrongToken), fresh, pasted}) {
    EXPECT_EQ(all_output.find(token), std::string::npos) << token << " in the server's output:\n" << all_output;
  }
}

// ------------------------------------------------------------------- TLS

std::shared_ptr<grpc::Channel> tls_channel(const std::string& address, const std::filesystem::path& ca) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = read_file(ca);
  return grpc::CreateChannel(address, grpc::SslCredentials(ssl));
}

grpc::Status list_experiments(const std::shared_ptr<grpc::Channel>& channel, const std::string& token) {
  auto context = context_with(token);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  pb::ListExperimentsResponse response;
  return pb::Tracking::NewStub(channel)->ListExperiments(context.get(), {}, &response);
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_openssl_command()) GTEST_SKIP() << "no openssl command";
    ASSERT_TRUE(testing::make_test_certificates(dir_.path()));
  }
  std::filesystem::path file(const char* name) const { return dir_.path() / name; }

  TempDir dir_;
};

TEST_F(TlsTest, HandshakeWithTheTestCaOnly) {
  auto server = ServerProcess::start(AGNX_SERVER_BINARY, dir_.path() / "data",
                                     {"--tls-cert", file("server.pem"), "--tls-key", file("server.key")});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  const std::string address = (*server)->address();
  EXPECT_NE((*server)->wait_for_output("TLS with").find("TLS with the certificate"), std::string::npos);

  const grpc::Status trusted = list_experiments(tls_channel(address, file("ca.pem")), "");
  EXPECT_TRUE(trusted.ok()) << trusted.error_message();
  const std::string localhost = "localhost:" + address.substr(address.rfind(':') + 1);
  EXPECT_TRUE(list_experiments(tls_channel(localhost, file("ca.pem")), "").ok());
  EXPECT_EQ(list_experiments(tls_channel(address, file("other-ca.pem")), "").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(list_experiments(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()), "").error_code(),
            grpc::StatusCode::UNAVAILABLE);

  const testing::ProcessResult health =
      testing::run_process({AGNX_HEALTH_BINARY, "--tls-ca", file("ca.pem"), "--timeout", "5", address});
  EXPECT_EQ(health.exit_code, 0) << health.out << health.err;
}

TEST_F(TlsTest, TheCliConnectsWithTlsCaAndToken) {
  write_tokens(file("tokens"), std::string(kReaderToken) + " rita reader\n");
  auto server = ServerProcess::start(AGNX_SERVER_BINARY, dir_.path() / "data",
                                     {"--tls-cert", file("server.pem"), "--tls-key", file("server.key"),
                                      "--auth-tokens", file("tokens")});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  const std::string address = (*server)->address();

  const auto agnx = [&](std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) {
    args.insert(args.begin(), {AGNX_BINARY, "--server", address, "--tls-ca", file("ca.pem").string()});
    return testing::run_process(args, env);
  };
  testing::ProcessResult result = agnx({"--token", kReaderToken, "experiments", "list"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  result = agnx({"experiments", "list"}, {{"AGNX_TOKEN", kReaderToken}});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  result = agnx({"experiments", "list"}, {{"AGNX_TOKEN", ""}});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("UNAUTHENTICATED"), std::string::npos) << result.err;
  result = agnx({"--token", kWrongToken, "experiments", "create", "x"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("UNAUTHENTICATED"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find(kWrongToken), std::string::npos) << result.err;
  result = agnx({"--token", kReaderToken, "experiments", "create", "x"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("PERMISSION_DENIED"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find(kReaderToken), std::string::npos) << result.err;
}

// The dashboard on the gRPC server's certificate: HTTPS only, verified
// against the test CA, the reader token required; neither plain HTTP nor a
// broken handshake gets an answer, and neither takes the server down.
TEST_F(TlsTest, TheDashboardServesHttpsOnlyWithTheSameCertificate) {
  write_tokens(file("tokens"), std::string(kReaderToken) + " rita reader\n");
  auto server = ServerProcess::start(AGNX_SERVER_BINARY, dir_.path() / "data",
                                     {"--tls-cert", file("server.pem"), "--tls-key", file("server.key"),
                                      "--auth-tokens", file("tokens"), "--http", "127.0.0.1:0"});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  const std::string output = (*server)->wait_for_output("/\n");
  const std::string marker = "dashboard on https://127.0.0.1:";
  ASSERT_NE(output.find(marker), std::string::npos) << output;
  const auto port = static_cast<uint16_t>(std::stoi(output.substr(output.find(marker) + marker.size())));
  const std::string reader = std::string("Bearer ") + kReaderToken;

  std::string error;
  testing::HttpReply reply = testing::https_get(port, file("ca.pem"), "/api/experiments", reader, &error);
  EXPECT_EQ(reply.status, 200) << error;
  EXPECT_NE(reply.body.find("\"experiments\""), std::string::npos) << reply.body;
  EXPECT_EQ(testing::https_get(port, file("ca.pem"), "/api/experiments").status, 401);
  EXPECT_EQ(testing::https_get(port, file("ca.pem"), "/api/experiments", "Bearer " + std::string(kWrongToken)).status,
            401);
  EXPECT_EQ(testing::https_get(port, file("ca.pem"), "/").status, 200) << "the page is public; it asks for the token";
  EXPECT_EQ(testing::https_get(port, file("other-ca.pem"), "/api/experiments", reader, &error).status, 0);
  EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;

  EXPECT_EQ(testing::http_get(port, "/api/experiments", reader).status, 0) << "plain HTTP gets no HTTP answer";
  const std::string truncated_client_hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  EXPECT_EQ(testing::http_raw(port, truncated_client_hello).status, 0);
  EXPECT_EQ(testing::http_raw(port, std::string(4096, '\xff')).status, 0);
  reply = testing::https_get(port, file("ca.pem"), "/api/experiments", reader, &error);
  EXPECT_EQ(reply.status, 200) << "the server still serves after broken handshakes: " << error;
}

TEST_F(TlsTest, BadKeyPairsAreRefusedNamingTheFlag) {
  const auto serve = [&](const std::vector<std::string>& flags) {
    std::vector<std::string> args = {kTimeout, "20", AGNX_SERVER_BINARY, "--listen", "127.0.0.1:0", "--data-dir",
                                     (dir_.path() / "data").string()};
    args.insert(args.end(), flags.begin(), flags.end());
    return testing::run_process(args);
  };
  testing::ProcessResult result = serve({"--tls-cert", file("server.pem"), "--tls-key", file("other-ca.key")});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--tls-key " + file("other-ca.key").string() +
                            ": not the private key of the certificate in --tls-cert"),
            std::string::npos)
      << result.err;
  result = serve({"--tls-cert", file("server.pem")});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--tls-cert needs --tls-key"), std::string::npos) << result.err;
  result = serve({"--tls-cert", file("missing.pem"), "--tls-key", file("server.key")});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--tls-cert " + file("missing.pem").string() + ": cannot read"), std::string::npos)
      << result.err;
  result = serve({"--tls-cert", file("server.key"), "--tls-key", file("server.key")});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("no PEM certificate"), std::string::npos) << result.err;
}

// -------------------------------------------------------------- loopback

TEST(LoopbackRule, WithoutTokensOrTlsOnlyLoopbackAddresses) {
  TempDir dir;
  const auto serve = [&](const std::vector<std::string>& flags) {
    std::vector<std::string> args = {kTimeout, "20", AGNX_SERVER_BINARY, "--data-dir", (dir.path() / "data").string()};
    args.insert(args.end(), flags.begin(), flags.end());
    return testing::run_process(args);
  };
  testing::ProcessResult result = serve({"--listen", "0.0.0.0:0"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--listen 0.0.0.0:0: not a loopback address"), std::string::npos) << result.err;
  result = serve({"--listen", "127.0.0.1:0", "--http", "[::]:0"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--http [::]:0: not a loopback address"), std::string::npos) << result.err;

  auto server = ServerProcess::start(AGNX_SERVER_BINARY, dir.path() / "data", {"--http", "localhost:0"});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  const std::string notice = "agnx-server: no --auth-tokens/--tls-cert: serving on loopback only";
  EXPECT_NE((*server)->wait_for_output(notice).find(notice), std::string::npos);
}

TEST(LoopbackRule, TokensAllowOtherAddresses) {
  TempDir dir;
  write_tokens(dir.path() / "tokens", std::string(kReaderToken) + " rita reader\n");
  auto server = ServerProcess::start(AGNX_SERVER_BINARY, dir.path() / "data",
                                     {"--listen", "0.0.0.0:0", "--auth-tokens", (dir.path() / "tokens").string()});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  const std::string output = (*server)->wait_for_output("clear text");
  EXPECT_NE(output.find("warning: no --tls-cert: bearer tokens cross the network in clear text"), std::string::npos)
      << output;
  EXPECT_EQ(output.find("loopback only"), std::string::npos) << output;

  write_tokens(dir.path() / "tokens", std::string(kReaderToken) + " rita reader\n");
  ::chmod((dir.path() / "tokens").c_str(), 0644);
  const testing::ProcessResult refused =
      testing::run_process({kTimeout, "20", AGNX_SERVER_BINARY, "--data-dir", (dir.path() / "data2").string(),
                            "--auth-tokens", (dir.path() / "tokens").string()});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("--auth-tokens: " + (dir.path() / "tokens").string() + ": others may read"),
            std::string::npos)
      << refused.err;
}

}  // namespace
}  // namespace agnx
