// The dashboard's JSON API and static files over HTTP on loopback.
#include "server/http/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/matching_json.h"
#include "server/http/http_api.h"
#include "server/training_job.h"
#include "store/sqlite_store.h"
#include "tests/support/http_client.h"
#include "tests/support/sample_matching.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"

namespace agnx::server {
namespace {

using nlohmann::json;
using testing::http_get;
using testing::http_raw;
using testing::HttpReply;
using testing::TempDir;
using testing::sample_matching;
using testing::url_encode;


class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteStoreOptions options;
    options.data_dir = dir_.path() / "data";
    options.synchronous_full = false;
    auto opened = store::SqliteTrackingStore::open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(*opened);
    experiment_ = *store_->create_experiment("lenet");
    // Two finished runs with matching results (lambda 0.1 and 0.5), one running without.
    for (const auto& [lambda, metric, top1] : {std::tuple{0.1, 20.0, 0.85}, {0.5, 10.0, 0.80}}) {
      auto run = store_->create_run(experiment_, "lambda-" + std::to_string(lambda), "alice",
                                    static_cast<int64_t>(1000 + lambda * 100));
      ASSERT_TRUE(run.ok());
      store::RunBatch batch;
      batch.params["lambda"] = std::to_string(lambda);
      batch.metrics.push_back({"approximate_top1", top1, 1, 0});
      batch.tags["team"] = "vision";
      ASSERT_TRUE(store_->log_matching(run->run_id, {lambda, sample_matching("evo", metric)}, batch).ok());
      ASSERT_TRUE(store_->update_run(run->run_id, store::RunStatus::kFinished, 2000).ok());
      finished_.push_back(run->run_id);
    }
    running_ = store_->create_run(experiment_, "running", "bob", 3000)->run_id;
    job_ = *store_->create_job("matching", running_);
    ASSERT_TRUE(store_->update_job(job_, {store::JobState::kRunning, 0.25, std::nullopt}).ok());
    store_->create_job("import", std::nullopt);

    start_server({});
  }

  void start_server(HttpOptions options) {
    server_.reset();
    options.listen = "127.0.0.1:0";
    auto started = HttpServer::start(*store_, options);
    ASSERT_TRUE(started.ok()) << started.status().to_string();
    server_ = std::move(*started);
    ASSERT_NE(server_->port(), 0);
  }

  HttpReply get(const std::string& target, const std::string& auth = "") { return http_get(server_->port(), target, auth); }

  json get_json(const std::string& target, int want_status = 200) {
    HttpReply reply = get(target);
    EXPECT_EQ(reply.status, want_status) << target << ": " << reply.body;
    EXPECT_EQ(reply.headers["content-type"], "application/json") << target;
    return json::parse(reply.body, nullptr, false);
  }

  // Expects an error status whose JSON message contains every one of `words`.
  void expect_error(const std::string& target, int status, std::initializer_list<std::string> words) {
    const json body = get_json(target, status);
    ASSERT_TRUE(body.is_object() && body.contains("error")) << target << ": " << body.dump();
    const std::string message = body["error"];
    for (const auto& w : words) EXPECT_NE(message.find(w), std::string::npos) << target << ": " << message;
  }

  TempDir dir_;
  std::unique_ptr<store::SqliteTrackingStore> store_;
  std::unique_ptr<HttpServer> server_;
  int64_t experiment_ = 0;
  std::vector<std::string> finished_;
  std::string running_;
  int64_t job_ = 0;
};

TEST_F(HttpApiTest, Experiments) {
  const json list = get_json("/api/experiments");
  ASSERT_EQ(list["experiments"].size(), 1u);
  EXPECT_EQ(list["experiments"][0]["name"], "lenet");
  EXPECT_EQ(list["experiments"][0]["experiment_id"], experiment_);
  EXPECT_EQ(list["experiments"][0]["lifecycle"], "active");
  EXPECT_EQ(get_json("/api/experiments?view=deleted")["experiments"].size(), 0u);
  EXPECT_EQ(get_json("/api/experiments?view=all")["experiments"].size(), 1u);
  expect_error("/api/experiments?view=gone", 400, {"'view'", "gone"});
  expect_error("/api/experiments?veiw=all", 400, {"'veiw'"});

  EXPECT_EQ(get_json("/api/experiments/" + std::to_string(experiment_))["name"], "lenet");
  expect_error("/api/experiments/999", 404, {"999"});
  expect_error("/api/experiments/abc", 400, {"experiment id", "abc"});
  expect_error("/api/experiments/12abc/runs", 400, {"experiment id"});
}

