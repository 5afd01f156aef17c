// The tracking store's contract (store/tracking_store.h), run against every
// backend (SQLite, and PostgreSQL on a throwaway cluster), and what only the
// SQLite backend does.
#include "store/sqlite_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <thread>
#include <tuple>

#include "core/matching_json.h"

#include "store/artifact_files.h"
#include "store/open_store.h"
#include "tests/support/postgres_cluster.h"
#include "tests/support/sample_matching.h"
#include "tests/support/temp_dir.h"

namespace agnx::store {
namespace {

using testing::sample_matching;
using testing::TempDir;

// A backend under the store's contract: how to open a store in a fresh
// directory (its artifacts in DIR/artifacts), and whether it needs the
// PostgreSQL test cluster. Adding a backend to the contract suite is one more
// entry in backends().
struct StoreBackend {
  std::string name;
  std::function<Result<std::unique_ptr<TrackingStore>>(const std::filesystem::path& dir)> open;
  bool needs_postgres = false;
};

StoreBackend sqlite_backend() {
  return {"sqlite", [](const std::filesystem::path& dir) -> Result<std::unique_ptr<TrackingStore>> {
            SqliteStoreOptions options;
            options.data_dir = dir;
            options.synchronous_full = false;
            AGNX_ASSIGN_OR_RETURN(std::unique_ptr<SqliteTrackingStore> store, SqliteTrackingStore::open(options));
            return std::unique_ptr<TrackingStore>(std::move(store));
          }};
}

// A fresh database of the binary's one cluster, opened by URI.
StoreBackend postgres_backend() {
  return {"postgres",
          [](const std::filesystem::path& dir) -> Result<std::unique_ptr<TrackingStore>> {
            AGNX_ASSIGN_OR_RETURN(testing::PostgresCluster * cluster, testing::PostgresCluster::shared());
            AGNX_ASSIGN_OR_RETURN(const std::string database, cluster->create_database());
            return open_store(cluster->store_uri(database, dir));
          },
          true};
}

std::vector<StoreBackend> backends() { return {sqlite_backend(), postgres_backend()}; }

void PrintTo(const StoreBackend& backend, std::ostream* out) { *out << backend.name; }

// A store of `backend()` in data/ of a fresh directory, with experiment "exp".
class StoreFixture : public ::testing::Test {
 protected:
  virtual StoreBackend backend() const = 0;

  void SetUp() override {
    if (backend().needs_postgres) AGNX_SKIP_WITHOUT_POSTGRES();
    auto opened = backend().open(dir_.path() / "data");
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(*opened);
    experiment_ = *store_->create_experiment("exp");
  }

  std::string new_run(const std::string& name = "run", int64_t start_time = 1000) {
    auto run = store_->create_run(experiment_, name, "alice", start_time);
    EXPECT_TRUE(run.ok()) << run.status().to_string();
    return run->run_id;
  }

