// agnx search, agnx retrain and agnx sweep: the training jobs of the
// Training service (proto: service Training).
#include <filesystem>
#include <memory>
#include <string>

#include "client/cli/commands.h"
#include "client/cli/format.h"

namespace agnx::cli {
namespace {

constexpr uint64_t kMaxEpochs = 1000;

// What every training command uploads and how it reports.
struct TrainingFiles {
  std::string experiment, run_name, train_x, train_y, test_x, test_y, uint8;
  uint64_t seed = 0;
  bool wait = false, json = false;
};

void add_common(CLI::App* cmd, TrainingFiles& f, bool needs_experiment) {
  auto* experiment = cmd->add_option("--experiment,-e", f.experiment, "Experiment name (created if missing)");
  if (needs_experiment) experiment->required();
  cmd->add_option("--run-name", f.run_name, "Name of the run");
  cmd->add_option("--train-x", f.train_x, "Training inputs (.npy float32/float64 or torch.save)")->required();
  cmd->add_option("--train-y", f.train_y, "Training labels (.npy integers)")->required();
  cmd->add_option("--test-x", f.test_x, "Test inputs for accuracies (.pt or .npy)");
  cmd->add_option("--test-y", f.test_y, "Test labels (.pt or .npy)");
  cmd->add_option("--uint8", f.uint8,
                  "SCALE,MEAN,STD: --train-x/--test-x may be uint8 .npy images, read as (pixel * SCALE - MEAN) / "
                  "STD, e.g. 0.00392156862745098,0.2860,0.3530 for Fashion-MNIST");
  add_whole_number(cmd, "--seed", f.seed, "Seed of shuffling, noise and the sample draw", 0, UINT64_MAX)
      ->default_str("0");
  cmd->add_flag("--wait,-w", f.wait, "Watch the job's progress (epoch and batch), then print the result");
  cmd->add_flag("--json", f.json, "Print JSON");
}

// The uploads, with every named file checked to exist.
Result<client::TrainingInputs> training_inputs(const TrainingFiles& f, const std::string& model,
                                               const std::string& calibration) {
  if (f.test_x.empty() != f.test_y.empty()) {
    return Status(grpc::StatusCode::INVALID_ARGUMENT, "--test-x and --test-y go together");
  }
  for (const auto& path : {model, calibration, f.train_x, f.train_y, f.test_x, f.test_y}) {
    std::error_code ec;
    if (!path.empty() && !std::filesystem::is_regular_file(path, ec)) {
      return Status(grpc::StatusCode::NOT_FOUND, path + ": no such file");
    }
  }
  const auto optional_file = [](const std::string& path) {
    return path.empty() ? std::nullopt : std::optional(client::UploadSource::file(path));
  };
  client::TrainingInputs inputs;
  inputs.model = optional_file(model);
  inputs.train_x = client::UploadSource::file(f.train_x);
  inputs.train_y = client::UploadSource::file(f.train_y);
  inputs.calibration = optional_file(calibration);
  inputs.test_x = optional_file(f.test_x);
  inputs.test_y = optional_file(f.test_y);
  return inputs;
}

// --uint8 SCALE,MEAN,STD. Errors: INVALID_ARGUMENT naming the option.
Result<pb::Uint8Normalization> uint8_normalization(const std::string& text) {
  const std::vector<std::string> parts = split_list({text});
  std::vector<double> values;
  for (const std::string& part : parts) {
    if (const auto value = parse_finite(part)) values.push_back(*value);
  }
  if (values.size() != 3 || parts.size() != 3 || values[0] <= 0.0 || values[2] <= 0.0) {
    return Status(grpc::StatusCode::INVALID_ARGUMENT,
                  "--uint8: '" + text + "' is not SCALE,MEAN,STD (three finite numbers, SCALE and STD > 0)");
  }
  pb::Uint8Normalization normalization;
  normalization.set_scale(values[0]);
  normalization.set_mean(values[1]);
  normalization.set_std(values[2]);
  return normalization;
}

Result<pb::TrainingHeader> header_of(const std::string& kind, const TrainingFiles& f) {
  pb::TrainingHeader header;
  header.set_kind(kind);
  header.set_experiment(f.experiment);
  header.set_run_name(f.run_name);
  header.set_seed(f.seed);
  header.set_idempotency_key(client::new_idempotency_key());
  if (!f.uint8.empty()) {
    auto normalization = uint8_normalization(f.uint8);
    if (!normalization.ok()) return normalization.status();
    *header.mutable_uint8_inputs() = *normalization;
  }
  return header;
}

// Submits, then (with --wait) follows the job and prints `result(run_id)`.
int submit_and_report(const Globals& globals, const Io& io, const TrainingFiles& f, const pb::TrainingHeader& header,
                      const Result<client::TrainingInputs>& inputs,
                      const std::function<Result<json>(const Client&, const std::string&)>& result,
                      const std::function<void(const json&)>& print_table_of) {
  if (!inputs.ok()) return fail(io, inputs.status());
  auto client = connect(globals);
  if (!client.ok()) return fail(io, client.status());
  auto submitted = client->submit_training(header, *inputs);
  if (!submitted.ok()) return fail(io, submitted.status());
  const json ids{{"run_id", submitted->run_id()}, {"job_id", submitted->job_id()}};
  if (!f.wait) {
    if (f.json) {
      print_json(io, ids);
    } else {
      io.out << "run_id: " << submitted->run_id() << "\njob_id: " << submitted->job_id() << '\n';
    }
    return kExitOk;
  }
  if (!f.json) io.out << "run_id: " << submitted->run_id() << "\njob_id: " << submitted->job_id() << '\n' << std::flush;
  if (const Status followed = follow_job(*client, submitted->job_id(), io); !followed.ok()) return fail(io, followed);
  auto value = result(*client, submitted->run_id());
  if (!value.ok()) return fail(io, value.status());
  if (f.json) {
    print_json(io, *value);
  } else {
    print_table_of(*value);
  }
  return kExitOk;
}

// The latest value of every metric of `run_id` whose key starts with `prefix`, without it.
Result<std::map<std::string, double>> metrics_with_prefix(const Client& client, const std::string& run_id,
                                                          const std::string& prefix) {
  auto run = client.get_run(run_id);
  if (!run.ok()) return run.status();
  std::map<std::string, double> values;
  for (const auto& m : run->metrics()) {
    if (m.key().rfind(prefix, 0) == 0) values[m.key().substr(prefix.size())] = m.value();
  }
  return values;
}

// ------------------------------------------------------------------ search

void add_search(CLI::App& app, Registry& registry, const Globals& globals, const Io& io) {
  struct Options : TrainingFiles {
    std::string model;
    double lambda = 0.5;
    uint32_t epochs = 1;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("search", "AGN gradient search: learn each layer's sigma on a float model");
  cmd->add_option("--model,-m", o->model, "Float TorchScript snapshot (.pt)")->required();
  add_number(cmd, "--lambda", o->lambda, "Weight of the noise reward (>= 0): larger learns larger sigma", {.min = 0.0})
      ->default_str("0.5");
  add_whole_number(cmd, "--epochs", o->epochs, "Training epochs", 1, kMaxEpochs)->default_str("1");
  add_common(cmd, *o, true);
  cmd->footer(R"(Examples:
  agnx search -e lenet --model lenet5.pt --train-x train_x.npy --train-y train_y.npy --lambda 0.5 --wait
  agnx search -e lenet -m lenet5.pt --train-x x.npy --train-y y.npy --lambda 2 --epochs 3 --wait --json

The run gets per-epoch metrics search.loss, search.cross_entropy, search.noise_term,
search.train_top1 and search.sigma.LAYER, and the model with its stdev buffers as the
artifact model/trained.pt (agnx runs show RUN; match it with agnx submit).
With --wait --json: {"run_id", "job_id", "sigma": {LAYER: S}}.)");
  registry.add(cmd, [o, &globals, io]() {
    auto made = header_of("search", *o);
    if (!made.ok()) return fail(io, made.status());
    pb::TrainingHeader header = *made;
    header.add_lambdas(o->lambda);
    header.set_search_epochs(o->epochs);
    return submit_and_report(
        globals, io, *o, header, training_inputs(*o, o->model, ""),
        [](const Client& client, const std::string& run_id) -> Result<json> {
          auto sigma = metrics_with_prefix(client, run_id, "search.sigma.");
          if (!sigma.ok()) return sigma.status();
          return json{{"run_id", run_id}, {"sigma", *sigma}};
        },
        [&io](const json& value) {
          std::vector<std::vector<std::string>> rows;
          for (const auto& [layer, sigma] : value.at("sigma").items()) rows.push_back({layer, number(sigma)});
          io.out << '\n';
          print_table(io.out, {"LAYER", "SIGMA"}, rows);
        });
  });
}

// ------------------------------------------------------------------ retrain

void add_retrain(CLI::App& app, Registry& registry, const Globals& globals, const Io& io) {
  struct Options : TrainingFiles {
    std::string source_run;
    uint32_t epochs = 3;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("retrain", "Approximate retraining of a matched run with its multipliers");
  cmd->add_option("--run", o->source_run, "The matched run (its model, selection and scales)")->required();
  add_whole_number(cmd, "--epochs", o->epochs, "Training epochs", 1, kMaxEpochs)->default_str("3");
  add_common(cmd, *o, false);
  cmd->footer(R"(Examples:
  agnx retrain --run RUN -e lenet --train-x train_x.npy --train-y train_y.npy --test-x x.npy --test-y y.npy --wait

A new run (in --experiment, default the matched run's) gets per-epoch metrics retrain.loss,
retrain.train_top1 and (with test data) retrain.test_top1, the retrained model
(model/trained.pt) and a matching result whose accuracies are the retrained model's.
With --wait --json: {"run_id", "source_run", "relative_energy", "top1": {"before", "after"}}.)");
  registry.add(cmd, [o, &globals, io]() {
    if (o->experiment.empty()) {
      auto client = connect(globals);
      if (!client.ok()) return fail(io, client.status());
      auto source = client->get_run(o->source_run);
      if (!source.ok()) return fail(io, source.status());
      auto experiments = client->list_experiments();
      if (!experiments.ok()) return fail(io, experiments.status());
      for (const auto& e : *experiments) {
        if (e.experiment_id() == source->info().experiment_id()) o->experiment = e.name();
      }
    }
    auto made = header_of("retrain", *o);
    if (!made.ok()) return fail(io, made.status());
    pb::TrainingHeader header = *made;
    header.set_source_run(o->source_run);
    header.set_retrain_epochs(o->epochs);
    const std::string source_run = o->source_run;
    return submit_and_report(
        globals, io, *o, header, training_inputs(*o, "", ""),
        [source_run](const Client& client, const std::string& run_id) -> Result<json> {
          auto before = client.get_matching_result(source_run);
          if (!before.ok()) return before.status();
          auto after = client.get_matching_result(run_id);
          if (!after.ok()) return after.status();
          json top1 = json::object();
          if (before->info().has_accuracy()) top1["before"] = before->info().accuracy().approximate_top1();
          if (after->info().has_accuracy()) top1["after"] = after->info().accuracy().approximate_top1();
          return json{{"run_id", run_id}, {"source_run", source_run},
                      {"relative_energy", after->info().relative_energy_consumption()}, {"top1", top1}};
        },
        [&io](const json& value) {
          std::vector<std::vector<std::string>> rows{{"relative_energy", number(value.at("relative_energy"))}};
          for (const auto& [which, top1] : value.at("top1").items()) rows.push_back({"top1 " + which, number(top1)});
          io.out << '\n';
          print_table(io.out, {"FIGURE", "VALUE"}, rows);
        });
  });
}

// ------------------------------------------------------------------ sweep

void print_sweep(const Io& io, const json& sweep) {
  std::vector<std::vector<std::string>> rows;
  const auto& pareto = sweep.at("pareto");
  for (std::size_t i = 0; i < sweep.at("points").size(); ++i) {
    const json& p = sweep.at("points")[i];
    const json& top1 = p.at("top1");
    const auto cell = [&](const char* key) { return top1.contains(key) ? number(top1.at(key)) : std::string("-"); };
    const bool front = std::find(pareto.begin(), pareto.end(), i) != pareto.end();
    rows.push_back({number(p.at("lambda")), number(p.at("relative_energy")), cell("float"), cell("quantized"),
                    cell("approximate"), cell("retrained"), front ? "*" : "", p.at("run_id")});
  }
  io.out << '\n';
  print_table(io.out, {"LAMBDA", "ENERGY", "FLOAT", "QUANTIZED", "APPROXIMATE", "RETRAINED", "PARETO", "RUN"}, rows);
}

void add_sweep(CLI::App& app, Registry& registry, const Globals& globals, const Io& io) {
  struct Options : TrainingFiles {
    std::string model, calib, library;
    std::vector<std::string> lambdas;
    uint32_t search_epochs = 1, retrain_epochs = 3;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("sweep", "Per lambda: AGN search, match, retrain, evaluate (one child run each)");
  cmd->add_option("--model,-m", o->model, "Float TorchScript snapshot (.pt)")->required();
  cmd->add_option("--calib,-c", o->calib, "Calibration inputs for matching (.pt or .npy)")->required();
  cmd->add_option("--lambdas", o->lambdas, "Lambdas (>= 0), comma-separated, e.g. 0.25,0.5,1,2")->required();
  cmd->add_option("--library", o->library, "Multiplier library (server default: builtin)");
  add_whole_number(cmd, "--search-epochs", o->search_epochs, "AGN search epochs per lambda", 1, kMaxEpochs)
      ->default_str("1");
  add_whole_number(cmd, "--retrain-epochs", o->retrain_epochs, "Retraining epochs per lambda", 1, kMaxEpochs)
      ->default_str("3");
  add_common(cmd, *o, true);
  cmd->footer(R"(Examples:
  agnx sweep -e lenet --model lenet5.pt --train-x X.npy --train-y Y.npy --calib C.npy \
      --test-x TX.npy --test-y TY.npy --lambdas 0.25,0.5,1,2 --wait
  agnx sweep ... --library evoapprox --search-epochs 1 --retrain-epochs 3 --seed 1 --wait --json

The sweep's run gets one child run per lambda (tag mlflow.parentRunId). With --wait,
progress names lambda i of n, the stage, epoch and batch; then the points table, the
Pareto front (relative energy against retrained top-1) marked *. With --wait --json:
{"run_id", "points": [{"lambda", "run_id", "sigma": {LAYER: S}, "relative_energy",
  "top1": {"float", "quantized", "approximate", "retrained"}}], "pareto": [INDEX]}
(top-1 as fractions; "approximate" is before retraining).)");
  registry.add(cmd, [o, &globals, io]() {
    auto made = header_of("sweep", *o);
    if (!made.ok()) return fail(io, made.status());
    pb::TrainingHeader header = *made;
    for (const std::string& text : split_list(o->lambdas)) {
      const auto lambda = parse_finite(text);
      if (!lambda || *lambda < 0.0) {
        return fail(io, Status(grpc::StatusCode::INVALID_ARGUMENT,
                               "--lambdas: '" + text + "' is not a finite number >= 0"));
      }
      header.add_lambdas(*lambda);
    }
    header.set_library(o->library);
    header.set_search_epochs(o->search_epochs);
    header.set_retrain_epochs(o->retrain_epochs);
    return submit_and_report(
        globals, io, *o, header, training_inputs(*o, o->model, o->calib),
        [](const Client& client, const std::string& run_id) -> Result<json> {
          auto sweep = client.get_sweep(run_id);
          if (!sweep.ok()) return sweep.status();
          return json::parse(sweep->json());
        },
        [&io](const json& value) { print_sweep(io, value); });
  });
}

}  // namespace

void add_training_commands(CLI::App& app, Registry& registry, const Globals& globals, const Io& io) {
  add_search(app, registry, globals, io);
  add_retrain(app, registry, globals, io);
  add_sweep(app, registry, globals, io);
}

}  // namespace agnx::cli
