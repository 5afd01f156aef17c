// dashboard_fixture: fills a tracking store with REAL matching runs of the
// LeNet5 fixture and serves the dashboard from it (for the browser test and
// for looking at the dashboard by hand).
//
//   dashboard_fixture --data DIR [--serve] [--token T] [--tls-cert PEM --tls-key PEM] [--test-images N]
//                     [--lambdas 0.1,0.25,0.5,1]
//
// For each lambda: the LeNet5 model of ../shared/models is captured on 64
// calibration images with the reference sample rows, each layer's trained
// sigma (learned at lambda 0.5) is scaled by lambda / 0.5, core's selection
// runs over the signed EvoApprox library, and the result is evaluated on the
// first N test images (float, quantized and approximate top-1/top-5). Each
// becomes a FINISHED run "lambda=L" of experiment "lenet5_fmnist" with params
// (lambda as given, sigma_scale, model, library, test_images), metrics (the
// accuracies, relative_energy) and its matching result. Experiment
// "lenet5_fmnist_burst" holds three more such runs, all created before the
// first is matched (as the server stores submissions before their jobs run),
// so their ids share a long prefix: two named "lenet5" at lambda "0.8" and
// "0.01", one unnamed at lambda "1e-7", which the lambda 0.01 run dominates
// (off the Pareto front). Experiment "lenet5_fmnist_sweep" holds a sweep
// over lambdas 0.25, 0.5 and 1 with three children whose matching is real but
// whose retraining figures are FABRICATED fixture data (see fill_sweep). Two
// job rows (one RUNNING, one SUCCEEDED) are added so the jobs page has something to show. A store
// that already holds the experiment "lenet5_fmnist" is served as it is.
//
// With --serve it starts the dashboard on 127.0.0.1 (ephemeral port), prints
// "port N" on stdout and serves until stdin closes or SIGTERM/SIGINT; --token
// makes the API require that bearer token (a reader's, at least 16 characters); --tls-cert and --tls-key
// serve HTTPS only, with that certificate chain and key. While serving, the RUNNING job's
// progress advances by 0.01 every 0.5 s (from 0.99 back to 0.6), so the jobs
// page has live progress to show whenever a test looks.
// Exit code 77: ../shared is missing (the caller skips).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/capture.h"
#include "core/dataset.h"
#include "core/deploy.h"
#include "core/lut_directory.h"
#include "core/model.h"
#include "core/number_text.h"
#include "server/http/http_server.h"
#include "server/training_job.h"
#include "store/sqlite_store.h"
#include "tests/support/shared_data.h"

