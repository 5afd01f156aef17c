// copy_store (store/store_copy.h) and `agnx-server migrate-store`: a SQLite
// store written through the TrackingStore API comes back whole from the
// PostgreSQL copy (runs, metric histories in logging order, artifacts'
// bytes, matching results, libraries, jobs, idempotency keys); a second copy
// into the same target is refused; new rows on the copy get fresh ids; a
// column added to both schemas later is copied too.
#include <gtest/gtest.h>

#include <map>

#include "client/tests/subprocess.h"
#include "store/open_store.h"
#include "store/postgres.h"
#include "store/sqlite.h"
#include "store/sqlite_store.h"
#include "store/store_copy.h"
#include "tests/support/postgres_cluster.h"
#include "tests/support/sample_matching.h"
#include "tests/support/temp_dir.h"

namespace agnx::store {
namespace {

using testing::PostgresCluster;
using testing::TempDir;

const std::string kArtifact("weights\0\xff\x01 of run a", 20);

std::unique_ptr<TrackingStore> open(const std::string& uri) {
  auto store = open_store(uri);
  EXPECT_TRUE(store.ok()) << store.status().to_string();
  return store.ok() ? std::move(*store) : nullptr;
}

// The ids of what fill_source wrote.
struct Written {
  int64_t experiment_id = 0;
  std::string run_a;  // params, tags, 2,500 metric values, an artifact, a job
  std::string run_b;  // a matching result
  std::string run_c;  // made by submit_job
  int64_t job_id = 0;
};

Written fill_source(TrackingStore& store) {
  Written w;
  w.experiment_id = *store.create_experiment("copied", {"key-experiment"});
  EXPECT_TRUE(store.delete_experiment(*store.create_experiment("deleted")).ok());
  w.run_a = store.create_run(w.experiment_id, "a", "alice", 1000)->run_id;
  RunBatch batch{{}, {{"lr", "0.1"}}, {{"note", "first"}}};
  // Equal step and timestamp: only the logging order tells 3 before 1.
  batch.metrics = {{"loss", 3.0, 50, 7}, {"loss", 1.0, 50, 7}};
  EXPECT_TRUE(store.log_batch(w.run_a, batch, {"key-batch"}).ok());
  for (int call = 0; call < 3; ++call) {
    RunBatch many;
    for (int i = 0; i < 800; ++i) many.metrics.push_back({"acc", (call * 800 + i) / 4000.0, 100 + i, call * 800 + i});
    EXPECT_TRUE(store.log_batch(w.run_a, many).ok());
  }
  EXPECT_TRUE(store.log_artifact(w.run_a, "model/weights.bin", kArtifact).ok());
  EXPECT_TRUE(store.update_run(w.run_a, RunStatus::kFinished, 2000).ok());
  w.job_id = *store.create_job("training", w.run_a);
  JobUpdate failed;
  failed.state = JobState::kFailed;
  failed.progress = 0.5;
  failed.error = "worker crashed";
  EXPECT_TRUE(store.update_job(w.job_id, failed).ok());
  w.run_b = store.create_run(w.experiment_id, "b", "bob", 1500)->run_id;
  EXPECT_TRUE(store.log_matching(w.run_b, {0.5, testing::sample_matching("lib", 40.0)}, {}).ok());
  StoredLibrary library{"lib", "power", 100.0, {{"mul_a", true, 40.0, std::vector<int32_t>(65536, -7)}}};
  library.multipliers[0].products[12345] = 123456;
  EXPECT_TRUE(store.put_library(library).ok());
  JobSubmission submission;
  submission.experiment_id = w.experiment_id;
  submission.run_name = "c";
  submission.kind = "matching";
  submission.artifacts = {{"calib.npy", kArtifact, {}}};
  auto submitted = store.submit_job(submission, {"key-submit"});
  EXPECT_TRUE(submitted.ok()) << submitted.status().to_string();
  w.run_c = submitted->run.run_id;
  return w;
}

std::vector<double> values(const std::vector<Metric>& history) {
  std::vector<double> out;
  for (const Metric& m : history) out.push_back(m.value);
  return out;
}

// A fresh database of the shared cluster, an empty source and target directory.
class StoreCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AGNX_SKIP_WITHOUT_POSTGRES();
    auto cluster = PostgresCluster::shared();
    ASSERT_TRUE(cluster.ok()) << cluster.status().to_string();
    cluster_ = *cluster;
    source_uri_ = "sqlite:" + (dir_.path() / "source").string();
    target_uri_ = new_target("target");
  }

