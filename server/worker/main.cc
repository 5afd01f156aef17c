// agnx-worker: runs the LibTorch part of one matching job for agnx-server,
// in a process of its own, so that a snapshot that crashes, hangs or eats
// memory takes down only its worker. The protocol: server/worker/protocol.h.
#include <CLI/CLI.hpp>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/builtin_library.h"
#include "core/file_contents.h"
#include "core/lut_directory.h"
#include "core/matching_json.h"
#include "server/worker/protocol.h"
#include "server/worker/training_request.h"
#include "server/worker/training_work.h"
#include "server/worker/warm_worker.h"
#include "server/worker/work.h"

namespace {

using namespace agnx;
using namespace agnx::server::worker;

struct WorkerArguments {
  std::string mode;
  std::filesystem::path job_dir;
  pid_t parent_pid = 0;
  std::size_t threads = 1;
  std::size_t memory_mb = 0;  // 0: no limit
  std::string library_metric = kDefaultLutMetric;
};

void send(const std::string& line) {
  // Writes of at most PIPE_BUF bytes to a pipe are atomic; a longer error
  // line is still written whole by the loop.
  for (std::size_t sent = 0; sent < line.size();) {
    const ssize_t n = ::write(kMessageFd, line.data() + sent, line.size() - sent);
    if (n <= 0) return;  // the server is gone; PR_SET_PDEATHSIG ends this process
    sent += static_cast<std::size_t>(n);
  }
}

// Dies with the server: a worker must never outlive the process that waits
// for it. The check after prctl closes the race with a parent that died first.
Status bind_to_parent(pid_t parent_pid) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return Status::internal("prctl(PR_SET_PDEATHSIG) failed");
  if (parent_pid != 0 && ::getppid() != parent_pid) return Status::failed_precondition("the server has exited");
  return {};
}

Status limit_memory(std::size_t megabytes) {
  if (megabytes == 0) return {};
  const rlim_t bytes = static_cast<rlim_t>(megabytes) << 20;
  const rlimit limit{bytes, bytes};
  if (::setrlimit(RLIMIT_DATA, &limit) != 0) return Status::internal("setrlimit(RLIMIT_DATA) failed");
  return {};
}

Result<MultiplierLibrary> job_library(const WorkerArguments& args, const std::string& name) {
  const auto dir = args.job_dir / kLibraryDir;
  if (!std::filesystem::exists(dir)) {
    if (name != kBuiltinLibraryName) return Status::not_found("the job directory has no library " + name);
    return builtin_library();
  }
  LutDirectoryOptions options;
  options.metric = args.library_metric;
  AGNX_ASSIGN_OR_RETURN(const MultiplierLibrary loaded, load_lut_directory(dir, options));
  return loaded.filtered(name, [](const Multiplier&) { return true; });
}

Status write_result(const std::filesystem::path& job_dir, const MatchingInfo& info) {
  return write_file(job_dir / kResultFile, matching_info_to_json(info));
}

Status match(const WorkerArguments& args) {
  AGNX_ASSIGN_OR_RETURN(const server::MatchingRequest request, read_job_request(args.job_dir));
  AGNX_ASSIGN_OR_RETURN(const MultiplierLibrary library, job_library(args, request.library));
  AGNX_ASSIGN_OR_RETURN(const MatchingInfo info,
                        compute_matching(args.job_dir, library, args.threads,
                                         [](const Progress& progress) { send(progress_line(progress)); }));
  return write_result(args.job_dir, info);
}

Status train(const WorkerArguments& args) {
  AGNX_ASSIGN_OR_RETURN(const std::string step_json, read_file(args.job_dir / kStepFile));
  AGNX_ASSIGN_OR_RETURN(const server::TrainingStep step, server::training_step_from_json(step_json));
  const bool matches = step.step == "retrain" || step.step == "point";
  AGNX_ASSIGN_OR_RETURN(const MultiplierLibrary library,
                        matches ? job_library(args, step.request.library) : builtin_library());
  const TrainingReporter reporter{[](const Progress& progress) { send(progress_line(progress)); },
                                  [](const MetricReport& metric) { send(metric_line(metric)); }};
  return run_training_step(args.job_dir, library, args.threads, reporter);
}

Status run(const WorkerArguments& args) {
  AGNX_RETURN_IF_ERROR(bind_to_parent(args.parent_pid));
  AGNX_RETURN_IF_ERROR(limit_memory(args.memory_mb));
  if (args.mode == "validate") return validate_inputs(args.job_dir);
  if (args.mode == "train") return train(args);
  return match(args);
}

// Parses and runs one job step's command line (`argv[0]` is the program):
// the exit status of agnx-worker MODE ...
int run_job_step(int argc, const char* const* argv) {
  CLI::App app{"agnx-worker: the LibTorch part of an agnx-server matching job, run in its own process.\n"
               "Started by agnx-server with a message pipe as file descriptor 3 "
               "(see server/worker/protocol.h); not meant to be run by hand.\n"
               "agnx-worker serve --parent-pid PID: the server's warm worker (server/worker/pool_protocol.h)."};
  WorkerArguments args;
  app.add_option("MODE", args.mode, "validate (check a submission), match (run a matching job) or train (run a "
                                    "training job's step)")
      ->required()
      ->check(CLI::IsMember({"validate", "match", "train"}));
  app.add_option("--job-dir", args.job_dir, "the job directory")->required();
  app.add_option("--parent-pid", args.parent_pid, "the server's process id (the worker exits if it is gone)");
  app.add_option("--threads", args.threads, "LibTorch and selection threads")->capture_default_str();
  app.add_option("--memory-mb", args.memory_mb, "RLIMIT_DATA in MiB (0: none)")->capture_default_str();
  app.add_option("--library-metric", args.library_metric, "the metric of the library in DIR/library")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const Status status = run(args);
  if (status.ok()) return 0;
  send(error_line(status));
  return kExitReportedError;
}

// A fork child's job step: `args` as if they followed `agnx-worker`.
int run_forked_job_step(const std::vector<std::string>& args) {
  std::vector<const char*> argv{"agnx-worker"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return run_job_step(static_cast<int>(argv.size()), argv.data());
}

// agnx-worker serve --parent-pid PID: forks job steps until the server closes
// the control socket (descriptor kMessageFd).
int serve(int argc, const char* const* argv) {
  CLI::App app{"agnx-worker serve: agnx-server's warm worker (server/worker/pool_protocol.h)"};
  pid_t parent_pid = 0;
  app.add_option("--parent-pid", parent_pid, "the server's process id (the worker exits if it is gone)");
  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (const Status bound = bind_to_parent(parent_pid); !bound.ok()) {
    std::fprintf(stderr, "agnx-worker serve: %s\n", bound.message().c_str());
    return 2;
  }
  // Built once here, inherited by every forked job step (not built again in each).
  (void)builtin_library();
  return serve_fork_requests(kMessageFd, run_forked_job_step);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "serve") return serve(argc, argv);
  return run_job_step(argc, argv);
}
