#include "client/cli/match.h"

#include <cstdint>
#include <memory>

#include "client/cli/format.h"
#include "core/pipeline.h"

namespace agnx::cli {

// The most --threads: LibTorch's and the LUT GEMM's threads.
constexpr uint64_t kMaxThreads = 1024;

AddCommand match_command(MatchRunner runner) {
  return [runner](CLI::App& app, const Io& io) -> std::pair<CLI::App*, std::function<int()>> {
    auto o = std::make_shared<MatchOptions>();
    CLI::App* cmd = app.add_subcommand("match", "Run the matching in-process, without a server");
    cmd->add_option("--model,-m", o->model, "TorchScript model snapshot (.pt)")->required();
    cmd->add_option("--calib,-c", o->calib, "Calibration inputs (.pt or .npy)")->required();
    cmd->add_option("--library", o->library, "Built-in library name (builtin; the default)");
    cmd->add_option("--library-dir", o->library_dir, "A LUT directory (metrics.csv + tables) as the library");
    cmd->add_option("--metric", o->metric, "Metric of --library-dir")->capture_default_str();
    cmd->add_option("--signedness", o->signedness, "Keep only signed or unsigned multipliers")
        ->check(CLI::IsMember({"signed", "unsigned"}));
    cmd->add_option("--sigma", o->sigma,
                    "Per-layer tolerance LAYER=VALUE, |VALUE| is used (repeatable, or comma-separated)");
    add_whole_number(cmd, "--samples", o->samples, "Sampled feature rows per layer", 1, kMaxMatchingSamples)
        ->default_str(std::to_string(o->samples));
    add_whole_number(cmd, "--seed", o->seed, "Seed of the sample draw", 0, UINT64_MAX)
        ->default_str(std::to_string(o->seed));
    add_whole_number(cmd, "--calib-limit", o->calib_limit, "Use only the first N calibration inputs (0: all)", 0,
                     UINT64_MAX);
    cmd->add_option("--test-x", o->test_x, "Test inputs for accuracies (.pt or .npy)");
    cmd->add_option("--test-y", o->test_y, "Test labels (.pt or .npy)");
    add_whole_number(cmd, "--test-limit", o->test_limit, "Use only the first N test inputs (0: all)", 0, UINT64_MAX);
    cmd->add_option("--pin-exact", o->pin_exact, "Layers that must use an exact multiplier (comma-separated)");
    add_whole_number(cmd, "--threads", o->threads, "Worker threads", 1, kMaxThreads)
        ->default_str(std::to_string(o->threads));
    cmd->add_flag("--no-observe", o->no_observe, "Skip measuring observed errors on the calibration data");
    cmd->add_flag("--json", o->json, "Print the MatchingInfo JSON (gs_results.json field names)");
    cmd->footer(R"(Examples:
  agnx match --model lenet5_stdev.pt --calib calib.npy
  agnx match -m lenet5_stdev.pt -c calib.npy --library-dir ../shared/evoapprox --signedness signed --json
  agnx match -m lenet5_stdev.pt -c calib.npy --test-x x.npy --test-y y.npy --pin-exact linear3 --threads 2

Observed errors are measured on the calibration data; accuracies need --test-x and --test-y.)");
    return {cmd, [o, io, runner]() { return runner(*o, io); }};
  };
}

}  // namespace agnx::cli
