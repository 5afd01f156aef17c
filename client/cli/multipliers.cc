// agnx multipliers list, show and import: the Multipliers service.
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "client/cli/commands.h"
#include "client/cli/format.h"

namespace agnx::cli {
namespace {

int print_libraries(const Client& client, bool as_json, const Io& io) {
  auto libraries = client.list_libraries();
  if (!libraries.ok()) return fail(io, libraries.status());
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : *libraries) {
    out.push_back({{"name", l.name()},
                   {"metric", l.metric()},
                   {"size", l.size()},
                   {"metric_max", l.metric_max()},
                   {"builtin", l.builtin()}});
    rows.push_back(
        {l.name(), l.metric(), std::to_string(l.size()), number(l.metric_max()), l.builtin() ? "yes" : "no"});
  }
  if (as_json) {
    print_json(io, out);
  } else {
    print_table(io.out, {"LIBRARY", "METRIC", "SIZE", "METRIC_MAX", "BUILTIN"}, rows);
  }
  return kExitOk;
}

int print_multipliers(const Client& client, const std::string& library, bool as_json, const Io& io) {
  auto list = client.list_multipliers(library);
  if (!list.ok()) return fail(io, list.status());
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : *list) {
    out.push_back({{"name", m.name()}, {"signed", m.signed_()}, {"metric", m.metric()}});
    rows.push_back({m.name(), m.signed_() ? "signed" : "unsigned", number(m.metric())});
  }
  if (as_json) {
    print_json(io, out);
  } else {
    print_table(io.out, {"NAME", "SIGNEDNESS", "METRIC"}, rows);
  }
  return kExitOk;
}

void add_list(CLI::App* multipliers, Registry& registry, const Globals& globals, const Io& io) {
  struct Options {
    std::string library;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = multipliers->add_subcommand("list", "List the libraries, or the multipliers of one library");
  cmd->add_option("--library,-l", o->library, "List this library's multipliers");
  cmd->add_flag("--json", o->json, "Print JSON (an array)");
  cmd->footer(
      "Examples:\n  agnx multipliers list             # the libraries\n"
      "  agnx multipliers list --library builtin --json");
  registry.add(cmd, [o, &globals, io]() -> int {
    auto client = connect(globals);
    if (!client.ok()) return fail(io, client.status());
    return o->library.empty() ? print_libraries(*client, o->json, io)
                              : print_multipliers(*client, o->library, o->json, io);
  });
}

int print_multiplier(const pb::MultiplierDetail& detail, bool as_json, const Io& io) {
  const auto& c = detail.characterization();
  const std::vector<std::pair<std::string, double>> characterization = {
      {"mae", c.mae()},         {"mae_pct", c.mae_pct()},       {"wce", c.wce()},
      {"wce_pct", c.wce_pct()}, {"mre_pct", c.mre_pct()},       {"ep_pct", c.ep_pct()},
      {"mse", c.mse()},         {"error_mean", c.error_mean()}, {"error_std", c.error_std()}};
  const std::map<std::string, double> metrics(detail.metrics().begin(), detail.metrics().end());
  if (as_json) {
    json out = {{"name", detail.summary().name()},
                {"signed", detail.summary().signed_()},
                {"metric", detail.summary().metric()},
                {"metrics", metrics},
                {"characterization", json::object()}};
    for (const auto& [key, value] : characterization) out["characterization"][key] = value;
    print_json(io, out);
    return kExitOk;
  }
  io.out << "name: " << detail.summary().name()
         << "\nsignedness: " << (detail.summary().signed_() ? "signed" : "unsigned")
         << "\nmetric: " << number(detail.summary().metric()) << "\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, value] : metrics) rows.push_back({key, number(value)});
  print_table(io.out, {"METRIC", "VALUE"}, rows);
  rows.clear();
  for (const auto& [key, value] : characterization) rows.push_back({key, number(value)});
  io.out << '\n';
  print_table(io.out, {"ERROR", "VALUE"}, rows);
  return kExitOk;
}

void add_show(CLI::App* multipliers, Registry& registry, const Globals& globals, const Io& io) {
  struct Options {
    std::string library, name;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = multipliers->add_subcommand("show", "Show one multiplier: metrics and error characterization");
  cmd->add_option("LIBRARY", o->library, "Library name")->required();
  cmd->add_option("NAME", o->name, "Multiplier name")->required();
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->footer("Examples:\n  agnx multipliers show builtin exact\n  agnx multipliers show evo mul8s_1KR3 --json");
  registry.add(cmd, [o, &globals, io]() -> int {
    auto client = connect(globals);
    if (!client.ok()) return fail(io, client.status());
    auto detail = client->get_multiplier(o->library, o->name);
    if (!detail.ok()) return fail(io, detail.status());
    return print_multiplier(*detail, o->json, io);
  });
}
// The metrics.csv and tables of `dir`, in name order. Errors: NOT_FOUND naming what is missing.
Result<std::vector<client::UploadSource>> library_files(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status(grpc::StatusCode::NOT_FOUND, dir + ": no such directory");
  const fs::path metrics = fs::path(dir) / "metrics.csv";
  if (!fs::is_regular_file(metrics, ec))
    return Status(grpc::StatusCode::NOT_FOUND, metrics.string() + ": no such file");
  std::vector<fs::path> tables;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".bin" || ext == ".npy" || ext == ".txt")) tables.push_back(entry.path());
  }
  std::sort(tables.begin(), tables.end());
  std::vector<client::UploadSource> files = {client::UploadSource::file(metrics)};
  for (const auto& table : tables) files.push_back(client::UploadSource::file(table));
  return files;
}

