// Snapshots are untrusted: agnx-server loads and runs them only in agnx-worker
// processes. Hostile snapshots built here with LibTorch (one that crashes
// LibTorch's TorchScript parser, one that hangs, one that asks for more
// memory than a worker may have) each end their job FAILED with the reason,
// while other clients, and a sound job, keep succeeding on the same server.
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/npy.h"
#include "tests/support/matching_client.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace agnx {
namespace {

namespace jit = torch::jit;
namespace pb = ::agnapprox::v1;
using testing::MatchingClient;
using testing::MatchingInputs;

std::string saved(const jit::Module& module) {
  std::ostringstream out;
  module.save(out);
  return out.str();
}

// A one-layer network (fc: 16 -> 4, with a stdev buffer) whose forward ends
// with `tail` (TorchScript lines indented by 4 spaces, `y` the layer output).
std::string network(const std::string& tail) {
  static const auto unit = std::make_shared<jit::CompilationUnit>();
  torch::manual_seed(3);
  jit::Module fc("Fc", unit, /*shouldMangle=*/true);
  fc.register_parameter("weight", torch::randn({4, 16}), false);
  fc.register_parameter("bias", torch::randn({4}), false);
  fc.register_buffer("stdev", torch::tensor(0.1));
  fc.define("def forward(self, x):\n    return torch.linear(x, self.weight, self.bias)\n");
  jit::Module net("Net", unit, /*shouldMangle=*/true);
  net.register_module("fc", fc);
  net.define("def forward(self, x):\n    y = self.fc.forward(x)\n" + tail + "    return y\n");
  return saved(net);
}

std::string sound_model() { return network(""); }

// Passes the submission check (one input) and spins forever on a batch.
std::string hanging_model() {
  return network("    i = 0\n    while x.size(0) > 1:\n        i = i + 1\n    y = y + 0 * i\n");
}

// Passes the submission check and asks for 8 GiB on a batch.
std::string hungry_model() {
  return network("    if x.size(0) > 1:\n        y = y + torch.ones([1 << 31])[:4] * 0\n");
}

// A sound snapshot whose forward code holds an expression nested 100,000
// parentheses deep: LibTorch's recursive TorchScript parser overflows its
// stack while loading it (SIGSEGV), the kind of input worker processes exist for.
std::string crashing_model() {
  std::istringstream in(sound_model());
  caffe2::serialize::PyTorchStreamReader reader(&in);
  std::string out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, std::size_t size) {
    out.append(static_cast<const char*>(data), size);
    return size;
  });
  for (const std::string& name : reader.getAllRecords()) {
    if (name == "version" || name == ".data/version") continue;  // written by writeEndOfFile
    auto [data, size] = reader.getRecord(name);
    std::string content(static_cast<const char*>(data.get()), size);
    if (name.starts_with("code/") && name.ends_with(".py") && content.find("self.fc") != std::string::npos) {
      const auto at = content.find("return ");
      const auto indent = content.rfind('\n', at) + 1;
      const std::string deep = std::string(100000, '(') + "1" + std::string(100000, ')');
      content.insert(indent, content.substr(indent, at - indent) + "_deep = " + deep + "\n");
    }
    writer.writeRecord(name, content.data(), content.size());
  }
  writer.writeEndOfFile();
  return out;
}

std::string calibration(int64_t n) {
  std::vector<double> values(static_cast<std::size_t>(n * 16));
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i % 7) / 7.0;
  return serialize_npy(NpyArray::from_double(NpyDtype::kFloat32, {n, 16}, values));
}

pb::MatchingHeader header(const std::string& run_name) {
  pb::MatchingHeader h;
  h.set_experiment("isolation");
  h.set_run_name(run_name);
  h.set_lambda(0.1);
  h.set_num_samples(16);
  return h;
}

// Tracking calls in a loop from several threads until stopped; every call
// must succeed.
class BusyClients {
 public:
  BusyClients(const std::string& address, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, address, t] { loop(address, t); });
    }
  }
  void stop() {
    stopping_ = true;
    for (auto& thread : threads_) thread.join();
  }
  int succeeded() const { return succeeded_; }
  const std::vector<std::string>& failures() const { return failures_; }

 private:
  void loop(const std::string& address, int t) {
    auto tracking = pb::Tracking::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    pb::Experiment experiment;
    pb::CreateExperimentRequest create;
    create.set_name("busy-" + std::to_string(t));
    if (!call(tracking->CreateExperiment(context().get(), create, &experiment))) return;
    for (int i = 0; !stopping_; ++i) {
      pb::CreateRunRequest run_request;
      run_request.set_experiment_id(experiment.experiment_id());
      run_request.set_run_name("run-" + std::to_string(i));
      pb::Run run;
      if (!call(tracking->CreateRun(context().get(), run_request, &run))) return;
      pb::LogMetricRequest metric;
      metric.set_run_id(run.info().run_id());
      metric.mutable_metric()->set_key("loss");
      metric.mutable_metric()->set_value(1.0 / (i + 1));
      pb::LogResponse logged;
      if (!call(tracking->LogMetric(context().get(), metric, &logged))) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  static std::unique_ptr<grpc::ClientContext> context() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return c;
  }
  bool call(const grpc::Status& status) {
    if (status.ok()) {
      ++succeeded_;
      return true;
    }
    std::lock_guard lock(mutex_);
    failures_.push_back(status.error_message());
    return false;
  }

  std::atomic<bool> stopping_{false};
  std::atomic<int> succeeded_{0};
  std::mutex mutex_;
  std::vector<std::string> failures_;
  std::vector<std::thread> threads_;
};