TEST_F(HttpApiTest, RunsSearchFilterOrderAndPages) {
  const std::string base = "/api/experiments/" + std::to_string(experiment_) + "/runs";
  json page = get_json(base);
  ASSERT_EQ(page["runs"].size(), 3u);
  EXPECT_EQ(page["next_page_token"], "");
  EXPECT_EQ(page["runs"][0]["info"]["run_name"], "running") << "default order: newest first";

  page = get_json(base + "?filter=" + url_encode("params.lambda = '0.500000' AND metrics.approximate_top1 > 0.5"));
  ASSERT_EQ(page["runs"].size(), 1u);
  EXPECT_EQ(page["runs"][0]["info"]["run_id"], finished_[1]);
  EXPECT_EQ(page["runs"][0]["params"]["lambda"], "0.500000");
  EXPECT_DOUBLE_EQ(page["runs"][0]["metrics"]["approximate_top1"]["value"], 0.80);
  EXPECT_EQ(page["runs"][0]["tags"]["team"], "vision");
  // '+' in a query is a space, as browsers' forms send it.
  EXPECT_EQ(get_json(base + "?filter=attributes.status+%3D+'FINISHED'")["runs"].size(), 2u);

  page = get_json(base + "?order_by=" + url_encode("metrics.approximate_top1 DESC"));
  ASSERT_EQ(page["runs"].size(), 3u);
  EXPECT_EQ(page["runs"][0]["info"]["run_id"], finished_[0]);
  EXPECT_EQ(page["runs"][2]["info"]["run_id"], running_) << "runs without the metric sort last";

  page = get_json(base + "?max_results=2");
  ASSERT_EQ(page["runs"].size(), 2u);
  const std::string token = page["next_page_token"];
  ASSERT_FALSE(token.empty());
  page = get_json(base + "?max_results=2&page_token=" + url_encode(token));
  ASSERT_EQ(page["runs"].size(), 1u);
  EXPECT_EQ(page["next_page_token"], "");

  expect_error(base + "?filter=" + url_encode("params.lambda == 1"), 400, {"'filter'", "position"});
  expect_error(base + "?filter=" + url_encode("metrics.x LIKE 'a'"), 400, {"'filter'"});
  expect_error(base + "?order_by=" + url_encode("bogus.key"), 400, {"'order_by'"});
  expect_error(base + "?max_results=2&page_token=nonsense", 400, {"'page_token'"});
  expect_error(base + "?max_results=0", 400, {"'max_results'", "[1, 50000]"});
  expect_error(base + "?max_results=50001", 400, {"'max_results'"});
  expect_error(base + "?max_results=ten", 400, {"'max_results'", "ten"});
  expect_error(base + "?view=sometimes", 400, {"'view'"});
  expect_error(base + "?max_results=1&max_results=2", 400, {"'max_results'", "more than once"});
  expect_error(base + "?limit=5", 400, {"'limit'"});
  expect_error(base + "?filter=%zz", 400, {"'filter'", "escape"});
  expect_error("/api/experiments/999/runs", 404, {"999"});
}

