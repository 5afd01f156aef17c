// The `agnx` command line against a live agnx-server on a loopback port:
// every subcommand in table and JSON modes (`jobs cancel` and `multipliers
// import` in tests of their own), the error exits, and the same
// matching in-process (`agnx match --json`) and through the server
// (`agnx runs show --json`'s `matching`).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "client/tests/subprocess.h"
#include "tests/support/evoapprox_subset.h"
#include "tests/support/server_process.h"
#include "tests/support/shared_data.h"
#include "tests/support/temp_dir.h"

namespace agnx {
namespace {

using nlohmann::json;
using testing::ProcessResult;

class CliLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AGNX_SKIP_WITHOUT_SHARED(shared);  // under CI=true a failure
    shared_ = shared;
    auto server = testing::ServerProcess::start(
        AGNX_SERVER_BINARY, data_.path(),
        {"--library-dir", "evoapprox=" + (shared_ / "evoapprox").string() + ",signed", "--threads-per-job", "2"});
    ASSERT_TRUE(server.ok()) << server.status().to_string();
    server_ = std::move(*server);
  }

  ProcessResult agnx(std::vector<std::string> args) {
    args.insert(args.begin(), {AGNX_BINARY, "--server", server_->address()});
    return testing::run_process(args);
  }

  std::string model() const { return (shared_ / "models/lenet5_fmnist_stdev.pt").string(); }
  std::string calib() const { return (shared_ / "models/lenet5_fmnist_calib.npy").string(); }