// The agnx-worker processes whose command line holds `text` and, unless
// `log_dir` is empty, whose log (stdout) is in `log_dir`.
int workers_with(const std::string& text, const std::filesystem::path& log_dir) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    const std::string cmdline{std::istreambuf_iterator<char>(in), {}};
    std::error_code error;
    const std::string log = std::filesystem::read_symlink(entry.path() / "fd" / "1", error).string();
    if (cmdline.find("agnx-worker") != std::string::npos && cmdline.find(text) != std::string::npos &&
        (log_dir.empty() || log.starts_with(log_dir.string()))) {
      ++count;
    }
  }
  return count;
}

// The agnx-worker processes working on jobs in `data_dir`: forked by the warm
// worker or started afresh, each writes its log into its job directory.
int workers_in(const std::filesystem::path& data_dir) { return workers_with("agnx-worker", data_dir); }

// The server's warm worker (`agnx-worker serve --parent-pid PID`) and the
// job workers it forked (which share its command line).
int warm_worker_processes(pid_t server) {
  using namespace std::string_literals;
  return workers_with("serve\0--parent-pid\0"s + std::to_string(server) + '\0', {});
}

struct Submitted {
  std::string name;
  pb::SubmitMatchingResponse ids;
};

TEST(ServerIsolation, HostileSnapshotsFailTheirJobsWhileOthersSucceed) {
  testing::TempDir dir;
  auto server = testing::ServerProcess::start(
      AGNX_SERVER_BINARY, dir.path() / "data",
      {"--workers", "2", "--threads-per-job", "1", "--job-time-limit", "5", "--job-memory-mb", "2048"});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  BusyClients busy((*server)->address(), 4);

  MatchingClient client((*server)->address());
  const std::pair<std::string, std::string> models[] = {{"crash", crashing_model()}, {"hang", hanging_model()},
                                                        {"hungry", hungry_model()}, {"sound", sound_model()}};
  std::vector<Submitted> submitted;
  for (const auto& [name, model] : models) {
    Submitted s{name, {}};
    const grpc::Status status = client.submit(header(name), {model, calibration(32), "", ""}, &s.ids);
    ASSERT_TRUE(status.ok()) << name << ": " << status.error_message();
    submitted.push_back(s);
  }
  std::map<std::string, pb::JobProgress> ends;
  for (const Submitted& s : submitted) {
    ends[s.name] = client.watch(s.ids.job_id());
    std::printf("%s: %s %s\n", s.name.c_str(), ends[s.name].state().c_str(), ends[s.name].message().c_str());
  }
  busy.stop();

  EXPECT_EQ(ends["sound"].state(), "SUCCEEDED") << ends["sound"].message();
  EXPECT_EQ(ends["crash"].state(), "FAILED");
  EXPECT_NE(ends["crash"].message().find("was killed by signal 11 (Segmentation fault) during stage 'submission check'"),
            std::string::npos)
      << ends["crash"].message();
  EXPECT_EQ(ends["hang"].state(), "FAILED");
  EXPECT_NE(ends["hang"].message().find("exceeded its time limit of 5 s during stage '"), std::string::npos)
      << ends["hang"].message();
  EXPECT_EQ(ends["hungry"].state(), "FAILED");
  EXPECT_NE(ends["hungry"].message().find("can't allocate memory"), std::string::npos) << ends["hungry"].message();

  EXPECT_TRUE(busy.failures().empty()) << busy.failures().front();
  EXPECT_GT(busy.succeeded(), 20);
  pb::MatchingResult result;
  EXPECT_TRUE(client.result(submitted.back().ids.run_id(), &result).ok());
  EXPECT_EQ(workers_in(dir.path()), 0);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "data" / "tmp"));  // job directories removed
}

TEST(ServerIsolation, CalibrationOverTheLimitIsRefusedBeforeAnyWorkerRuns) {
  testing::TempDir dir;
  auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, dir.path() / "data", {"--max-calibration-mb", "1"});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  MatchingClient client((*server)->address());
  pb::SubmitMatchingResponse ids;
  const grpc::Status refused = client.submit(header("big"), {sound_model(), calibration(20000), "", ""}, &ids);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(refused.error_message(), "calibration: the calibration data exceeds the server's limit of 1048576 bytes");
  EXPECT_TRUE(client.submit(header("small"), {sound_model(), calibration(64), "", ""}, &ids).ok());
}

TEST(ServerIsolation, NoWorkerOutlivesAKilledServer) {
  testing::TempDir dir;
  auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, dir.path() / "data", {"--job-time-limit", "600"});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  MatchingClient client((*server)->address());
  pb::SubmitMatchingResponse ids;
  ASSERT_TRUE(client.submit(header("hang"), {hanging_model(), calibration(8), "", ""}, &ids).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (workers_in(dir.path()) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(workers_in(dir.path()), 1);
  const pid_t server_pid = (*server)->pid();
  ASSERT_EQ(warm_worker_processes(server_pid), 2);  // the hanging job's worker is forked
  (*server)->kill_and_wait(SIGKILL);
  const auto gone_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (workers_in(dir.path()) + warm_worker_processes(server_pid) > 0 && std::chrono::steady_clock::now() < gone_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(workers_in(dir.path()), 0);
  EXPECT_EQ(warm_worker_processes(server_pid), 0);
}

}  // namespace
}  // namespace agnx
