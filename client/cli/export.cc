// agnx runs export: a run's hardware handoff written to a directory, whole
// or not at all.
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "client/cli/commands.h"
#include "client/cli/format.h"

namespace agnx::cli {
namespace {

namespace fs = std::filesystem;

Status local_error(grpc::StatusCode code, const std::string& message) { return Status(code, message); }

// --out must not exist yet, or be an empty directory (which the export replaces).
Status check_out(const fs::path& out) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(out, ec);
  if (!fs::exists(status)) return {};
  if (fs::is_directory(status) && fs::is_empty(out, ec) && !ec) return {};
  return local_error(grpc::StatusCode::ALREADY_EXISTS,
                     "--out " + out.string() + ": exists and is not an empty directory; name a new one");
}

// A fresh directory beside `out`, where the export is written before it is renamed to `out`.
Result<fs::path> make_temp_beside(const fs::path& out) {
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  std::string pattern = (parent / ("." + out.filename().string() + ".agnx-export-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return local_error(grpc::StatusCode::FAILED_PRECONDITION,
                       "--out " + out.string() + ": cannot create a directory in " + parent.string() + ": " +
                           std::strerror(errno));
  }
  std::error_code ec;
  fs::permissions(pattern, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec, ec);
  return fs::path(pattern);
}

Status write_files(const fs::path& dir, const std::vector<client::ExportedFile>& files) {
  for (const auto& file : files) {
    const fs::path path = dir / file.path;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    std::ofstream stream(path, std::ios::binary);
    stream.write(file.data.data(), static_cast<std::streamsize>(file.data.size()));
    stream.close();
    if (ec || !stream) {
      return local_error(grpc::StatusCode::FAILED_PRECONDITION, "cannot write " + path.string() + ": " +
                                                                    (ec ? ec.message() : std::strerror(errno)));
    }
    if (file.executable) {
      fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                      fs::perm_options::add, ec);
    }
  }
  return {};
}

// Writes `files` into a temporary directory beside `out` and renames it to
// `out`; on any error nothing is left behind.
Status write_export(const fs::path& out, const std::vector<client::ExportedFile>& files) {
  auto temp = make_temp_beside(out);
  if (!temp.ok()) return temp.status();
  Status written = write_files(*temp, files);
  if (written.ok() && std::rename(temp->c_str(), out.c_str()) != 0) {
    written = local_error(grpc::StatusCode::FAILED_PRECONDITION,
                          "--out " + out.string() + ": cannot rename the export into place: " + std::strerror(errno));
  }
  if (!written.ok()) {
    std::error_code ignored;
    fs::remove_all(*temp, ignored);
  }
  return written;
}

void print_export(const std::string& run_id, const fs::path& out, const std::vector<client::ExportedFile>& files,
                  bool as_json, const Io& io) {
  if (as_json) {
    json list = json::array();
    for (const auto& f : files) list.push_back({{"path", f.path}, {"bytes", f.data.size()}});
    print_json(io, {{"run_id", run_id}, {"out", out.string()}, {"files", std::move(list)}});
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : files) rows.push_back({f.path, std::to_string(f.data.size())});
  print_table(io.out, {"FILE", "BYTES"}, rows);
  io.out << "\nwrote " << files.size() << " files to " << out.string() << "; check them with: sh "
         << (out / "run.sh").string() << '\n';
}

}  // namespace

void add_runs_export(CLI::App* runs_cmd, Registry& registry, const Globals& globals, const Io& io) {
  struct Options {
    std::string run_id, out;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = runs_cmd->add_subcommand(
      "export", "Write a run's chosen multipliers as Verilog, with testbenches, run.sh, manifest.json and README.md");
  cmd->add_option("RUN", o->run_id, "Run id")->required();
  cmd->add_option("--out", o->out, "A new (or empty) directory to write; it appears whole or not at all")->required();
  cmd->add_flag("--json", o->json, "Print {run_id, out, files: [{path, bytes}]}");
  cmd->footer(
      "One Verilog module per distinct multiplier (rtl/), a testbench and product table per module (tb/),\n"
      "run.sh (Icarus simulation of all 65,536 operand pairs, Yosys cells per module), manifest.json and\n"
      "README.md (per-layer table, energy by layer).\n\n"
      "Examples:\n  agnx runs export 3f2a9c --out lenet-hw && sh lenet-hw/run.sh\n"
      "  agnx runs export 3f2a9c --out lenet-hw --json | jq .files");
  registry.add(cmd, [o, &globals, io]() -> int {
    fs::path out = fs::path(o->out).lexically_normal();
    if (!out.has_filename()) out = out.parent_path();  // "dir/" names "dir"
    if (Status s = check_out(out); !s.ok()) return fail(io, s);
    auto client = connect(globals);
    if (!client.ok()) return fail(io, client.status());
    auto files = client->download_run_export(o->run_id);
    if (!files.ok()) return fail(io, files.status());
    if (Status s = write_export(out, *files); !s.ok()) return fail(io, s);
    print_export(o->run_id, out, *files, o->json, io);
    return kExitOk;
  });
}

}  // namespace agnx::cli