TEST_F(HttpApiTest, RunAndItsMatching) {
  const json run = get_json("/api/runs/" + finished_[0]);
  EXPECT_EQ(run["info"]["run_id"], finished_[0]);
  EXPECT_EQ(run["info"]["experiment_id"], experiment_);
  EXPECT_EQ(run["info"]["status"], "FINISHED");
  EXPECT_EQ(run["info"]["user_id"], "alice");
  EXPECT_EQ(run["info"]["end_time"], 2000);
  EXPECT_EQ(run["params"]["lambda"], "0.100000");
  EXPECT_DOUBLE_EQ(run["metrics"]["approximate_top1"]["value"], 0.85);
  EXPECT_EQ(run["tags"]["team"], "vision");
  EXPECT_TRUE(get_json("/api/runs/" + running_)["info"]["end_time"].is_null());

  const HttpReply reply = get("/api/runs/" + finished_[0] + "/matching");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const json matching = json::parse(reply.body);
  EXPECT_EQ(matching["run_id"], finished_[0]);
  EXPECT_DOUBLE_EQ(matching["lambda"], 0.1);
  // The embedded text is the canonical MatchingInfo JSON, verbatim.
  const MatchingInfo want = sample_matching("evo", 20.0);
  EXPECT_NE(reply.body.find(matching_info_to_json(want, -1)), std::string::npos);
  const auto parsed = matching_info_from_json(matching["matching"].dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->layers.size(), 2u);
  EXPECT_EQ(parsed->layers[1].candidates.size(), 2u);
  EXPECT_DOUBLE_EQ(matching["matching"]["relative_energy_consumption"], want.relative_energy_consumption());

  expect_error("/api/runs/" + running_ + "/matching", 404, {"no matching result"});
  expect_error("/api/runs/0123456789abcdef0123456789abcdef", 404, {"0123456789abcdef0123456789abcdef"});
  expect_error("/api/runs/nope/matching", 404, {"nope"});
  expect_error("/api/runs/" + finished_[0] + "?x=1", 400, {"'x'"});
  expect_error("/api/runs/" + finished_[0] + "/artifacts", 404, {"no API endpoint"});
}

TEST_F(HttpApiTest, EnergyAndParetoFront) {
  const std::string base = "/api/experiments/" + std::to_string(experiment_);
  const json energy = get_json(base + "/energy");
  ASSERT_EQ(energy["points"].size(), 2u) << "only finished runs with a matching result";
  EXPECT_EQ(energy["points"][0]["run_id"], finished_[0]);
  EXPECT_DOUBLE_EQ(energy["points"][0]["lambda"], 0.1);
  EXPECT_EQ(energy["points"][0]["library"], "evo");
  EXPECT_EQ(energy["points"][0]["metric"], "power");
  EXPECT_DOUBLE_EQ(energy["points"][0]["relative_energy"], sample_matching("evo", 20.0).relative_energy_consumption());
  EXPECT_DOUBLE_EQ(energy["points"][0]["accuracies"]["approximate_top1"], 0.85);
  // Neither dominates the other: cheaper (lambda 0.5) is less accurate.
  EXPECT_EQ(energy["points"][0]["pareto"], true);
  EXPECT_EQ(energy["points"][1]["pareto"], true);
  EXPECT_EQ(get_json(base + "/pareto")["points"].size(), 2u);

  // A dominated run: more energy and less accuracy than lambda 0.5.
  const std::string odd_name = "dominated \"quoted\" \\ \u00fc\n";
  auto run = store_->create_run(experiment_, odd_name, "alice", 5000);
  store::RunBatch batch;
  batch.metrics.push_back({"approximate_top1", 0.5, 1, 0});
  ASSERT_TRUE(store_->log_matching(run->run_id, {0.7, sample_matching("evo", 50.0)}, batch).ok());
  ASSERT_TRUE(store_->update_run(run->run_id, store::RunStatus::kFinished, 6000).ok());
  const json points = get_json(base + "/energy")["points"];
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[2]["run_id"], run->run_id);
  EXPECT_EQ(points[2]["pareto"], false);
  EXPECT_EQ(points[2]["run_name"], odd_name) << "names are escaped";
  EXPECT_DOUBLE_EQ(points[2]["lambda"], 0.7);
  const json front = get_json(base + "/pareto")["points"];
  ASSERT_EQ(front.size(), 2u);
  for (const auto& p : front) EXPECT_NE(p["run_id"], run->run_id);

  expect_error("/api/experiments/999/energy", 404, {"999"});
  expect_error("/api/experiments/999/pareto", 404, {"999"});
  expect_error(base + "/energy?lambda=1", 400, {"'lambda'"});
}

