#include "client/cli/match_run.h"

#include <map>
#include <optional>
#include <string>

#include "client/cli/format.h"
#include "core/builtin_library.h"
#include "core/dataset.h"
#include "core/library_filter.h"
#include "core/lut_directory.h"
#include "core/matching_json.h"
#include "core/model.h"
#include "core/pipeline.h"
#include "proto/core_convert.h"

namespace agnx::cli {

namespace {

// A core error as the command line reports it, the pipeline's request
// members (core/pipeline.h) named by the options that set them.
client::Status to_client(const agnx::Status& status) {
  static const std::map<std::string, std::string> kOptions = {
      {"calibration", "--calib"}, {"num_samples", "--samples"}, {"sigma", "--sigma"},
      {"pin_exact", "--pin-exact"}, {"test_x", "--test-x"},     {"test_y", "--test-y"}};
  return client::Status::from_grpc(to_grpc(with_field_names(status, kOptions)));
}

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

// The library of --library-dir; nullopt for the built-in one.
Result<std::optional<MultiplierLibrary>> load_library(const MatchOptions& o) {
  if (o.library_dir.empty()) return std::optional<MultiplierLibrary>();
  AGNX_ASSIGN_OR_RETURN(MultiplierLibrary library, load_lut_directory(o.library_dir, o.metric));
  return std::optional<MultiplierLibrary>(std::move(library));
}

// `full` without the multipliers --signedness leaves out (its warnings to
// io.err); nullopt without --signedness.
Result<std::optional<MultiplierLibrary>> filter_signedness(const MultiplierLibrary& full, const MatchOptions& o,
                                                           const Io& io) {
  if (o.signedness.empty()) return std::optional<MultiplierLibrary>();
  LibraryFilter filter;
  filter.signedness = o.signedness == "signed" ? Signedness::kSigned : Signedness::kUnsigned;
  AGNX_ASSIGN_OR_RETURN(FilteredLibrary result, filter_library(full, full.name(), filter));
  for (const auto& warning : result.warnings) io.err << "agnx: warning: " << warning << '\n';
  return std::optional<MultiplierLibrary>(std::move(result.library));
}

// The pipeline's request from the options, with the test data they name.
Result<MatchingPipelineRequest> pipeline_request(const MatchOptions& o, std::map<std::string, double> sigma) {
  MatchingPipelineRequest request;
  request.sigma = std::move(sigma);
  request.num_samples = o.samples;
  request.seed = o.seed;
  request.pin_exact = split_list(o.pin_exact);
  request.observe = !o.no_observe;
  if (o.test_x.empty()) return request;
  AGNX_ASSIGN_OR_RETURN(FloatTensor test_x, load_inputs(o.test_x));
  AGNX_ASSIGN_OR_RETURN(std::vector<int64_t> test_y, load_labels(o.test_y));
  truncate(test_x, o.test_limit);
  if (o.test_limit > 0 && test_y.size() > o.test_limit) test_y.resize(o.test_limit);
  request.test = MatchingTestData{std::move(test_x), std::move(test_y)};
  return request;
}

}  // namespace

int run_match(const MatchOptions& o, const Io& io) {
  if (o.test_x.empty() != o.test_y.empty()) return usage_error(io, "--test-x and --test-y go together");
  if (!o.library.empty() && !o.library_dir.empty()) return usage_error(io, "give --library or --library-dir, not both");
  if (!o.library.empty() && o.library != kBuiltinLibraryName) {
    return fail(io, client::Status(grpc::StatusCode::NOT_FOUND, "--library " + o.library +
                                                                    ": the only built-in library is " +
                                                                    kBuiltinLibraryName +
                                                                    "; load others with --library-dir"));
  }
  auto sigma = parse_sigma(o.sigma);
  if (!sigma.ok()) return fail(io, sigma.status());
  const auto failed = [&](const agnx::Status& status) { return fail(io, to_client(status)); };

  auto loaded = load_library(o);
  if (!loaded.ok()) return failed(loaded.status());
  const MultiplierLibrary& full = *loaded ? **loaded : builtin_library();
  auto filtered = filter_signedness(full, o, io);
  if (!filtered.ok()) return failed(filtered.status());
  const MultiplierLibrary& library = *filtered ? **filtered : full;

  auto model = Model::load_file(o.model);
  if (!model.ok()) return failed(model.status());
  auto calibration = load_inputs(o.calib);
  if (!calibration.ok()) return failed(calibration.status());
  truncate(*calibration, o.calib_limit);
  auto request = pipeline_request(o, std::move(*sigma));
  if (!request.ok()) return failed(request.status());
  auto info =
      run_matching_pipeline(*model, *calibration, library, *request, {.num_threads = o.threads, .on_progress = {}});
  if (!info.ok()) return failed(info.status());
  if (o.json) {
    io.out << matching_info_to_json(*info) << '\n';
  } else {
    print_matching(io.out, to_proto(*info));
  }
  return kExitOk;
}

}  // namespace agnx::cli