namespace agnx {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The LeNet5 fixture, captured once: every run matches and evaluates it at its own lambda.
struct LeNet5 {
  Model model;
  MultiplierLibrary library;
  std::vector<LayerCapture> captures;
  CaptureOptions options;
  FloatTensor test_x;
  std::vector<int64_t> test_y;
};

constexpr double kTrainedLambda = 0.5;  // models/lenet5_fmnist.json "lambda"

Result<LeNet5> load_lenet5(const std::filesystem::path& shared, int64_t test_images) {
  const auto reference = testing::read_json_file(shared / "reference/lenet5_fmnist/lenet5_fmnist.matching.json");
  CaptureOptions options;
  options.num_threads = 2;
  options.num_samples = reference.at("num_samples").get<std::size_t>();
  for (const auto& layer : reference.at("layers")) {
    options.sample_rows[layer.at("name").get<std::string>()] = layer.at("sample_rows").get<std::vector<uint64_t>>();
  }
  AGNX_ASSIGN_OR_RETURN(Model model, Model::load_file(shared / "models/lenet5_fmnist_stdev.pt"));
  AGNX_ASSIGN_OR_RETURN(FloatTensor calibration, load_inputs(shared / "models/lenet5_fmnist_calib.npy"));
  const int64_t image = static_cast<int64_t>(calibration.values.size()) / calibration.batch();
  calibration.shape[0] = 64;
  calibration.values.resize(static_cast<std::size_t>(64 * image));
  AGNX_ASSIGN_OR_RETURN(FloatTensor test_x, load_inputs(shared / "models/lenet5_fmnist_test_x.npy"));
  AGNX_ASSIGN_OR_RETURN(std::vector<int64_t> test_y, load_labels(shared / "models/lenet5_fmnist_test_y.npy"));
  if (test_images > 0 && test_images < test_x.batch()) {
    test_x.shape[0] = test_images;
    test_x.values.resize(static_cast<std::size_t>(test_images * image));
    test_y.resize(static_cast<std::size_t>(test_images));
  }
  AGNX_ASSIGN_OR_RETURN(const MultiplierLibrary all, load_lut_directory(shared / "evoapprox"));
  MultiplierLibrary library = all.filtered(all.name() + " signed", [](const auto& m) { return m.is_signed(); });
  AGNX_ASSIGN_OR_RETURN(std::vector<LayerCapture> captures, capture_layers(model, calibration, options));
  return LeNet5{std::move(model), std::move(library), std::move(captures), std::move(options), std::move(test_x),
                std::move(test_y)};
}

// The fixture matched at `lambda` (each layer's trained sigma scaled by
// lambda / kTrainedLambda) and evaluated on the test images: accuracy set.
Result<MatchingInfo> match_at(const LeNet5& lenet, double lambda) {
  const double scale = lambda / kTrainedLambda;
  std::vector<LayerStats> stats;
  for (const auto& capture : lenet.captures) {
    stats.push_back(capture.stats);
    stats.back().sigma *= scale;
  }
  AGNX_ASSIGN_OR_RETURN(MatchingInfo info, select_multipliers(stats, lenet.library, {.num_threads = 2}));
  info.seed = lenet.options.seed;
  info.num_samples = lenet.options.num_samples;
  for (std::size_t i = 0; i < lenet.captures.size(); ++i) {
    const LayerCapture& capture = lenet.captures[i];
    info.layers[i].rows = capture.rows;
    info.layers[i].input_scale = capture.input_scale;
    info.layers[i].weight_scale = capture.weight_scale;
    info.layers[i].x_dist_global.assign(capture.x_dist_global.begin(), capture.x_dist_global.end());
  }
  AGNX_ASSIGN_OR_RETURN(const ModelAccuracy accuracy,
                        evaluate_accuracy(lenet.model, info, lenet.library, lenet.test_x, lenet.test_y,
                                          {.batch_size = 250, .num_threads = 2, .on_progress = {}}));
  info.accuracy = accuracy;
  return info;
}

// Matches the fixture at `lambda_text` (the param as a user gave it), evaluates
// the result and logs it to `run_id`, which it finishes.
Status match_into_run(store::TrackingStore& store, const LeNet5& lenet, const std::string& run_id,
                      const std::string& lambda_text) {
  const auto started = now_ms();
  const double lambda = std::stod(lambda_text);
  AGNX_ASSIGN_OR_RETURN(const MatchingInfo info, match_at(lenet, lambda));
  const ModelAccuracy& accuracy = *info.accuracy;
  store::RunBatch batch;
  std::ostringstream scale_text;
  scale_text << lambda / kTrainedLambda;
  batch.params = {{"lambda", lambda_text},
                  {"sigma_scale", scale_text.str()},
                  {"model", "lenet5_fmnist"},
                  {"library", lenet.library.name()},
                  {"test_images", std::to_string(lenet.test_x.batch())}};
  const int64_t t = now_ms();
  for (const auto& [key, value] :
       {std::pair{"float_top1", accuracy.float_top1}, {"float_top5", accuracy.float_top5},
        {"quantized_top1", accuracy.quantized_top1}, {"quantized_top5", accuracy.quantized_top5},
        {"approximate_top1", accuracy.approximate_top1}, {"approximate_top5", accuracy.approximate_top5},
        {"relative_energy", info.relative_energy_consumption()}}) {
    batch.metrics.push_back({key, value, t, 0});
  }
  AGNX_RETURN_IF_ERROR(store.log_matching(run_id, {lambda, info}, batch));
  AGNX_RETURN_IF_ERROR(store.update_run(run_id, store::RunStatus::kFinished, now_ms()));
  std::cerr << "dashboard_fixture: lambda " << lambda_text << ": relative energy "
            << info.relative_energy_consumption() << ", approximate top-1 " << accuracy.approximate_top1 << " ("
            << now_ms() - started << " ms)\n";
  return {};
}

// Three runs created back to back, as from submissions moments apart: their
// ids share their leading digits. Two carry the same name; lambda 1e-7 (the
// exact multipliers) is dominated by lambda 0.01, so it lies off the front.
Status fill_burst(store::TrackingStore& store, const LeNet5& lenet) {
  AGNX_ASSIGN_OR_RETURN(const int64_t experiment, store.create_experiment("lenet5_fmnist_burst"));
  const std::pair<std::string, std::string> submissions[] = {{"lenet5", "0.8"}, {"lenet5", "0.01"}, {"", "1e-7"}};
  std::vector<std::string> run_ids;
  for (const auto& [name, lambda] : submissions) {
    AGNX_ASSIGN_OR_RETURN(const store::RunInfo run, store.create_run(experiment, name, "fixture", now_ms()));
    run_ids.push_back(run.run_id);
  }
  for (std::size_t i = 0; i < run_ids.size(); ++i) {
    AGNX_RETURN_IF_ERROR(match_into_run(store, lenet, run_ids[i], submissions[i].second));
  }
  return {};
}

// ---- the sweep: FIXTURE DATA where training would take too long ----------
//
// A sweep as the sweep job leaves it (server/training_job.cc), in experiment
// "lenet5_fmnist_sweep": a FINISHED run "sweep" (tag agnx.kind = sweep, param
// lambdas) and one FINISHED child per lambda (tags mlflow.parentRunId,
// agnx.sweep_index, agnx.kind = sweep_point; params lambda, sigma.LAYER,
// library, search_epochs, retrain_epochs, seed). Each child's matching result
// and its accuracies before retraining are REAL (match_at). Everything that
// training would produce is FABRICATED, not trained: the retrained top-1
// (fabricated_retrained_top1) and the per-epoch search.* and retrain.* curves
// (fabricated_epochs), shaped like real ones and ending at the child's sigmas
// and retrained top-1.

// Each point's lambda and the FABRICATED share of the top-1 lost to the
// approximate multipliers that its retraining wins back. Lambda 0.5's
// retraining does worse (as an unlucky seed might), so that lambda 1 beats it
// in energy and retrained top-1: one point off the sweep's front.
struct SweepPoint {
  const char* lambda;
  double recovered;
};
constexpr SweepPoint kSweepPoints[] = {{"0.25", 0.8}, {"0.5", 0.3}, {"1", 0.8}};
constexpr int kSweepSearchEpochs = 4;
constexpr int kSweepRetrainEpochs = 3;

// FABRICATED: the top-1 after retraining.
double fabricated_retrained_top1(const ModelAccuracy& a, double recovered) {
  return a.approximate_top1 + recovered * std::max(0.0, a.quantized_top1 - a.approximate_top1);
}

// FABRICATED per-epoch figures (step = epoch, from 1): the search's loss
// falling and its sigmas growing to the matched ones, the retraining's test
// top-1 rising from the approximate top-1 to `retrained`.
std::vector<store::Metric> fabricated_epochs(const MatchingInfo& info, double lambda, double retrained) {
  std::vector<store::Metric> metrics;
  const int64_t t = now_ms();
  for (int e = 1; e <= kSweepSearchEpochs; ++e) {
    const double f = static_cast<double>(e) / kSweepSearchEpochs;
    const double cross_entropy = 0.32 + 0.3 * (1.0 - f), noise_term = -0.05 * lambda * (1.0 + f);
    metrics.push_back({"search.cross_entropy", cross_entropy, t, e});
    metrics.push_back({"search.noise_term", noise_term, t, e});
    metrics.push_back({"search.loss", cross_entropy + noise_term, t, e});
    metrics.push_back({"search.train_top1", 0.78 + 0.1 * f, t, e});
    for (const LayerInfo& layer : info.layers) {
      metrics.push_back({"search.sigma." + layer.name, layer.sigma * (0.4 + 0.6 * f), t, e});
    }
  }
  for (int e = 1; e <= kSweepRetrainEpochs; ++e) {
    const double f = static_cast<double>(e) / kSweepRetrainEpochs;
    const double cross_entropy = 0.45 - 0.12 * f;
    metrics.push_back({"retrain.cross_entropy", cross_entropy, t, e});
    metrics.push_back({"retrain.loss", cross_entropy, t, e});
    metrics.push_back({"retrain.train_top1", 0.8 + 0.07 * f, t, e});
    metrics.push_back({"retrain.test_top1",
                       info.accuracy->approximate_top1 + f * (retrained - info.accuracy->approximate_top1), t, e});
  }
  return metrics;
}

// One child of the sweep: real matching at `lambda_text`, fabricated training figures.
Status fill_sweep_child(store::TrackingStore& store, const LeNet5& lenet, const store::RunInfo& parent,
                        std::size_t index, const SweepPoint& point) {
  const std::string lambda_text = point.lambda;
  const double lambda = std::stod(lambda_text);
  AGNX_ASSIGN_OR_RETURN(
      const store::RunInfo child,
      store.create_run(parent.experiment_id, parent.run_name + " lambda=" + lambda_text, "fixture", now_ms()));
  AGNX_ASSIGN_OR_RETURN(const MatchingInfo info, match_at(lenet, lambda));
  const ModelAccuracy& accuracy = *info.accuracy;
  const double retrained = fabricated_retrained_top1(accuracy, point.recovered);
  store::RunBatch batch;
  batch.tags = {{server::kParentRunTag, parent.run_id},
                {server::kSweepIndexTag, std::to_string(index)},
                {"agnx.kind", "sweep_point"}};
  batch.params = {{"lambda", lambda_text},
                  {"library", lenet.library.name()},
                  {"search_epochs", std::to_string(kSweepSearchEpochs)},
                  {"retrain_epochs", std::to_string(kSweepRetrainEpochs)},
                  {"seed", "0"}};
  for (const LayerInfo& layer : info.layers) batch.params["sigma." + layer.name] = round_trip_text(layer.sigma);
  batch.metrics = fabricated_epochs(info, lambda, retrained);
  const int64_t t = now_ms();
  for (const auto& [key, value] : {std::pair{"relative_energy", info.relative_energy_consumption()},
                                   {"float_top1", accuracy.float_top1},
                                   {"quantized_top1", accuracy.quantized_top1},
                                   {"approximate_top1", accuracy.approximate_top1},
                                   {"retrained_top1", retrained}}) {
    batch.metrics.push_back({key, value, t, 0});
  }
  AGNX_RETURN_IF_ERROR(store.log_matching(child.run_id, {lambda, info}, batch));
  return store.update_run(child.run_id, store::RunStatus::kFinished, now_ms());
}

Status fill_sweep(store::TrackingStore& store, const LeNet5& lenet) {
  AGNX_ASSIGN_OR_RETURN(const int64_t experiment, store.create_experiment("lenet5_fmnist_sweep"));
  AGNX_ASSIGN_OR_RETURN(const store::RunInfo parent, store.create_run(experiment, "sweep", "fixture", now_ms()));
  std::string lambdas;
  for (const SweepPoint& point : kSweepPoints) lambdas += (lambdas.empty() ? "" : ",") + std::string(point.lambda);
  store::RunBatch batch;
  batch.tags = {{"agnx.kind", server::kSweepKind}};
  batch.params = {{"lambdas", lambdas}};
  AGNX_RETURN_IF_ERROR(store.log_batch(parent.run_id, batch));
  for (std::size_t i = 0; i < std::size(kSweepPoints); ++i) {
    AGNX_RETURN_IF_ERROR(fill_sweep_child(store, lenet, parent, i, kSweepPoints[i]));
  }
  return store.update_run(parent.run_id, store::RunStatus::kFinished, now_ms());
}

Status fill(store::TrackingStore& store, const std::filesystem::path& shared, const std::vector<std::string>& lambdas,
            int64_t test_images) {
  AGNX_ASSIGN_OR_RETURN(const LeNet5 lenet, load_lenet5(shared, test_images));
  AGNX_ASSIGN_OR_RETURN(const int64_t experiment, store.create_experiment("lenet5_fmnist"));
  std::vector<std::string> run_ids;
  for (const std::string& lambda : lambdas) {
    AGNX_ASSIGN_OR_RETURN(const store::RunInfo run, store.create_run(experiment, "lambda=" + lambda, "fixture", now_ms()));
    AGNX_RETURN_IF_ERROR(match_into_run(store, lenet, run.run_id, lambda));
    run_ids.push_back(run.run_id);
  }
  AGNX_RETURN_IF_ERROR(fill_burst(store, lenet));
  AGNX_RETURN_IF_ERROR(fill_sweep(store, lenet));
  AGNX_ASSIGN_OR_RETURN(const int64_t done_job, store.create_job("matching", run_ids.front()));
  AGNX_RETURN_IF_ERROR(store.update_job(done_job, {store::JobState::kRunning, 0.0, std::nullopt}));
  AGNX_RETURN_IF_ERROR(store.update_job(done_job, {store::JobState::kSucceeded, 1.0, std::nullopt}));
  AGNX_ASSIGN_OR_RETURN(const int64_t running_job, store.create_job("matching", std::nullopt));
  return store.update_job(running_job, {store::JobState::kRunning, 0.6, std::nullopt});
}

int run(int argc, char** argv) {
  std::filesystem::path data;
  bool serve = false;
  std::string token;
  std::filesystem::path tls_cert, tls_key;
  int64_t test_images = 1000;
  std::vector<std::string> lambdas = {"0.1", "0.25", "0.5", "1"};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--data" && has_value) {
      data = argv[++i];
    } else if (arg == "--serve") {
      serve = true;
    } else if (arg == "--token" && has_value) {
      token = argv[++i];
    } else if (arg == "--tls-cert" && has_value) {
      tls_cert = argv[++i];
    } else if (arg == "--tls-key" && has_value) {
      tls_key = argv[++i];
    } else if (arg == "--test-images" && has_value) {
      test_images = std::stoll(argv[++i]);
    } else if (arg == "--lambdas" && has_value) {
      lambdas.clear();
      std::stringstream list(argv[++i]);
      for (std::string item; std::getline(list, item, ',');) {
        (void)std::stod(item);  // throws on a non-number before anything is stored
        lambdas.push_back(item);
      }
    } else {
      std::cerr << "usage: dashboard_fixture --data DIR [--serve] [--token T] [--tls-cert PEM --tls-key PEM] "
                   "[--test-images N] [--lambdas a,b,...]\n";
      return 2;
    }
  }
  if (data.empty() || lambdas.empty()) {
    std::cerr << "dashboard_fixture: --data DIR and at least one lambda are required\n";
    return 2;
  }
  const auto shared = testing::shared_dir();
  if (!shared) {
    std::cerr << "dashboard_fixture: reference material not found (../shared or AGNX_SHARED_DIR)\n";
    return 77;
  }
  store::SqliteStoreOptions store_options;
  store_options.data_dir = data;
  store_options.synchronous_full = false;
  auto opened = store::SqliteTrackingStore::open(store_options);
  if (!opened.ok()) {
    std::cerr << "dashboard_fixture: " << opened.status().to_string() << "\n";
    return 1;
  }
  store::TrackingStore& store = **opened;
  if (!store.get_experiment_by_name("lenet5_fmnist").ok()) {
    if (const Status filled = fill(store, *shared, lambdas, test_images); !filled.ok()) {
      std::cerr << "dashboard_fixture: " << filled.to_string() << "\n";
      return 1;
    }
  }
  if (!serve) return 0;

  // Block the stop signals before any thread starts, so sigwait gets them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  server::HttpOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_cert_file = tls_cert;
  options.tls_key_file = tls_key;
  if (!token.empty()) {
    auto tokens = server::TokenTable::parse(token + " dashboard reader\n", "--token");
    if (!tokens.ok()) {
      std::cerr << "dashboard_fixture: " << tokens.status().to_string() << "\n";
      return 1;
    }
    options.authenticator = std::make_shared<server::Authenticator>(std::move(*tokens));
  }
  auto server = server::HttpServer::start(store, options);
  if (!server.ok()) {
    std::cerr << "dashboard_fixture: " << server.status().to_string() << "\n";
    return 1;
  }
  std::cout << "port " << (*server)->port() << std::endl;
  std::thread stdin_watch([] {
    char c;
    while (::read(STDIN_FILENO, &c, 1) > 0) {
    }
    ::kill(::getpid(), SIGTERM);
  });
  stdin_watch.detach();
  std::atomic<bool> stopping = false;
  std::thread ticker([&store, &stopping] {
    while (!stopping) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      auto running = store.list_jobs(store::JobState::kRunning);
      if (!running.ok()) continue;
      for (const store::Job& job : *running) {
        const double next = job.progress < 0.99 ? job.progress + 0.01 : 0.6;  // keeps moving however long a test takes
        (void)store.update_job(job.job_id, {std::nullopt, next, std::nullopt});
      }
    }
  });
  int received = 0;
  sigwait(&signals, &received);
  stopping = true;
  ticker.join();
  (*server)->stop();
  return 0;
}

}  // namespace
}  // namespace agnx

int main(int argc, char** argv) { return agnx::run(argc, argv); }
