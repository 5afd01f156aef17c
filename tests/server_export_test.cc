// The hardware handoff end to end (issue 19): LeNet5 runs matched by a real
// agnx-server are exported with `agnx runs export` (Matching.DownloadRunExport)
// and the dashboard's tar; the exported run.sh simulates every testbench with
// Icarus and synthesizes every module with Yosys, whose cells equal the
// built-in library's; EvoApprox tables export as behavioural models that
// pass; a flipped gate fails its testbench; bad input leaves nothing behind.
// Label `synthesis`; skips without ../shared, iverilog or yosys.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "client/tests/subprocess.h"
#include "core/builtin_library.h"
#include "tests/support/http_client.h"
#include "tests/support/matching_client.h"
#include "tests/support/server_process.h"
#include "tests/support/shared_data.h"
#include "tests/support/temp_dir.h"

namespace agnx {
namespace {

namespace fs = std::filesystem;
namespace pb = ::agnapprox::v1;
using testing::ProcessResult;
using testing::run_process;
using Tree = std::map<std::string, std::string>;  // relative path -> content

bool has_tool(const std::string& name) { return std::system(("command -v " + name + " > /dev/null").c_str()) == 0; }

#define AGNX_SKIP_WITHOUT_TOOL(name) \
  if (!has_tool(name)) GTEST_SKIP() << name << " not found on PATH: install the Debian package " << name

Tree read_tree(const fs::path& dir) {
  Tree tree;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) tree[fs::relative(entry.path(), dir).string()] = testing::read_file(entry.path());
  }
  return tree;
}

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class ExportServer {
 public:
  // A server with `args`; "" on success, else why not.
  std::string start(const std::vector<std::string>& args) {
    auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, data_.path(), args);
    if (!server.ok()) return server.status().to_string();
    server_ = std::move(*server);
    client_ = std::make_unique<testing::MatchingClient>(server_->address());
    return "";
  }

  // Matches LeNet5 (without test data) against `library`; the run id, or "" if the job failed.
  std::string match_lenet(const fs::path& shared, const std::string& library) {
    pb::MatchingHeader header;
    header.set_experiment("export");
    header.set_run_name("lenet " + library);
    header.set_lambda(0.5);
    header.set_library(library);
    header.set_num_samples(128);
    header.set_seed(3);
    pb::SubmitMatchingResponse submitted;
    const testing::MatchingInputs inputs{testing::read_file(shared / "models/lenet5_fmnist_stdev.pt"),
                                         testing::read_file(shared / "models/lenet5_fmnist_calib.npy"), "", ""};
    if (!client_->submit(header, inputs, &submitted).ok()) return "";
    const pb::JobProgress last = client_->watch(submitted.job_id());
    EXPECT_EQ(last.state(), "SUCCEEDED") << last.message();
    return last.state() == "SUCCEEDED" ? submitted.run_id() : "";
  }

  // `agnx runs export RUN --out OUT [--json]`.
  ProcessResult export_run(const std::string& run_id, const fs::path& out) {
    return run_process({AGNX_BINARY, "--server", server_->address(), "runs", "export", run_id, "--out", out.string(),
                        "--json"});
  }

  testing::ServerProcess& process() { return *server_; }

 private:
  testing::TempDir data_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<testing::MatchingClient> client_;
};

// run.sh's "cells TOP N" lines.
std::map<std::string, int> cells_of(const std::string& output) {
  std::map<std::string, int> cells;
  std::istringstream lines(output);
  std::string word, top;
  int count = 0;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    if (fields >> word >> top >> count && word == "cells") cells[top] = count;
  }
  return cells;
}

// Flips the first AND gate of module `name`'s netlist into an OR gate.
void plant_fault(const fs::path& dir, const std::string& name) {
  const fs::path rtl = dir / "rtl" / (name + ".v");
  std::string text = testing::read_file(rtl);
  const std::size_t gate = text.find(" & ", text.find("  assign n"));
  ASSERT_NE(gate, std::string::npos) << rtl;
  text.replace(gate, 3, " | ");
  std::ofstream(rtl) << text;
}

uint16_t dashboard_port(testing::ServerProcess& server) {
  const std::string output = server.wait_for_output("/\n");
  const std::string marker = "dashboard on http://127.0.0.1:";
  const std::size_t at = output.find(marker);
  return at == std::string::npos ? 0 : static_cast<uint16_t>(std::stoi(output.substr(at + marker.size())));
}

