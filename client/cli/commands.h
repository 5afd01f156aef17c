// What the commands of the agnx command line share: the global options, the
// registry of leaf commands, connecting, printing JSON and following a job.
// Each command group lives in a file of its own and adds its commands with
// an add_*_commands function declared here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client/cli/app.h"
#include "client/client.h"

namespace agnx::cli {

// The names every command file uses.
using client::Client;
using client::Result;
using client::Status;
using nlohmann::json;

struct Globals {
  std::string server = client::kDefaultAddress;
  std::string token;
  bool tls = false;
  std::string tls_ca;
  double timeout_seconds = 30.0;
};

// The leaf commands and what they run.
struct Registry {
  std::vector<std::pair<CLI::App*, std::function<int()>>> actions;
  void add(CLI::App* app, std::function<int()> action) { actions.emplace_back(app, std::move(action)); }
};

// A client of the server the global options name (no call is made yet).
client::Result<client::Client> connect(const Globals& globals);

// `value` as indented JSON and a newline on io.out.
void print_json(const Io& io, const nlohmann::json& value);

// Watches job `job_id` to its end, drawing its progress on io.err. OK when
// it SUCCEEDED; otherwise ABORTED naming the final state and the job's error.
client::Status follow_job(const client::Client& client, int64_t job_id, const Io& io);

// agnx multipliers list|show|import (multipliers.cc).
void add_multipliers_commands(CLI::App& app, Registry& registry, const Globals& globals, const Io& io);

// agnx runs export (export.cc), under `runs_cmd`.
void add_runs_export(CLI::App* runs_cmd, Registry& registry, const Globals& globals, const Io& io);

// agnx search, agnx retrain, agnx sweep (training.cc).
void add_training_commands(CLI::App& app, Registry& registry, const Globals& globals, const Io& io);

}  // namespace agnx::cli
