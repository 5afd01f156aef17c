// How agnx-server and its model workers (agnx-worker) talk.
//
// Model snapshots are untrusted input for a large native library, so every
// LibTorch step of a job (loading, validation, capture, evaluation) runs in
// a worker process. The server writes a job directory (the files below),
// then starts
//   agnx-worker validate|match --job-dir DIR --parent-pid PID
//               [--threads N] [--memory-mb M] [--library-metric METRIC]
// with a pipe as file descriptor kMessageFd, and reads one message per line:
//   progress STAGE DONE TOTAL [EPOCH EPOCHS]   EPOCH EPOCHS: training stages only
//   metric STEP KEY VALUE       a figure for the job's run (training: per epoch)
//   error CODE MESSAGE          CODE: a status_code_name; MESSAGE: one line
// `validate` checks the inputs and writes nothing; `match` writes
// DIR/result.json (the MatchingInfo JSON). The worker exits 0 on success and
// kExitReportedError after an error message; anything else (a signal, another
// exit status, no exit within the time limit) is a failure of the worker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/progress.h"
#include "core/status.h"

namespace agnx::server::worker {

inline constexpr int kMessageFd = 3;
inline constexpr int kExitReportedError = 1;

// The job directory.
inline constexpr const char* kRequestFile = "request.json";  // MatchingRequest JSON
inline constexpr const char* kModelFile = "model.pt";
inline constexpr const char* kCalibrationFile = "calibration";
inline constexpr const char* kTestInputsFile = "test_x";      // only with test data
inline constexpr const char* kTestLabelsFile = "test_y";
inline constexpr const char* kLibraryDir = "library";         // a LUT directory; absent: the built-in library
inline constexpr const char* kResultFile = "result.json";     // written by `match`
inline constexpr const char* kLogFile = "worker.log";         // the worker's stdout and stderr

// One message line, with its newline. Newlines inside a message become spaces.
std::string progress_line(const Progress& progress);
std::string error_line(const Status& error);  // REQUIRES: !error.ok()

// A figure the worker measured, for the job's run.
struct MetricReport {
  std::string key;  // no spaces
  int64_t step = 0;
  double value = 0.0;
};

// One message line, with its newline.
std::string metric_line(const MetricReport& metric);

// A parsed line (without its newline): the progress, metric or error it reports.
using Message = std::variant<Progress, MetricReport, Status>;
// Errors: a line that is neither message (kInvalidArgument, quoting it).
Result<Message> parse_message(std::string_view line);

}  // namespace agnx::server::worker