  // The URI of a new empty database with data_dir `name` in the test's directory.
  std::string new_target(const std::string& name) {
    auto database = cluster_->create_database();
    EXPECT_TRUE(database.ok()) << database.status().to_string();
    database_ = database.ok() ? *database : "";
    return cluster_->store_uri(database_, dir_.path() / name);
  }

  // Fills the source, then closes it.
  Written fill() {
    const auto source = open(source_uri_);
    return source ? fill_source(*source) : Written{};
  }

  TempDir dir_;
  PostgresCluster* cluster_ = nullptr;
  std::string database_;  // of the last new_target
  std::string source_uri_;
  std::string target_uri_;
};

TEST_F(StoreCopyTest, CopiesEveryTableAndTheArtifactFiles) {
  const Written w = fill();
  const auto copy = copy_store(source_uri_, target_uri_);
  ASSERT_TRUE(copy.ok()) << copy.status().to_string();
  std::map<std::string, int64_t> rows;
  for (const TableCount& t : copy->tables) {
    EXPECT_EQ(t.source_rows, t.target_rows) << t.table;
    rows[t.table] = t.target_rows;
  }
  EXPECT_EQ(rows.size(), 14u);
  EXPECT_EQ(rows["metrics"], 2402);
  EXPECT_EQ(rows["experiments"], 2);
  EXPECT_EQ(rows["idempotency_keys"], 3);
  EXPECT_EQ(rows["matching_candidates"], 4);
  EXPECT_EQ(copy->tables.front().table, "experiments");  // parents first
  EXPECT_EQ(copy->artifact_files, 1);

  const auto source = open(source_uri_);
  const auto target = open(target_uri_);
  ASSERT_TRUE(source && target);
  for (const std::string& run_id : {w.run_a, w.run_b, w.run_c}) {
    const auto before = source->get_run(run_id);
    const auto after = target->get_run(run_id);
    ASSERT_TRUE(after.ok()) << after.status().to_string();
    EXPECT_EQ(after->info.run_name, before->info.run_name);
    EXPECT_EQ(after->info.status, before->info.status);
    EXPECT_EQ(after->info.end_time, before->info.end_time);
    EXPECT_EQ(after->params, before->params);
    EXPECT_EQ(after->tags, before->tags);
    EXPECT_EQ(after->metrics.size(), before->metrics.size());
  }
  EXPECT_EQ(values(*target->get_metric_history(w.run_a, "loss")), (std::vector<double>{3.0, 1.0}));
  EXPECT_EQ(values(*target->get_metric_history(w.run_a, "acc")), values(*source->get_metric_history(w.run_a, "acc")));
  EXPECT_EQ(*target->read_artifact(w.run_a, "model/weights.bin"), kArtifact);
  EXPECT_EQ(*target->read_artifact(w.run_c, "calib.npy"), kArtifact);
  // Same file system: the copy is a hard link of the source's file.
  EXPECT_TRUE(std::filesystem::equivalent(*source->artifact_file(w.run_a, "model/weights.bin"),
                                          *target->artifact_file(w.run_a, "model/weights.bin")));

  const auto matching = target->get_matching(w.run_b);
  ASSERT_TRUE(matching.ok()) << matching.status().to_string();
  const MatchingInfo expected = testing::sample_matching("lib", 40.0);
  EXPECT_EQ(matching->lambda, 0.5);
  EXPECT_EQ(matching->info.seed, expected.seed);
  ASSERT_EQ(matching->info.layers.size(), 2u);
  EXPECT_EQ(matching->info.layers[0].sample_rows, expected.layers[0].sample_rows);
  EXPECT_EQ(matching->info.layers[0].w_dist, expected.layers[0].w_dist);
  EXPECT_EQ(matching->info.layers[0].candidates.size(), 2u);
  EXPECT_EQ(matching->info.layers[1].input_scale, std::nullopt);
  EXPECT_EQ(matching->info.accuracy->approximate_top5, expected.accuracy->approximate_top5);
  EXPECT_EQ(target->get_library("lib")->multipliers.at(0).products,
            source->get_library("lib")->multipliers.at(0).products);

  const auto job = target->get_job(w.job_id);
  ASSERT_TRUE(job.ok()) << job.status().to_string();
  EXPECT_EQ(job->state, JobState::kFailed);
  EXPECT_EQ(job->progress, 0.5);
  EXPECT_EQ(job->error, "worker crashed");
  EXPECT_EQ(job->end_time, source->get_job(w.job_id)->end_time);
  EXPECT_EQ(job->run_id, w.run_a);
  EXPECT_EQ(target->list_jobs(std::nullopt)->size(), 2u);
  EXPECT_EQ(target->list_experiments(ViewType::kAll)->size(), 2u);
  // An idempotent retry on the copy finds the first call's result.
  EXPECT_EQ(*target->create_experiment("copied", {"key-experiment"}), w.experiment_id);
}

