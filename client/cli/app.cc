#include "client/cli/app.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "client/cli/commands.h"
#include "client/cli/format.h"
#include "client/client.h"
#include "core/pipeline.h"

namespace agnx::cli {

namespace {

// The longest --timeout: a year, in seconds (its milliseconds fit a deadline).
constexpr double kMaxTimeoutSeconds = 365.0 * 24 * 3600;
// The latest --timestamp: 9999-12-31 23:59:59.999 UTC, in milliseconds.
constexpr uint64_t kMaxTimestampMs = 253'402'300'799'999;

json experiment_json(const pb::Experiment& e) {
  return {{"experiment_id", e.experiment_id()}, {"name", e.name()},
          {"lifecycle", e.lifecycle()},         {"creation_time", e.creation_time()},
          {"last_update_time", e.last_update_time()}};
}

json job_json(const pb::Job& job) {
  return {{"job_id", job.job_id()},   {"run_id", job.run_id()},     {"state", job.state()},
          {"attempts", job.attempts()}, {"progress", job.progress()}, {"error", job.error()},
          {"creation_time", job.creation_time()}, {"update_time", job.update_time()}};
}

void print_job(const Io& io, const pb::Job& job) {
  print_table(io.out, {"FIELD", "VALUE"},
              {{"job_id", std::to_string(job.job_id())},
               {"run_id", job.run_id()},
               {"state", job.state()},
               {"attempts", std::to_string(job.attempts())},
               {"progress", number(job.progress())},
               {"error", job.error()},
               {"created", timestamp(job.creation_time())},
               {"updated", timestamp(job.update_time())}});
}

// What `jobs cancel` did, from the server's answer: the job's state once the
// cancel took effect, or the state it is still in.
std::string cancel_outcome(const pb::Job& job) {
  const std::string id = std::to_string(job.job_id());
  if (job.state() == "CANCELLED") return "cancelled job " + id;
  if (job.state() == "SUCCEEDED" || job.state() == "FAILED") {
    return "job " + id + " ended " + job.state() + " before the cancel took effect";
  }
  return "cancel requested: job " + id + " is still " + job.state() + " and stops at its next check (agnx jobs show " +
         id + ")";
}

// The object of `runs show --json`: the run, and its matching when it has one.
Result<json> run_object(const Client& client, const std::string& run_id, pb::MatchingResult* matching_out = nullptr,
                        bool* has_matching = nullptr) {
  auto run = client.get_run(run_id);
  if (!run.ok()) return run.status();
  json out = run_to_json(*run);
  auto result = client.get_matching_result(run_id);
  if (result.ok()) {
    out["lambda"] = result->lambda();
    if (!result->json().empty()) {
      const json parsed = json::parse(result->json(), nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) {
        return Status(grpc::StatusCode::DATA_LOSS, "the server's MatchingResult.json of run " + run_id +
                                                        " is not valid JSON");
      }
      out["matching"] = parsed;
    }
    if (matching_out) *matching_out = *result;
    if (has_matching) *has_matching = true;
  } else if (result.status().code() != grpc::StatusCode::NOT_FOUND) {
    return result.status();
  }
  return out;
}

void print_run(const Io& io, const pb::Run& run) {
  const auto& info = run.info();
  std::vector<std::vector<std::string>> rows = {
      {"run_id", info.run_id()},
      {"run_name", info.run_name()},
      {"experiment_id", std::to_string(info.experiment_id())},
      {"status", info.status()},
      {"started", timestamp(info.start_time())},
  };
  if (info.has_end_time()) rows.push_back({"ended", timestamp(info.end_time())});
  print_table(io.out, {"FIELD", "VALUE"}, rows);
  if (!run.params().empty()) {
    std::vector<std::vector<std::string>> params;
    for (const auto& [key, value] : std::map<std::string, std::string>(run.params().begin(), run.params().end())) {
      params.push_back({key, value});
    }
    io.out << '\n';
    print_table(io.out, {"PARAM", "VALUE"}, params);
  }
  if (!run.metrics().empty()) {
    std::vector<std::vector<std::string>> metrics;
    for (const auto& m : run.metrics()) metrics.push_back({m.key(), number(m.value()), std::to_string(m.step())});
    io.out << '\n';
    print_table(io.out, {"METRIC", "VALUE", "STEP"}, metrics);
  }
  if (!run.tags().empty()) {
    std::vector<std::vector<std::string>> tags;
    for (const auto& [key, value] : std::map<std::string, std::string>(run.tags().begin(), run.tags().end())) {
      tags.push_back({key, value});
    }
    io.out << '\n';
    print_table(io.out, {"TAG", "VALUE"}, tags);
  }
}

// ------------------------------------------------------------------ submit

struct SubmitOptions {
  std::string experiment, model, calib, run_name, library, test_x, test_y;
  double lambda = 0.0;
  std::vector<std::string> sigma, pin_exact;
  uint32_t samples = 512;
  uint64_t seed = 0;
  bool wait = false, json = false;
};

// Follows a submitted job to its end, then prints its run's result.
int wait_for_result(const Client& client, const pb::SubmitMatchingResponse& submitted, bool as_json, const Io& io) {
  if (!as_json) io.out << "run_id: " << submitted.run_id() << "\njob_id: " << submitted.job_id() << '\n' << std::flush;
  if (const Status followed = follow_job(client, submitted.job_id(), io); !followed.ok()) return fail(io, followed);
  pb::MatchingResult result;
  auto run = run_object(client, submitted.run_id(), &result);
  if (!run.ok()) return fail(io, run.status());
  if (as_json) {
    print_json(io, {{"run_id", submitted.run_id()}, {"job_id", submitted.job_id()}, {"run", *run}});
  } else {
    io.out << '\n';
    print_matching(io.out, result.info());
  }
  return kExitOk;
}

int submit(const SubmitOptions& o, const Globals& globals, const Io& io) {
  if (o.test_x.empty() != o.test_y.empty()) return usage_error(io, "--test-x and --test-y go together");
  auto sigma = parse_sigma(o.sigma);
  if (!sigma.ok()) return fail(io, sigma.status());
  pb::MatchingHeader header;
  header.set_experiment(o.experiment);
  header.set_run_name(o.run_name);
  header.set_lambda(o.lambda);
  for (const auto& [layer, value] : *sigma) (*header.mutable_sigma())[layer] = value;
  header.set_library(o.library);
  header.set_num_samples(o.samples);
  header.set_seed(o.seed);
  for (const auto& layer : split_list(o.pin_exact)) header.add_pin_exact(layer);
  header.set_idempotency_key(client::new_idempotency_key());
  client::MatchingInputs inputs;
  inputs.model = client::UploadSource::file(o.model);
  inputs.calibration = client::UploadSource::file(o.calib);
  if (!o.test_x.empty()) {
    inputs.test_x = client::UploadSource::file(o.test_x);
    inputs.test_y = client::UploadSource::file(o.test_y);
  }
  for (const auto& path : {o.model, o.calib, o.test_x, o.test_y}) {
    std::error_code ec;
    if (!path.empty() && !std::filesystem::is_regular_file(path, ec)) {
      return fail(io, Status(grpc::StatusCode::NOT_FOUND, path + ": no such file"));
    }
  }
  auto client = connect(globals);
  if (!client.ok()) return fail(io, client.status());
  auto submitted = client->submit_matching(header, inputs);
  if (!submitted.ok()) return fail(io, submitted.status());
  if (o.wait) return wait_for_result(*client, *submitted, o.json, io);
  if (o.json) {
    print_json(io, {{"run_id", submitted->run_id()}, {"job_id", submitted->job_id()}});
  } else {
    io.out << "run_id: " << submitted->run_id() << "\njob_id: " << submitted->job_id() << '\n';
  }
  return kExitOk;
}

void add_submit(CLI::App& app, Registry& registry, const Globals& globals, const Io& io) {
  auto o = std::make_shared<SubmitOptions>();
  CLI::App* cmd = app.add_subcommand("submit", "Submit a matching job: upload a model and calibration data");
  cmd->add_option("--experiment,-e", o->experiment, "Experiment name (created if missing)")->required();
  cmd->add_option("--model,-m", o->model, "TorchScript model snapshot (.pt)")->required();
  cmd->add_option("--calib,-c", o->calib, "Calibration inputs (.pt or .npy)")->required();
  cmd->add_option("--run-name", o->run_name, "Name of the run");
  add_number(cmd, "--lambda", o->lambda, "The AGN lambda (>= 0), recorded with the run", {.min = 0.0});
  cmd->add_option("--sigma", o->sigma,
                  "Per-layer tolerance LAYER=VALUE, |VALUE| is used (repeatable, or comma-separated)");
  cmd->add_option("--library", o->library, "Multiplier library (server default: builtin)");
  add_whole_number(cmd, "--samples", o->samples, "Sampled feature rows per layer", 1, kMaxMatchingSamples)
      ->default_str(std::to_string(o->samples));
  add_whole_number(cmd, "--seed", o->seed, "Seed of the sample draw", 0, UINT64_MAX)
      ->default_str(std::to_string(o->seed));
  cmd->add_option("--test-x", o->test_x, "Test inputs for accuracies (.pt or .npy)");
  cmd->add_option("--test-y", o->test_y, "Test labels (.pt or .npy)");
  cmd->add_option("--pin-exact", o->pin_exact, "Layers that must use an exact multiplier (comma-separated)");
  cmd->add_flag("--wait,-w", o->wait, "Watch the job's progress, then print the result");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->footer(R"(Examples:
  agnx submit --experiment lenet --model lenet5.pt --calib calib.npy --lambda 0.5
  agnx submit -e lenet -m lenet5.pt -c calib.npy --sigma conv1.0=0.15 --pin-exact linear3 --wait
  agnx submit -e lenet -m lenet5.pt -c calib.npy --test-x x.npy --test-y y.npy --wait --json

Progress goes to stderr: one redrawn line on a terminal, one line per stage otherwise.)");
  registry.add(cmd, [o, &globals, io]() { return submit(*o, globals, io); });
}

// -------------------------------------------------------------------- runs

void add_runs_list(CLI::App* runs_cmd, Registry& registry, const Globals& globals, const Io& io) {
  struct Options {
    std::string experiment, filter, view = "active";
    std::vector<std::string> order_by;
    int max_results = 0;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = runs_cmd->add_subcommand("list", "List the runs of an experiment");
  cmd->add_option("--experiment,-e", o->experiment, "Experiment name")->required();
  cmd->add_option("--filter", o->filter, "MLflow-style filter, e.g. \"metrics.relative_energy < 0.5\"");
  cmd->add_option("--order-by", o->order_by, "Order, e.g. \"metrics.relative_energy ASC\" (repeatable)");
  add_whole_number(cmd, "--max-results", o->max_results, "At most N runs (0: all)", 0, INT32_MAX);
  cmd->add_option("--view", o->view, "active, deleted or all")->check(CLI::IsMember({"active", "deleted", "all"}));
  cmd->add_flag("--json", o->json, "Print JSON (an array of run objects)");
  cmd->footer("Examples:\n  agnx runs list --experiment lenet\n"
              "  agnx runs list -e lenet --filter \"params.library = 'builtin'\" --order-by "
              "\"metrics.relative_energy ASC\" --max-results 10");
  registry.add(cmd, [o, &globals, io]() -> int {
    auto client = connect(globals);
    if (!client.ok()) return fail(io, client.status());
    auto experiment = client->get_experiment_by_name(o->experiment);
    if (!experiment.ok()) return fail(io, experiment.status());
    pb::SearchRunsRequest request;
    request.add_experiment_ids(experiment->experiment_id());
    request.set_filter(o->filter);
    request.set_view(o->view == "all" ? pb::ALL : o->view == "deleted" ? pb::DELETED_ONLY : pb::ACTIVE_ONLY);
    for (const auto& order : o->order_by) request.add_order_by(order);
    auto runs = client->search_all_runs(request, static_cast<std::size_t>(o->max_results));
    if (!runs.ok()) return fail(io, runs.status());
    if (o->json) {
      json out = json::array();
      for (const auto& run : *runs) out.push_back(run_to_json(run));
      print_json(io, out);
      return kExitOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& run : *runs) {
      std::string metrics;
      for (const auto& m : run.metrics()) metrics += (metrics.empty() ? "" : " ") + m.key() + "=" + number(m.value());
      const auto lambda = run.params().find("lambda");
      rows.push_back({run.info().run_id(), run.info().run_name(), run.info().status(),
                      timestamp(run.info().start_time()), lambda == run.params().end() ? "" : lambda->second,
                      metrics});
    }
    print_table(io.out, {"RUN_ID", "NAME", "STATUS", "STARTED", "LAMBDA", "METRICS"}, rows);
    return kExitOk;
  });
}

void add_runs_show(CLI::App* runs_cmd, Registry& registry, const Globals& globals, const Io& io) {
  struct Options {
    std::string run_id;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = runs_cmd->add_subcommand("show", "Show a run and its matching result");
  cmd->add_option("RUN", o->run_id, "Run id")->required();
  cmd->add_flag("--json", o->json, "Print the run object (run_id, status, lambda, params, metrics, tags, matching)");
  cmd->footer("Examples:\n  agnx runs show 3f2a9c\n  agnx runs show 3f2a9c --json | jq .matching.layers");
  registry.add(cmd, [o, &globals, io]() -> int {
    auto client = connect(globals);
    if (!client.ok()) return fail(io, client.status());
    if (o->json) {
      auto object = run_object(*client, o->run_id);
      if (!object.ok()) return fail(io, object.status());
      print_json(io, *object);
      return kExitOk;
    }
    auto run = client->get_run(o->run_id);
    if (!run.ok()) return fail(io, run.status());
    print_run(io, *run);
    auto result = client->get_matching_result(o->run_id);
    if (result.ok()) {
      io.out << "\nlambda: " << number(result->lambda()) << '\n';
      print_matching(io.out, result->info());
    } else if (result.status().code() != grpc::StatusCode::NOT_FOUND) {
      return fail(io, result.status());
    }
    return kExitOk;
  });
}

void add_runs_reselect(CLI::App* runs_cmd, Registry& registry, const Globals& globals, const Io& io) {
  struct Options {
    std::string run_id, library;
    double sigma_scale = 0.0;
    std::vector<std::string> pin_exact;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = runs_cmd->add_subcommand("reselect", "Select again from a run's stored predictions");
  cmd->add_option("RUN", o->run_id, "Run id")->required();
  cmd->add_option("--library", o->library, "Another library (default: the run's)");
  add_number(cmd, "--sigma-scale", o->sigma_scale, "Multiply every layer's sigma by F (> 0)",
             {.min = 0.0, .above_min = true});
  cmd->add_option("--pin-exact", o->pin_exact, "Layers that must use an exact multiplier (comma-separated)");
  cmd->add_flag("--json", o->json, "Print {run_id, lambda, matching}");
  cmd->footer("Examples:\n  agnx runs reselect 3f2a9c --sigma-scale 0.5\n"
              "  agnx runs reselect 3f2a9c --library evoapprox --pin-exact conv1.0,linear3 --json");
  registry.add(cmd, [o, &globals, io]() -> int {
    auto client = connect(globals);
    if (!client.ok()) return fail(io, client.status());
    pb::ReselectRequest request;
    request.set_run_id(o->run_id);
    request.set_library(o->library);
    request.set_sigma_scale(o->sigma_scale);
    for (const auto& layer : split_list(o->pin_exact)) request.add_pin_exact(layer);
    auto result = client->reselect(request);
    if (!result.ok()) return fail(io, result.status());
    if (o->json) {
      json matching = json::parse(result->json(), nullptr, false);
      if (result->json().empty() || matching.is_discarded()) matching = nullptr;
      print_json(io, {{"run_id", result->run_id()}, {"lambda", result->lambda()}, {"matching", matching}});
      return kExitOk;
    }
    print_matching(io.out, result->info());
    return kExitOk;
  });
}

void add_runs(CLI::App& app, Registry& registry, const Globals& globals, const Io& io) {
  CLI::App* runs_cmd = app.add_subcommand("runs", "List, show, reselect and export runs");
  runs_cmd->require_subcommand(1);
  runs_cmd->footer("Examples:\n  agnx runs list --experiment lenet\n  agnx runs show RUN_ID --json\n"
               "  agnx runs reselect RUN_ID --sigma-scale 0.5\n  agnx runs export RUN_ID --out DIR");
  add_runs_list(runs_cmd, registry, globals, io);
  add_runs_show(runs_cmd, registry, globals, io);
  add_runs_reselect(runs_cmd, registry, globals, io);
  add_runs_export(runs_cmd, registry, globals, io);
}

// ------------------------------------------------------------------ energy

void add_energy(CLI::App& app, Registry& registry, const Globals& globals, const Io& io) {
  struct Options {
    std::string experiment;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("energy", "An experiment's lambda / energy / accuracy table and Pareto front");
  cmd->add_option("--experiment,-e", o->experiment, "Experiment name")->required();
  cmd->add_flag("--json", o->json, "Print JSON (an array of points)");
  cmd->footer("Examples:\n  agnx energy --experiment lenet\n  agnx energy -e lenet --json");
  registry.add(cmd, [o, &globals, io]() -> int {
    auto client = connect(globals);
    if (!client.ok()) return fail(io, client.status());
    auto response = client->query_energy(o->experiment);
    if (!response.ok()) return fail(io, response.status());
    if (o->json) {
      json out = json::array();
      for (const auto& p : response->points()) {
        json accuracies = json::object();
        for (const auto& [key, value] : p.accuracies()) accuracies[key] = value;
        out.push_back({{"run_id", p.run_id()}, {"run_name", p.run_name()}, {"lambda", p.lambda()},
                       {"library", p.library()}, {"metric", p.metric()}, {"relative_energy", p.relative_energy()},
                       {"accuracies", accuracies}, {"pareto", p.pareto()}});
      }
      print_json(io, out);
      return kExitOk;
    }
    std::set<std::string> keys;
    for (const auto& p : response->points()) {
      for (const auto& [key, value] : p.accuracies()) keys.insert(key);
    }
    std::vector<std::string> header = {"LAMBDA", "RUN_ID", "NAME", "LIBRARY", "METRIC", "REL_ENERGY"};
    for (const auto& key : keys) header.push_back(key);
    header.push_back("PARETO");
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : response->points()) {
      std::vector<std::string> row = {number(p.lambda()), p.run_id(),   p.run_name(),
                                      p.library(),        p.metric(),   number(p.relative_energy())};
      for (const auto& key : keys) {
        const auto it = p.accuracies().find(key);
        row.push_back(it == p.accuracies().end() ? "-" : number(it->second));
      }
      row.push_back(p.pareto() ? "*" : "");
      rows.push_back(std::move(row));
    }
    print_table(io.out, header, rows);
    return kExitOk;
  });
}

// ------------------------------------------------------------- experiments

void add_experiments(CLI::App& app, Registry& registry, const Globals& globals, const Io& io) {
  CLI::App* experiments = app.add_subcommand("experiments", "List and create experiments");
  experiments->require_subcommand(1);
  experiments->footer("Examples:\n  agnx experiments list\n  agnx experiments create lenet");
  {
    auto json_flag = std::make_shared<bool>(false);
    auto all = std::make_shared<bool>(false);
    CLI::App* cmd = experiments->add_subcommand("list", "List experiments");
    cmd->add_flag("--all", *all, "Include deleted experiments");
    cmd->add_flag("--json", *json_flag, "Print JSON (an array of experiments)");
    cmd->footer("Examples:\n  agnx experiments list\n  agnx experiments list --all --json");
    registry.add(cmd, [json_flag, all, &globals, io]() -> int {
      auto client = connect(globals);
      if (!client.ok()) return fail(io, client.status());
      auto list = client->list_experiments(*all ? pb::ALL : pb::ACTIVE_ONLY);
      if (!list.ok()) return fail(io, list.status());
      if (*json_flag) {
        json out = json::array();
        for (const auto& e : *list) out.push_back(experiment_json(e));
        print_json(io, out);
        return kExitOk;
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& e : *list) {
        rows.push_back({std::to_string(e.experiment_id()), e.name(), e.lifecycle(), timestamp(e.creation_time())});
      }
      print_table(io.out, {"ID", "NAME", "LIFECYCLE", "CREATED"}, rows);
      return kExitOk;
    });
  }
  {
    struct Options {
      std::string name;
      bool json = false;
    };
    auto o = std::make_shared<Options>();
    CLI::App* cmd = experiments->add_subcommand("create", "Create an experiment");
    cmd->add_option("NAME", o->name, "Experiment name")->required();
    cmd->add_flag("--json", o->json, "Print the experiment as JSON");
    cmd->footer("Examples:\n  agnx experiments create lenet");
    registry.add(cmd, [o, &globals, io]() -> int {
      auto client = connect(globals);
      if (!client.ok()) return fail(io, client.status());
      auto experiment = client->create_experiment(o->name);
      if (!experiment.ok()) return fail(io, experiment.status());
      if (o->json) {
        print_json(io, experiment_json(*experiment));
      } else {
        io.out << "created experiment " << experiment->name() << " (id " << experiment->experiment_id() << ")\n";
      }
      return kExitOk;
    });
  }
}

// -------------------------------------------------------------------- jobs

void add_jobs(CLI::App& app, Registry& registry, const Globals& globals, const Io& io) {
  CLI::App* jobs = app.add_subcommand("jobs", "Show or cancel matching jobs");
  jobs->require_subcommand(1);
  jobs->footer("Examples:\n  agnx jobs show 12\n  agnx jobs cancel 12");
  for (const bool cancel : {false, true}) {
    struct Options {
      int64_t job_id = 0;
      bool json = false;
    };
    auto o = std::make_shared<Options>();
    CLI::App* cmd = jobs->add_subcommand(cancel ? "cancel" : "show", cancel ? "Cancel a job" : "Show a job");
    add_whole_number(cmd, "JOB", o->job_id, "Job id", 1, INT64_MAX)->required();
    cmd->add_flag("--json", o->json, "Print the job as JSON");
    cmd->footer(cancel ? "Examples:\n  agnx jobs cancel 12" : "Examples:\n  agnx jobs show 12 --json");
    registry.add(cmd, [o, cancel, &globals, io]() -> int {
      auto client = connect(globals);
      if (!client.ok()) return fail(io, client.status());
      auto job = cancel ? client->cancel_job(o->job_id) : client->get_job(o->job_id);
      if (!job.ok()) return fail(io, job.status());
      if (o->json) {
        print_json(io, job_json(*job));
      } else {
        if (cancel) io.out << cancel_outcome(*job) << "\n";
        print_job(io, *job);
      }
      return kExitOk;
    });
  }
}

// --------------------------------------------------------------------- log

void add_log(CLI::App& app, Registry& registry, const Globals& globals, const Io& io) {
  CLI::App* log = app.add_subcommand("log", "Log a metric, a param or a tag to a run (for shell scripts)");
  log->require_subcommand(1);
  log->footer("Examples:\n  agnx log metric RUN_ID accuracy 0.91 --step 3\n  agnx log param RUN_ID optimizer adam\n"
              "  agnx log tag RUN_ID stage tuned");
  for (const std::string kind : {"metric", "param", "tag"}) {
    struct Options {
      std::string run_id, key, value;
      double number = 0.0;
      int64_t step = 0, timestamp = 0;
      bool json = false;
    };
    auto o = std::make_shared<Options>();
    CLI::App* cmd = log->add_subcommand(kind, "Log a " + kind);
    cmd->add_option("RUN", o->run_id, "Run id")->required();
    cmd->add_option("KEY", o->key, "Key")->required();
    if (kind == "metric") {
      add_number(cmd, "VALUE", o->number, "A finite number", {})->required();
      add_whole_number(cmd, "--step", o->step, "Step", 0, INT64_MAX)->default_str("0");
      add_whole_number(cmd, "--timestamp", o->timestamp,
                       "Milliseconds since the epoch, up to the year 9999 (0: the server's time)", 0,
                       kMaxTimestampMs);
      cmd->footer("Examples:\n  agnx log metric RUN_ID accuracy 0.91 --step 3");
    } else {
      cmd->add_option("VALUE", o->value, "Value")->required();
      cmd->footer("Examples:\n  agnx log " + kind + " RUN_ID optimizer adam");
    }
    cmd->add_flag("--json", o->json, "Print what was logged as JSON");
    registry.add(cmd, [o, kind, &globals, io]() -> int {
      auto client = connect(globals);
      if (!client.ok()) return fail(io, client.status());
      Status status;
      if (kind == "metric") {
        status = client->log_metric(o->run_id, o->key, o->number, o->step, o->timestamp);
      } else if (kind == "param") {
        status = client->log_param(o->run_id, o->key, o->value);
      } else {
        status = client->set_tag(o->run_id, o->key, o->value);
      }
      if (!status.ok()) return fail(io, status);
      if (o->json) {
        json out = {{"run_id", o->run_id}, {"kind", kind}, {"key", o->key}};
        if (kind == "metric") {
          out["value"] = o->number;
          out["step"] = o->step;
        } else {
          out["value"] = o->value;
        }
        print_json(io, out);
      } else {
        io.out << "logged " << kind << " " << o->key << " = " << (kind == "metric" ? number(o->number) : o->value)
               << " to run " << o->run_id << '\n';
      }
      return kExitOk;
    });
  }
}

}  // namespace

int fail(const Io& io, const client::Status& status) {
  io.err << "agnx: " << status.to_string() << '\n';
  return kExitFailure;
}

int usage_error(const Io& io, const std::string& message) {
  io.err << "agnx: " << message << "\nRun with --help for more information.\n";
  return kExitUsage;
}

int run(int argc, const char* const* argv, const Io& io, const std::vector<AddCommand>& extra) {
  CLI::App app("agnx: energy-saving approximate multipliers per layer, with experiment tracking", "agnx");
  Globals globals;
  app.add_option("--server,-s", globals.server, "Server address host:port")
      ->envname("AGNX_SERVER")
      ->capture_default_str();
  app.add_option("--token", globals.token, "Bearer token sent with every call (never printed)")
      ->envname("AGNX_TOKEN");
  app.add_flag("--tls", globals.tls, "Connect with TLS (system root certificates)");
  app.add_option("--tls-ca", globals.tls_ca, "Connect with TLS, trusting the CA certificates of this PEM file");
  add_number(&app, "--timeout", globals.timeout_seconds, "Deadline of each call in seconds, up to a year (0: none)",
             {.min = 0.0, .max = kMaxTimeoutSeconds})
      ->default_str(number(globals.timeout_seconds));
  app.fallthrough();
  app.require_subcommand(1);
  app.footer(R"(Examples:
  agnx experiments create lenet
  agnx submit --experiment lenet --model lenet5.pt --calib calib.npy --lambda 0.5 --wait
  agnx sweep -e lenet --model float.pt --train-x x.npy --train-y y.npy --calib calib.npy --lambdas 0.5,1 --wait
  agnx runs list --experiment lenet
  agnx runs show RUN_ID --json
  agnx energy --experiment lenet
  agnx match --model lenet5.pt --calib calib.npy --library-dir ./evoapprox --json

The server is --server, else $AGNX_SERVER, else 127.0.0.1:50051; the token --token or $AGNX_TOKEN
(prefer $AGNX_TOKEN: other users can see command lines).
Exit codes: 0 success; 1 usage error (an unknown option or command, a missing argument, options that
do not go together); 2 an invalid value (a number out of range, not a number, a malformed --sigma),
or a server or input error.)");

  Registry registry;
  add_submit(app, registry, globals, io);
  add_runs(app, registry, globals, io);
  add_energy(app, registry, globals, io);
  add_experiments(app, registry, globals, io);
  add_multipliers_commands(app, registry, globals, io);
  add_jobs(app, registry, globals, io);
  add_log(app, registry, globals, io);
  add_training_commands(app, registry, globals, io);
  for (const auto& add : extra) {
    auto [cmd, action] = add(app, io);
    registry.add(cmd, std::move(action));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (dynamic_cast<const CLI::ValidationError*>(&e) || dynamic_cast<const CLI::ConversionError*>(&e)) {
      return fail(io, Status(grpc::StatusCode::INVALID_ARGUMENT, e.what()));
    }
    const int code = app.exit(e, io.out, io.err);
    return code == 0 ? kExitOk : kExitUsage;
  }
  for (auto& [cmd, action] : registry.actions) {
    if (cmd->parsed()) return action();
  }
  return usage_error(io, "no command given");
}

}  // namespace agnx::cli