TEST(ServerExport, BuiltinLenetRunExportsNetlistsThatPassAndSynthesizeToTheirCells) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  AGNX_SKIP_WITHOUT_TOOL("iverilog");
  AGNX_SKIP_WITHOUT_TOOL("yosys");
  ExportServer server;
  ASSERT_EQ(server.start({"--threads-per-job", "2", "--http", "127.0.0.1:0"}), "");
  const std::string run_id = server.match_lenet(shared, "builtin");
  ASSERT_FALSE(run_id.empty());
  testing::TempDir dir;
  const ProcessResult exported = server.export_run(run_id, dir.path() / "hw");
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(nlohmann::json::parse(exported.out)["run_id"], run_id);

  const ProcessResult script = run_process({"/bin/sh", (dir.path() / "hw/run.sh").string()});
  EXPECT_EQ(script.exit_code, 0) << script.out << script.err;
  const auto manifest = nlohmann::json::parse(testing::read_file(dir.path() / "hw/manifest.json"));
  EXPECT_EQ(manifest["layers"].size(), 5u);
  const std::map<std::string, int> cells = cells_of(script.out);
  const MultiplierLibrary& library = builtin_library();
  for (const auto& module : manifest["modules"]) {
    const std::string name = module["module"], core = module["core"], multiplier = module["multiplier"];
    EXPECT_NE(script.out.find("PASS " + name + ": 65536 operand pairs"), std::string::npos) << script.out;
    EXPECT_EQ(module["form"], "netlist") << name;
    ASSERT_TRUE(cells.contains(core)) << script.out;
    EXPECT_EQ(cells.at(core), module["metric"].get<double>()) << name;
    EXPECT_EQ(module["metric"].get<double>(), library.metric_of(*library.find(multiplier))) << name;
    std::cout << name << " (" << module["signedness"].get<std::string>() << "): " << cells.at(core)
              << " cells, stored " << module["metric"] << "\n";
  }

  // The same run again, and the dashboard's tar, give the same bytes.
  ASSERT_EQ(server.export_run(run_id, dir.path() / "again").exit_code, 0);
  EXPECT_EQ(read_tree(dir.path() / "again"), read_tree(dir.path() / "hw"));
  const testing::HttpReply tar = testing::http_get(dashboard_port(server.process()), "/api/runs/" + run_id + "/export");
  ASSERT_EQ(tar.status, 200) << tar.body;
  EXPECT_EQ(tar.headers.at("content-type"), "application/x-tar");
  std::ofstream(dir.path() / "hw.tar", std::ios::binary) << tar.body;
  fs::create_directory(dir.path() / "untar");
  ASSERT_EQ(run_process({"/bin/tar", "-xf", (dir.path() / "hw.tar").string(), "-C", (dir.path() / "untar").string()})
                .exit_code, 0);
  EXPECT_EQ(read_tree(dir.path() / "untar" / ("agnx-export-" + run_id)), read_tree(dir.path() / "hw"));

  // An unwritable --out (under a regular file) fails whole; an existing one is refused.
  std::ofstream(dir.path() / "file") << "x";
  const std::vector<std::string> before = listing(dir.path());
  const ProcessResult unwritable = server.export_run(run_id, dir.path() / "file/hw");
  EXPECT_EQ(unwritable.exit_code, 2);
  EXPECT_NE(unwritable.err.find("--out " + (dir.path() / "file/hw").string()), std::string::npos) << unwritable.err;
  const ProcessResult existing = server.export_run(run_id, dir.path() / "hw");
  EXPECT_EQ(existing.exit_code, 2);
  EXPECT_NE(existing.err.find("ALREADY_EXISTS"), std::string::npos) << existing.err;
  EXPECT_EQ(listing(dir.path()), before);

  // A flipped gate fails its testbench, and only its own.
  const std::string faulty = manifest["modules"][0]["module"];
  ASSERT_NO_FATAL_FAILURE(plant_fault(dir.path() / "hw", faulty));
  const ProcessResult broken = run_process({"/bin/sh", (dir.path() / "hw/run.sh").string(), "--no-synthesis"});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.out.find("FAIL " + faulty + ": "), std::string::npos) << broken.out;
  for (const auto& module : manifest["modules"]) {
    const std::string name = module["module"];
    if (name != faulty) EXPECT_NE(broken.out.find("PASS " + name + ": "), std::string::npos) << broken.out;
  }
}

