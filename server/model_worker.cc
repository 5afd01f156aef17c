#include "server/model_worker.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "core/builtin_library.h"
#include "core/file_contents.h"
#include "core/lut_directory.h"
#include "core/matching_json.h"
#include "server/subprocess.h"
#include "server/worker_pool.h"
#include "server/worker/protocol.h"

namespace agnx::server {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(50);

// The last non-empty line of the worker's log, shortened, for failure reasons.
std::string last_log_line(const fs::path& log) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  if (last.size() > 300) last = last.substr(0, 300) + "...";
  return last;
}

// Reads a worker's messages and waits for its end, enforcing the limits.
class Supervisor {
 public:
  Supervisor(ChildProcess& child, const WorkerOptions& options, const fs::path& log, std::string first_stage,
             const WorkerCallbacks& callbacks)
      : child_(child), options_(options), log_(log), callbacks_(callbacks),
        deadline_(Clock::now() + options.time_limit), stage_(std::move(first_stage)) {}

  Status run() {
    for (;;) {
      if (pipe_open_) read_messages();
      if (const auto status = child_.try_wait()) {
        if (pipe_open_) read_messages();
        return outcome(*status);
      }
      if (callbacks_.cancelled && callbacks_.cancelled->load()) return stop(Status::cancelled("cancelled"));
      if (Clock::now() >= deadline_) {
        return stop(Status::aborted("the model worker exceeded its time limit of " +
                                    std::to_string(options_.time_limit.count()) + " s during stage '" + stage_ +
                                    "'"));
      }
      if (!pipe_open_) wait_for_exit();
    }
  }

 private:
  // The worker closed its pipe, so it is ending: looks again soon, then less
  // often (1 ms doubling to the poll interval), so a job does not wait a
  // whole interval for its worker's exit.
  void wait_for_exit() {
    std::this_thread::sleep_for(exit_wait_);
    exit_wait_ = std::min(exit_wait_ * 2, std::chrono::duration_cast<std::chrono::microseconds>(kPollInterval));
  }

  Status stop(Status reason) {
    child_.kill();
    child_.wait();
    return reason;
  }

  Status outcome(int wait_status) {
    if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) return {};
    if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == worker::kExitReportedError && reported_) {
      return *reported_;
    }
    std::string reason = "the model worker " + describe_wait_status(wait_status) + " during stage '" + stage_ + "'";
    if (const std::string last = last_log_line(log_); !last.empty()) reason += "; its last output: " + last;
    return Status::aborted(reason);
  }

  // Waits up to one poll interval for messages and handles the whole lines.
  void read_messages() {
    pollfd ready{child_.message_fd(), POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(kPollInterval.count())) <= 0) return;
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::read(child_.message_fd(), chunk, sizeof chunk);
      if (n == 0) pipe_open_ = false;
      if (n <= 0) break;
      pending_.append(chunk, static_cast<std::size_t>(n));
    }
    for (auto newline = pending_.find('\n'); newline != std::string::npos; newline = pending_.find('\n')) {
      handle(pending_.substr(0, newline));
      pending_.erase(0, newline + 1);
    }
  }

  void handle(const std::string& line) {
    const auto message = worker::parse_message(line);
    if (!message.ok()) return;  // not ours (the worker's log goes elsewhere); ignored
    if (const auto* progress = std::get_if<Progress>(&*message)) {
      stage_ = progress->stage;
      if (callbacks_.on_progress) callbacks_.on_progress(*progress);
    } else if (const auto* metric = std::get_if<worker::MetricReport>(&*message)) {
      if (callbacks_.on_metric) callbacks_.on_metric(*metric);
    } else {
      reported_ = std::get<Status>(*message);
    }
  }

  ChildProcess& child_;
  const WorkerOptions& options_;
  const fs::path& log_;
  const WorkerCallbacks& callbacks_;
  const Clock::time_point deadline_;
  bool pipe_open_ = true;
  std::chrono::microseconds exit_wait_{1000};
  std::string stage_;  // the last one reported
  std::string pending_;
  std::optional<Status> reported_;
};