  TempDir dir_;
  std::unique_ptr<TrackingStore> store_;
  int64_t experiment_ = 0;
};

// The contract of store/tracking_store.h, for every backend.
class StoreContract : public StoreFixture, public ::testing::WithParamInterface<StoreBackend> {
 protected:
  StoreBackend backend() const override { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<StoreBackend>& test) { return test.param.name; });

// What only the SQLite backend does (its database file, its backup format).
class SqliteStoreTest : public StoreFixture {
 protected:
  StoreBackend backend() const override { return sqlite_backend(); }
};

TEST_P(StoreContract, Experiments) {
  EXPECT_EQ(store_->get_experiment(experiment_)->name, "exp");
  EXPECT_EQ(store_->get_experiment_by_name("exp")->experiment_id, experiment_);
  const auto duplicate = store_->create_experiment("exp");
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(duplicate.status().message().find("'exp'"), std::string::npos);
  EXPECT_EQ(store_->create_experiment("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->get_experiment(999).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_experiment_by_name("nope").status().code(), StatusCode::kNotFound);

  const int64_t other = *store_->create_experiment("other");
  const std::string run_id = new_run();
  ASSERT_TRUE(store_->delete_experiment(experiment_).ok());
  EXPECT_EQ(store_->get_experiment(experiment_)->lifecycle, Lifecycle::kDeleted);
  EXPECT_EQ(store_->get_run(run_id)->info.lifecycle, Lifecycle::kDeleted) << "runs follow their experiment";
  EXPECT_EQ(store_->list_experiments(ViewType::kActiveOnly)->size(), 1u);
  EXPECT_EQ(store_->list_experiments(ViewType::kActiveOnly)->front().experiment_id, other);
  EXPECT_EQ(store_->list_experiments(ViewType::kDeletedOnly)->size(), 1u);
  EXPECT_EQ(store_->list_experiments(ViewType::kAll)->size(), 2u);
  EXPECT_EQ(store_->create_run(experiment_, "r", "u", 1).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->restore_experiment(experiment_).ok());
  EXPECT_EQ(store_->get_run(run_id)->info.lifecycle, Lifecycle::kActive);
  EXPECT_EQ(store_->delete_experiment(999).code(), StatusCode::kNotFound);
}

TEST_P(StoreContract, RunsLifecycleAndStatus) {
  const std::string run_id = new_run("first", 1234);
  EXPECT_EQ(run_id.size(), 32u);
  auto run = store_->get_run(run_id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->info.run_name, "first");
  EXPECT_EQ(run->info.user_id, "alice");
  EXPECT_EQ(run->info.status, RunStatus::kRunning);
  EXPECT_EQ(run->info.start_time, 1234);
  EXPECT_FALSE(run->info.end_time);

  ASSERT_TRUE(store_->update_run(run_id, RunStatus::kFinished, 5678).ok());
  run = store_->get_run(run_id);
  EXPECT_EQ(run->info.status, RunStatus::kFinished);
  EXPECT_EQ(run->info.end_time, 5678);
  ASSERT_TRUE(store_->update_run(run_id, RunStatus::kKilled, std::nullopt).ok());
  EXPECT_GT(*store_->get_run(run_id)->info.end_time, 5678) << "a terminal status without end time means now";

  ASSERT_TRUE(store_->delete_run(run_id).ok());
  EXPECT_EQ(store_->get_run(run_id)->info.lifecycle, Lifecycle::kDeleted);
  const Status write = store_->log_metric(run_id, {"m", 1.0, 1, 0});
  EXPECT_EQ(write.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(write.message().find(run_id), std::string::npos);
  ASSERT_TRUE(store_->restore_run(run_id).ok());
  EXPECT_TRUE(store_->log_metric(run_id, {"m", 1.0, 1, 0}).ok());

  EXPECT_EQ(store_->get_run("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->log_metric("missing", {"m", 1.0, 1, 0}).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->create_run(999, "r", "u", 1).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreContract, ParamsAreImmutable) {
  const std::string run_id = new_run();
  ASSERT_TRUE(store_->log_param(run_id, "lr", "0.1").ok());
  EXPECT_TRUE(store_->log_param(run_id, "lr", "0.1").ok()) << "the same value again is fine";
  const Status changed = store_->log_param(run_id, "lr", "0.2");
  EXPECT_EQ(changed.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(changed.message().find("param 'lr'"), std::string::npos) << changed.to_string();
  EXPECT_EQ(store_->get_run(run_id)->params.at("lr"), "0.1");
  EXPECT_EQ(store_->log_param(run_id, "", "x").code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreContract, TagsOverwrite) {
  const std::string run_id = new_run();
  ASSERT_TRUE(store_->set_tag(run_id, "owner", "a").ok());
  ASSERT_TRUE(store_->set_tag(run_id, "owner", "b").ok());
  EXPECT_EQ(store_->get_run(run_id)->tags.at("owner"), "b");
}

TEST_P(StoreContract, MetricHistoryAndLatest) {
  const std::string run_id = new_run();
  RunBatch batch;
  batch.metrics = {{"loss", 3.0, 100, 0}, {"loss", 1.0, 300, 2}, {"loss", 2.0, 200, 1}, {"acc", 0.5, 100, 0}};
  ASSERT_TRUE(store_->log_batch(run_id, batch).ok());
  ASSERT_TRUE(store_->log_metric(run_id, {"loss", 9.0, 50, 1}).ok()) << "an older step does not become latest";
  ASSERT_TRUE(store_->log_metric(run_id, {"acc", -INFINITY, 100, 0}).ok());

  const auto history = store_->get_metric_history(run_id, "loss");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 4u);
  EXPECT_EQ((*history)[0].value, 3.0);
  EXPECT_EQ((*history)[1].value, 9.0);  // step 1, timestamp 50
  EXPECT_EQ((*history)[2].value, 2.0);  // step 1, timestamp 200
  EXPECT_EQ((*history)[3].value, 1.0);

  const store::Run run = *store_->get_run(run_id);
  EXPECT_EQ(run.metrics.at("loss").value, 1.0);
  EXPECT_EQ(run.metrics.at("loss").step, 2);
  EXPECT_EQ(run.metrics.at("acc").value, 0.5) << "same step and time: the higher value wins";
  EXPECT_EQ(store_->log_metric(run_id, {"x", std::nan(""), 1, 0}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->get_metric_history(run_id, "never")->empty());
}

TEST_P(StoreContract, FailingBatchLeavesNothingBehind) {
  const std::string run_id = new_run();
  ASSERT_TRUE(store_->log_param(run_id, "lr", "0.1").ok());
  RunBatch bad;
  bad.metrics = {{"m", 1.0, 1, 0}};
  bad.tags = {{"t", "v"}};
  bad.params = {{"a", "1"}, {"lr", "0.5"}};
  EXPECT_FALSE(store_->log_batch(run_id, bad).ok());
  const store::Run run = *store_->get_run(run_id);
  EXPECT_EQ(run.params.size(), 1u);
  EXPECT_TRUE(run.tags.empty());
  EXPECT_TRUE(run.metrics.empty());
  EXPECT_TRUE(store_->get_metric_history(run_id, "m")->empty());

  RunBatch too_big;
  too_big.metrics.resize(1001, Metric{"m", 1.0, 1, 0});
  EXPECT_EQ(store_->log_batch(run_id, too_big).code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreContract, IdempotencyKeysMakeRetriedWritesHappenOnce) {
  const auto first = store_->create_run(experiment_, "r", "alice", 1000, {"run-key"});
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  const auto again = store_->create_run(experiment_, "r", "alice", 2000, {"run-key"});
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->run_id, first->run_id);
  EXPECT_EQ(again->start_time, 1000);
  SearchRunsRequest search;
  search.experiment_ids = {experiment_};
  EXPECT_EQ(store_->search_runs(search)->runs.size(), 1u);

  RunBatch batch;
  batch.metrics = {{"loss", 0.5, 10, 1}};
  ASSERT_TRUE(store_->log_batch(first->run_id, batch, {"batch-key"}).ok());
  ASSERT_TRUE(store_->log_batch(first->run_id, batch, {"batch-key"}).ok());
  ASSERT_TRUE(store_->log_batch(first->run_id, batch).ok());  // no key: a second row
  EXPECT_EQ(store_->get_metric_history(first->run_id, "loss")->size(), 2u);

  const auto experiment = store_->create_experiment("keyed", {"experiment-key"});
  ASSERT_TRUE(experiment.ok()) << experiment.status().to_string();
  EXPECT_EQ(*store_->create_experiment("keyed", {"experiment-key"}), *experiment);
  EXPECT_EQ(store_->create_experiment("keyed").status().code(), StatusCode::kAlreadyExists);
}

TEST_P(StoreContract, IdempotencyKeysAreValidatedAndNotShared) {
  const std::string run_id = new_run();
  const std::string other_run = new_run();
  const RunBatch batch{{{"m", 1.0, 1, 0}}, {}, {}};
  for (const std::string& bad : {std::string("has space"), std::string("slash/"), std::string(129, 'k'),
                                 std::string("nul\0", 4)}) {
    const Status status = store_->log_batch(run_id, batch, {bad});
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(status.message().find("idempotency key"), std::string::npos) << status.message();
  }
  EXPECT_TRUE(store_->log_batch(run_id, batch, {std::string(128, 'k')}).ok());
  ASSERT_TRUE(store_->log_batch(run_id, batch, {"k:1"}).ok());
  const Status other_target = store_->log_batch(other_run, batch, {"k:1"});
  EXPECT_EQ(other_target.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other_target.message().find("'k:1' was used for log_batch of '" + run_id + "'"), std::string::npos)
      << other_target.message();
  EXPECT_EQ(store_->create_run(experiment_, "r", "u", 1, {"k:1"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->get_metric_history(other_run, "m")->empty());
}

TEST_P(StoreContract, AFailedWriteDoesNotRecordItsKey) {
  const std::string run_id = new_run();
  ASSERT_TRUE(store_->delete_run(run_id).ok());
  const RunBatch batch{{{"m", 1.0, 1, 0}}, {}, {}};
  EXPECT_EQ(store_->log_batch(run_id, batch, {"retry-me"}).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->restore_run(run_id).ok());
  ASSERT_TRUE(store_->log_batch(run_id, batch, {"retry-me"}).ok());
  EXPECT_EQ(store_->get_metric_history(run_id, "m")->size(), 1u);
}

TEST_F(SqliteStoreTest, IdempotencyKeysOutliveTheProcessUntilGcForgetsThem) {
  const std::string run_id = new_run();
  const RunBatch batch{{{"m", 1.0, 1, 0}}, {}, {}};
  ASSERT_TRUE(store_->log_batch(run_id, batch, {"old-key"}).ok());
  ASSERT_TRUE(store_->log_batch(run_id, batch, {"new-key"}).ok());
  store_.reset();
  {
    auto db = Connection::open(SqliteTrackingStore::database_path(dir_.path() / "data"), Connection::Mode::kReadWrite,
                               1000, false);
    ASSERT_TRUE(db.ok());
    const std::string sql = "UPDATE idempotency_keys SET creation_time = creation_time - " +
                            std::to_string(kIdempotencyKeyRetentionMs + 1000) + " WHERE key = 'old-key'";
    ASSERT_TRUE((*db)->exec(sql).ok());
  }
  store_ = std::move(*backend().open(dir_.path() / "data"));
  ASSERT_TRUE(store_->log_batch(run_id, batch, {"new-key"}).ok());
  ASSERT_TRUE(store_->log_batch(run_id, batch, {"old-key"}).ok());
  EXPECT_EQ(store_->get_metric_history(run_id, "m")->size(), 2u);  // both keys still known
  ASSERT_TRUE(store_->gc(kDefaultArtifactGrace).ok());
  ASSERT_TRUE(store_->log_batch(run_id, batch, {"new-key"}).ok());
  ASSERT_TRUE(store_->log_batch(run_id, batch, {"old-key"}).ok());  // forgotten: written again
  EXPECT_EQ(store_->get_metric_history(run_id, "m")->size(), 3u);
}

TEST_P(StoreContract, SearchFiltersAndOrders) {
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    const std::string id = new_run("run" + std::to_string(i), 1000 + i);
    RunBatch batch;
    batch.metrics = {{"acc", 0.1 * i, 1, 0}};
    batch.params = {{"lr", i % 2 == 0 ? "0.1" : "0.01"}};
    if (i < 3) batch.tags = {{"group", "low"}};
    ASSERT_TRUE(store_->log_batch(id, batch).ok());
    ids.push_back(id);
  }
  ASSERT_TRUE(store_->update_run(ids[4], RunStatus::kFinished, 2000).ok());
  ASSERT_TRUE(store_->delete_run(ids[5]).ok());

  auto names = [&](const std::string& filter, std::vector<std::string> order_by = {},
                   ViewType view = ViewType::kActiveOnly) {
    SearchRunsRequest request;
    request.experiment_ids = {experiment_};
    request.filter = filter;
    request.order_by = std::move(order_by);
    request.view = view;
    auto page = store_->search_runs(request);
    EXPECT_TRUE(page.ok()) << filter << ": " << page.status().to_string();
    std::vector<std::string> out;
    if (page.ok()) {
      for (const store::Run& run : page->runs) out.push_back(run.info.run_name);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(""), (V{"run4", "run3", "run2", "run1", "run0"})) << "default: start time descending";
  EXPECT_EQ(names("", {}, ViewType::kAll).size(), 6u);
  EXPECT_EQ(names("", {}, ViewType::kDeletedOnly), V{"run5"});
  EXPECT_EQ(names("metrics.acc > 0.25"), (V{"run4", "run3"}));
  EXPECT_EQ(names("metrics.acc >= 0.2 AND metrics.acc <= 0.31"), (V{"run3", "run2"}));
  EXPECT_EQ(names("metrics.acc != 0"), (V{"run4", "run3", "run2", "run1"}));
  EXPECT_EQ(names("params.lr = '0.01'"), (V{"run3", "run1"}));
  EXPECT_EQ(names("params.lr != '0.01' AND tags.group = 'low'"), (V{"run2", "run0"}));
  EXPECT_EQ(names("tags.group LIKE 'l%'"), (V{"run2", "run1", "run0"}));
  EXPECT_EQ(names("tags.group LIKE 'L%'"), V{}) << "LIKE is case-sensitive";
  EXPECT_EQ(names("attributes.status = 'FINISHED'"), V{"run4"});
  EXPECT_EQ(names("attributes.run_name LIKE 'run_'", {"attributes.run_name"}),
            (V{"run0", "run1", "run2", "run3", "run4"}));
  EXPECT_EQ(names("attributes.start_time < 1002"), (V{"run1", "run0"}));
  EXPECT_EQ(names("metrics.missing > 0"), V{});
  EXPECT_EQ(names("", {"metrics.acc ASC"}), (V{"run0", "run1", "run2", "run3", "run4"}));
  EXPECT_EQ(names("", {"params.lr DESC", "metrics.acc DESC"}), (V{"run4", "run2", "run0", "run3", "run1"}));
  EXPECT_EQ(names("", {"tags.group"}), (V{"run2", "run1", "run0", "run4", "run3"})) << "missing keys sort last";

  SearchRunsRequest bad;
  bad.experiment_ids = {experiment_};
  bad.filter = "metrics.acc >";
  const auto error = store_->search_runs(bad);
  ASSERT_FALSE(error.ok());
  EXPECT_NE(error.status().message().find("at position 13"), std::string::npos) << error.status().to_string();
}

TEST_P(StoreContract, SearchReturnsRunData) {
  const std::string run_id = new_run();
  RunBatch batch;
  batch.metrics = {{"acc", 0.75, 1, 3}};
  batch.params = {{"lr", "0.1"}};
  batch.tags = {{"t", "v"}};
  ASSERT_TRUE(store_->log_batch(run_id, batch).ok());
  SearchRunsRequest request;
  request.experiment_ids = {experiment_};
  const auto page = store_->search_runs(request);
  ASSERT_EQ(page->runs.size(), 1u);
  const store::Run& run = page->runs.front();
  EXPECT_EQ(run.info.run_id, run_id);
  EXPECT_EQ(run.params.at("lr"), "0.1");
  EXPECT_EQ(run.tags.at("t"), "v");
  EXPECT_EQ(run.metrics.at("acc").step, 3);
  EXPECT_TRUE(page->next_page_token.empty());
}

TEST_P(StoreContract, PaginationIsStableAndComplete) {
  std::set<std::string> created;
  for (int i = 0; i < 25; ++i) created.insert(new_run("r", 1000 + i % 5));  // ties in start time
  SearchRunsRequest request;
  request.experiment_ids = {experiment_};
  request.max_results = 10;
  std::vector<std::string> seen;
  std::vector<int64_t> times;
  int pages = 0;
  do {
    const auto page = store_->search_runs(request);
    ASSERT_TRUE(page.ok()) << page.status().to_string();
    ++pages;
    for (const store::Run& run : page->runs) {
      seen.push_back(run.info.run_id);
      times.push_back(run.info.start_time);
    }
    request.page_token = page->next_page_token;
  } while (!request.page_token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), created);
  EXPECT_EQ(seen.size(), created.size()) << "no run on two pages";
  for (std::size_t i = 1; i < seen.size(); ++i) {
    EXPECT_TRUE(times[i - 1] > times[i] || (times[i - 1] == times[i] && seen[i - 1] < seen[i])) << i;
  }
  request.page_token = "5:0000000000000000";
  EXPECT_EQ(store_->search_runs(request).status().code(), StatusCode::kInvalidArgument);
}

// Ordered by a metric, the runs with it come first (walked through its
// index), then those without it; pages run on across that boundary, ties
// broken by the next key, start time and run id.
TEST_P(StoreContract, PagesOrderedByAKeyRunOnIntoTheRunsWithoutIt) {
  struct Row {
    bool no_acc;
    double acc;
    bool no_p;
    std::string p;
    int64_t start;
    std::string id;
  };
  std::vector<Row> rows;
  for (int i = 0; i < 14; ++i) {
    Row row{i % 2 == 1, 0.0, i % 3 != 0, "", 1000 + i % 4, ""};  // ties in acc, p and start time
    if (!row.no_acc) row.acc = i % 3;
    if (!row.no_p) row.p = "p" + std::to_string(i % 4);
    row.id = new_run("r", row.start);
    RunBatch batch;
    if (!row.no_acc) batch.metrics = {{"acc", row.acc, 1, 0}};
    if (!row.no_p) batch.params = {{"p", row.p}};
    ASSERT_TRUE(store_->log_batch(row.id, batch).ok());
    rows.push_back(row);
  }
  for (const bool ascending : {true, false}) {
    std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
      const double acc_a = ascending ? a.acc : -a.acc, acc_b = ascending ? b.acc : -b.acc;
      return std::tie(a.no_acc, acc_a, a.no_p, a.p, b.start, a.id) < std::tie(b.no_acc, acc_b, b.no_p, b.p, a.start, b.id);
    });
    std::vector<std::string> expected;
    for (const Row& row : rows) expected.push_back(row.id);
    SearchRunsRequest request;
    request.experiment_ids = {experiment_};
    request.order_by = {ascending ? "metrics.acc ASC" : "metrics.acc DESC", "params.p"};
    request.max_results = 3;
    std::vector<std::string> seen;
    do {
      const auto page = store_->search_runs(request);
      ASSERT_TRUE(page.ok()) << page.status().to_string();
      for (const store::Run& run : page->runs) seen.push_back(run.info.run_id);
      request.page_token = page->next_page_token;
    } while (!request.page_token.empty());
    EXPECT_EQ(seen, expected) << (ascending ? "ASC" : "DESC");
  }
}


TEST_P(StoreContract, MatchingRoundTripsWithItsMetrics) {
  const std::string run_id = new_run();
  const MatchingRecord record{0.25, sample_matching("evo", 20.0)};
  RunBatch batch;
  batch.metrics = {{"approximate_top1", 0.7, 1, 0}};
  batch.params = {{"lambda", "0.25"}};
  ASSERT_TRUE(store_->log_matching(run_id, record, batch).ok());

  const auto stored = store_->get_matching(run_id);
  ASSERT_TRUE(stored.ok()) << stored.status().to_string();
  EXPECT_EQ(stored->lambda, 0.25);
  const MatchingInfo& got = stored->info;
  const MatchingInfo& want = record.info;
  EXPECT_EQ(got.library, want.library);
  EXPECT_EQ(got.metric, want.metric);
  EXPECT_EQ(got.metric_max, want.metric_max);
  EXPECT_EQ(got.seed, want.seed);
  EXPECT_EQ(got.num_samples, want.num_samples);
  // Every field, capture details and accuracies included, bit for bit.
  EXPECT_EQ(matching_info_to_json(got), matching_info_to_json(want));
  ASSERT_EQ(got.layers.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const LayerInfo& g = got.layers[i];
    const LayerInfo& w = want.layers[i];
    EXPECT_EQ(g.name, w.name);
    EXPECT_EQ(g.fan_in, w.fan_in);
    EXPECT_EQ(g.opcount, w.opcount);
    EXPECT_EQ(g.sigma, w.sigma);
    EXPECT_EQ(g.out_std, w.out_std);
    EXPECT_EQ(g.max_std, w.max_std);
    EXPECT_EQ(g.multiplier_name, w.multiplier_name);
    EXPECT_EQ(g.multiplier_performance_metric, w.multiplier_performance_metric);
    EXPECT_EQ(g.mul_std, w.mul_std);
    EXPECT_EQ(g.sample_rows, w.sample_rows);
    EXPECT_EQ(g.observed_mean, w.observed_mean);
    EXPECT_EQ(g.observed_std, w.observed_std);
    ASSERT_EQ(g.candidates.size(), w.candidates.size());
    for (std::size_t c = 0; c < g.candidates.size(); ++c) {
      EXPECT_EQ(g.candidates[c].name, w.candidates[c].name);
      EXPECT_EQ(g.candidates[c].metric, w.candidates[c].metric);
      EXPECT_EQ(g.candidates[c].mean, w.candidates[c].mean);
      EXPECT_EQ(g.candidates[c].std, w.candidates[c].std);
    }
  }
  EXPECT_DOUBLE_EQ(got.relative_energy_consumption(), want.relative_energy_consumption());
  EXPECT_EQ(store_->get_run(run_id)->metrics.at("approximate_top1").value, 0.7);

  EXPECT_EQ(store_->log_matching(run_id, record, {}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->get_matching(new_run()).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreContract, MatchingIsAllOrNothing) {
  const std::string run_id = new_run();
  ASSERT_TRUE(store_->log_param(run_id, "lambda", "0.5").ok());
  RunBatch batch;
  batch.metrics = {{"approximate_top1", 0.7, 1, 0}};
  batch.params = {{"lambda", "0.25"}};  // conflicts: the matching result must not be stored either
  EXPECT_FALSE(store_->log_matching(run_id, {0.25, sample_matching("evo", 20.0)}, batch).ok());
  EXPECT_EQ(store_->get_matching(run_id).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->get_run(run_id)->metrics.empty());

  MatchingRecord bad{0.25, sample_matching("evo", 20.0)};
  bad.info.layers[1].candidates[0].std = INFINITY;
  const Status invalid = store_->log_matching(run_id, bad, {});
  EXPECT_EQ(invalid.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(invalid.message().find("layers[1].candidates[0].std"), std::string::npos) << invalid.to_string();
}

TEST_P(StoreContract, EnergyPointsAndParetoFront) {
  struct Spec {
    double lambda;
    double metric;  // of layer conv1: sets the relative energy
    std::optional<double> top1;
    RunStatus status;
    std::string library;
  };
  const std::vector<Spec> specs = {
      {0.1, 90.0, 0.90, RunStatus::kFinished, "evo"},   // front: the most accurate
      {0.2, 50.0, 0.85, RunStatus::kFinished, "evo"},   // front
      {0.3, 50.0, 0.80, RunStatus::kFinished, "evo"},   // dominated by 0.2 (same energy, less accurate)
      {0.4, 60.0, 0.84, RunStatus::kFinished, "evo"},   // dominated by 0.2
      {0.5, 10.0, 0.60, RunStatus::kFinished, "evo"},   // front: the cheapest
      {0.6, 10.0, std::nullopt, RunStatus::kFinished, "evo"},  // no accuracy: not on the front
      {0.7, 1.0, 0.99, RunStatus::kFailed, "evo"},      // not finished: ignored
      {0.8, 70.0, 0.50, RunStatus::kFinished, "other"}, // front of its own library
  };
  for (const Spec& spec : specs) {
    const std::string run_id = new_run(std::string("l").append(std::to_string(spec.lambda)));
    RunBatch batch;
    batch.metrics = {{"float_top1", 0.95, 1, 0}, {"loss", 0.1, 1, 0}};
    if (spec.top1) batch.metrics.push_back({"approximate_top1", *spec.top1, 1, 0});
    ASSERT_TRUE(store_->log_matching(run_id, {spec.lambda, sample_matching(spec.library, spec.metric)}, batch).ok());
    ASSERT_TRUE(store_->update_run(run_id, spec.status, std::nullopt).ok());
  }
  const auto points = store_->energy_points(experiment_);
  ASSERT_TRUE(points.ok()) << points.status().to_string();
  ASSERT_EQ(points->size(), 7u);
  for (std::size_t i = 1; i < points->size(); ++i) EXPECT_LT((*points)[i - 1].lambda, (*points)[i].lambda);
  const EnergyPoint& first = points->front();
  EXPECT_EQ(first.accuracies.at("float_top1"), 0.95);
  EXPECT_EQ(first.accuracies.at("approximate_top1"), 0.90);
  EXPECT_FALSE(first.accuracies.contains("loss"));
  EXPECT_DOUBLE_EQ(first.relative_energy, sample_matching("evo", 90.0).relative_energy_consumption());

  const auto front = store_->pareto_front(experiment_);
  ASSERT_TRUE(front.ok());
  std::vector<double> lambdas;
  for (const EnergyPoint& p : *front) lambdas.push_back(p.lambda);
  EXPECT_EQ(lambdas, (std::vector<double>{0.5, 0.2, 0.1, 0.8}));
  EXPECT_EQ(store_->energy_points(999).status().code(), StatusCode::kNotFound);
}

TEST(ParetoFront, KeepsEqualPointsAndDropsDominatedOnes) {
  auto point = [](std::string id, double energy, double top1) {
    return EnergyPoint{std::move(id), "", 0.0, "lib", "m", energy, {{"approximate_top1", top1}}};
  };
  const auto front = pareto_front({point("a", 0.5, 0.8), point("b", 0.5, 0.8), point("c", 0.6, 0.8),
                                   point("d", 0.4, 0.7), point("e", 0.7, 0.9)});
  std::vector<std::string> ids;
  for (const EnergyPoint& p : front) ids.push_back(p.run_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"d", "a", "b", "e"}));
}

TEST_P(StoreContract, ArtifactsAreContentAddressed) {
  const std::string run_id = new_run();
  const auto logged = store_->log_artifact(run_id, "model/weights.bin", std::string("\0\1binary", 8));
  ASSERT_TRUE(logged.ok()) << logged.status().to_string();
  EXPECT_EQ(logged->size, 8);
  EXPECT_EQ(logged->sha256.size(), 64u);
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "data" / "artifacts" / logged->sha256.substr(0, 2) /
                                      logged->sha256));
  ASSERT_TRUE(store_->log_artifact(run_id, "copy.bin", std::string("\0\1binary", 8)).ok());
  EXPECT_EQ(*store_->read_artifact(run_id, "model/weights.bin"), std::string("\0\1binary", 8));
  const auto listed = store_->list_artifacts(run_id);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].path, "copy.bin");
  EXPECT_EQ((*listed)[0].sha256, (*listed)[1].sha256);
  EXPECT_EQ(store_->read_artifact(run_id, "nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->log_artifact("missing", "a", "x").status().code(), StatusCode::kNotFound);
}

TEST(ArtifactPath, Validation) {
  for (const char* good : {"a", "a/b.txt", "model/v1/weights.npy", "..a/b..", ".hidden"}) {
    EXPECT_TRUE(validate_artifact_path(good).ok()) << good;
  }
  for (const std::string& bad : {std::string(""), std::string("/etc/passwd"), std::string("../x"),
                                std::string("a/../b"), std::string("a//b"), std::string("a/"), std::string("./a"),
                                std::string("a\\b"), std::string("a\0b", 3)}) {
    const Status status = validate_artifact_path(bad);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(validate_artifact_path("../x").message().find("'../x'"), std::string::npos);
}

TEST_P(StoreContract, GcRemovesDeletedRunsAndUnreferencedArtifacts) {
  const std::string kept = new_run();
  const std::string dropped = new_run();
  ASSERT_TRUE(store_->log_artifact(kept, "shared.txt", "shared").ok());
  ASSERT_TRUE(store_->log_artifact(dropped, "shared.txt", "shared").ok());
  const auto only = store_->log_artifact(dropped, "only.txt", "only mine");
  ASSERT_TRUE(store_->log_matching(dropped, {0.1, sample_matching("evo", 1.0)}, {}).ok());
  ASSERT_TRUE(store_->log_metric(dropped, {"m", 1.0, 1, 0}).ok());
  ASSERT_TRUE(store_->delete_run(dropped).ok());

  const auto removed = store_->gc(std::chrono::seconds(0));
  ASSERT_TRUE(removed.ok()) << removed.status().to_string();
  EXPECT_EQ(*removed, 1);
  EXPECT_EQ(store_->get_run(dropped).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store_->read_artifact(kept, "shared.txt"), "shared");
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "data" / "artifacts" / only->sha256.substr(0, 2) / only->sha256));
  EXPECT_EQ(*store_->gc(std::chrono::seconds(0)), 0);
}

// Servers sharing the artifacts may be about to reference a file they have
// just stored: gc keeps unreferenced files younger than its grace, and
// referenced ones however old.
TEST_P(StoreContract, GcKeepsUnreferencedArtifactsWithinTheGrace) {
  const std::string kept = new_run();
  const std::string dropped = new_run();
  const auto referenced = store_->log_artifact(kept, "kept.txt", "referenced");
  const auto unreferenced = store_->log_artifact(dropped, "only.txt", "only mine");
  ASSERT_TRUE(referenced.ok() && unreferenced.ok());
  ASSERT_TRUE(store_->delete_run(dropped).ok());
  const auto file = [&](const ArtifactInfo& info) {
    return dir_.path() / "data" / "artifacts" / info.sha256.substr(0, 2) / info.sha256;
  };
  const auto age = [](const std::filesystem::path& path, std::chrono::seconds by) {
    std::filesystem::last_write_time(path, std::filesystem::file_time_type::clock::now() - by);
  };
  const std::chrono::seconds grace(3600);
  age(file(*referenced), 10 * grace);

  EXPECT_EQ(*store_->gc(grace), 0);
  EXPECT_EQ(store_->get_run(dropped).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(std::filesystem::exists(file(*unreferenced)));
  age(file(*unreferenced), grace + std::chrono::seconds(60));
  EXPECT_EQ(*store_->gc(grace), 1);
  EXPECT_FALSE(std::filesystem::exists(file(*unreferenced)));
  EXPECT_EQ(*store_->read_artifact(kept, "kept.txt"), "referenced");
}

TEST_F(SqliteStoreTest, BackupIsAConsistentCopy) {
  const std::string run_id = new_run();
  ASSERT_TRUE(store_->log_metric(run_id, {"m", 2.5, 1, 0}).ok());
  const auto copy = dir_.path() / "backup.db";
  ASSERT_TRUE(store_->backup(copy).ok());
  SqliteStoreOptions options;
  options.data_dir = dir_.path() / "restored";
  std::filesystem::create_directories(options.data_dir);
  std::filesystem::copy_file(copy, SqliteTrackingStore::database_path(options.data_dir));
  auto restored = SqliteTrackingStore::open(options);
  ASSERT_TRUE(restored.ok()) << restored.status().to_string();
  EXPECT_EQ((*restored)->get_run(run_id)->metrics.at("m").value, 2.5);
}

TEST_P(StoreContract, Jobs) {
  const std::string run_id = new_run();
  const int64_t job = *store_->create_job("match", run_id);
  auto got = store_->get_job(job);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, JobState::kQueued);
  EXPECT_EQ(got->run_id, run_id);
  EXPECT_EQ(got->attempts, 0);

  ASSERT_TRUE(store_->update_job(job, {JobState::kRunning, 0.5, std::nullopt}).ok());
  got = store_->get_job(job);
  EXPECT_EQ(got->attempts, 1);
  EXPECT_EQ(got->progress, 0.5);
  EXPECT_TRUE(got->start_time);
  ASSERT_TRUE(store_->update_job(job, {JobState::kQueued, std::nullopt, "worker lost"}).ok());
  ASSERT_TRUE(store_->update_job(job, {JobState::kRunning, 0.0, std::nullopt}).ok());
  ASSERT_TRUE(store_->update_job(job, {JobState::kFailed, std::nullopt, "out of memory"}).ok());
  got = store_->get_job(job);
  EXPECT_EQ(got->attempts, 2);
  EXPECT_EQ(got->error, "out of memory");
  EXPECT_TRUE(got->end_time);
  EXPECT_EQ(store_->update_job(job, {JobState::kRunning, std::nullopt, std::nullopt}).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->update_job(job, {std::nullopt, 1.5, std::nullopt}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->update_job(999, {}).code(), StatusCode::kNotFound);

  const int64_t other = *store_->create_job("capture", std::nullopt);
  EXPECT_EQ(store_->list_jobs(std::nullopt)->size(), 2u);
  const auto queued = store_->list_jobs(JobState::kQueued);
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ(queued->front().job_id, other);
  EXPECT_EQ(store_->create_job("match", "missing").status().code(), StatusCode::kNotFound);
}

using std::chrono::milliseconds;
constexpr milliseconds kLongLease{60000};

TEST_P(StoreContract, ClaimsTakeTheOldestClaimableJobOnceAndCountAnAttempt) {
  const int64_t first = *store_->create_job("match", new_run());
  const int64_t second = *store_->create_job("match", std::nullopt);
  const auto a = store_->claim_job("replica-a", kLongLease, 3);
  const auto b = store_->claim_job("replica-b", kLongLease, 3);
  ASSERT_TRUE(a.ok() && *a && b.ok() && *b);
  EXPECT_EQ((*a)->job.job_id, first);
  EXPECT_EQ((*b)->job.job_id, second);
  EXPECT_FALSE((*a)->exhausted);
  const Job stored = *store_->get_job(first);
  EXPECT_EQ(stored.state, JobState::kRunning);
  EXPECT_EQ(stored.attempts, 1);
  EXPECT_EQ(stored.owner, "replica-a");
  EXPECT_GT(*stored.lease_expires, stored.creation_time);
  EXPECT_EQ((*a)->lease.attempt, 1);
  EXPECT_FALSE(store_->claim_job("replica-c", kLongLease, 3)->has_value()) << "both leases are live";
  EXPECT_EQ(store_->claim_job("", kLongLease, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->claim_job("replica-c", milliseconds(0), 3).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreContract, AnExpiredLeaseIsClaimedAgainAndFencesOutTheOldAttempt) {
  const std::string run_id = new_run();
  const int64_t job = *store_->create_job("match", run_id);
  const ClaimedJob old = **store_->claim_job("replica-a", milliseconds(1), 3);
  std::this_thread::sleep_for(milliseconds(20));
  const auto again = store_->claim_job("replica-b", kLongLease, 3);
  ASSERT_TRUE(again.ok() && *again) << again.status().to_string();
  const ClaimedJob current = **again;
  EXPECT_EQ(current.job.job_id, job);
  EXPECT_EQ(current.lease.attempt, 2);

  EXPECT_EQ(store_->renew_lease(old.lease, kLongLease).status().code(), StatusCode::kAborted);
  const MatchingRecord record{0.25, sample_matching("evo", 20.0)};
  EXPECT_EQ(store_->log_matching(run_id, record, {}, old.lease).code(), StatusCode::kAborted);
  EXPECT_EQ(store_->get_matching(run_id).status().code(), StatusCode::kNotFound) << "the stale result was written";
  JobUpdate stale_end{JobState::kSucceeded, 1.0, std::nullopt, old.lease, RunStatus::kFinished};
  const Status refused = store_->update_job(job, stale_end);
  EXPECT_EQ(refused.code(), StatusCode::kAborted);
  EXPECT_NE(refused.message().find("replica-b"), std::string::npos) << refused.to_string();
  EXPECT_EQ(store_->get_run(run_id)->info.status, RunStatus::kRunning);

  ASSERT_TRUE(store_->renew_lease(current.lease, kLongLease).ok());
  ASSERT_TRUE(store_->log_matching(run_id, record, {}, current.lease).ok());
  ASSERT_TRUE(store_->update_job(job, {JobState::kSucceeded, 1.0, std::nullopt, current.lease, RunStatus::kFinished}).ok());
  const Job ended = *store_->get_job(job);
  EXPECT_EQ(ended.state, JobState::kSucceeded);
  EXPECT_EQ(ended.attempts, 2);
  EXPECT_EQ(store_->get_run(run_id)->info.status, RunStatus::kFinished) << "the run ends in the job's write";
  EXPECT_EQ(store_->get_run(run_id)->info.end_time, ended.end_time);
  EXPECT_EQ(store_->renew_lease(current.lease, kLongLease).status().code(), StatusCode::kAborted) << "it ended";
  EXPECT_FALSE(store_->claim_job("replica-c", kLongLease, 3)->has_value());
}

TEST_P(StoreContract, AJobPastItsAttemptsIsClaimedExhaustedWithoutAnotherAttempt) {
  const int64_t job = *store_->create_job("match", std::nullopt);
  ASSERT_TRUE(store_->claim_job("replica-a", milliseconds(1), 1)->has_value());
  std::this_thread::sleep_for(milliseconds(20));
  const ClaimedJob claimed = **store_->claim_job("replica-b", kLongLease, 1);
  EXPECT_EQ(claimed.job.job_id, job);
  EXPECT_TRUE(claimed.exhausted);
  EXPECT_EQ(claimed.job.attempts, 1);
  EXPECT_EQ(claimed.job.owner, "replica-b");
}

TEST_P(StoreContract, ReleasedLeasesAreClaimableAtOnce) {
  const int64_t job = *store_->create_job("match", std::nullopt);
  ASSERT_TRUE(store_->claim_job("replica-a", kLongLease, 3)->has_value());
  EXPECT_EQ(*store_->release_leases("replica-b"), 0);
  EXPECT_FALSE(store_->claim_job("replica-b", kLongLease, 3)->has_value());
  EXPECT_EQ(*store_->release_leases("replica-a"), 1);
  const auto claimed = store_->claim_job("replica-a", kLongLease, 3);
  ASSERT_TRUE(claimed.ok() && *claimed);
  EXPECT_EQ((*claimed)->job.job_id, job);
  EXPECT_EQ((*claimed)->lease.attempt, 2);
}

TEST_P(StoreContract, CancelEndsAQueuedJobWithItsRunAndFlagsARunningOne) {
  const std::string queued_run = new_run("queued");
  const int64_t running = *store_->create_job("match", std::nullopt);
  const int64_t queued = *store_->create_job("match", queued_run);
  const ClaimedJob claimed = **store_->claim_job("replica-a", kLongLease, 3);
  ASSERT_EQ(claimed.job.job_id, running);

  const Job cancelled = *store_->request_cancel(queued);
  EXPECT_EQ(cancelled.state, JobState::kCancelled);
  EXPECT_EQ(store_->get_run(queued_run)->info.status, RunStatus::kKilled);
  EXPECT_EQ(store_->request_cancel(queued).status().code(), StatusCode::kFailedPrecondition);

  const Job flagged = *store_->request_cancel(running);
  EXPECT_EQ(flagged.state, JobState::kRunning);
  EXPECT_TRUE(flagged.cancel_requested);
  EXPECT_TRUE(store_->renew_lease(claimed.lease, kLongLease)->cancel_requested) << "its owner learns at renewal";
  EXPECT_EQ(store_->request_cancel(999).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreContract, ConcurrentClaimsNeverShareAJob) {
  constexpr int kJobs = 60;
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(store_->create_job("match", std::nullopt).ok());
  std::vector<std::vector<int64_t>> claimed(6);
  std::vector<std::thread> replicas;
  for (std::size_t r = 0; r < claimed.size(); ++r) {
    replicas.emplace_back([&, r] {
      for (;;) {
        const auto job = store_->claim_job("replica-" + std::to_string(r), kLongLease, 3);
        if (!job.ok() || !*job) return;
        claimed[r].push_back((*job)->job.job_id);
      }
    });
  }
  for (std::thread& t : replicas) t.join();
  std::multiset<int64_t> all;
  for (const auto& ids : claimed) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), all.size()) << "a job was claimed twice";
}

// Every run of `experiment_id` in `view`.
std::vector<Run> runs_of(TrackingStore& store, int64_t experiment_id, ViewType view = ViewType::kActiveOnly) {
  SearchRunsRequest request;
  request.experiment_ids = {experiment_id};
  request.view = view;
  return store.search_runs(request)->runs;
}

JobSubmission sample_submission(int64_t experiment_id) {
  JobSubmission s;
  s.experiment_id = experiment_id;
  s.run_name = "submitted";
  s.user_id = "alice";
  s.start_time = 5000;
  s.kind = "matching";
  s.batch.params = {{"lambda", "0.2"}};
  s.batch.tags = {{"agnx.kind", "matching"}};
  s.artifacts = {{"inputs/model.pt", "model bytes", {}}, {"inputs/request.json", "{}", {}}};
  s.job_id_tag = "agnx.job_id";
  return s;
}

TEST_P(StoreContract, SubmitJobWritesRunJobParamsTagsAndArtifactsTogether) {
  const auto submitted = store_->submit_job(sample_submission(experiment_));
  ASSERT_TRUE(submitted.ok()) << submitted.status().to_string();
  EXPECT_TRUE(submitted->created);
  const auto run = store_->get_run(submitted->run.run_id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->info.run_name, "submitted");
  EXPECT_EQ(run->info.status, RunStatus::kRunning);
  EXPECT_EQ(run->params.at("lambda"), "0.2");
  EXPECT_EQ(run->tags.at("agnx.job_id"), std::to_string(submitted->job_id));
  const auto job = store_->get_job(submitted->job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->kind, "matching");
  EXPECT_EQ(job->state, JobState::kQueued);
  EXPECT_EQ(job->run_id, submitted->run.run_id);
  EXPECT_EQ(*store_->read_artifact(submitted->run.run_id, "inputs/model.pt"), "model bytes");
  EXPECT_EQ(store_->list_artifacts(submitted->run.run_id)->size(), 2u);
}

TEST_P(StoreContract, ASubmissionsArtifactGivenAsAFileIsLinkedNotWrittenAgain) {
  const auto source = dir_.path() / "model.pt";
  std::ofstream(source, std::ios::binary) << "model bytes";
  JobSubmission submission = sample_submission(experiment_);
  submission.artifacts[0].same_bytes = source;  // inputs/model.pt
  const auto submitted = store_->submit_job(submission);
  ASSERT_TRUE(submitted.ok()) << submitted.status().to_string();
  const auto file = store_->artifact_file(submitted->run.run_id, "inputs/model.pt");
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  EXPECT_TRUE(std::filesystem::equivalent(*file, source)) << "one file under two names";
  EXPECT_EQ(*store_->read_artifact(submitted->run.run_id, "inputs/model.pt"), "model bytes");
  const auto request = store_->artifact_file(submitted->run.run_id, "inputs/request.json");
  ASSERT_TRUE(request.ok()) << request.status().to_string();
  EXPECT_FALSE(std::filesystem::equivalent(*request, source));
  EXPECT_EQ(store_->artifact_file(submitted->run.run_id, "inputs/none").status().code(), StatusCode::kNotFound);
}

TEST_P(StoreContract, SubmitJobWithAKeyHappensOnce) {
  const WriteOptions key{"submission-1"};
  const auto first = store_->submit_job(sample_submission(experiment_), key);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  const auto retry = store_->submit_job(sample_submission(experiment_), key);
  ASSERT_TRUE(retry.ok()) << retry.status().to_string();
  EXPECT_FALSE(retry->created);
  EXPECT_EQ(retry->run.run_id, first->run.run_id);
  EXPECT_EQ(retry->job_id, first->job_id);
  EXPECT_EQ(store_->list_jobs(std::nullopt)->size(), 1u);
  EXPECT_EQ(runs_of(*store_, experiment_).size(), 1u);
  // The key is bound to its first use: another write kind is refused.
  EXPECT_EQ(store_->create_run(experiment_, "r", "alice", 1, key).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreContract, AFailedSubmissionLeavesNothingBehind) {
  JobSubmission bad = sample_submission(experiment_);
  bad.batch.params["lambda"] = "";
  bad.batch.params[""] = "empty key";
  EXPECT_EQ(store_->submit_job(bad).status().code(), StatusCode::kInvalidArgument);
  bad = sample_submission(experiment_);
  bad.artifacts.push_back({"../escape", "x", {}});
  EXPECT_EQ(store_->submit_job(bad).status().code(), StatusCode::kInvalidArgument);
  bad = sample_submission(experiment_);
  bad.artifacts.push_back({"inputs/model.pt", "twice", {}});
  EXPECT_EQ(store_->submit_job(bad).status().code(), StatusCode::kInvalidArgument);
  bad = sample_submission(999);
  EXPECT_EQ(store_->submit_job(bad, {"missing-experiment"}).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->delete_experiment(experiment_).ok());
  EXPECT_EQ(store_->submit_job(sample_submission(experiment_)).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->list_jobs(std::nullopt)->empty());
  EXPECT_TRUE(runs_of(*store_, experiment_, ViewType::kAll).empty());
  // A failed write does not record its key: the retry writes.
  ASSERT_TRUE(store_->restore_experiment(experiment_).ok());
  EXPECT_TRUE(store_->submit_job(sample_submission(experiment_), {"missing-experiment"}).ok());
}

TEST_P(StoreContract, MultiplierLibraries) {
  StoredLibrary library{"evo", "power", 1.5, {}};
  for (const char* name : {"b_mul", "a_mul"}) {
    StoredMultiplier m{name, name[0] == 'a', name[0] == 'a' ? 1.5 : 0.5, std::vector<int32_t>(65536)};
    for (int i = 0; i < 65536; ++i) m.products[static_cast<std::size_t>(i)] = i * (name[0] == 'a' ? 1 : -1);
    library.multipliers.push_back(std::move(m));
  }
  ASSERT_TRUE(store_->put_library(library).ok());
  const auto got = store_->get_library("evo");
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->metric, "power");
  EXPECT_EQ(got->metric_max, 1.5);
  ASSERT_EQ(got->multipliers.size(), 2u);
  EXPECT_EQ(got->multipliers[0].name, "a_mul");
  EXPECT_TRUE(got->multipliers[0].is_signed);
  EXPECT_EQ(got->multipliers[0].products, library.multipliers[1].products);
  EXPECT_EQ(got->multipliers[1].products, library.multipliers[0].products);
  EXPECT_EQ(store_->put_library(library).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->get_library("nope").status().code(), StatusCode::kNotFound);
  library.name = "another";
  ASSERT_TRUE(store_->put_library(library).ok());
  EXPECT_EQ(*store_->list_libraries(), (std::vector<std::string>{"another", "evo"}));
  library.name = "short";
  library.multipliers[0].products.resize(3);
  const Status short_table = store_->put_library(library);
  EXPECT_EQ(short_table.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(short_table.message().find("'b_mul'"), std::string::npos);
}

}  // namespace
}  // namespace agnx::store