TEST(ServerExport, EvoApproxTablesExportBehaviouralModelsThatPass) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  AGNX_SKIP_WITHOUT_TOOL("iverilog");
  ExportServer server;
  // Signed and unsigned tables: the unsigned ones get the sign-magnitude wrapper.
  ASSERT_EQ(server.start({"--threads-per-job", "2", "--library-dir", "evoapprox=" + (shared / "evoapprox").string()}),
            "");
  const std::string run_id = server.match_lenet(shared, "evoapprox");
  ASSERT_FALSE(run_id.empty());
  testing::TempDir dir;
  const ProcessResult exported = server.export_run(run_id, dir.path() / "hw");
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const ProcessResult script = run_process({"/bin/sh", (dir.path() / "hw/run.sh").string(), "--no-synthesis"});
  EXPECT_EQ(script.exit_code, 0) << script.out << script.err;
  const auto manifest = nlohmann::json::parse(testing::read_file(dir.path() / "hw/manifest.json"));
  for (const auto& module : manifest["modules"]) {
    const std::string name = module["module"];
    EXPECT_EQ(module["form"], "behavioural") << name;
    EXPECT_NE(testing::read_file(dir.path() / "hw/rtl" / (name + ".v")).find("BEHAVIOURAL MODEL"), std::string::npos);
    EXPECT_NE(script.out.find("PASS " + name + ": 65536 operand pairs"), std::string::npos) << script.out;
    std::cout << name << " (" << module["signedness"].get<std::string>() << ", layers " << module["layers"] << ")\n";
  }
}

TEST(ServerExport, BadInputIsRefusedAndLeavesNothingBehind) {
  ExportServer server;
  ASSERT_EQ(server.start({"--http", "127.0.0.1:0"}), "");
  const uint16_t port = dashboard_port(server.process());
  auto channel = grpc::CreateChannel(server.process().address(), grpc::InsecureChannelCredentials());
  grpc::ClientContext create_context;
  pb::CreateExperimentRequest experiment_request;
  experiment_request.set_name("bare");
  pb::Experiment experiment;
  ASSERT_TRUE(pb::Tracking::NewStub(channel)->CreateExperiment(&create_context, experiment_request, &experiment).ok());
  grpc::ClientContext run_context;
  pb::CreateRunRequest run_request;
  run_request.set_experiment_id(experiment.experiment_id());
  pb::Run bare;
  ASSERT_TRUE(pb::Tracking::NewStub(channel)->CreateRun(&run_context, run_request, &bare).ok());

  testing::TempDir dir;
  const ProcessResult unknown = server.export_run("no-such-run", dir.path() / "hw");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("agnx: NOT_FOUND: "), std::string::npos) << unknown.err;
  const ProcessResult unmatched = server.export_run(bare.info().run_id(), dir.path() / "hw");
  EXPECT_EQ(unmatched.exit_code, 2);
  EXPECT_NE(unmatched.err.find("FAILED_PRECONDITION: run '" + bare.info().run_id() + "' has no matching result"),
            std::string::npos)
      << unmatched.err;
  fs::create_directory(dir.path() / "full");
  std::ofstream(dir.path() / "full/keep") << "mine";
  const ProcessResult full = server.export_run(bare.info().run_id(), dir.path() / "full");
  EXPECT_EQ(full.exit_code, 2);
  EXPECT_NE(full.err.find("ALREADY_EXISTS: --out"), std::string::npos) << full.err;
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"full"});
  EXPECT_EQ(listing(dir.path() / "full"), std::vector<std::string>{"keep"});

  EXPECT_EQ(testing::http_get(port, "/api/runs/no-such-run/export").status, 404);
  const testing::HttpReply unmatched_tar = testing::http_get(port, "/api/runs/" + bare.info().run_id() + "/export");
  EXPECT_EQ(unmatched_tar.status, 400);
  EXPECT_NE(unmatched_tar.body.find("no matching result"), std::string::npos) << unmatched_tar.body;
}

}  // namespace
}  // namespace agnx