  // Submits the LeNet5 fixture with `seed` and waits; returns the JSON reply.
  json submit(const std::string& experiment, double lambda, uint64_t seed) {
    const ProcessResult r = agnx({"submit", "--experiment", experiment, "--model", model(), "--calib", calib(),
                                  "--lambda", std::to_string(lambda), "--library", "evoapprox", "--samples", "128",
                                  "--seed", std::to_string(seed), "--wait", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  std::filesystem::path shared_;
  testing::TempDir data_;
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(CliLiveTest, MatchInProcessEqualsTheServersResult) {
  const json submitted = submit("same", 0.5, 4);
  ASSERT_TRUE(submitted.is_object());
  const std::string run_id = submitted.at("run_id");
  EXPECT_EQ(submitted.at("run").at("status"), "FINISHED");

  const ProcessResult shown = agnx({"runs", "show", run_id, "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const json run = json::parse(shown.out);
  EXPECT_EQ(run.at("run_id"), run_id);
  EXPECT_DOUBLE_EQ(run.at("lambda").get<double>(), 0.5);

  const ProcessResult local = testing::run_process(
      {AGNX_BINARY, "match", "--model", model(), "--calib", calib(), "--library-dir", (shared_ / "evoapprox").string(),
       "--signedness", "signed", "--samples", "128", "--seed", "4", "--threads", "2", "--json"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  json in_process = json::parse(local.out);
  json served = run.at("matching");
  // The library is named by its server registration vs. its directory.
  in_process.erase("library");
  served.erase("library");
  EXPECT_EQ(in_process, served);
}

TEST_F(CliLiveTest, EverySubcommandInTableAndJsonModes) {
  const json first = submit("lenet", 0.5, 1);
  const std::string run_id = first.at("run_id");
  const std::string job_id = std::to_string(first.at("job_id").get<int64_t>());

  struct Case {
    std::vector<std::string> args;
    std::string table_text;  // expected in the table output
  };
  const std::vector<Case> cases = {
      {{"experiments", "list"}, "lenet"},
      {{"runs", "list", "--experiment", "lenet"}, run_id},
      {{"runs", "list", "--experiment", "lenet", "--filter", "params.library = 'evoapprox'"}, run_id},
      {{"runs", "show", run_id}, "conv1.0"},
      {{"runs", "reselect", run_id, "--sigma-scale", "0.5"}, "linear3"},
      {{"energy", "--experiment", "lenet"}, run_id},
      {{"multipliers", "list"}, "evoapprox"},
      {{"multipliers", "list", "--library", "evoapprox"}, "mul8s_1KV8"},
      {{"multipliers", "show", "builtin", "exact"}, "exact"},
      {{"jobs", "show", job_id}, "SUCCEEDED"},
  };
  for (const Case& c : cases) {
    const ProcessResult table = agnx(c.args);
    EXPECT_EQ(table.exit_code, 0) << c.args[0] << " " << table.err;
    EXPECT_NE(table.out.find(c.table_text), std::string::npos) << c.args[0] << ": " << table.out;
    std::vector<std::string> with_json = c.args;
    with_json.push_back("--json");
    const ProcessResult machine = agnx(with_json);
    EXPECT_EQ(machine.exit_code, 0) << c.args[0] << " " << machine.err;
    EXPECT_FALSE(json::parse(machine.out, nullptr, false).is_discarded()) << c.args[0] << ": " << machine.out;
  }
  EXPECT_EQ(agnx({"experiments", "create", "second"}).exit_code, 0);
  EXPECT_EQ(agnx({"log", "metric", run_id, "epochs", "3"}).exit_code, 0);
  EXPECT_EQ(agnx({"log", "tag", run_id, "owner", "hw-team"}).exit_code, 0);
  EXPECT_EQ(agnx({"log", "param", run_id, "optimizer", "adam"}).exit_code, 0);
  const json shown = json::parse(agnx({"runs", "show", run_id, "--json"}).out);
  EXPECT_EQ(shown.at("tags").at("owner"), "hw-team");
  EXPECT_EQ(shown.at("params").at("optimizer"), "adam");
}

TEST_F(CliLiveTest, JobsCancelPrintsTheJobsEnd) {
  const ProcessResult submitted =
      agnx({"submit", "--experiment", "cancelled", "--model", model(), "--calib", calib(), "--json"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string job_id = std::to_string(json::parse(submitted.out).at("job_id").get<int64_t>());
  const ProcessResult cancelled = agnx({"jobs", "cancel", job_id});
  ASSERT_EQ(cancelled.exit_code, 0) << cancelled.err;
  EXPECT_TRUE(cancelled.out.starts_with("cancelled job " + job_id + "\n")) << cancelled.out;
  EXPECT_NE(cancelled.out.find("CANCELLED"), std::string::npos) << cancelled.out;
  const json shown = json::parse(agnx({"jobs", "show", job_id, "--json"}).out);
  EXPECT_EQ(shown.at("state"), "CANCELLED");
  const ProcessResult again = agnx({"jobs", "cancel", job_id, "--json"});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_EQ(again.err, "agnx: FAILED_PRECONDITION: job " + job_id + " already ended CANCELLED\n");
  EXPECT_TRUE(again.out.empty()) << again.out;
}

TEST_F(CliLiveTest, MultipliersImportServesTheLibrary) {
  testing::TempDir tables;
  for (const auto& [name, content] : testing::evoapprox_subset(shared_, {"mul8s_1KV8", "mul8s_1L2D"})) {
    std::ofstream(tables.path() / name, std::ios::binary) << content;
  }
  const ProcessResult imported = agnx({"multipliers", "import", "two_evo", tables.path().string()});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_TRUE(imported.out.starts_with("imported library two_evo: 2 multipliers, metric PDK45_PWR")) << imported.out;
  const ProcessResult as_json =
      agnx({"multipliers", "import", "two_evo_area", tables.path().string(), "--metric", "PDK45_AREA", "--json"});
  ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
  EXPECT_EQ(json::parse(as_json.out).at("metric"), "PDK45_AREA");
  EXPECT_EQ(json::parse(as_json.out).at("size"), 2);
  const ProcessResult listed = agnx({"multipliers", "list", "--library", "two_evo"});
  EXPECT_NE(listed.out.find("mul8s_1L2D"), std::string::npos) << listed.out;
  const ProcessResult duplicate = agnx({"multipliers", "import", "two_evo", tables.path().string()});
  EXPECT_EQ(duplicate.exit_code, 2);
  EXPECT_NE(duplicate.err.find("ALREADY_EXISTS"), std::string::npos) << duplicate.err;
}

// The error exits need no reference data, so this test never skips: its
// server has no LUT library and its model and calibration files are junk
// (the header is refused before they are read).
TEST(CliLiveErrors, ErrorsExitWithTheServersMessage) {
  const testing::TempDir data, inputs;
  auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, data.path(), {});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  const auto agnx = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {AGNX_BINARY, "--server", (*server)->address()});
    return testing::run_process(args);
  };
  const std::string model = (inputs.path() / "model.pt").string(), calib = (inputs.path() / "calib.npy").string();
  std::ofstream(model) << "not a snapshot";
  std::ofstream(calib) << "not an array";
  const ProcessResult unknown = agnx({"runs", "show", "0123456789abcdef0123456789abcdef"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("NOT_FOUND"), std::string::npos) << unknown.err;
  const ProcessResult bad_library =
      agnx({"submit", "--experiment", "x", "--model", model, "--calib", calib, "--library", "no_such_library"});
  EXPECT_EQ(bad_library.exit_code, 2);
  EXPECT_NE(bad_library.err.find("header.library"), std::string::npos) << bad_library.err;
  const ProcessResult bad_flag = agnx({"runs", "list", "--no-such-flag"});
  EXPECT_EQ(bad_flag.exit_code, 1);
  server->reset();  // the server goes away
  const ProcessResult down = testing::run_process({AGNX_BINARY, "--server", "127.0.0.1:1", "experiments", "list"});
  EXPECT_EQ(down.exit_code, 2);
  EXPECT_NE(down.err.find("UNAVAILABLE"), std::string::npos) << down.err;
}

}  // namespace
}  // namespace agnx
