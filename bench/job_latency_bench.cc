// job_latency_bench: how long a LeNet5 matching job takes through agnx-server
// (submit to stored result, built-in library, ../shared's model and
// calibration data) with the warm worker on and off, next to the same work
// in-process (`agnx match`) and to the start of a LibTorch program alone
// (`agnx-worker --help`). The four are measured in turns, `--repetitions`
// times, on one machine in one run, and printed side by side (median, min, max).
//
//   job_latency_bench [--repetitions 5] [--threads 2]
//
// Exits 0, 1 when a job fails, 2 on a usage error or without ../shared.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "tests/support/command_line.h"
#include "tests/support/matching_client.h"
#include "tests/support/server_process.h"
#include "tests/support/shared_data.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace agnx;
using bench::Clock;
using bench::seconds_since;
namespace fs = std::filesystem;

struct Inputs {
  fs::path model, calibration;
  testing::MatchingInputs bytes;
};

// Runs `command` with its output discarded; its wall time, or -1 when it failed.
double timed_command(const std::string& command) {
  const auto start = Clock::now();
  const int status = std::system((command + " >/dev/null 2>&1").c_str());
  return status == 0 ? seconds_since(start) : -1.0;
}

// Submits the LeNet5 job and follows it to its end; the wall time, or -1.
double timed_job(testing::MatchingClient& client, const Inputs& inputs, int n) {
  testing::pb::MatchingHeader header;
  header.set_experiment("latency");
  header.set_run_name("lenet5-" + std::to_string(n));
  header.set_lambda(0.5);
  const auto start = Clock::now();
  testing::pb::SubmitMatchingResponse ids;
  if (!client.submit(header, inputs.bytes, &ids).ok()) return -1.0;
  const auto progress = client.watch(ids.job_id());
  testing::pb::MatchingResult result;
  if (!client.result(ids.run_id(), &result).ok()) return -1.0;
  return progress.state() == "SUCCEEDED" ? seconds_since(start) : -1.0;
}

void print_row(const std::string& what, std::vector<double> times) {
  std::sort(times.begin(), times.end());
  std::printf("%-52s %8.3f %8.3f %8.3f\n", what.c_str(), times[times.size() / 2], times.front(), times.back());
}

// A server with the warm worker on or off.
std::unique_ptr<testing::ServerProcess> start_server(const fs::path& data, bool warm, int threads) {
  auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, data,
                                              {"--warm-worker", warm ? "on" : "off", "--threads-per-job",
                                               std::to_string(threads)});
  if (!server.ok()) {
    std::fprintf(stderr, "job_latency_bench: %s\n", server.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(*server);
}

int run(int repetitions, int threads) {
  const auto shared = testing::shared_dir();
  if (!shared) {
    std::fprintf(stderr, "job_latency_bench: %s\n", AGNX_MISSING_SHARED_MESSAGE);
    return 2;
  }
  Inputs inputs{*shared / "models/lenet5_fmnist_stdev.pt", *shared / "models/lenet5_fmnist_calib.npy", {}};
  inputs.bytes = {testing::read_file(inputs.model), testing::read_file(inputs.calibration), "", ""};
  const std::string match = std::string(AGNX_BINARY) + " match --model '" + inputs.model.string() + "' --calib '" +
                            inputs.calibration.string() + "' --threads " + std::to_string(threads) + " --json";
  const std::string libtorch_start = std::string(AGNX_WORKER_BINARY) + " --help";
  testing::TempDir dir;
  const auto warm = start_server(dir.path() / "warm", true, threads);
  const auto cold = start_server(dir.path() / "cold", false, threads);
  testing::MatchingClient warm_client(warm->address()), cold_client(cold->address());
  std::map<std::string, std::vector<double>> times;
  for (int r = 0; r <= repetitions; ++r) {  // round 0 warms caches and is not counted
    const double measured[] = {timed_command(libtorch_start), timed_command(match),
                               timed_job(warm_client, inputs, r), timed_job(cold_client, inputs, r)};
    const char* names[] = {"a LibTorch program's start (agnx-worker --help)", "in-process: agnx match",
                           "server, warm worker on: submit to result", "server, warm worker off: submit to result"};
    for (int i = 0; i < 4; ++i) {
      if (measured[i] < 0) {
        std::fprintf(stderr, "job_latency_bench: %s failed\n", names[i]);
        return 1;
      }
      if (r > 0) times[names[i]].push_back(measured[i]);
    }
  }
  std::printf("LeNet5 matching, built-in library, %d threads, %d repetitions (seconds)\n", threads, repetitions);
  std::printf("%-52s %8s %8s %8s\n", "", "median", "min", "max");
  for (const auto& [name, values] : times) print_row(name, values);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"job_latency_bench: LeNet5 job latency through agnx-server (warm worker on/off) next to agnx match"};
  int repetitions = 5, threads = 2;
  app.add_option("--repetitions", repetitions, "measured rounds")->check(CLI::Range(1, 100))->capture_default_str();
  app.add_option("--threads", threads, "threads of each job and of agnx match")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  if (const auto exit_status = agnx::testing::parse_command_line(app, argc, argv)) return *exit_status;
  return run(repetitions, threads);
}
