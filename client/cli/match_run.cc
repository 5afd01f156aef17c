#include "client/cli/match_run.h"

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "client/cli/format.h"
#include "core/builtin_library.h"
#include "core/capture.h"
#include "core/dataset.h"
#include "core/deploy.h"
#include "core/library_filter.h"
#include "core/lut_directory.h"
#include "core/matching_json.h"
#include "core/model.h"
#include "core/selection.h"
#include "proto/core_convert.h"

namespace agnx::cli {

namespace {

// A core error as the command line reports it.
client::Status to_client(const agnx::Status& status) { return client::Status::from_grpc(to_grpc(status)); }

// The proto form of a core MatchingInfo, for the shared result table.
pb::MatchingInfo to_proto(const MatchingInfo& info) {
  pb::MatchingInfo out;
  agnx::to_proto(info, &out);
  return out;
}

// The first `limit` items of a tensor (0: all).
void truncate(FloatTensor& tensor, std::size_t limit) {
  if (limit == 0 || tensor.shape.empty() || tensor.batch() <= static_cast<int64_t>(limit)) return;
  const std::size_t per_item = tensor.values.size() / static_cast<std::size_t>(tensor.batch());
  tensor.shape[0] = static_cast<int64_t>(limit);
  tensor.values.resize(per_item * limit);
}

}  // namespace

int run_match(const MatchOptions& o, const Io& io) {
  if (o.test_x.empty() != o.test_y.empty()) return usage_error(io, "--test-x and --test-y go together");
  if (!o.library.empty() && !o.library_dir.empty()) return usage_error(io, "give --library or --library-dir, not both");
  if (!o.library.empty() && o.library != kBuiltinLibraryName) {
    return usage_error(io, "--library " + o.library + ": the only built-in library is " + kBuiltinLibraryName +
                               "; load others with --library-dir");
  }
  auto sigma = parse_sigma(o.sigma);
  if (!sigma.ok()) return usage_error(io, sigma.status().message());
  const auto failed = [&](const agnx::Status& status) { return fail(io, to_client(status)); };

  // The search space.
  std::optional<MultiplierLibrary> loaded;
  if (!o.library_dir.empty()) {
    auto library = load_lut_directory(o.library_dir, o.metric);
    if (!library.ok()) return failed(library.status());
    loaded = std::move(library).value();
  }
  const MultiplierLibrary& full = loaded ? *loaded : builtin_library();
  std::optional<MultiplierLibrary> filtered;
  if (!o.signedness.empty()) {
    LibraryFilter filter;
    filter.signedness = o.signedness == "signed" ? Signedness::kSigned : Signedness::kUnsigned;
    auto result = filter_library(full, full.name(), filter);
    if (!result.ok()) return failed(result.status());
    for (const auto& warning : result->warnings) io.err << "agnx: warning: " << warning << '\n';
    filtered = std::move(result->library);
  }
  const MultiplierLibrary& library = filtered ? *filtered : full;

  auto model = Model::load_file(o.model);
  if (!model.ok()) return failed(model.status());
  auto calibration = load_inputs(o.calib);
  if (!calibration.ok()) return failed(calibration.status());
  truncate(*calibration, o.calib_limit);

  CaptureOptions capture;
  capture.num_samples = o.samples;
  capture.seed = o.seed;
  capture.num_threads = o.threads;
  capture.sigma = *sigma;
  auto info = select_multipliers(*model, *calibration, library, capture);
  if (!info.ok()) return failed(info.status());
  const std::vector<std::string> pins = split_list(o.pin_exact);
  if (!pins.empty()) {
    ReselectOptions reselect_options;
    reselect_options.pinned_exact = pins;
    auto pinned = reselect(*info, library, reselect_options);
    if (!pinned.ok()) return failed(pinned.status());
    info = std::move(pinned).value();
  }
  EvaluationOptions evaluation;
  evaluation.num_threads = o.threads;
  if (!o.no_observe) {
    const agnx::Status observed = observe_errors(*model, *info, library, *calibration, evaluation);
    if (!observed.ok()) return failed(observed);
  }
  if (!o.test_x.empty()) {
    auto test_x = load_inputs(o.test_x);
    if (!test_x.ok()) return failed(test_x.status());
    auto test_y = load_labels(o.test_y);
    if (!test_y.ok()) return failed(test_y.status());
    truncate(*test_x, o.test_limit);
    if (o.test_limit > 0 && test_y->size() > o.test_limit) test_y->resize(o.test_limit);
    auto accuracy = evaluate_accuracy(*model, *info, library, *test_x, *test_y, evaluation);
    if (!accuracy.ok()) return failed(accuracy.status());
    info->accuracy = *accuracy;
  }
  if (o.json) {
    io.out << matching_info_to_json(*info) << '\n';
  } else {
    print_matching(io.out, to_proto(*info));
  }
  return kExitOk;
}

}  // namespace agnx::cli