TEST_F(StoreCopyTest, NewRowsOnTheCopyGetFreshIds) {
  const Written w = fill();
  ASSERT_TRUE(copy_store(source_uri_, target_uri_).ok());
  const auto target = open(target_uri_);
  ASSERT_TRUE(target);
  const auto experiment = target->create_experiment("new");
  ASSERT_TRUE(experiment.ok()) << experiment.status().to_string();
  EXPECT_GT(*experiment, w.experiment_id + 1);
  const auto job = target->create_job("matching", std::nullopt);
  ASSERT_TRUE(job.ok()) << job.status().to_string();
  EXPECT_GT(*job, w.job_id + 1);
  // A value logged now at the same step and time sorts after the copied ones.
  ASSERT_TRUE(target->log_metric(w.run_a, {"loss", 2.0, 50, 7}).ok());
  EXPECT_EQ(values(*target->get_metric_history(w.run_a, "loss")), (std::vector<double>{3.0, 1.0, 2.0}));
  StoredLibrary library{"lib2", "power", 1.0, {{"m", false, 1.0, std::vector<int32_t>(65536)}}};
  EXPECT_TRUE(target->put_library(library).ok());
}

// A column a later migration adds to both schemas is copied without a change
// to copy_store.
TEST_F(StoreCopyTest, CopiesAColumnItWasNotWrittenFor) {
  const Written w = fill();
  auto source = Connection::open(SqliteTrackingStore::database_path(dir_.path() / "source"),
                                 Connection::Mode::kReadWrite, 1000, false);
  ASSERT_TRUE(source.ok()) << source.status().to_string();
  ASSERT_TRUE((*source)->exec("ALTER TABLE jobs ADD COLUMN note TEXT; UPDATE jobs SET note = 'n' || job_id").ok());
  ASSERT_TRUE(open(target_uri_));  // creates the schema
  auto target = pg::Connection::open(cluster_->conninfo(database_), database_);
  ASSERT_TRUE(target.ok()) << target.status().to_string();
  ASSERT_TRUE((*target)->script("ALTER TABLE jobs ADD COLUMN note text").ok());
  const auto copy = copy_store(source_uri_, target_uri_);
  ASSERT_TRUE(copy.ok()) << copy.status().to_string();
  const auto note = (*target)->exec("SELECT note FROM jobs WHERE job_id = $1", pg::Params().add(w.job_id));
  ASSERT_TRUE(note.ok()) << note.status().to_string();
  EXPECT_EQ((*note)[0].text(0), "n" + std::to_string(w.job_id));
}

TEST_F(StoreCopyTest, RefusesATargetThatHoldsRows) {
  fill();
  ASSERT_TRUE(copy_store(source_uri_, target_uri_).ok());
  const auto again = copy_store(source_uri_, target_uri_);
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("not empty"), std::string::npos) << again.status().message();
}

TEST_F(StoreCopyTest, RefusesOtherSchemesAndAMissingSource) {
  EXPECT_EQ(copy_store(target_uri_, target_uri_).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(copy_store(source_uri_, source_uri_).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(copy_store(source_uri_, target_uri_).status().code(), StatusCode::kNotFound);
}

TEST_F(StoreCopyTest, ThroughTheServerBinary) {
  fill();
  const auto copied = testing::run_process(
      {AGNX_SERVER_BINARY, "migrate-store", "--from", source_uri_, "--to", target_uri_});
  EXPECT_EQ(copied.exit_code, 0) << copied.err;
  EXPECT_NE(copied.out.find("\nmetrics 2402 -> 2402\n"), std::string::npos) << copied.out;
  EXPECT_NE(copied.out.find("experiments 2 -> 2\n"), std::string::npos) << copied.out;
  EXPECT_NE(copied.out.find("artifact files: 1\n"), std::string::npos) << copied.out;
  const auto json = testing::run_process(
      {AGNX_SERVER_BINARY, "migrate-store", "--from", source_uri_, "--to", new_target("json"), "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find("{\"table\": \"metrics\", \"source_rows\": 2402, \"target_rows\": 2402}"),
            std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find("], \"artifact_files\": 1}\n"), std::string::npos) << json.out;
  const auto again = testing::run_process(
      {AGNX_SERVER_BINARY, "migrate-store", "--from", source_uri_, "--to", target_uri_});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("not empty"), std::string::npos) << again.err;
  EXPECT_EQ(testing::run_process({AGNX_SERVER_BINARY, "migrate-store", "--from", source_uri_}).exit_code, 1);
}

}  // namespace
}  // namespace agnx::store
