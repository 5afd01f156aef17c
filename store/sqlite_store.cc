#include "store/sqlite_store.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <bit>
#include <cmath>
#include <mutex>
#include <set>
#include <span>
#include <tuple>

#include "core/clock.h"
#include "store/migrations.h"
#include "store/rows.h"
#include "store/search_sql.h"
#include "store/store_policy.h"

namespace agnx::store {
namespace {

// All rows of `stmt` through `read(row) -> Result<T>`.
template <typename T, typename F>
Result<std::vector<T>> read_all(Statement& stmt, F read) {
  std::vector<T> rows;
  while (true) {
    AGNX_ASSIGN_OR_RETURN(const bool row, stmt.step());
    if (!row) return rows;
    AGNX_ASSIGN_OR_RETURN(T value, read(stmt));
    rows.push_back(std::move(value));
  }
}

Result<std::vector<Experiment>> select_experiments(Connection& db, const std::string& where, auto bind) {
  AGNX_ASSIGN_OR_RETURN(Statement stmt, db.prepare(std::string("SELECT ") + kExperimentColumns +
                                                   " FROM experiments " + where + " ORDER BY experiment_id"));
  bind(stmt);
  return read_all<Experiment>(stmt, read_experiment<Statement>);
}

Result<RunInfo> select_run_info(Connection& db, const std::string& run_id) {
  AGNX_ASSIGN_OR_RETURN(Statement stmt,
                        db.prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE run_id = ?1"));
  stmt.bind(1, run_id);
  AGNX_ASSIGN_OR_RETURN(const bool found, stmt.step());
  if (!found) return Status::not_found("run '" + run_id + "' does not exist");
  return read_run_info(stmt);
}

Result<std::map<std::string, std::string>> select_key_values(Connection& db, const char* table,
                                                             const std::string& run_id) {
  AGNX_ASSIGN_OR_RETURN(Statement stmt,
                        db.prepare(std::string("SELECT key, value FROM ") + table + " WHERE run_id = ?1"));
  stmt.bind(1, run_id);
  std::map<std::string, std::string> values;
  while (true) {
    AGNX_ASSIGN_OR_RETURN(const bool row, stmt.step());
    if (!row) return values;
    values.emplace(stmt.text(0), stmt.text(1));
  }
}

Status load_run_data(Connection& db, Run& run) {
  AGNX_ASSIGN_OR_RETURN(run.params, select_key_values(db, "params", run.info.run_id));
  AGNX_ASSIGN_OR_RETURN(run.tags, select_key_values(db, "tags", run.info.run_id));
  AGNX_ASSIGN_OR_RETURN(Statement stmt,
                        db.prepare("SELECT key, value, timestamp, step FROM latest_metrics WHERE run_id = ?1"));
  stmt.bind(1, run.info.run_id);
  while (true) {
    AGNX_ASSIGN_OR_RETURN(const bool row, stmt.step());
    if (!row) return {};
    Metric metric = read_metric(stmt);
    run.metrics.emplace(metric.key, std::move(metric));
  }
}

// ---- checks inside write transactions -----------------------------------

Result<Experiment> require_experiment(Connection& db, int64_t experiment_id) {
  AGNX_ASSIGN_OR_RETURN(auto found, select_experiments(db, "WHERE experiment_id = ?1",
                                                       [&](Statement& s) { s.bind(1, experiment_id); }));
  if (found.empty()) return Status::not_found("experiment " + std::to_string(experiment_id) + " does not exist");
  return found.front();
}

Status require_active_run(Connection& db, const std::string& run_id) {
  AGNX_ASSIGN_OR_RETURN(const RunInfo info, select_run_info(db, run_id));
  return require_active(info);
}

// ---- idempotency keys -------------------------------------------------------

// The result the first write with `key` recorded, or nullopt when no write
// used it (or the key is empty). kInvalidArgument when it named another kind
// of write or another target.
Result<std::optional<std::string>> earlier_result(Connection& db, const std::string& key, const std::string& kind,
                                                  const std::string& target) {
  if (key.empty()) return std::optional<std::string>();
  AGNX_ASSIGN_OR_RETURN(Statement stmt, db.prepare("SELECT kind, target, result FROM idempotency_keys WHERE key = ?1"));
  stmt.bind(1, key);
  AGNX_ASSIGN_OR_RETURN(const bool found, stmt.step());
  std::optional<KeyRecord> record;
  if (found) record = KeyRecord{stmt.text(0), stmt.text(1), stmt.text(2)};
  return replay(key, record, kind, target);
}

// Records that the write with `key` (if any) returned `result`.
Status record_key(Connection& db, const std::string& key, const std::string& kind, const std::string& target,
                  const std::string& result) {
  if (key.empty()) return {};
  AGNX_ASSIGN_OR_RETURN(Statement insert, db.prepare("INSERT INTO idempotency_keys (key, kind, target, result, "
                                                     "creation_time) VALUES (?1, ?2, ?3, ?4, ?5)"));
  return insert.bind(1, key).bind(2, kind).bind(3, target).bind(4, result).bind(5, now_ms()).run();
}

// ---- writes ---------------------------------------------------------------

Status write_params(Connection& db, const std::string& run_id, const std::map<std::string, std::string>& params) {
  for (const auto& [key, value] : params) {
    AGNX_ASSIGN_OR_RETURN(Statement insert, db.prepare("INSERT INTO params (run_id, key, value) VALUES (?1, ?2, ?3) "
                                                       "ON CONFLICT (run_id, key) DO NOTHING"));
    AGNX_RETURN_IF_ERROR(insert.bind(1, run_id).bind(2, key).bind(3, value).run());
    if (sqlite3_changes(db.handle()) == 1) continue;
    AGNX_ASSIGN_OR_RETURN(Statement existing, db.prepare("SELECT value FROM params WHERE run_id = ?1 AND key = ?2"));
    existing.bind(1, run_id).bind(2, key);
    AGNX_RETURN_IF_ERROR(existing.step().status());
    AGNX_RETURN_IF_ERROR(require_same_param(run_id, key, existing.text(0), value));
  }
  return {};
}

Status write_tags(Connection& db, const std::string& run_id, const std::map<std::string, std::string>& tags) {
  for (const auto& [key, value] : tags) {
    AGNX_ASSIGN_OR_RETURN(Statement upsert, db.prepare("INSERT INTO tags (run_id, key, value) VALUES (?1, ?2, ?3) "
                                                       "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"));
    AGNX_RETURN_IF_ERROR(upsert.bind(1, run_id).bind(2, key).bind(3, value).run());
  }
  return {};
}

bool later(const Metric& a, const Metric& b) {
  return std::tie(a.step, a.timestamp, a.value) > std::tie(b.step, b.timestamp, b.value);
}

// The INSERT of `rows` metrics of one run (?1), in order; `rows` is a power
// of two up to 64.
const std::string& insert_metrics_sql(std::size_t rows) {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> all;
    for (std::size_t n = 1; n <= 64; n *= 2) {
      std::string sql = "INSERT INTO metrics (run_id, key, value, timestamp, step) VALUES ";
      for (std::size_t r = 0; r < n; ++r) {
        const std::size_t p = 2 + 4 * r;
        sql += (r ? ", (?1, ?" : "(?1, ?") + std::to_string(p) + ", ?" + std::to_string(p + 1) + ", ?" +
               std::to_string(p + 2) + ", ?" + std::to_string(p + 3) + ")";
      }
      all.push_back(std::move(sql));
    }
    return all;
  }();
  return texts[static_cast<std::size_t>(std::bit_width(rows)) - 1];
}

// Inserts `metrics` in order, as few multi-row statements as the sizes
// 64, 32, ..., 1 allow (one statement runs, and journals its pages, once
// for many rows; at most seven statement texts are cached).
Status insert_metrics(Connection& db, const std::string& run_id, std::span<const Metric> metrics) {
  for (std::size_t rows = 64; !metrics.empty(); rows /= 2) {
    for (; metrics.size() >= rows; metrics = metrics.subspan(rows)) {
      AGNX_ASSIGN_OR_RETURN(Statement insert, db.prepare(insert_metrics_sql(rows)));
      insert.bind(1, run_id);
      for (std::size_t r = 0; r < rows; ++r) {
        const Metric& m = metrics[r];
        const int p = static_cast<int>(2 + 4 * r);
        insert.bind(p, m.key).bind(p + 1, m.value).bind(p + 2, m.timestamp).bind(p + 3, m.step);
      }
      AGNX_RETURN_IF_ERROR(insert.run());
    }
  }
  return {};
}

Status write_metrics(Connection& db, const std::string& run_id, const std::vector<Metric>& metrics) {
  AGNX_RETURN_IF_ERROR(insert_metrics(db, run_id, metrics));
  std::map<std::string, const Metric*> latest;
  for (const Metric& m : metrics) {
    const Metric*& best = latest[m.key];
    if (best == nullptr || later(m, *best)) best = &m;
  }
  for (const auto& [key, m] : latest) {
    AGNX_ASSIGN_OR_RETURN(
        Statement upsert,
        db.prepare("INSERT INTO latest_metrics (run_id, key, value, timestamp, step) VALUES (?1, ?2, ?3, ?4, ?5) "
                   "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, "
                   "step = excluded.step WHERE (excluded.step, excluded.timestamp, excluded.value) > "
                   "(latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)"));
    AGNX_RETURN_IF_ERROR(
        upsert.bind(1, run_id).bind(2, key).bind(3, m->value).bind(4, m->timestamp).bind(5, m->step).run());
  }
  return {};
}

Status write_batch(Connection& db, const std::string& run_id, const RunBatch& batch) {
  AGNX_RETURN_IF_ERROR(require_active_run(db, run_id));
  AGNX_RETURN_IF_ERROR(write_params(db, run_id, batch.params));
  AGNX_RETURN_IF_ERROR(write_tags(db, run_id, batch.tags));
  return write_metrics(db, run_id, batch.metrics);
}

Status write_layer(Connection& db, const std::string& run_id, int64_t index, const LayerInfo& layer) {
  AGNX_ASSIGN_OR_RETURN(
      Statement insert,
      db.prepare("INSERT INTO matching_layers (run_id, layer_index, name, fan_in, opcount, sigma, out_std, max_std, "
                 "multiplier_name, multiplier_metric, mul_std, sample_rows, observed_mean, observed_std, "
                 "feature_rows, input_scale, weight_scale, w_dist, x_dist_global) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"));
  insert.bind(1, run_id).bind(2, index).bind(3, layer.name).bind(4, layer.fan_in).bind(5, layer.opcount);
  insert.bind(6, layer.sigma).bind(7, layer.out_std).bind(8, layer.max_std).bind(9, layer.multiplier_name);
  insert.bind(10, layer.multiplier_performance_metric).bind(11, layer.mul_std).bind(12, bytes_of(layer.sample_rows));
  insert.bind(13, layer.observed_mean).bind(14, layer.observed_std).bind(15, layer.rows);
  insert.bind(16, layer.input_scale).bind(17, layer.weight_scale).bind(18, bytes_of(layer.w_dist));
  AGNX_RETURN_IF_ERROR(insert.bind(19, bytes_of(layer.x_dist_global)).run());
  for (const CandidatePrediction& c : layer.candidates) {
    AGNX_ASSIGN_OR_RETURN(Statement candidate,
                          db.prepare("INSERT INTO matching_candidates (run_id, layer_index, name, metric, mean, std) "
                                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    AGNX_RETURN_IF_ERROR(
        candidate.bind(1, run_id).bind(2, index).bind(3, c.name).bind(4, c.metric).bind(5, c.mean).bind(6, c.std).run());
  }
  return {};
}

Status write_matching(Connection& db, const std::string& run_id, const MatchingRecord& record) {
  const MatchingInfo& info = record.info;
  AGNX_ASSIGN_OR_RETURN(Statement exists, db.prepare("SELECT 1 FROM matching_results WHERE run_id = ?1"));
  exists.bind(1, run_id);
  AGNX_ASSIGN_OR_RETURN(const bool found, exists.step());
  if (found) return Status::already_exists("run '" + run_id + "' already has a matching result");
  AGNX_ASSIGN_OR_RETURN(Statement insert,
                        db.prepare("INSERT INTO matching_results (run_id, lambda, library, metric, metric_max, "
                                   "opcount, relative_energy, seed, num_samples, float_top1, float_top5, "
                                   "quantized_top1, quantized_top5, approximate_top1, approximate_top5) "
                                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"));
  insert.bind(1, run_id).bind(2, record.lambda).bind(3, info.library).bind(4, info.metric).bind(5, info.metric_max);
  insert.bind(6, info.opcount()).bind(7, info.relative_energy_consumption());
  insert.bind(8, info.seed ? std::optional<int64_t>(std::bit_cast<int64_t>(*info.seed)) : std::nullopt);
  insert.bind(9, info.num_samples ? std::optional<int64_t>(static_cast<int64_t>(*info.num_samples)) : std::nullopt);
  const auto accuracy = [&](double ModelAccuracy::*field) {
    return info.accuracy ? std::optional<double>((*info.accuracy).*field) : std::nullopt;
  };
  insert.bind(10, accuracy(&ModelAccuracy::float_top1)).bind(11, accuracy(&ModelAccuracy::float_top5));
  insert.bind(12, accuracy(&ModelAccuracy::quantized_top1)).bind(13, accuracy(&ModelAccuracy::quantized_top5));
  insert.bind(14, accuracy(&ModelAccuracy::approximate_top1)).bind(15, accuracy(&ModelAccuracy::approximate_top5));
  AGNX_RETURN_IF_ERROR(insert.run());
  for (std::size_t i = 0; i < info.layers.size(); ++i) {
    AGNX_RETURN_IF_ERROR(write_layer(db, run_id, static_cast<int64_t>(i), info.layers[i]));
  }
  return {};
}

Status insert_run(Connection& db, const RunInfo& info) {
  AGNX_ASSIGN_OR_RETURN(const Experiment experiment, require_experiment(db, info.experiment_id));
  AGNX_RETURN_IF_ERROR(require_active(experiment));
  AGNX_ASSIGN_OR_RETURN(Statement insert, db.prepare("INSERT INTO runs (run_id, experiment_id, run_name, user_id, "
                                                     "status, start_time) VALUES (?1, ?2, ?3, ?4, 'RUNNING', ?5)"));
  insert.bind(1, info.run_id).bind(2, info.experiment_id).bind(3, info.run_name).bind(4, info.user_id);
  return insert.bind(5, info.start_time).run();
}

Result<int64_t> insert_job(Connection& db, const std::string& kind, const std::optional<std::string>& run_id) {
  AGNX_ASSIGN_OR_RETURN(Statement insert, db.prepare("INSERT INTO jobs (run_id, kind, state, creation_time, "
                                                     "update_time) VALUES (?1, ?2, 'QUEUED', ?3, ?3)"));
  if (run_id) insert.bind(1, *run_id);
  AGNX_RETURN_IF_ERROR(insert.bind(2, kind).bind(3, now_ms()).run());
  return sqlite3_last_insert_rowid(db.handle());
}

Status reference_artifact(Connection& db, const std::string& run_id, const ArtifactInfo& info) {
  AGNX_ASSIGN_OR_RETURN(Statement upsert, db.prepare("INSERT OR REPLACE INTO artifacts (run_id, path, size, sha256) "
                                                     "VALUES (?1, ?2, ?3, ?4)"));
  return upsert.bind(1, run_id).bind(2, info.path).bind(3, info.size).bind(4, info.sha256).run();
}

// The first submission with a key, from the "RUN_ID JOB_ID" it recorded.
Status read_submitted(Connection& db, const std::string& recorded, SubmittedJob& submitted) {
  const auto space = recorded.find(' ');
  if (space == std::string::npos) return Status::internal("malformed submission record '" + recorded + "'");
  AGNX_ASSIGN_OR_RETURN(submitted.run, select_run_info(db, recorded.substr(0, space)));
  submitted.job_id = std::stoll(recorded.substr(space + 1));
  submitted.created = false;
  return {};
}

// ---- reading matching results ---------------------------------------------

Result<MatchingRecord> select_matching(Connection& db, const std::string& run_id) {
  MatchingRecord record;
  {
    AGNX_ASSIGN_OR_RETURN(Statement stmt, db.prepare(std::string("SELECT ") + kMatchingColumns +
                                                     " FROM matching_results WHERE run_id = ?1"));
    stmt.bind(1, run_id);
    AGNX_ASSIGN_OR_RETURN(const bool found, stmt.step());
    if (!found) return Status::not_found("run '" + run_id + "' has no matching result");
    record = read_matching_head(stmt);
  }
  MatchingInfo& info = record.info;
  AGNX_ASSIGN_OR_RETURN(Statement layers, db.prepare(std::string("SELECT ") + kLayerColumns +
                                                     " FROM matching_layers WHERE run_id = ?1 ORDER BY layer_index"));
  layers.bind(1, run_id);
  AGNX_ASSIGN_OR_RETURN(info.layers, read_all<LayerInfo>(layers, [](const Statement& row) -> Result<LayerInfo> {
                          return read_layer(row);
                        }));
  AGNX_ASSIGN_OR_RETURN(Statement candidates, db.prepare("SELECT layer_index, name, metric, mean, std FROM "
                                                         "matching_candidates WHERE run_id = ?1 "
                                                         "ORDER BY layer_index, name"));
  candidates.bind(1, run_id);
  while (true) {
    AGNX_ASSIGN_OR_RETURN(const bool row, candidates.step());
    if (!row) return record;
    const auto index = static_cast<std::size_t>(candidates.int64(0));
    if (index >= info.layers.size()) return Status::internal("candidate of a missing layer in run '" + run_id + "'");
    info.layers[index].candidates.push_back(
        {candidates.text(1), candidates.real(2), candidates.real(3), candidates.real(4)});
  }
}

// ---- jobs -----------------------------------------------------------------

// Writes every column of `job` but its id, kind, run and creation time.
Status write_job(Connection& db, const Job& job) {
  AGNX_ASSIGN_OR_RETURN(Statement stmt,
                        db.prepare("UPDATE jobs SET state = ?1, attempts = ?2, progress = ?3, error = ?4, "
                                   "update_time = ?5, start_time = ?6, end_time = ?7, owner = ?8, "
                                   "lease_expires = ?9, cancel_requested = ?10 WHERE job_id = ?11"));
  stmt.bind(1, job_state_name(job.state)).bind(2, job.attempts).bind(3, job.progress).bind(4, job.error);
  stmt.bind(5, job.update_time).bind(6, job.start_time).bind(7, job.end_time);
  if (job.owner) stmt.bind(8, *job.owner);
  else stmt.bind_null(8);
  stmt.bind(9, job.lease_expires).bind(10, int64_t{job.cancel_requested}).bind(11, job.job_id);
  return stmt.run();
}

// Ends the run of `job` (which just ended) with `status`, if it is active.
Status end_job_run(Connection& db, const Job& job, RunStatus status) {
  if (!job.run_id) return {};
  AGNX_ASSIGN_OR_RETURN(Statement stmt, db.prepare("UPDATE runs SET status = ?1, end_time = ?2 "
                                                   "WHERE run_id = ?3 AND lifecycle_stage = 'active'"));
  return stmt.bind(1, run_status_name(status)).bind(2, job.end_time).bind(3, *job.run_id).run();
}

Result<Job> select_job(Connection& db, int64_t job_id) {
  AGNX_ASSIGN_OR_RETURN(Statement stmt,
                        db.prepare(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE job_id = ?1"));
  stmt.bind(1, job_id);
  AGNX_ASSIGN_OR_RETURN(const bool found, stmt.step());
  if (!found) return Status::not_found("job " + std::to_string(job_id) + " does not exist");
  return read_job(stmt);
}

// The oldest job claimable at `now` (TrackingStore::claim_job), if any.
Result<std::optional<Job>> select_claimable_job(Connection& db, int64_t now) {
  AGNX_ASSIGN_OR_RETURN(Statement stmt, db.prepare(std::string("SELECT ") + kJobColumns +
                                                   " FROM jobs WHERE state IN ('QUEUED', 'RUNNING') AND "
                                                   "(state = 'QUEUED' OR lease_expires IS NULL OR lease_expires < ?1) "
                                                   "ORDER BY job_id LIMIT 1"));
  AGNX_ASSIGN_OR_RETURN(const bool found, stmt.bind(1, now).step());
  if (!found) return std::optional<Job>();
  AGNX_ASSIGN_OR_RETURN(Job job, read_job(stmt));
  return std::optional<Job>(std::move(job));
}

}  // namespace

// ---- opening --------------------------------------------------------------

std::filesystem::path SqliteTrackingStore::database_path(const std::filesystem::path& data_dir) {
  return data_dir / "tracking.db";
}

Result<std::unique_ptr<SqliteTrackingStore>> SqliteTrackingStore::open(const SqliteStoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) return Status::io_error("creating data directory " + options.data_dir.string() + ": " + ec.message());
  const std::filesystem::path database = database_path(options.data_dir);
  AGNX_ASSIGN_OR_RETURN(auto connection, Connection::open(database, Connection::Mode::kReadWrite,
                                                          options.busy_timeout_ms, options.synchronous_full));
  AGNX_RETURN_IF_ERROR(apply_migrations(*connection, embedded_migrations()).status());
  // Every write's SAVEPOINT (and every statement in it) journals the pages it
  // changes, to undo them on failure: kept in memory, not written to a
  // temporary file past 64 KiB (most of a group's writes were). Commits, and
  // so durability, are the WAL's and unchanged.
  AGNX_RETURN_IF_ERROR(connection->exec("PRAGMA temp_store = MEMORY"));
  const std::chrono::milliseconds busy_deadline(options.busy_deadline_ms);
  auto writer = std::make_unique<GroupCommitWriter>(std::move(connection), options.max_group, busy_deadline);
  AGNX_ASSIGN_OR_RETURN(auto readers,
                        ReaderPool::open(database, options.readers, options.busy_timeout_ms, busy_deadline));
  return std::unique_ptr<SqliteTrackingStore>(new SqliteTrackingStore(
      std::move(writer), std::move(readers), ArtifactFiles(options.data_dir / "artifacts")));
}

// ---- experiments ----------------------------------------------------------

Result<int64_t> SqliteTrackingStore::do_create_experiment(const std::string& name, const WriteOptions& options) {
  const std::string& key = options.idempotency_key;
  int64_t id = 0;
  const Status written = writer_->submit([&](Connection& db) -> Status {
    AGNX_ASSIGN_OR_RETURN(const auto earlier, earlier_result(db, key, "create_experiment", name));
    if (earlier) {
      id = std::stoll(*earlier);
      return {};
    }
    AGNX_ASSIGN_OR_RETURN(const auto existing, select_experiments(db, "WHERE name = ?1",
                                                                  [&](Statement& s) { s.bind(1, name); }));
    if (!existing.empty()) {
      return Status::already_exists("experiment '" + name + "' already exists (id " +
                                    std::to_string(existing.front().experiment_id) + ")");
    }
    AGNX_ASSIGN_OR_RETURN(Statement insert, db.prepare("INSERT INTO experiments (name, creation_time, "
                                                       "last_update_time) VALUES (?1, ?2, ?2)"));
    AGNX_RETURN_IF_ERROR(insert.bind(1, name).bind(2, now_ms()).run());
    id = sqlite3_last_insert_rowid(db.handle());
    return record_key(db, key, "create_experiment", name, std::to_string(id));
  });
  if (!written.ok()) return written;
  return id;
}

Result<Experiment> SqliteTrackingStore::get_experiment(int64_t experiment_id) {
  return readers_->read([&](Connection& db) { return require_experiment(db, experiment_id); });
}

Result<Experiment> SqliteTrackingStore::get_experiment_by_name(const std::string& name) {
  return readers_->read([&](Connection& db) -> Result<Experiment> {
    AGNX_ASSIGN_OR_RETURN(auto found, select_experiments(db, "WHERE name = ?1", [&](Statement& s) { s.bind(1, name); }));
    if (found.empty()) return Status::not_found("experiment '" + name + "' does not exist");
    return found.front();
  });
}

Result<std::vector<Experiment>> SqliteTrackingStore::list_experiments(ViewType view) {
  return readers_->read([&](Connection& db) {
    if (view == ViewType::kAll) return select_experiments(db, "", [](Statement&) {});
    return select_experiments(db, "WHERE lifecycle_stage = ?1", [&](Statement& s) {
      s.bind(1, lifecycle_name(view == ViewType::kActiveOnly ? Lifecycle::kActive : Lifecycle::kDeleted));
    });
  });
}

Status SqliteTrackingStore::do_set_experiment_lifecycle(int64_t experiment_id, Lifecycle lifecycle) {
  return writer_->submit([&](Connection& db) -> Status {
    AGNX_RETURN_IF_ERROR(require_experiment(db, experiment_id).status());
    AGNX_ASSIGN_OR_RETURN(Statement experiment, db.prepare("UPDATE experiments SET lifecycle_stage = ?1, "
                                                           "last_update_time = ?2 WHERE experiment_id = ?3"));
    AGNX_RETURN_IF_ERROR(experiment.bind(1, lifecycle_name(lifecycle)).bind(2, now_ms()).bind(3, experiment_id).run());
    AGNX_ASSIGN_OR_RETURN(Statement runs, db.prepare("UPDATE runs SET lifecycle_stage = ?1 WHERE experiment_id = ?2"));
    return runs.bind(1, lifecycle_name(lifecycle)).bind(2, experiment_id).run();
  });
}

// ---- runs -----------------------------------------------------------------

Result<RunInfo> SqliteTrackingStore::do_create_run(int64_t experiment_id, const std::string& run_name,
                                                const std::string& user_id, int64_t start_time,
                                                const WriteOptions& options) {
  const std::string& key = options.idempotency_key;
  const std::string target = std::to_string(experiment_id);
  RunInfo info;
  info.run_id = new_run_id();
  info.experiment_id = experiment_id;
  info.run_name = run_name;
  info.user_id = user_id;
  info.start_time = start_time;
  const Status written = writer_->submit([&](Connection& db) -> Status {
    AGNX_ASSIGN_OR_RETURN(const auto earlier, earlier_result(db, key, "create_run", target));
    if (earlier) {
      AGNX_ASSIGN_OR_RETURN(info, select_run_info(db, *earlier));
      return {};
    }
    AGNX_RETURN_IF_ERROR(insert_run(db, info));
    return record_key(db, key, "create_run", target, info.run_id);
  });
  if (!written.ok()) return written;
  return info;
}

Result<Run> SqliteTrackingStore::get_run(const std::string& run_id) {
  return readers_->read([&](Connection& db) -> Result<Run> {
    Run run;
    AGNX_ASSIGN_OR_RETURN(run.info, select_run_info(db, run_id));
    AGNX_RETURN_IF_ERROR(load_run_data(db, run));
    return run;
  });
}

Status SqliteTrackingStore::do_update_run(const std::string& run_id, RunStatus status, std::optional<int64_t> end_time) {
  return writer_->submit([&](Connection& db) -> Status {
    AGNX_RETURN_IF_ERROR(require_active_run(db, run_id));
    AGNX_ASSIGN_OR_RETURN(Statement update,
                          db.prepare("UPDATE runs SET status = ?1, end_time = ?2 WHERE run_id = ?3"));
    return update.bind(1, run_status_name(status)).bind(2, end_time).bind(3, run_id).run();
  });
}

Status SqliteTrackingStore::do_set_run_lifecycle(const std::string& run_id, Lifecycle lifecycle) {
  return writer_->submit([&](Connection& db) -> Status {
    AGNX_RETURN_IF_ERROR(select_run_info(db, run_id).status());
    AGNX_ASSIGN_OR_RETURN(Statement update, db.prepare("UPDATE runs SET lifecycle_stage = ?1 WHERE run_id = ?2"));
    return update.bind(1, lifecycle_name(lifecycle)).bind(2, run_id).run();
  });
}

Result<RunPage> SqliteTrackingStore::search_runs(const SearchRunsRequest& request) {
  AGNX_ASSIGN_OR_RETURN(const int64_t offset, page_token_offset(request));
  AGNX_ASSIGN_OR_RETURN(const SqlQuery query, search_runs_query(request, offset));
  return readers_->read([&](Connection& db) -> Result<RunPage> {
    std::vector<RunInfo> infos;
    {
      AGNX_ASSIGN_OR_RETURN(Statement stmt, db.prepare(query.sql));
      for (std::size_t i = 0; i < query.parameters.size(); ++i) {
        std::visit([&](const auto& value) { stmt.bind(static_cast<int>(i + 1), value); }, query.parameters[i]);
      }
      AGNX_ASSIGN_OR_RETURN(infos, read_all<RunInfo>(stmt, read_run_info<Statement>));
    }
    RunPage page;
    if (infos.size() > static_cast<std::size_t>(request.max_results)) {
      infos.pop_back();
      page.next_page_token = page_token(request, offset + request.max_results);
    }
    for (RunInfo& info : infos) {
      Run run{std::move(info), {}, {}, {}};
      AGNX_RETURN_IF_ERROR(load_run_data(db, run));
      page.runs.push_back(std::move(run));
    }
    return page;
  });
}

// ---- run data -------------------------------------------------------------

Status SqliteTrackingStore::do_log_batch(const std::string& run_id, const RunBatch& batch, const WriteOptions& options) {
  const std::string& key = options.idempotency_key;
  return writer_->submit([&](Connection& db) -> Status {
    AGNX_ASSIGN_OR_RETURN(const auto earlier, earlier_result(db, key, "log_batch", run_id));
    if (earlier) return {};
    AGNX_RETURN_IF_ERROR(write_batch(db, run_id, batch));
    return record_key(db, key, "log_batch", run_id, "");
  });
}

Result<std::vector<Metric>> SqliteTrackingStore::get_metric_history(const std::string& run_id,
                                                                    const std::string& key) {
  return readers_->read([&](Connection& db) -> Result<std::vector<Metric>> {
    AGNX_RETURN_IF_ERROR(select_run_info(db, run_id).status());
    AGNX_ASSIGN_OR_RETURN(Statement stmt, db.prepare("SELECT key, value, timestamp, step FROM metrics "
                                                     "WHERE run_id = ?1 AND key = ?2 ORDER BY step, timestamp, rowid"));
    stmt.bind(1, run_id).bind(2, key);
    return read_all<Metric>(stmt, [](const Statement& row) -> Result<Metric> { return read_metric(row); });
  });
}

// ---- matching -------------------------------------------------------------

Status SqliteTrackingStore::do_log_matching(const std::string& run_id, const MatchingRecord& record,
                                         const RunBatch& batch, const std::optional<JobLease>& lease) {
  return writer_->submit([&](Connection& db) -> Status {
    if (lease) {
      AGNX_ASSIGN_OR_RETURN(const Job job, select_job(db, lease->job_id));
      AGNX_RETURN_IF_ERROR(require_lease(job, *lease));
    }
    AGNX_RETURN_IF_ERROR(write_batch(db, run_id, batch));
    return write_matching(db, run_id, record);
  });
}

Result<MatchingRecord> SqliteTrackingStore::get_matching(const std::string& run_id) {
  return readers_->read([&](Connection& db) { return select_matching(db, run_id); });
}

Result<std::vector<EnergyPoint>> SqliteTrackingStore::energy_points(int64_t experiment_id) {
  return readers_->read([&](Connection& db) -> Result<std::vector<EnergyPoint>> {
    AGNX_RETURN_IF_ERROR(require_experiment(db, experiment_id).status());
    static constexpr const char* kFinished =
        " JOIN matching_results m ON m.run_id = runs.run_id WHERE runs.experiment_id = ?1 "
        "AND runs.lifecycle_stage = 'active' AND runs.status = 'FINISHED'";
    AGNX_ASSIGN_OR_RETURN(Statement stmt,
                          db.prepare(std::string("SELECT runs.run_id, runs.run_name, m.lambda, m.library, m.metric, "
                                                 "m.relative_energy FROM runs") +
                                     kFinished + " ORDER BY m.lambda, runs.start_time, runs.run_id"));
    stmt.bind(1, experiment_id);
    AGNX_ASSIGN_OR_RETURN(auto points, read_all<EnergyPoint>(stmt, [](const Statement& row) -> Result<EnergyPoint> {
                            return EnergyPoint{row.text(0), row.text(1), row.real(2), row.text(3),
                                               row.text(4), row.real(5), {}};
                          }));
    std::map<std::string, EnergyPoint*> by_run;
    for (EnergyPoint& p : points) by_run[p.run_id] = &p;
    AGNX_ASSIGN_OR_RETURN(Statement accuracies,
                          db.prepare(std::string("SELECT lm.run_id, lm.key, lm.value FROM latest_metrics lm "
                                                 "JOIN runs ON runs.run_id = lm.run_id") +
                                     kFinished + " AND lm.key LIKE '%\\_top%' ESCAPE '\\'"));
    accuracies.bind(1, experiment_id);
    while (true) {
      AGNX_ASSIGN_OR_RETURN(const bool row, accuracies.step());
      if (!row) return points;
      by_run.at(accuracies.text(0))->accuracies[accuracies.text(1)] = accuracies.real(2);
    }
  });
}

// ---- artifacts ------------------------------------------------------------

Result<ArtifactInfo> SqliteTrackingStore::do_log_artifact(const std::string& run_id, const std::string& path,
                                                       std::string_view content) {
  const std::string context = "storing artifact '" + path + "' of run '" + run_id + "'";
  std::shared_lock lock(artifact_gc_mutex_);
  ArtifactInfo info{path, static_cast<int64_t>(content.size()), {}};
  const Result<std::string> sha256 = artifacts_.put(content);
  if (!sha256.ok()) return sha256.status().with_context(context);
  info.sha256 = *sha256;
  const Status written = writer_->submit([&](Connection& db) -> Status {
    AGNX_RETURN_IF_ERROR(require_active_run(db, run_id));
    return reference_artifact(db, run_id, info);
  });
  if (!written.ok()) return written.with_context(context);
  return info;
}

Result<std::vector<ArtifactInfo>> SqliteTrackingStore::list_artifacts(const std::string& run_id) {
  return readers_->read([&](Connection& db) -> Result<std::vector<ArtifactInfo>> {
    AGNX_RETURN_IF_ERROR(select_run_info(db, run_id).status());
    AGNX_ASSIGN_OR_RETURN(Statement stmt,
                          db.prepare("SELECT path, size, sha256 FROM artifacts WHERE run_id = ?1 ORDER BY path"));
    stmt.bind(1, run_id);
    return read_all<ArtifactInfo>(stmt, [](const Statement& row) -> Result<ArtifactInfo> {
      return ArtifactInfo{row.text(0), row.int64(1), row.text(2)};
    });
  });
}

Result<std::string> SqliteTrackingStore::artifact_sha256(const std::string& run_id, const std::string& path) {
  return readers_->read([&](Connection& db) -> Result<std::string> {
    AGNX_ASSIGN_OR_RETURN(Statement stmt, db.prepare("SELECT sha256 FROM artifacts WHERE run_id = ?1 AND path = ?2"));
    stmt.bind(1, run_id).bind(2, path);
    AGNX_ASSIGN_OR_RETURN(const bool found, stmt.step());
    if (!found) return Status::not_found("run '" + run_id + "' has no artifact '" + path + "'");
    return stmt.text(0);
  });
}

Result<std::string> SqliteTrackingStore::read_artifact(const std::string& run_id, const std::string& path) {
  AGNX_ASSIGN_OR_RETURN(const std::string sha, artifact_sha256(run_id, path));
  return artifacts_.get(sha);
}

Result<std::filesystem::path> SqliteTrackingStore::artifact_file(const std::string& run_id, const std::string& path) {
  AGNX_ASSIGN_OR_RETURN(const std::string sha, artifact_sha256(run_id, path));
  return artifacts_.file(sha);
}

// ---- jobs -----------------------------------------------------------------

Result<int64_t> SqliteTrackingStore::do_create_job(const std::string& kind, std::optional<std::string> run_id) {
  int64_t id = 0;
  const Status written = writer_->submit([&](Connection& db) -> Status {
    if (run_id) AGNX_RETURN_IF_ERROR(require_active_run(db, *run_id));
    AGNX_ASSIGN_OR_RETURN(id, insert_job(db, kind, run_id));
    return {};
  });
  if (!written.ok()) return written;
  return id;
}

Status SqliteTrackingStore::do_update_job(int64_t job_id, const JobUpdate& update) {
  return writer_->submit([&](Connection& db) -> Status {
    AGNX_ASSIGN_OR_RETURN(Job stored, select_job(db, job_id));
    AGNX_ASSIGN_OR_RETURN(const Job job, apply_job_update(std::move(stored), update, now_ms()));
    AGNX_RETURN_IF_ERROR(write_job(db, job));
    if (update.run_status && is_terminal(job.state)) return end_job_run(db, job, *update.run_status);
    return {};
  });
}

Result<std::optional<ClaimedJob>> SqliteTrackingStore::do_claim_job(const std::string& owner,
                                                                    std::chrono::milliseconds duration,
                                                                    int64_t max_attempts) {
  // An idle server claims every tick: look first on a reader, so that finding
  // nothing never takes a turn of the writer.
  AGNX_ASSIGN_OR_RETURN(const auto seen,
                        readers_->read([&](Connection& db) { return select_claimable_job(db, now_ms()); }));
  if (!seen) return std::optional<ClaimedJob>();
  std::optional<ClaimedJob> claimed;
  const Status written = writer_->submit([&](Connection& db) -> Status {
    claimed.reset();
    const int64_t now = now_ms();
    AGNX_ASSIGN_OR_RETURN(std::optional<Job> job, select_claimable_job(db, now));
    if (!job) return {};
    claimed = claim(std::move(*job), owner, now, now + duration.count(), max_attempts);
    return write_job(db, claimed->job);
  });
  if (!written.ok()) return written;
  return claimed;
}

Result<Job> SqliteTrackingStore::do_renew_lease(const JobLease& lease, std::chrono::milliseconds duration) {
  Job renewed;
  const Status written = writer_->submit([&](Connection& db) -> Status {
    AGNX_ASSIGN_OR_RETURN(Job stored, select_job(db, lease.job_id));
    AGNX_ASSIGN_OR_RETURN(renewed, renew(std::move(stored), lease, now_ms() + duration.count()));
    return write_job(db, renewed);
  });
  if (!written.ok()) return written;
  return renewed;
}

Result<int64_t> SqliteTrackingStore::do_release_leases(const std::string& owner) {
  int64_t released = 0;
  const Status written = writer_->submit([&](Connection& db) -> Status {
    AGNX_ASSIGN_OR_RETURN(Statement stmt, db.prepare("UPDATE jobs SET lease_expires = 0 "
                                                     "WHERE owner = ?1 AND state = 'RUNNING'"));
    AGNX_RETURN_IF_ERROR(stmt.bind(1, owner).run());
    released = sqlite3_changes(db.handle());
    return {};
  });
  if (!written.ok()) return written;
  return released;
}

Result<Job> SqliteTrackingStore::do_request_cancel(int64_t job_id) {
  Job requested;
  const Status written = writer_->submit([&](Connection& db) -> Status {
    AGNX_ASSIGN_OR_RETURN(Job stored, select_job(db, job_id));
    AGNX_ASSIGN_OR_RETURN(requested, store::request_cancel(std::move(stored), now_ms()));
    AGNX_RETURN_IF_ERROR(write_job(db, requested));
    if (requested.state == JobState::kCancelled) return end_job_run(db, requested, RunStatus::kKilled);
    return {};
  });
  if (!written.ok()) return written;
  return requested;
}

Result<SubmittedJob> SqliteTrackingStore::do_submit_job(const JobSubmission& submission, const WriteOptions& options) {
  std::shared_lock lock(artifact_gc_mutex_);
  std::vector<ArtifactInfo> artifacts;
  for (const ArtifactContent& artifact : submission.artifacts) {
    const Result<std::string> sha256 = artifacts_.put(artifact.content, artifact.same_bytes);
    if (!sha256.ok()) return sha256.status().with_context("storing artifact '" + artifact.path + "' of a submission");
    artifacts.push_back({artifact.path, static_cast<int64_t>(artifact.content.size()), *sha256});
  }
  const std::string& key = options.idempotency_key;
  const std::string target = std::to_string(submission.experiment_id);
  SubmittedJob submitted{{new_run_id(), submission.experiment_id, submission.run_name, submission.user_id,
                          RunStatus::kRunning, submission.start_time, std::nullopt, Lifecycle::kActive},
                         0, true};
  const Status written = writer_->submit([&](Connection& db) -> Status {
    AGNX_ASSIGN_OR_RETURN(const auto earlier, earlier_result(db, key, "submit_job", target));
    if (earlier) return read_submitted(db, *earlier, submitted);
    AGNX_RETURN_IF_ERROR(insert_run(db, submitted.run));
    AGNX_ASSIGN_OR_RETURN(submitted.job_id, insert_job(db, submission.kind, submitted.run.run_id));
    RunBatch batch = submission.batch;
    if (!submission.job_id_tag.empty()) batch.tags[submission.job_id_tag] = std::to_string(submitted.job_id);
    AGNX_RETURN_IF_ERROR(write_batch(db, submitted.run.run_id, batch));
    for (const ArtifactInfo& info : artifacts) AGNX_RETURN_IF_ERROR(reference_artifact(db, submitted.run.run_id, info));
    return record_key(db, key, "submit_job", target, submitted.run.run_id + " " + std::to_string(submitted.job_id));
  });
  if (!written.ok()) return written;
  return submitted;
}

Result<Job> SqliteTrackingStore::get_job(int64_t job_id) {
  return readers_->read([&](Connection& db) { return select_job(db, job_id); });
}

Result<std::vector<Job>> SqliteTrackingStore::list_jobs(std::optional<JobState> state) {
  return readers_->read([&](Connection& db) -> Result<std::vector<Job>> {
    AGNX_ASSIGN_OR_RETURN(Statement stmt, db.prepare(std::string("SELECT ") + kJobColumns +
                                                     " FROM jobs WHERE ?1 IS NULL OR state = ?1 ORDER BY job_id"));
    if (state) stmt.bind(1, job_state_name(*state));
    return read_all<Job>(stmt, read_job<Statement>);
  });
}

// ---- libraries ------------------------------------------------------------

Status SqliteTrackingStore::do_put_library(const StoredLibrary& library) {
  return writer_->submit([&](Connection& db) -> Status {
    AGNX_ASSIGN_OR_RETURN(Statement insert, db.prepare("INSERT INTO multiplier_libraries (name, metric, metric_max, "
                                                       "creation_time) VALUES (?1, ?2, ?3, ?4) "
                                                       "ON CONFLICT (name) DO NOTHING"));
    AGNX_RETURN_IF_ERROR(insert.bind(1, library.name).bind(2, library.metric).bind(3, library.metric_max).bind(4, now_ms()).run());
    if (sqlite3_changes(db.handle()) == 0) {
      return Status::already_exists("multiplier library '" + library.name + "' already exists");
    }
    const int64_t library_id = sqlite3_last_insert_rowid(db.handle());
    for (const StoredMultiplier& m : library.multipliers) {
      AGNX_ASSIGN_OR_RETURN(Statement table, db.prepare("INSERT INTO multiplier_tables (library_id, name, is_signed, "
                                                        "metric, products) VALUES (?1, ?2, ?3, ?4, ?5)"));
      table.bind(1, library_id).bind(2, m.name).bind(3, int64_t{m.is_signed ? 1 : 0}).bind(4, m.metric);
      AGNX_RETURN_IF_ERROR(table.bind(5, bytes_of(m.products)).run().with_context("multiplier '" + m.name + "'"));
    }
    return {};
  });
}

Result<StoredLibrary> SqliteTrackingStore::get_library(const std::string& name) {
  return readers_->read([&](Connection& db) -> Result<StoredLibrary> {
    AGNX_ASSIGN_OR_RETURN(Statement stmt, db.prepare("SELECT library_id, metric, metric_max FROM "
                                                     "multiplier_libraries WHERE name = ?1"));
    stmt.bind(1, name);
    AGNX_ASSIGN_OR_RETURN(const bool found, stmt.step());
    if (!found) return Status::not_found("multiplier library '" + name + "' does not exist");
    StoredLibrary library{name, stmt.text(1), stmt.real(2), {}};
    AGNX_ASSIGN_OR_RETURN(Statement tables, db.prepare("SELECT name, is_signed, metric, products FROM "
                                                       "multiplier_tables WHERE library_id = ?1 ORDER BY name"));
    tables.bind(1, stmt.int64(0));
    AGNX_ASSIGN_OR_RETURN(library.multipliers,
                          read_all<StoredMultiplier>(tables, [](const Statement& row) -> Result<StoredMultiplier> {
                            return StoredMultiplier{row.text(0), row.int64(1) != 0, row.real(2),
                                                    values_of<int32_t>(row.blob(3))};
                          }));
    return library;
  });
}

Result<std::vector<std::string>> SqliteTrackingStore::list_libraries() {
  return readers_->read([&](Connection& db) -> Result<std::vector<std::string>> {
    AGNX_ASSIGN_OR_RETURN(Statement stmt, db.prepare("SELECT name FROM multiplier_libraries ORDER BY name"));
    return read_all<std::string>(stmt, [](const Statement& row) -> Result<std::string> { return row.text(0); });
  });
}

// ---- maintenance ----------------------------------------------------------

Result<int64_t> SqliteTrackingStore::gc(std::chrono::seconds grace) {
  std::unique_lock lock(artifact_gc_mutex_);
  std::set<std::string> referenced;
  const Status written = writer_->submit([&](Connection& db) -> Status {
    referenced.clear();
    AGNX_RETURN_IF_ERROR(db.run("DELETE FROM runs WHERE lifecycle_stage = 'deleted'"));
    AGNX_RETURN_IF_ERROR(db.run("DELETE FROM experiments WHERE lifecycle_stage = 'deleted' AND NOT EXISTS "
                                "(SELECT 1 FROM runs WHERE runs.experiment_id = experiments.experiment_id)"));
    AGNX_ASSIGN_OR_RETURN(Statement keys, db.prepare("DELETE FROM idempotency_keys WHERE creation_time < ?1"));
    AGNX_RETURN_IF_ERROR(keys.bind(1, now_ms() - kIdempotencyKeyRetentionMs).run());
    AGNX_ASSIGN_OR_RETURN(Statement shas, db.prepare("SELECT DISTINCT sha256 FROM artifacts"));
    while (true) {
      AGNX_ASSIGN_OR_RETURN(const bool row, shas.step());
      if (!row) return {};
      referenced.insert(shas.text(0));
    }
  });
  if (!written.ok()) return written;
  return artifacts_.remove_unreferenced(referenced, grace);
}

Status SqliteTrackingStore::backup(const std::filesystem::path& destination) {
  sqlite3* target = nullptr;
  const int rc = sqlite3_open_v2(destination.c_str(), &target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)> closer(target, &sqlite3_close_v2);
  if (rc != SQLITE_OK) {
    return Status::io_error("backup: opening " + destination.string() + ": " + sqlite3_errmsg(target));
  }
  ReaderPool::Lease source(*readers_);
  sqlite3_backup* backup = sqlite3_backup_init(target, "main", source->handle(), "main");
  if (backup == nullptr) return Status::io_error("backup to " + destination.string() + ": " + sqlite3_errmsg(target));
  const int step = sqlite3_backup_step(backup, -1);  // the whole database from one snapshot
  sqlite3_backup_finish(backup);
  if (step != SQLITE_DONE) {
    return Status::io_error("backup to " + destination.string() + ": " + sqlite3_errstr(step));
  }
  return {};
}

}  // namespace agnx::store