// One child of a fake sweep, as the sweep job writes it (server/training_job.cc).
struct FakeSweepPoint {
  double lambda;
  double metric_of_first;  // sample_matching's: lower is less energy
  double approximate_top1, retrained_top1;
  bool on_front;           // by construction of the table below
  std::map<std::string, double> sigma;
};

// Search figures of `epochs` epochs ending at `sigma`; retraining figures ending at `retrained`.
std::vector<store::Metric> fake_epochs(const FakeSweepPoint& p, int epochs) {
  std::vector<store::Metric> metrics;
  for (int e = 1; e <= epochs; ++e) {
    const double f = static_cast<double>(e) / epochs;
    metrics.push_back({"search.loss", 2.0 - f, e, e});
    metrics.push_back({"search.train_top1", 0.5 + 0.4 * f, e, e});
    for (const auto& [layer, sigma] : p.sigma) metrics.push_back({"search.sigma." + layer, sigma * f, e, e});
    metrics.push_back({"retrain.test_top1", p.retrained_top1 - 0.01 * (epochs - e), e, e});
  }
  return metrics;
}

class HttpApiSweepTest : public HttpApiTest {
 protected:
  static constexpr int kEpochs = 3;

  // A FINISHED sweep run (in its own experiment) with one FINISHED child per
  // point and one child still RUNNING, written through the store.
  void add_sweep(const std::vector<FakeSweepPoint>& points) {
    const int64_t experiment = *store_->create_experiment("sweeps");
    sweep_ = store_->create_run(experiment, "sweep", "alice", 100)->run_id;
    store::RunBatch parent;
    parent.tags = {{"agnx.kind", kSweepKind}};
    parent.params = {{"lambdas", "0.25,0.5,1,2"}};
    ASSERT_TRUE(store_->log_batch(sweep_, parent).ok());
    for (std::size_t i = 0; i <= points.size(); ++i) {
      const std::string child = store_->create_run(experiment, "sweep child", "alice", 200 + i)->run_id;
      store::RunBatch batch;
      batch.tags = {{kParentRunTag, sweep_}, {kSweepIndexTag, std::to_string(i)}, {"agnx.kind", "sweep_point"}};
      batch.params["lambda"] = std::to_string(i < points.size() ? points[i].lambda : 2.0);
      ASSERT_TRUE(store_->log_batch(child, batch).ok());
      if (i == points.size()) break;  // the last child is still running
      const FakeSweepPoint& p = points[i];
      store::RunBatch result;
      for (const auto& [layer, sigma] : p.sigma) result.params["sigma." + layer] = std::to_string(sigma);
      result.metrics = fake_epochs(p, kEpochs);
      result.metrics.push_back({"retrained_top1", p.retrained_top1, 9, 0});
      MatchingInfo info = sample_matching("evo", p.metric_of_first);
      info.accuracy->approximate_top1 = p.approximate_top1;
      ASSERT_TRUE(store_->log_matching(child, {p.lambda, info}, result).ok());
      ASSERT_TRUE(store_->update_run(child, store::RunStatus::kFinished, 300).ok());
      children_.push_back(child);
    }
  }

  std::string sweep_;
  std::vector<std::string> children_;  // the finished ones, by sweep index
};

