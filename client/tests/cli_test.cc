// The agnx executable, run as a subprocess against the in-process fake
// server: stdout, stderr and exit codes of every subcommand in table and
// JSON modes, and the error cases, among them every numeric option with a
// negative, zero, huge and NaN value.
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/tests/fake_server.h"
#include "client/tests/subprocess.h"
#include "tests/support/temp_dir.h"

namespace agnx::testing {
namespace {

using nlohmann::json;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class Cli : public ::testing::Test {
 protected:
  // Runs agnx with --server pointing at the fake.
  ProcessResult agnx(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), {AGNX_BINARY, "--server", server_.address()});
    env.emplace("AGNX_SERVER", "");
    env.emplace("AGNX_TOKEN", "");
    return run_process(args, env);
  }
  // Runs agnx, expects exit 0 and parses stdout as JSON.
  json agnx_json(std::vector<std::string> args) {
    args.push_back("--json");
    const ProcessResult r = agnx(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const json parsed = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << r.out;
    return parsed;
  }

  FakeServer server_;
};

std::string with_context(const ProcessResult& r) { return "stdout:\n" + r.out + "\nstderr:\n" + r.err; }

// ------------------------------------------------------------ help, usage

TEST_F(Cli, EveryCommandHasHelpWithExamples) {
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{},
                                             {"submit"},
                                             {"runs"},
                                             {"runs", "list"},
                                             {"runs", "show"},
                                             {"runs", "reselect"},
                                             {"energy"},
                                             {"experiments"},
                                             {"experiments", "list"},
                                             {"experiments", "create"},
                                             {"multipliers"},
                                             {"multipliers", "list"},
                                             {"multipliers", "show"},
                                             {"multipliers", "import"},
                                             {"jobs"},
                                             {"jobs", "show"},
                                             {"jobs", "cancel"},
                                             {"log"},
                                             {"log", "metric"},
                                             {"log", "param"},
                                             {"log", "tag"},
                                             {"match"}}) {
    std::vector<std::string> args = command;
    args.push_back("--help");
    const ProcessResult r = agnx(args);
    EXPECT_EQ(r.exit_code, 0) << ::testing::PrintToString(command) << with_context(r);
    EXPECT_TRUE(contains(r.out, "Examples:")) << ::testing::PrintToString(command) << with_context(r);
    EXPECT_TRUE(r.err.empty()) << r.err;
  }
}

TEST_F(Cli, UsageErrorsExitOne) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},                                                   // no command
           {"runs"},                                             // no subcommand
           {"runs", "list", "--experiment", "lenet", "--bogus"},  // unknown flag
           {"runs", "show"},                                     // missing RUN
           {"submit", "-e", "x", "-m", "m.pt", "-c", "c.npy", "--test-x", "x.npy"},  // options that go together
           {"match", "--model", "m.pt"},                         // missing --calib
       }) {
    const ProcessResult r = agnx(args);
    EXPECT_EQ(r.exit_code, 1) << ::testing::PrintToString(args) << with_context(r);
    EXPECT_FALSE(r.err.empty()) << ::testing::PrintToString(args);
  }
}