// A child of the warm worker when it is up, else a fresh agnx-worker, running
// `args` (what follows the program, without --parent-pid).
Result<std::unique_ptr<ChildProcess>> start_worker(const WorkerOptions& options, std::vector<std::string> args,
                                                   const fs::path& log) {
  if (options.pool != nullptr) {
    auto forked = options.pool->spawn(args, log);
    if (forked.ok() || forked.status().code() != StatusCode::kUnavailable) return forked;
  }
  const fs::path executable = options.executable.empty() ? default_worker_executable() : options.executable;
  args.insert(args.begin(), executable.string());
  args.insert(args.end(), {"--parent-pid", std::to_string(::getpid())});
  AGNX_ASSIGN_OR_RETURN(Subprocess child, Subprocess::spawn(args, worker::kMessageFd, log));
  return std::unique_ptr<ChildProcess>(std::make_unique<Subprocess>(std::move(child)));
}

}  // namespace

Status run_in_worker(const WorkerOptions& options, const std::string& mode, const JobDirectory& job,
                     const std::string& library_metric, const WorkerCallbacks& callbacks) {
  const std::vector<std::string> args{mode,
                                      "--job-dir",
                                      job.path().string(),
                                      "--threads",
                                      std::to_string(options.threads),
                                      "--memory-mb",
                                      std::to_string(options.memory_limit_mb),
                                      "--library-metric",
                                      library_metric};
  const fs::path log = job.path() / worker::kLogFile;
  AGNX_ASSIGN_OR_RETURN(const std::unique_ptr<ChildProcess> child, start_worker(options, args, log));
  const std::string first_stage = mode == "validate" ? "submission check" : "starting";
  return Supervisor(*child, options, log, first_stage, callbacks).run();
}

fs::path default_worker_executable() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  return (error ? fs::path(".") : self.parent_path()) / "agnx-worker";
}

Result<JobDirectory> JobDirectory::create(const fs::path& parent) {
  std::error_code error;
  fs::create_directories(parent, error);
  std::string pattern = (parent / "job-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return Status::io_error("cannot create a job directory in " + parent.string());
  return JobDirectory{fs::path(pattern)};
}

Result<JobDirectory> JobDirectory::create(const fs::path& parent, const JobInputs& inputs) {
  AGNX_ASSIGN_OR_RETURN(JobDirectory job, create(parent));
  AGNX_RETURN_IF_ERROR(job.write(worker::kRequestFile, to_json(inputs.request)));
  AGNX_RETURN_IF_ERROR(job.write(worker::kModelFile, inputs.model));
  AGNX_RETURN_IF_ERROR(job.write(worker::kCalibrationFile, inputs.calibration));
  if (inputs.request.has_test_data) {
    AGNX_RETURN_IF_ERROR(job.write(worker::kTestInputsFile, inputs.test_x));
    AGNX_RETURN_IF_ERROR(job.write(worker::kTestLabelsFile, inputs.test_y));
  }
  return job;
}

Status JobDirectory::write(const std::string& name, std::string_view bytes) const {
  return write_file(path_ / name, bytes);
}

Status JobDirectory::link(const std::string& name, const fs::path& source) const {
  const fs::path target = path_ / name;
  if (::link(source.c_str(), target.c_str()) == 0) return {};
  std::error_code error;
  if (fs::copy_file(source, target, error)) return {};
  return Status::io_error("cannot link or copy " + source.string() + " to " + target.string() + ": " +
                          error.message());
}

JobDirectory::JobDirectory(JobDirectory&& other) noexcept : path_(std::exchange(other.path_, {})) {}

JobDirectory::~JobDirectory() {
  std::error_code ignored;
  if (!path_.empty()) fs::remove_all(path_, ignored);
}

Status validate_in_worker(const WorkerOptions& options, const JobDirectory& job) {
  return run_in_worker(options, "validate", job, kDefaultLutMetric, {});
}

Result<MatchingInfo> match_in_worker(const WorkerOptions& options, const JobDirectory& job,
                                     const MultiplierLibrary& library, const ProgressCallback& on_progress,
                                     const std::atomic<bool>* cancelled) {
  if (library.name() != kBuiltinLibraryName) {
    AGNX_RETURN_IF_ERROR(save_lut_directory(library, job.path() / worker::kLibraryDir));
  }
  AGNX_RETURN_IF_ERROR(run_in_worker(options, "match", job, library.metric(), {on_progress, nullptr, cancelled}));
  AGNX_ASSIGN_OR_RETURN(const std::string json, read_file(job.path() / worker::kResultFile));
  return matching_info_from_json(json);
}

}  // namespace agnx::server