void add_import(CLI::App* multipliers, Registry& registry, const Globals& globals, const Io& io) {
  struct Options {
    std::string name, dir, metric;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = multipliers->add_subcommand("import", "Import a LUT directory (metrics.csv and tables) as a library");
  cmd->add_option("NAME", o->name, "Library name")->required();
  cmd->add_option("DIR", o->dir, "Directory with metrics.csv and NAME.bin / .npy / .txt tables")->required();
  cmd->add_option("--metric", o->metric, "The library metric (server default: PDK45_PWR)");
  cmd->add_flag("--json", o->json, "Print the library as JSON");
  cmd->footer(
      "Examples:\n  agnx multipliers import evo ../shared/evoapprox\n"
      "  agnx multipliers import evo-area ../shared/evoapprox --metric PDK45_AREA");
  registry.add(cmd, [o, &globals, io]() -> int {
    auto files = library_files(o->dir);
    if (!files.ok()) return fail(io, files.status());
    auto client = connect(globals);
    if (!client.ok()) return fail(io, client.status());
    auto library = client->import_library(o->name, o->metric, *files);
    if (!library.ok()) return fail(io, library.status());
    if (o->json) {
      print_json(io, {{"name", library->name()},
                      {"metric", library->metric()},
                      {"size", library->size()},
                      {"metric_max", library->metric_max()},
                      {"builtin", library->builtin()}});
    } else {
      io.out << "imported library " << library->name() << ": " << library->size() << " multipliers, metric "
             << library->metric() << " (max " << number(library->metric_max()) << "), " << files->size()
             << " files uploaded\n";
    }
    return kExitOk;
  });
}

}  // namespace

void add_multipliers_commands(CLI::App& app, Registry& registry, const Globals& globals, const Io& io) {
  CLI::App* multipliers = app.add_subcommand("multipliers", "Multiplier libraries: list, show, import");
  multipliers->require_subcommand(1);
  multipliers->footer(
      "Examples:\n  agnx multipliers list\n  agnx multipliers list --library builtin\n"
      "  agnx multipliers show builtin exact\n  agnx multipliers import evo ./evoapprox");
  add_list(multipliers, registry, globals, io);
  add_show(multipliers, registry, globals, io);
  add_import(multipliers, registry, globals, io);
}

}  // namespace agnx::cli