TEST_F(Cli, InvalidValuesExitTwoNamingTheOption) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"jobs", "show", "seven"}, "agnx: INVALID_ARGUMENT: JOB: 'seven' is not a whole number from 1 to "},
      {{"log", "metric", "run-1", "acc", "high"}, "agnx: INVALID_ARGUMENT: VALUE: 'high' is not a finite number\n"},
      {{"submit", "-e", "x", "-m", "m.pt", "-c", "c.npy", "--sigma", "conv1.0"},
       "agnx: INVALID_ARGUMENT: --sigma conv1.0: expected LAYER=VALUE\n"},
      {{"submit", "-e", "x", "-m", "m.pt", "-c", "c.npy", "--sigma", "conv1.0=abc"},
       "agnx: INVALID_ARGUMENT: --sigma conv1.0=abc: 'abc' is not a finite number\n"},
      {{"runs", "list", "-e", "lenet", "--view", "some"}, "agnx: INVALID_ARGUMENT: --view: "},
      {{"match", "-m", "m.pt", "-c", "c.npy", "--library", "evo"},
       "agnx: NOT_FOUND: --library evo: the only built-in library is builtin"},
  };
  for (const auto& [args, message] : cases) {
    const ProcessResult r = agnx(args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(args) << with_context(r);
    EXPECT_EQ(r.err.rfind(message, 0), 0u) << ::testing::PrintToString(args) << with_context(r);
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST_F(Cli, ServerDownExitsTwoWithUnavailable) {
  std::string address;
  { address = FakeServer().address(); }
  const ProcessResult r = run_process({AGNX_BINARY, "--server", address, "--timeout", "5", "runs", "show", "run-1"});
  EXPECT_EQ(r.exit_code, 2) << with_context(r);
  EXPECT_TRUE(contains(r.err, "agnx: UNAVAILABLE: ")) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST_F(Cli, ServerAndTokenComeFromTheEnvironment) {
  const ProcessResult r = run_process({AGNX_BINARY, "runs", "show", "run-1"},
                                      {{"AGNX_SERVER", server_.address()}, {"AGNX_TOKEN", "tok"}});
  ASSERT_EQ(r.exit_code, 0) << with_context(r);
  const ProcessResult flag = agnx({"--token", "flagtok", "runs", "show", "run-1"});
  ASSERT_EQ(flag.exit_code, 0) << with_context(flag);
  std::lock_guard lock(server_.state().mu);
  EXPECT_EQ(server_.state().authorization.front(), "Bearer tok");
  EXPECT_EQ(server_.state().authorization.back(), "Bearer flagtok");
}

TEST_F(Cli, GlobalOptionsMayFollowTheCommand) {
  const ProcessResult r = run_process({AGNX_BINARY, "runs", "show", "run-1", "--json", "--server", server_.address(),
                                       "--token", "late"},
                                      {{"AGNX_SERVER", ""}, {"AGNX_TOKEN", ""}});
  ASSERT_EQ(r.exit_code, 0) << with_context(r);
  std::lock_guard lock(server_.state().mu);
  EXPECT_EQ(server_.state().authorization.front(), "Bearer late");
}

// -------------------------------------------------------------- submit

class CliSubmit : public Cli {
 protected:
  void SetUp() override {
    model_bytes_ = std::string(2 * 1024 * 1024 + 100, 'm');
    for (std::size_t i = 0; i < model_bytes_.size(); ++i) model_bytes_[i] = static_cast<char>(i % 253);
    std::ofstream(dir_.path() / "model.pt", std::ios::binary) << model_bytes_;
    std::ofstream(dir_.path() / "calib.npy", std::ios::binary) << "calibration-bytes";
  }
  // `agnx search|retrain|sweep` with the files each needs, then `extra`.
  std::vector<std::string> training(const std::string& command, std::vector<std::string> extra) {
    const std::string model = (dir_.path() / "model.pt").string(), data = (dir_.path() / "calib.npy").string();
    std::vector<std::string> args = {command, "--experiment", "lenet", "--train-x", data, "--train-y", data};
    if (command == "retrain") args.insert(args.end(), {"--run", "run-1"});
    if (command != "retrain") args.insert(args.end(), {"--model", model});
    if (command == "sweep") args.insert(args.end(), {"--calib", data});
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::vector<std::string> submit(std::vector<std::string> extra) {
    std::vector<std::string> args = {"submit", "--experiment", "lenet", "--model", (dir_.path() / "model.pt").string(),
                                     "--calib", (dir_.path() / "calib.npy").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  TempDir dir_;
  std::string model_bytes_;
};

// One numeric option or argument of an agnx command, and the command around
// its value.
struct NumericOption {
  std::string name;                    // as messages name it
  std::vector<std::string> before;     // the arguments before the value
  std::string value_prefix;            // "conv1.0=" for --sigma
  std::vector<std::string> huge;       // beyond what the option takes
  std::set<std::string> valid = {};    // of "-5" and "0", the values it takes
  std::vector<std::string> after = {};  // the arguments after the value
};

// Every numeric option of every command with a negative, zero, huge and NaN
// value: an invalid one exits 2 with "agnx: INVALID_ARGUMENT: OPTION: ..."
// naming it and its value, before anything is sent or run; a valid one runs
// (a server command succeeds against the fake; `agnx match` gets as far as
// loading its model, which here is not one). Never a signal (`agnx match
// --samples -5` once aborted in std::vector with rc 134). Which values are
// valid, and why:
//   --timeout 0            no deadline (as documented)
//   submit --lambda 0      no energy pressure in the AGN loss; negative
//                          lambda is not a lambda AGN uses (as in training)
//   --sigma -5, 0          the tolerance is |sigma| (spec, Selection); 0 asks
//                          for error-free multipliers
//   --seed 0               any 64-bit seed
//   --max-results 0        all runs
//   log metric VALUE -5, 0 any finite metric value
//   --step 0, --timestamp 0  the first step; the server's time
//   --calib-limit 0, --test-limit 0  all inputs
// Zero is invalid for --samples (at least one row), --threads, --sigma-scale
// (a tolerance of zero is --pin-exact's job) and job ids (they start at 1).
TEST_F(CliSubmit, EveryNumericOptionRejectsNegativeZeroHugeAndNanValues) {
  const std::vector<std::string> match = {"match", "--model", (dir_.path() / "model.pt").string(), "--calib",
                                          (dir_.path() / "calib.npy").string()};
  const auto with = [](std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  const std::string too_big_u64 = "18446744073709551616";
  const std::string too_big_i64 = "9223372036854775808";
  const std::vector<NumericOption> options = {
      {"--timeout", {"--timeout"}, "", {"1e300", "31536001"}, {"0"}, {"jobs", "show", "7"}},
      {"--lambda", submit({"--lambda"}), "", {"1e999"}, {"0"}},
      {"--sigma", submit({"--sigma"}), "conv1.0=", {"1e999"}, {"-5", "0"}},
      {"--samples", submit({"--samples"}), "", {"1000001", too_big_u64}},
      {"--seed", submit({"--seed"}), "", {too_big_u64}, {"0"}},
      {"--max-results", {"runs", "list", "-e", "lenet", "--max-results"}, "", {"2147483648"}, {"0"}},
      {"--sigma-scale", {"runs", "reselect", "run-1", "--sigma-scale"}, "", {"1e999"}},
      {"JOB", {"jobs", "show"}, "", {too_big_i64}},
      {"JOB", {"jobs", "cancel"}, "", {too_big_i64}},
      {"VALUE", {"log", "metric", "run-2", "acc"}, "", {"1e999"}, {"-5", "0"}},
      {"--step", {"log", "metric", "run-2", "acc", "0.5", "--step"}, "", {too_big_i64}, {"0"}},
      {"--timestamp", {"log", "metric", "run-2", "acc", "0.5", "--timestamp"}, "", {"253402300800000"}, {"0"}},
      {"--samples", with(match, {"--samples"}), "", {"1000001", too_big_u64}},
      {"--seed", with(match, {"--seed"}), "", {too_big_u64}, {"0"}},
      {"--calib-limit", with(match, {"--calib-limit"}), "", {too_big_u64}, {"0"}},
      {"--test-limit", with(match, {"--test-limit"}), "", {too_big_u64}, {"0"}},
      {"--threads", with(match, {"--threads"}), "", {"1025", too_big_u64}},
      {"--sigma", with(match, {"--sigma"}), "conv1.0=", {"1e999"}, {"-5", "0"}},
      {"--lambda", training("search", {"--lambda"}), "", {"1e999"}, {"0"}},
      {"--epochs", training("search", {"--epochs"}), "", {"1001", too_big_u64}},
      {"--seed", training("search", {"--seed"}), "", {too_big_u64}, {"0"}},
      {"--epochs", training("retrain", {"--epochs"}), "", {"1001", too_big_u64}},
      {"--lambdas", training("sweep", {"--lambdas"}), "0.5,", {"1e999"}, {"0"}},
      {"--search-epochs", training("sweep", {"--lambdas", "1", "--search-epochs"}), "", {"1001"}},
      {"--retrain-epochs", training("sweep", {"--lambdas", "1", "--retrain-epochs"}), "", {"1001"}},
  };
  for (const NumericOption& option : options) {
    std::vector<std::string> values = {"-5", "0", "nan"};
    values.insert(values.end(), option.huge.begin(), option.huge.end());
    for (const std::string& value : values) {
      const std::vector<std::string> args = with(with(option.before, {option.value_prefix + value}), option.after);
      const ProcessResult r = agnx(args);
      const std::string where = ::testing::PrintToString(args) + "\n" + with_context(r);
      ASSERT_NE(r.exit_code, -1) << "killed by a signal: " << where;
      if (!option.valid.contains(value)) {
        EXPECT_EQ(r.exit_code, 2) << where;
        EXPECT_EQ(r.err.rfind("agnx: INVALID_ARGUMENT: " + option.name, 0), 0u) << where;
        EXPECT_TRUE(contains(r.err, "'" + value + "'")) << where;
        EXPECT_TRUE(r.out.empty()) << where;
      } else if (args.front() == "match") {
        EXPECT_EQ(r.exit_code, 2) << where;
        EXPECT_TRUE(contains(r.err, (dir_.path() / "model.pt").string())) << where;
      } else {
        EXPECT_EQ(r.exit_code, 0) << where;
      }
    }
  }
}

TEST_F(CliSubmit, ASweepUploadsItsFilesAndItsHeader) {
  const ProcessResult r = agnx(training("sweep", {"--lambdas", "0.25,1e-7", "--lambdas", "2", "--library", "evo",
                                                  "--search-epochs", "2", "--retrain-epochs", "4", "--seed", "9",
                                                  "--uint8", "0.5,0.25,2", "--json"}));
  ASSERT_EQ(r.exit_code, 0) << with_context(r);
  const auto printed = nlohmann::json::parse(r.out);
  EXPECT_TRUE(printed.contains("run_id") && printed.contains("job_id")) << r.out;
  std::lock_guard lock(server_.state().mu);
  const pb::TrainingHeader& h = server_.state().training_header;
  EXPECT_EQ(h.kind(), "sweep");
  EXPECT_EQ(std::vector<double>(h.lambdas().begin(), h.lambdas().end()), (std::vector<double>{0.25, 1e-7, 2.0}));
  EXPECT_EQ(h.library(), "evo");
  EXPECT_EQ(h.search_epochs(), 2u);
  EXPECT_EQ(h.retrain_epochs(), 4u);
  EXPECT_EQ(h.seed(), 9u);
  EXPECT_EQ(h.uint8_inputs().scale(), 0.5);
  EXPECT_EQ(h.uint8_inputs().mean(), 0.25);
  EXPECT_EQ(h.uint8_inputs().std(), 2.0);
  EXPECT_FALSE(h.idempotency_key().empty());
  const auto& parts = server_.state().training_parts;
  EXPECT_EQ(parts.at("model"), model_bytes_);
  for (const char* part : {"train_x", "train_y", "calibration"}) EXPECT_FALSE(parts.at(part).empty()) << part;
  EXPECT_FALSE(parts.contains("test_x"));
}

TEST_F(CliSubmit, AMalformedUint8NormalizationIsNamed) {
  for (const char* bad : {"1,2", "0,0.2,0.3", "0.5,0.2,-1", "a,b,c", "0.5,nan,1"}) {
    const ProcessResult r = agnx(training("search", {"--uint8", bad}));
    EXPECT_EQ(r.exit_code, 2) << bad << with_context(r);
    EXPECT_TRUE(contains(r.err, "INVALID_ARGUMENT: --uint8: '" + std::string(bad) + "'")) << with_context(r);
  }
}

TEST_F(CliSubmit, PrintsIdsAndUploadsTheFilesIntactInChunks) {
  const ProcessResult r = agnx(submit({"--lambda", "0.75", "--sigma", "conv1.0=0.2,linear3=0.01", "--library", "evo",
                                       "--samples", "64", "--seed", "3", "--pin-exact", "linear3", "--run-name", "a"}));
  ASSERT_EQ(r.exit_code, 0) << with_context(r);
  EXPECT_EQ(r.out, "run_id: run-100\njob_id: 100\n");
  std::lock_guard lock(server_.state().mu);
  const auto& state = server_.state();
  EXPECT_EQ(state.submitted.at("model"), model_bytes_);
  EXPECT_EQ(state.submitted_chunks.at("model"), (std::vector<std::size_t>{1 << 20, 1 << 20, 100}));
  EXPECT_EQ(state.submitted.at("calibration"), "calibration-bytes");
  EXPECT_FALSE(state.submitted.contains("test_x"));
  const auto& header = state.submitted_header;
  EXPECT_EQ(header.experiment(), "lenet");
  EXPECT_EQ(header.run_name(), "a");
  EXPECT_EQ(header.lambda(), 0.75);
  EXPECT_EQ(header.sigma().at("conv1.0"), 0.2);
  EXPECT_EQ(header.sigma().at("linear3"), 0.01);
  EXPECT_EQ(header.library(), "evo");
  EXPECT_EQ(header.num_samples(), 64u);
  EXPECT_EQ(header.seed(), 3u);
  ASSERT_EQ(header.pin_exact_size(), 1);
  EXPECT_EQ(header.pin_exact(0), "linear3");
  EXPECT_EQ(header.idempotency_key().size(), 32u);
}

TEST_F(CliSubmit, JsonPrintsRunAndJobIds) {
  const json out = agnx_json(submit({}));
  EXPECT_EQ(out, json({{"run_id", "run-100"}, {"job_id", 100}}));
}

TEST_F(CliSubmit, WaitShowsProgressPerStageThenTheResultTable) {
  const ProcessResult r = agnx(submit({"--wait"}));
  ASSERT_EQ(r.exit_code, 0) << with_context(r);
  EXPECT_TRUE(contains(r.out, "run_id: run-100\njob_id: 100\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "LAYER    MULTIPLIER  cells  SIGMA   MAX_STD  MUL_STD  OBSERVED_STD")) << r.out;
  EXPECT_TRUE(contains(r.out, "conv1.0  trunc4        250   0.156   2595.1   1915.8        1893.9\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "linear3  exact         322  0.0145    356.7        0             -\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "relative energy: 0.888")) << r.out;
  EXPECT_TRUE(contains(r.out, "accuracy top1: float 0.892  quantized 0.89  approximate 0.885")) << r.out;
  EXPECT_EQ(r.err,
            "QUEUED  queued    0.0%\n"
            "RUNNING  loading 1/1   10.0%\n"
            "RUNNING  features 1/3   30.0%\n"
            "RUNNING  selection 1/1   90.0%\n"
            "SUCCEEDED  saving 1/1  100.0%\n");
}

TEST_F(CliSubmit, WaitJsonHoldsTheFinishedRunWithItsCanonicalMatching) {
  const json out = agnx_json(submit({"--wait", "--lambda", "0.5"}));
  EXPECT_EQ(out["run_id"], "run-100");
  EXPECT_EQ(out["job_id"], 100);
  EXPECT_EQ(out["run"]["run_id"], "run-100");
  EXPECT_EQ(out["run"]["lambda"], 0.5);
  EXPECT_EQ(out["run"]["matching"], json::parse(FakeServer::kRun1Json));
}

TEST_F(CliSubmit, AFailedJobExitsTwoWithItsError) {
  const ProcessResult r = agnx(submit({"--wait", "--run-name", "fail"}));
  EXPECT_EQ(r.exit_code, 2) << with_context(r);
  EXPECT_TRUE(contains(r.err, "agnx: ABORTED: job 100 ended FAILED: model: not a TorchScript archive")) << r.err;
}

TEST_F(CliSubmit, AMissingInputFileExitsTwoNamingIt) {
  const ProcessResult r = agnx({"submit", "-e", "lenet", "-m", "/nonexistent/m.pt", "-c", "c.npy"});
  EXPECT_EQ(r.exit_code, 2) << with_context(r);
  EXPECT_TRUE(contains(r.err, "agnx: NOT_FOUND: /nonexistent/m.pt: no such file")) << r.err;
}

// ---------------------------------------------------------------- runs

TEST_F(Cli, RunsListTableAndJsonFollowPages) {
  const ProcessResult r = agnx({"runs", "list", "--experiment", "lenet", "--filter", "params.lambda = '0.5'",
                                "--order-by", "metrics.relative_energy ASC"});
  ASSERT_EQ(r.exit_code, 0) << with_context(r);
  EXPECT_TRUE(contains(r.out, "RUN_ID  NAME           STATUS    STARTED              LAMBDA  METRICS\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "run-1   lambda-0.5     FINISHED  2025-11-27 08:00:00     0.5  relative_energy=0.888"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "run-2   tracking-only  RUNNING")) << r.out;
  {
    std::lock_guard lock(server_.state().mu);
    EXPECT_EQ(server_.state().last_search.filter(), "params.lambda = '0.5'");
    ASSERT_EQ(server_.state().last_search.order_by_size(), 1);
    EXPECT_EQ(server_.state().last_search.experiment_ids(0), 1);
  }
  const json all = agnx_json({"runs", "list", "-e", "lenet"});
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["run_id"], "run-1");
  EXPECT_EQ(all[0]["lambda"], 0.5);
  EXPECT_EQ(agnx_json({"runs", "list", "-e", "lenet", "--max-results", "1"}).size(), 1u);
  const ProcessResult unknown = agnx({"runs", "list", "-e", "nope"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.err, "agnx: NOT_FOUND: experiment 'nope' not found\n");
}

TEST_F(Cli, RunsShowTable) {
  const ProcessResult r = agnx({"runs", "show", "run-1"});
  ASSERT_EQ(r.exit_code, 0) << with_context(r);
  for (const std::string part : {"run_id         run-1", "status         FINISHED", "PARAM    VALUE",
                                 "library  builtin", "relative_energy  0.888", "stage  tuned", "lambda: 0.5",
                                 "conv1.0  trunc4"}) {
    EXPECT_TRUE(contains(r.out, part)) << part << "\n" << r.out;
  }
}

TEST_F(Cli, RunsShowJsonIsTheRunWithTheServersCanonicalMatching) {
  const json run = agnx_json({"runs", "show", "run-1"});
  EXPECT_EQ(run["run_id"], "run-1");
  EXPECT_EQ(run["status"], "FINISHED");
  EXPECT_EQ(run["lambda"], 0.5);
  EXPECT_EQ(run["params"], json({{"lambda", "0.5"}, {"library", "builtin"}}));
  EXPECT_EQ(run["metrics"], json({{"relative_energy", 0.888}}));
  EXPECT_EQ(run["tags"], json({{"stage", "tuned"}}));
  EXPECT_EQ(run["matching"], json::parse(FakeServer::kRun1Json));
  const json tracking_only = agnx_json({"runs", "show", "run-2"});
  EXPECT_FALSE(tracking_only.contains("matching"));
  EXPECT_TRUE(tracking_only["lambda"].is_null());
}

TEST_F(Cli, UnknownRunExitsTwoWithTheServersMessage) {
  for (const bool json_mode : {false, true}) {
    std::vector<std::string> args = {"runs", "show", "nope"};
    if (json_mode) args.push_back("--json");
    const ProcessResult r = agnx(args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "agnx: NOT_FOUND: run 'nope' not found\n");
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST_F(Cli, RunsReselectForwardsTheRequest) {
  const ProcessResult r =
      agnx({"runs", "reselect", "run-1", "--library", "evo", "--sigma-scale", "0.5", "--pin-exact", "conv1.0,linear3"});
  ASSERT_EQ(r.exit_code, 0) << with_context(r);
  EXPECT_TRUE(contains(r.out, "conv1.0  exact")) << r.out;
  {
    std::lock_guard lock(server_.state().mu);
    const auto& request = server_.state().last_reselect;
    EXPECT_EQ(request.library(), "evo");
    EXPECT_EQ(request.sigma_scale(), 0.5);
    ASSERT_EQ(request.pin_exact_size(), 2);
    EXPECT_EQ(request.pin_exact(1), "linear3");
  }
  const json out = agnx_json({"runs", "reselect", "run-1"});
  EXPECT_EQ(out["run_id"], "run-1");
  EXPECT_EQ(out["lambda"], 0.5);
  EXPECT_EQ(out["matching"], json::parse(FakeServer::kRun1Json));
  EXPECT_EQ(agnx({"runs", "reselect", "run-2"}).exit_code, 2);
}

// ------------------------------------------------------------- energy

TEST_F(Cli, EnergyTableMarksTheParetoFront) {
  const ProcessResult r = agnx({"energy", "--experiment", "lenet"});
  ASSERT_EQ(r.exit_code, 0) << with_context(r);
  EXPECT_TRUE(contains(r.out, "LAMBDA  RUN_ID  NAME             LIBRARY  METRIC  REL_ENERGY  approximate_top1  PARETO\n"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "  0.25  run-0   lambda-0.250000  builtin  cells         0.75               0.8\n"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "   0.5  run-1   lambda-0.500000  builtin  cells          0.5             0.885  *\n"))
      << r.out;
  const json points = agnx_json({"energy", "-e", "lenet"});
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[1]["pareto"], true);
  EXPECT_EQ(points[1]["accuracies"]["approximate_top1"], 0.885);
  EXPECT_EQ(agnx({"energy", "-e", "nope"}).exit_code, 2);
}

// -------------------------------------------------------- experiments

TEST_F(Cli, ExperimentsListAndCreate) {
  const ProcessResult created = agnx({"experiments", "create", "resnet"});
  ASSERT_EQ(created.exit_code, 0) << with_context(created);
  EXPECT_EQ(created.out, "created experiment resnet (id 100)\n");
  const json again = agnx_json({"experiments", "create", "vgg"});
  EXPECT_EQ(again["name"], "vgg");
  EXPECT_EQ(again["experiment_id"], 101);
  const ProcessResult list = agnx({"experiments", "list"});
  ASSERT_EQ(list.exit_code, 0);
  EXPECT_TRUE(contains(list.out, "ID   NAME    LIFECYCLE  CREATED\n  1  lenet   active     2025-11-27 08:00:00\n"))
      << list.out;
  EXPECT_EQ(agnx_json({"experiments", "list"}).size(), 3u);
  const ProcessResult duplicate = agnx({"experiments", "create", "lenet"});
  EXPECT_EQ(duplicate.exit_code, 2);
  EXPECT_EQ(duplicate.err, "agnx: ALREADY_EXISTS: experiment 'lenet' already exists\n");
}

// -------------------------------------------------------- multipliers

TEST_F(Cli, MultipliersListShow) {
  const ProcessResult libraries = agnx({"multipliers", "list"});
  ASSERT_EQ(libraries.exit_code, 0) << with_context(libraries);
  EXPECT_TRUE(contains(libraries.out, "builtin  cells         2         322  yes")) << libraries.out;
  EXPECT_EQ(agnx_json({"multipliers", "list"})[1]["name"], "evo");
  const ProcessResult list = agnx({"multipliers", "list", "--library", "builtin"});
  EXPECT_TRUE(contains(list.out, "NAME    SIGNEDNESS  METRIC\nexact   signed         322\n")) << list.out;
  EXPECT_EQ(agnx_json({"multipliers", "list", "--library", "builtin"})[1],
            json({{"name", "trunc4"}, {"signed", true}, {"metric", 250.0}}));
  const ProcessResult show = agnx({"multipliers", "show", "builtin", "trunc4"});
  ASSERT_EQ(show.exit_code, 0) << with_context(show);
  EXPECT_TRUE(contains(show.out, "name: trunc4\nsignedness: signed\nmetric: 250\n")) << show.out;
  EXPECT_TRUE(contains(show.out, "relative_cells  0.776")) << show.out;
  EXPECT_TRUE(contains(show.out, "mae            7.5")) << show.out;
  const json detail = agnx_json({"multipliers", "show", "builtin", "trunc4"});
  EXPECT_EQ(detail["metrics"]["cells"], 250.0);
  EXPECT_EQ(detail["characterization"]["mae_pct"], 0.0114);
  const ProcessResult unknown = agnx({"multipliers", "show", "builtin", "nope"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.err, "agnx: NOT_FOUND: multiplier 'nope' of library builtin not found\n");
}

TEST_F(Cli, MultipliersImportUploadsMetricsAndTables) {
  TempDir dir;
  std::string table(300000, '\0');
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<char>(i % 199);
  std::ofstream(dir.path() / "metrics.csv") << "name,signed,PDK45_PWR\nmul8s_A,1,0.3\nmul8s_B,1,0.1\n";
  std::ofstream(dir.path() / "mul8s_A.bin", std::ios::binary) << table;
  std::ofstream(dir.path() / "mul8s_B.txt") << "0 1\n";
  std::ofstream(dir.path() / "README.md") << "not a table";
  const ProcessResult r = agnx({"multipliers", "import", "evo2", dir.path().string(), "--metric", "PDK45_PWR"});
  ASSERT_EQ(r.exit_code, 0) << with_context(r);
  EXPECT_EQ(r.out, "imported library evo2: 2 multipliers, metric PDK45_PWR (max 0.425), 3 files uploaded\n");
  {
    std::lock_guard lock(server_.state().mu);
    const auto& state = server_.state();
    EXPECT_EQ(state.import_header.name(), "evo2");
    EXPECT_EQ(state.imported.size(), 3u);
    EXPECT_EQ(state.imported.at("mul8s_A.bin"), table);
    EXPECT_EQ(state.imported.at("mul8s_B.txt"), "0 1\n");
    EXPECT_FALSE(state.imported.contains("README.md"));
  }
  EXPECT_EQ(agnx_json({"multipliers", "import", "evo3", dir.path().string()})["size"], 2);
  const ProcessResult missing = agnx({"multipliers", "import", "x", "/nonexistent/dir"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err, "agnx: NOT_FOUND: /nonexistent/dir: no such directory\n");
  const ProcessResult duplicate = agnx({"multipliers", "import", "builtin", dir.path().string()});
  EXPECT_EQ(duplicate.exit_code, 2);
  EXPECT_EQ(duplicate.err, "agnx: ALREADY_EXISTS: library 'builtin' already exists\n");
}

// --------------------------------------------------------------- jobs

TEST_F(Cli, JobsShowAndCancel) {
  const ProcessResult show = agnx({"jobs", "show", "7"});
  ASSERT_EQ(show.exit_code, 0) << with_context(show);
  EXPECT_TRUE(contains(show.out, "job_id            7\nrun_id    run-1\nstate     SUCCEEDED\n")) << show.out;
  EXPECT_EQ(agnx_json({"jobs", "show", "7"})["state"], "SUCCEEDED");
  const ProcessResult cancelled = agnx({"jobs", "cancel", "8"});
  ASSERT_EQ(cancelled.exit_code, 0) << with_context(cancelled);
  EXPECT_TRUE(cancelled.out.starts_with("cancelled job 8\n")) << cancelled.out;
  EXPECT_TRUE(contains(cancelled.out, "state     CANCELLED\n")) << cancelled.out;
  const ProcessResult requested = agnx({"jobs", "cancel", "9"});
  ASSERT_EQ(requested.exit_code, 0) << with_context(requested);
  EXPECT_TRUE(requested.out.starts_with("cancel requested: job 9 is still RUNNING and stops at its next check "
                                        "(agnx jobs show 9)\n"))
      << requested.out;
  EXPECT_EQ(agnx_json({"jobs", "cancel", "9"})["state"], "RUNNING");
  const ProcessResult ended = agnx({"jobs", "cancel", "7"});
  EXPECT_EQ(ended.exit_code, 2);
  EXPECT_EQ(ended.err, "agnx: FAILED_PRECONDITION: job 7 already ended SUCCEEDED\n");
  EXPECT_EQ(agnx({"jobs", "show", "99"}).err, "agnx: NOT_FOUND: job 99 not found\n");
}

// ---------------------------------------------------------------- log

TEST_F(Cli, LogMetricParamTag) {
  const ProcessResult metric = agnx({"log", "metric", "run-2", "accuracy", "0.91", "--step", "4"});
  ASSERT_EQ(metric.exit_code, 0) << with_context(metric);
  EXPECT_EQ(metric.out, "logged metric accuracy = 0.91 to run run-2\n");
  EXPECT_EQ(agnx({"log", "param", "run-2", "optimizer", "adam"}).exit_code, 0);
  const json tag = agnx_json({"log", "tag", "run-2", "stage", "draft"});
  EXPECT_EQ(tag, json({{"run_id", "run-2"}, {"kind", "tag"}, {"key", "stage"}, {"value", "draft"}}));
  {
    std::lock_guard lock(server_.state().mu);
    const pb::Run& run = server_.state().runs.at("run-2");
    EXPECT_EQ(run.params().at("optimizer"), "adam");
    EXPECT_EQ(run.tags().at("stage"), "draft");
    ASSERT_EQ(server_.state().logged_metrics.size(), 1u);
    EXPECT_EQ(server_.state().logged_metrics[0].metric().step(), 4);
    EXPECT_EQ(server_.state().logged_metrics[0].metric().value(), 0.91);
  }
  const ProcessResult unknown = agnx({"log", "param", "nope", "k", "v"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.err, "agnx: NOT_FOUND: run 'nope' not found\n");
}

}  // namespace
}  // namespace agnx::testing