TEST_F(HttpApiSweepTest, SweepPointsBeforeAndAfterRetrainingAndTheFront) {
  // lambda 0.5 costs more energy than lambda 1 and is less accurate after
  // retraining: the one point off the front.
  const std::vector<FakeSweepPoint> points = {
      {0.25, 60.0, 0.85, 0.88, true, {{"conv1", 0.01}, {"fc", 0.02}}},
      {0.5, 40.0, 0.78, 0.79, false, {{"conv1", 0.02}, {"fc", 0.04}}},
      {1.0, 20.0, 0.70, 0.80, true, {{"conv1", 0.04}, {"fc", 0.08}}}};
  add_sweep(points);
  const json sweep = get_json("/api/runs/" + sweep_ + "/sweep");
  EXPECT_EQ(sweep["run_id"], sweep_);
  ASSERT_EQ(sweep["points"].size(), points.size()) << "finished children only";
  json front = json::array();
  for (std::size_t i = 0; i < points.size(); ++i) {
    const json& got = sweep["points"][i];
    const FakeSweepPoint& want = points[i];
    EXPECT_EQ(got["run_id"], children_[i]);
    EXPECT_DOUBLE_EQ(got["lambda"], want.lambda);
    EXPECT_DOUBLE_EQ(got["sigma"]["fc"], want.sigma.at("fc"));
    EXPECT_DOUBLE_EQ(got["relative_energy"],
                     sample_matching("evo", want.metric_of_first).relative_energy_consumption());
    const ModelAccuracy baseline = *sample_matching("evo", want.metric_of_first).accuracy;
    EXPECT_DOUBLE_EQ(got["top1"]["float"], baseline.float_top1);
    EXPECT_DOUBLE_EQ(got["top1"]["quantized"], baseline.quantized_top1);
    EXPECT_DOUBLE_EQ(got["top1"]["approximate"], want.approximate_top1);
    EXPECT_DOUBLE_EQ(got["top1"]["retrained"], want.retrained_top1);
    if (want.on_front) front.push_back(i);
  }
  EXPECT_EQ(sweep["pareto"], front);

  expect_error("/api/runs/" + finished_[0] + "/sweep", 400, {finished_[0], "not a sweep"});
  expect_error("/api/runs/0123456789abcdef0123456789abcdef/sweep", 404, {"0123456789abcdef0123456789abcdef"});
  expect_error("/api/runs/" + sweep_ + "/sweep?lambda=1", 400, {"'lambda'"});
}

TEST_F(HttpApiSweepTest, MetricHistoriesByEpoch) {
  const FakeSweepPoint point{0.5, 40.0, 0.78, 0.79, true, {{"conv1", 0.02}, {"fc", 0.04}}};
  add_sweep({point});
  const std::string base = "/api/runs/" + children_[0] + "/history";
  const json history = get_json(base + "?key=search.loss&key=search.sigma.fc&key=" + url_encode("retrain.test_top1"));
  EXPECT_EQ(history["run_id"], children_[0]);
  ASSERT_EQ(history["metrics"].size(), 3u);
  std::map<std::string, std::vector<store::Metric>> want;
  for (const store::Metric& m : fake_epochs(point, kEpochs)) want[m.key].push_back(m);
  for (const auto& [key, values] : history["metrics"].items()) {
    ASSERT_EQ(values.size(), want[key].size()) << key;
    for (std::size_t e = 0; e < values.size(); ++e) {
      EXPECT_EQ(values[e]["step"], want[key][e].step) << key;
      EXPECT_DOUBLE_EQ(values[e]["value"], want[key][e].value) << key;
      EXPECT_EQ(values[e]["timestamp"], want[key][e].timestamp) << key;
    }
  }

  expect_error(base, 400, {"'key'", "required"});
  expect_error(base + "?key=search.loss&epoch=1", 400, {"'epoch'"});
  expect_error(base + "?key=search.los", 404, {children_[0], "'search.los'"});
  expect_error("/api/runs/0123456789abcdef0123456789abcdef/history?key=search.loss", 404,
               {"0123456789abcdef0123456789abcdef"});
}

TEST_F(HttpApiTest, Jobs) {
  json jobs = get_json("/api/jobs")["jobs"];
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0]["job_id"], job_);
  EXPECT_EQ(jobs[0]["state"], "RUNNING");
  EXPECT_DOUBLE_EQ(jobs[0]["progress"], 0.25);
  EXPECT_EQ(jobs[0]["run_id"], running_);
  EXPECT_EQ(jobs[0]["attempts"], 1);
  EXPECT_TRUE(jobs[1]["run_id"].is_null());
  jobs = get_json("/api/jobs?state=RUNNING")["jobs"];
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]["job_id"], job_);
  EXPECT_EQ(get_json("/api/jobs?state=QUEUED")["jobs"].size(), 1u);
  expect_error("/api/jobs?state=SLEEPING", 400, {"'state'", "SLEEPING"});

  EXPECT_EQ(get_json("/api/jobs/" + std::to_string(job_))["kind"], "matching");
  expect_error("/api/jobs/424242", 404, {"424242"});
  expect_error("/api/jobs/first", 400, {"job id", "first"});
}

TEST_F(HttpApiTest, UnknownPathsAndMethods) {
  expect_error("/api/nothing", 404, {"/api/nothing"});
  expect_error("/api", 404, {});
  expect_error("/api/experiments/1/runs/extra", 404, {});
  const HttpReply post = http_raw(server_->port(),
                                  "POST /api/experiments HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.headers.at("allow"), "GET");
  EXPECT_EQ(get("/nothing/here").status, 404);
}

TEST_F(HttpApiTest, BearerTokensOfAnyRoleAndReloads) {
  auto tokens = TokenTable::parse("s3cret-token-0123 rita reader\nwr1ter-token-0123 walt writer\n", "tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status().to_string();
  auto authenticator = std::make_shared<Authenticator>(std::move(*tokens));
  HttpOptions options;
  options.authenticator = authenticator;
  start_server(options);
  HttpReply reply = get("/api/experiments");
  EXPECT_EQ(reply.status, 401);
  EXPECT_NE(json::parse(reply.body)["error"].get<std::string>().find("Bearer"), std::string::npos);
  EXPECT_EQ(reply.headers["www-authenticate"].rfind("Bearer", 0), 0u);
  EXPECT_EQ(get("/api/experiments", "Bearer wrong").status, 401);
  EXPECT_EQ(get("/api/experiments", "Bearer s3cret-token-012").status, 401);
  EXPECT_EQ(get("/api/experiments", "Bearer s3cret-token-01234").status, 401);
  EXPECT_EQ(get("/api/experiments", "Basic s3cret-token-0123").status, 401);
  EXPECT_EQ(get("/api/experiments", "s3cret-token-0123").status, 401);
  EXPECT_EQ(get("/api/runs/" + finished_[0], "Bearer wrong").status, 401) << "before the 404 or 200";
  reply = get("/api/experiments", "Bearer s3cret-token-0123");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(json::parse(reply.body)["experiments"].size(), 1u);
  EXPECT_EQ(get("/api/experiments", "Bearer wr1ter-token-0123").status, 200);
  // The dashboard's files are public: the page itself asks for the token.
  EXPECT_EQ(get("/").status, 200);
  EXPECT_EQ(get("/assets/app.js").status, 200);

  // A reload (SIGHUP in agnx-server) applies at once.
  authenticator->replace(*TokenTable::parse("n3w-token-0123456 nina reader\n", "new tokens"));
  EXPECT_EQ(get("/api/experiments", "Bearer s3cret-token-0123").status, 401);
  EXPECT_EQ(get("/api/experiments", "Bearer n3w-token-0123456").status, 200);
}

TEST(PercentDecode, EscapesAndErrors) {
  EXPECT_EQ(*percent_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(*percent_decode("a%20b+c", false), "a b+c");
  EXPECT_EQ(*percent_decode("%27%3d%3D", true), "'==");
  EXPECT_FALSE(percent_decode("%", true).ok());
  EXPECT_FALSE(percent_decode("ab%2", true).ok());
  EXPECT_FALSE(percent_decode("%g0", true).ok());
  EXPECT_FALSE(percent_decode("%00", true).ok());
}

TEST_F(HttpApiTest, DashboardFiles) {
  HttpReply reply = get("/");
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_NE(reply.body.find("/assets/vendor/chart.js"), std::string::npos);
  EXPECT_EQ(reply.body.find("http://"), std::string::npos) << "no CDN links";
  EXPECT_EQ(reply.body.find("https://"), std::string::npos) << "no CDN links";
  reply = get("/assets/app.js");
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers["content-type"], "text/javascript; charset=utf-8");
  EXPECT_EQ(get("/assets/style.css").headers["content-type"], "text/css; charset=utf-8");
  if (std::filesystem::exists(default_chartjs_file())) {
    reply = get("/assets/vendor/chart.js");
    EXPECT_EQ(reply.status, 200);
    EXPECT_NE(reply.body.find("Chart.js"), std::string::npos);
  }
  EXPECT_EQ(get("/assets/missing.js").status, 404);
  EXPECT_EQ(get("/assets/").status, 404);
  EXPECT_EQ(get("/assets").status, 404);
}

TEST_F(HttpApiTest, AssetPathsCannotEscape) {
  // An assets directory with a file, a secret next to it and a symlink out.
  const auto assets = dir_.path() / "assets";
  std::filesystem::create_directories(assets / "sub");
  std::ofstream(assets / "index.html") << "<html>ok</html>";
  std::ofstream(assets / "sub" / "a.txt") << "inside";
  std::ofstream(dir_.path() / "secret.txt") << "SECRET";
  std::filesystem::create_symlink(dir_.path() / "secret.txt", assets / "link.txt");
  HttpOptions options;
  options.assets_dir = assets;
  start_server(options);

  EXPECT_EQ(get("/").body, "<html>ok</html>");
  EXPECT_EQ(get("/assets/sub/a.txt").body, "inside");
  for (const std::string target :
       {"/assets/../secret.txt", "/assets/sub/../../secret.txt", "/assets/%2e%2e/secret.txt",
        "/assets/%2E%2E%2Fsecret.txt", "/assets/sub/..%2F..%2Fsecret.txt", "/assets/link.txt", "/assets/./index.html",
        "/assets//etc/passwd", "/assets/sub\\..\\..\\secret.txt", "/assets/%5c..%5csecret.txt", "/../secret.txt",
        "/assets/sub", "/assets/a%00.txt"}) {
    const HttpReply reply = get(target);
    EXPECT_TRUE(reply.status == 404 || reply.status == 400) << target << " -> " << reply.status;
    EXPECT_EQ(reply.body.find("SECRET"), std::string::npos) << target;
  }
}

TEST_F(HttpApiTest, BadRequestsNeverCrash) {
  const uint16_t port = server_->port();
  // Oversized headers.
  HttpReply reply = http_raw(port, "GET /api/experiments HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') +
                                       "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(reply.status, 431);
  // A huge request line.
  reply = http_raw(port, "GET /api/" + std::string(100 * 1024, 'x') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(reply.status, 431);
  // Garbage, a bad version, a body beyond the limit, an absolute target, nothing at all.
  EXPECT_EQ(http_raw(port, "BLAH\r\n\r\n").status, 400);
  EXPECT_EQ(http_raw(port, "GET / HTTP/2.0\r\n\r\n").status, 400);
  reply = http_raw(port, "GET /api/experiments HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" +
                             std::string(1000, 'x'));
  EXPECT_EQ(reply.status, 413);
  EXPECT_EQ(http_raw(port, "GET http://evil/api/experiments HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status,
            400);
  EXPECT_EQ(http_raw(port, "").status, 0);
  EXPECT_EQ(get("/api/experiments?view=%").status, 400);
  EXPECT_EQ(get("/api/experiments%").status, 400);
  // Still serving.
  EXPECT_EQ(get("/api/experiments").status, 200);
}

TEST_F(HttpApiTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  const std::string one = "GET /api/experiments HTTP/1.1\r\nHost: x\r\n\r\n";
  const HttpReply reply = http_raw(server_->port(), one + one + "GET /api/jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(reply.status, 200);
  // The raw reply holds all three answers; the last one is the jobs list.
  EXPECT_NE(reply.body.find("\"jobs\""), std::string::npos);
}

TEST_F(HttpApiTest, InvalidUtf8InStoredNamesIsReplaced) {
  const auto run = store_->create_run(experiment_, "bad \xff\xfe name", "alice", 9000);
  ASSERT_TRUE(run.ok());
  HttpReply reply = get("/api/runs/" + run->run_id);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(json::parse(reply.body)["info"]["run_name"], "bad \xEF\xBF\xBD\xEF\xBF\xBD name");
  reply = get("/api/experiments/" + std::to_string(experiment_) + "/runs");
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(json::accept(reply.body));
}

TEST_F(HttpApiTest, ConnectionLimit) {
  HttpOptions options;
  options.max_connections = 2;
  start_server(options);
  auto connect_idle = [&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(server_->port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    return fd;
  };
  const int a = connect_idle(), b = connect_idle();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // both accepted
  EXPECT_EQ(get("/api/experiments").status, 0) << "a third connection is refused";
  ::close(a);
  ::close(b);
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    status = get("/api/experiments").status;
  }
  EXPECT_EQ(status, 200) << "closed connections free their slots";
}

TEST_F(HttpApiTest, ConcurrentClients) {
  const std::string runs = "/api/experiments/" + std::to_string(experiment_) + "/runs";
  std::atomic<int> ok = 0;
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 25; ++i) {
        const HttpReply reply = get(i % 2 == 0 ? runs : "/api/runs/" + finished_[c % 2] + "/matching");
        if (reply.status == 200 && json::accept(reply.body)) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, 200);
}

TEST(HttpServerStart, RejectsBadOptions) {
  TempDir dir;
  store::SqliteStoreOptions store_options;
  store_options.data_dir = dir.path() / "data";
  auto store = std::move(*store::SqliteTrackingStore::open(store_options));
  HttpOptions options;
  options.listen = "127.0.0.1";
  EXPECT_EQ(HttpServer::start(*store, options).status().code(), StatusCode::kInvalidArgument);
  options.listen = "127.0.0.1:99999";
  EXPECT_EQ(HttpServer::start(*store, options).status().code(), StatusCode::kInvalidArgument);
  options.listen = "not-an-ip:80";
  EXPECT_EQ(HttpServer::start(*store, options).status().code(), StatusCode::kInvalidArgument);
  options.listen = "127.0.0.1:0";
  options.assets_dir = dir.path() / "missing";
  EXPECT_EQ(HttpServer::start(*store, options).status().code(), StatusCode::kNotFound);
  options.assets_dir.clear();
  auto first = HttpServer::start(*store, options);
  ASSERT_TRUE(first.ok());
  options.listen = "127.0.0.1:" + std::to_string((*first)->port());
  const auto taken = HttpServer::start(*store, options);
  EXPECT_EQ(taken.status().code(), StatusCode::kIoError);
  EXPECT_NE(taken.status().message().find(options.listen), std::string::npos);
  (*first)->stop();
  (*first)->stop();  // idempotent
}

// HTTPS itself is tested against the real server (server_auth_test).
TEST(HttpServerStart, TlsFilesAreCheckedNamingTheFile) {
  if (!testing::have_openssl_command()) GTEST_SKIP() << "no openssl command";
  TempDir dir;
  ASSERT_TRUE(testing::make_test_certificates(dir.path()));
  store::SqliteStoreOptions store_options;
  store_options.data_dir = dir.path() / "data";
  auto store = std::move(*store::SqliteTrackingStore::open(store_options));
  const auto start_with = [&](const std::string& cert, const std::string& key) {
    HttpOptions options;
    options.listen = "127.0.0.1:0";
    if (!cert.empty()) options.tls_cert_file = dir.path() / cert;
    if (!key.empty()) options.tls_key_file = dir.path() / key;
    return HttpServer::start(*store, options).status();
  };
  EXPECT_TRUE(start_with("server.pem", "server.key").ok());
  const std::string path = dir.path().string() + "/";
  const std::pair<Status, std::string> refused[] = {
      {start_with("server.pem", "other-ca.key"),
       "dashboard TLS key " + path + "other-ca.key: not an unencrypted PEM private key of the certificate " + path +
           "server.pem"},
      {start_with("missing.pem", "server.key"), "dashboard TLS certificate " + path + "missing.pem: cannot read"},
      {start_with("server.pem", "data"), "dashboard TLS key " + path + "data: cannot read"},
      {start_with("server.key", "server.key"), "dashboard TLS certificate " + path + "server.key: no PEM certificate"},
      {start_with("server.pem", ""), "dashboard TLS needs both a certificate and a key file"},
  };
  for (const auto& [status, message] : refused) {
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.to_string();
    EXPECT_NE(status.message().find(message), std::string::npos) << status.message();
  }
}

}  // namespace
}  // namespace agnx::server
