#include "store/postgres_store.h"

#include <bit>
#include <chrono>
#include <mutex>
#include <map>
#include <set>
#include <span>
#include <thread>

#include "core/clock.h"
#include "store/busy_retry.h"
#include "store/postgres_migrations.h"
#include "store/postgres_notices.h"
#include "store/rows.h"
#include "store/search_sql.h"
#include "store/store_policy.h"

namespace agnx::store {
namespace {

using pg::Params;
using pg::Rows;
using Db = pg::Connection;

constexpr const char* kWriteBegin = "BEGIN ISOLATION LEVEL READ COMMITTED";
constexpr const char* kReadBegin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

// Where a transaction failed: a connection lost before COMMIT may be retried.
enum class Stage { kConnecting, kRunning, kCommitting };

// One attempt of a transaction on `db`.
template <typename R, typename F>
R run_on(Db& db, const char* begin, F& f, Stage& stage) {
  stage = Stage::kRunning;
  db.begin(begin);  // sent with f's first statement
  R result = f(db);
  if (!status_of(result).ok()) {
    (void)db.end("ROLLBACK");
    return result;
  }
  stage = Stage::kCommitting;
  AGNX_RETURN_IF_ERROR(db.end("COMMIT"));
  return result;
}

// One attempt of a transaction on a pooled connection.
template <typename R, typename F>
R run_once(pg::Pool& pool, const char* begin, F& f, Stage& stage) {
  stage = Stage::kConnecting;
  auto lease = pool.acquire();
  if (!lease.ok()) return lease.status();
  return run_on<R>(**lease, begin, f, stage);
}

// All rows through `read(row) -> Result<T>`.
template <typename T, typename F>
Result<std::vector<T>> read_rows(const Rows& rows, F read) {
  std::vector<T> values;
  for (int i = 0; i < rows.size(); ++i) {
    AGNX_ASSIGN_OR_RETURN(T value, read(rows[i]));
    values.push_back(std::move(value));
  }
  return values;
}

// ---- reading rows -----------------------------------------------------------

Result<std::vector<Experiment>> select_experiments(Db& db, const std::string& where, const Params& params,
                                                   const char* lock = "") {
  AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec(std::string("SELECT ") + kExperimentColumns + " FROM experiments " +
                                                     where + " ORDER BY experiment_id" + lock,
                                                 params));
  return read_rows<Experiment>(rows, read_experiment<pg::Row>);
}

Result<Experiment> require_experiment(Db& db, int64_t experiment_id, const char* lock = "") {
  AGNX_ASSIGN_OR_RETURN(auto found,
                        select_experiments(db, "WHERE experiment_id = $1", Params().add(experiment_id), lock));
  if (found.empty()) return Status::not_found("experiment " + std::to_string(experiment_id) + " does not exist");
  return found.front();
}

Result<RunInfo> select_run_info(Db& db, const std::string& run_id, const char* lock = "") {
  AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec_prepared(std::string("SELECT ") + kRunColumns +
                                                              " FROM runs WHERE run_id = $1" + lock,
                                                          Params().add(run_id)));
  if (rows.empty()) return Status::not_found("run '" + run_id + "' does not exist");
  return read_run_info(rows[0]);
}

// Locks the run's row for the rest of the transaction: every write to a run
// takes this lock first, so writes to one run never deadlock.
Status lock_active_run(Db& db, const std::string& run_id) {
  AGNX_ASSIGN_OR_RETURN(const RunInfo info, select_run_info(db, run_id, " FOR UPDATE"));
  return require_active(info);
}

// The key/value rows of `table` (params or tags) of every run in `runs`,
// into each run's map `field`.
Status select_key_values(Db& db, const char* table, const std::vector<std::string>& ids,
                         const std::map<std::string, Run*>& runs, std::map<std::string, std::string> Run::*field) {
  AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec_prepared(std::string("SELECT run_id, key, value FROM ") + table +
                                                              " WHERE run_id = ANY($1::text[])",
                                                          Params().add_array(ids)));
  for (int i = 0; i < rows.size(); ++i) (runs.at(rows[i].text(0))->*field).emplace(rows[i].text(1), rows[i].text(2));
  return {};
}

// Reads the params, tags and latest metrics of every run in `runs` (whose
// infos are set, run ids distinct): three queries, whatever their number.
Status load_run_data(Db& db, std::span<Run> runs) {
  std::vector<std::string> ids;
  std::map<std::string, Run*> by_id;
  for (Run& run : runs) {
    ids.push_back(run.info.run_id);
    by_id.emplace(run.info.run_id, &run);
  }
  AGNX_RETURN_IF_ERROR(select_key_values(db, "params", ids, by_id, &Run::params));
  AGNX_RETURN_IF_ERROR(select_key_values(db, "tags", ids, by_id, &Run::tags));
  AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec_prepared("SELECT key, value, timestamp, step, run_id "
                                                          "FROM latest_metrics WHERE run_id = ANY($1::text[])",
                                                          Params().add_array(ids)));
  for (int i = 0; i < rows.size(); ++i) {
    Metric metric = read_metric(rows[i]);
    by_id.at(rows[i].text(4))->metrics.emplace(metric.key, std::move(metric));
  }
  return {};
}

// ---- idempotency keys -------------------------------------------------------

// As in the SQLite store: the earlier result of the write with `key`, if any.
Result<std::optional<std::string>> earlier_result(Db& db, const std::string& key, const std::string& kind,
                                                  const std::string& target) {
  if (key.empty()) return std::optional<std::string>();
  AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec_prepared("SELECT kind, target, result FROM idempotency_keys "
                                                          "WHERE key = $1",
                                                          Params().add(key)));
  std::optional<KeyRecord> record;
  if (!rows.empty()) record = KeyRecord{rows[0].text(0), rows[0].text(1), rows[0].text(2)};
  return replay(key, record, kind, target);
}

// Records the key; a concurrent write that recorded it first makes this
// transaction run again (kAborted), and then replay its result.
Status record_key(Db& db, const std::string& key, const std::string& kind, const std::string& target,
                  const std::string& result) {
  if (key.empty()) return {};
  const Status inserted = db.exec_prepared("INSERT INTO idempotency_keys (key, kind, target, result, creation_time) "
                                           "VALUES ($1, $2, $3, $4, $5)",
                                           Params().add(key).add(kind).add(target).add(result).add(now_ms()))
                                       .status();
  if (inserted.code() == StatusCode::kAlreadyExists) {
    return Status::aborted("idempotency key '" + key + "' was recorded by a concurrent write");
  }
  return inserted;
}

// ---- writes -----------------------------------------------------------------

Status write_params(Db& db, const std::string& run_id, const std::map<std::string, std::string>& params) {
  if (params.empty()) return {};
  std::vector<std::string> keys, values;
  for (const auto& [key, value] : params) {
    keys.push_back(key);
    values.push_back(value);
  }
  AGNX_ASSIGN_OR_RETURN(const Rows stored, db.exec_prepared("SELECT key, value FROM params WHERE run_id = $1 AND "
                                                            "key = ANY($2::text[])",
                                                            Params().add(run_id).add_array(keys)));
  std::map<std::string, std::string> existing;
  for (int i = 0; i < stored.size(); ++i) existing.emplace(stored[i].text(0), stored[i].text(1));
  for (const auto& [key, value] : existing) {
    AGNX_RETURN_IF_ERROR(require_same_param(run_id, key, value, params.at(key)));
  }
  return db.exec_prepared("INSERT INTO params (run_id, key, value) SELECT $1::text, k, v "
                          "FROM unnest($2::text[], $3::text[]) AS p(k, v) ON CONFLICT (run_id, key) DO NOTHING",
                          Params().add(run_id).add_array(keys).add_array(values))
      .status();
}

Status write_tags(Db& db, const std::string& run_id, const std::map<std::string, std::string>& tags) {
  if (tags.empty()) return {};
  std::vector<std::string> keys, values;
  for (const auto& [key, value] : tags) {
    keys.push_back(key);
    values.push_back(value);
  }
  return db.exec_prepared("INSERT INTO tags (run_id, key, value) SELECT $1::text, k, v "
                          "FROM unnest($2::text[], $3::text[]) AS t(k, v) "
                          "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                          Params().add(run_id).add_array(keys).add_array(values))
      .status();
}

// The history rows in logging order and, per key, the latest value (highest
// step, timestamp, value) in ONE statement; keys are locked in sorted order.
constexpr const char* kWriteMetrics =
    "WITH batch AS (SELECT k, v, t, s, n FROM unnest($2::text[], $3::float8[], $4::int8[], $5::int8[]) "
    "WITH ORDINALITY AS b(k, v, t, s, n)), "
    "history AS (INSERT INTO metrics (run_id, key, value, timestamp, step) "
    "SELECT $1::text, k, v, t, s FROM batch ORDER BY n) "
    "INSERT INTO latest_metrics (run_id, key, value, timestamp, step) "
    "SELECT DISTINCT ON (k) $1::text, k, v, t, s FROM batch ORDER BY k, s DESC, t DESC, v DESC "
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, "
    "step = excluded.step WHERE (excluded.step, excluded.timestamp, excluded.value) > "
    "(latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)";

Status write_metrics(Db& db, const std::string& run_id, const std::vector<Metric>& metrics) {
  if (metrics.empty()) return {};
  std::vector<std::string> keys;
  std::vector<double> values;
  std::vector<int64_t> timestamps, steps;
  for (const Metric& m : metrics) {
    keys.push_back(m.key);
    values.push_back(m.value);
    timestamps.push_back(m.timestamp);
    steps.push_back(m.step);
  }
  return db.exec_prepared(kWriteMetrics,
                          Params().add(run_id).add_array(keys).add_array(values).add_array(timestamps).add_array(steps))
      .status();
}

Status write_batch(Db& db, const std::string& run_id, const RunBatch& batch) {
  AGNX_RETURN_IF_ERROR(lock_active_run(db, run_id));
  AGNX_RETURN_IF_ERROR(write_params(db, run_id, batch.params));
  AGNX_RETURN_IF_ERROR(write_tags(db, run_id, batch.tags));
  return write_metrics(db, run_id, batch.metrics);
}

Status write_layer(Db& db, const std::string& run_id, int64_t index, const LayerInfo& layer) {
  Params row;
  row.add(run_id).add(index).add(layer.name).add(layer.fan_in).add(layer.opcount);
  row.add(layer.sigma).add(layer.out_std).add(layer.max_std).add(layer.multiplier_name);
  row.add(layer.multiplier_performance_metric).add(layer.mul_std).add_bytes(bytes_of(layer.sample_rows));
  row.add(layer.observed_mean).add(layer.observed_std).add(layer.rows);
  row.add(layer.input_scale).add(layer.weight_scale).add_bytes(bytes_of(layer.w_dist));
  row.add_bytes(bytes_of(layer.x_dist_global));
  AGNX_RETURN_IF_ERROR(db.exec(std::string("INSERT INTO matching_layers (run_id, layer_index, ") + kLayerColumns +
                                   ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
                                   "$17, $18, $19)",
                               row)
                           .status());
  if (layer.candidates.empty()) return {};
  std::vector<std::string> names;
  std::vector<double> metrics, means, stds;
  for (const CandidatePrediction& c : layer.candidates) {
    names.push_back(c.name);
    metrics.push_back(c.metric);
    means.push_back(c.mean);
    stds.push_back(c.std);
  }
  return db.exec("INSERT INTO matching_candidates (run_id, layer_index, name, metric, mean, std) "
                 "SELECT $1::text, $2::bigint, n, m, a, s FROM unnest($3::text[], $4::float8[], $5::float8[], "
                 "$6::float8[]) AS c(n, m, a, s)",
                 Params().add(run_id).add(index).add_array(names).add_array(metrics).add_array(means).add_array(stds))
      .status();
}

Status write_matching(Db& db, const std::string& run_id, const MatchingRecord& record) {
  const MatchingInfo& info = record.info;
  AGNX_ASSIGN_OR_RETURN(const Rows exists,
                        db.exec("SELECT 1 FROM matching_results WHERE run_id = $1", Params().add(run_id)));
  if (!exists.empty()) return Status::already_exists("run '" + run_id + "' already has a matching result");
  const auto accuracy = [&](double ModelAccuracy::*field) {
    return info.accuracy ? std::optional<double>((*info.accuracy).*field) : std::nullopt;
  };
  Params row;
  row.add(run_id).add(record.lambda).add(info.library).add(info.metric).add(info.metric_max);
  row.add(info.opcount()).add(info.relative_energy_consumption());
  row.add(info.seed ? std::optional<int64_t>(std::bit_cast<int64_t>(*info.seed)) : std::nullopt);
  row.add(info.num_samples ? std::optional<int64_t>(static_cast<int64_t>(*info.num_samples)) : std::nullopt);
  row.add(accuracy(&ModelAccuracy::float_top1)).add(accuracy(&ModelAccuracy::float_top5));
  row.add(accuracy(&ModelAccuracy::quantized_top1)).add(accuracy(&ModelAccuracy::quantized_top5));
  row.add(accuracy(&ModelAccuracy::approximate_top1)).add(accuracy(&ModelAccuracy::approximate_top5));
  AGNX_RETURN_IF_ERROR(db.exec("INSERT INTO matching_results (run_id, lambda, library, metric, metric_max, opcount, "
                               "relative_energy, seed, num_samples, float_top1, float_top5, quantized_top1, "
                               "quantized_top5, approximate_top1, approximate_top5) "
                               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                               row)
                           .status());
  for (std::size_t i = 0; i < info.layers.size(); ++i) {
    AGNX_RETURN_IF_ERROR(write_layer(db, run_id, static_cast<int64_t>(i), info.layers[i]));
  }
  return {};
}

Status insert_run(Db& db, const RunInfo& info) {
  AGNX_ASSIGN_OR_RETURN(const Experiment experiment, require_experiment(db, info.experiment_id, " FOR SHARE"));
  AGNX_RETURN_IF_ERROR(require_active(experiment));
  return db.exec("INSERT INTO runs (run_id, experiment_id, run_name, user_id, status, start_time) "
                 "VALUES ($1, $2, $3, $4, 'RUNNING', $5)",
                 Params().add(info.run_id).add(info.experiment_id).add(info.run_name).add(info.user_id).add(
                     info.start_time))
      .status();
}

Result<int64_t> insert_job(Db& db, const std::string& kind, const std::optional<std::string>& run_id) {
  AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec("INSERT INTO jobs (run_id, kind, state, creation_time, update_time) "
                                                 "VALUES ($1, $2, 'QUEUED', $3, $3) RETURNING job_id",
                                                 Params().add(run_id).add(kind).add(now_ms())));
  return rows[0].int64(0);
}

Status reference_artifact(Db& db, const std::string& run_id, const ArtifactInfo& info) {
  return db.exec("INSERT INTO artifacts (run_id, path, size, sha256) VALUES ($1, $2, $3, $4) "
                 "ON CONFLICT (run_id, path) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256",
                 Params().add(run_id).add(info.path).add(info.size).add(info.sha256))
      .status();
}

// The first submission with a key, from the "RUN_ID JOB_ID" it recorded.
Status read_submitted(Db& db, const std::string& recorded, SubmittedJob& submitted) {
  const auto space = recorded.find(' ');
  if (space == std::string::npos) return Status::internal("malformed submission record '" + recorded + "'");
  AGNX_ASSIGN_OR_RETURN(submitted.run, select_run_info(db, recorded.substr(0, space)));
  submitted.job_id = std::stoll(recorded.substr(space + 1));
  submitted.created = false;
  return {};
}

// ---- matching results and jobs ----------------------------------------------

Result<MatchingRecord> select_matching(Db& db, const std::string& run_id) {
  AGNX_ASSIGN_OR_RETURN(const Rows head, db.exec(std::string("SELECT ") + kMatchingColumns +
                                                     " FROM matching_results WHERE run_id = $1",
                                                 Params().add(run_id)));
  if (head.empty()) return Status::not_found("run '" + run_id + "' has no matching result");
  MatchingRecord record = read_matching_head(head[0]);
  MatchingInfo& info = record.info;
  AGNX_ASSIGN_OR_RETURN(const Rows layers, db.exec(std::string("SELECT ") + kLayerColumns +
                                                       " FROM matching_layers WHERE run_id = $1 ORDER BY layer_index",
                                                   Params().add(run_id)));
  for (int i = 0; i < layers.size(); ++i) info.layers.push_back(read_layer(layers[i]));
  AGNX_ASSIGN_OR_RETURN(const Rows candidates, db.exec("SELECT layer_index, name, metric, mean, std FROM "
                                                       "matching_candidates WHERE run_id = $1 "
                                                       "ORDER BY layer_index, name COLLATE \"C\"",
                                                       Params().add(run_id)));
  for (int i = 0; i < candidates.size(); ++i) {
    const pg::Row row = candidates[i];
    const auto index = static_cast<std::size_t>(row.int64(0));
    if (index >= info.layers.size()) return Status::internal("candidate of a missing layer in run '" + run_id + "'");
    info.layers[index].candidates.push_back({row.text(1), row.real(2), row.real(3), row.real(4)});
  }
  return record;
}

// The store's clock: the database server's time in ms since the epoch, the
// one clock all replicas' leases are measured by.
Result<int64_t> store_now_ms(Db& db) {
  AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint"));
  return rows[0].int64(0);
}

// Writes every column of `job` but its id, kind, run and creation time.
Status write_job(Db& db, const Job& job) {
  Params row;
  row.add(job_state_name(job.state)).add(job.attempts).add(job.progress).add(job.error);
  row.add(job.update_time).add(job.start_time).add(job.end_time).add(job.owner).add(job.lease_expires);
  row.add(int64_t{job.cancel_requested}).add(job.job_id);
  return db.exec("UPDATE jobs SET state = $1, attempts = $2, progress = $3, error = $4, update_time = $5, "
                 "start_time = $6, end_time = $7, owner = $8, lease_expires = $9, cancel_requested = $10 "
                 "WHERE job_id = $11",
                 row)
      .status();
}

// Ends the run of `job` (which just ended) with `status`, if it is active.
Status end_job_run(Db& db, const Job& job, RunStatus status) {
  if (!job.run_id) return {};
  return db.exec("UPDATE runs SET status = $1, end_time = $2 WHERE run_id = $3 AND lifecycle_stage = 'active'",
                 Params().add(run_status_name(status)).add(job.end_time).add(*job.run_id))
      .status();
}

Result<Job> select_job(Db& db, int64_t job_id, const char* lock = "") {
  AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec(std::string("SELECT ") + kJobColumns +
                                                     " FROM jobs WHERE job_id = $1" + lock,
                                                 Params().add(job_id)));
  if (rows.empty()) return Status::not_found("job " + std::to_string(job_id) + " does not exist");
  return read_job(rows[0]);
}

Params query_params(const SqlQuery& query) {
  Params params;
  for (const auto& value : query.parameters) std::visit([&](const auto& v) { params.add(v); }, value);
  return params;
}

}  // namespace

// ---- transactions -----------------------------------------------------------

template <typename F>
auto PostgresTrackingStore::transact(const char* begin, F& f) -> decltype(f(std::declval<Db&>())) {
  using R = decltype(f(std::declval<Db&>()));
  std::chrono::milliseconds pause(2);
  for (int attempt = 1;; ++attempt) {
    Stage stage = Stage::kConnecting;
    R result = run_once<R>(pool_, begin, f, stage);
    const StatusCode code = status_of(result).code();
    const bool lost = code == StatusCode::kUnavailable && stage == Stage::kRunning;
    if (lost) pool_.discard_idle();
    if (!(lost || code == StatusCode::kAborted) || attempt >= max_attempts_) return result;
    std::this_thread::sleep_for(pause);
    pause *= 2;
  }
}

template <typename F>
auto PostgresTrackingStore::write(F&& f) -> decltype(f(std::declval<Db&>())) {
  return transact(kWriteBegin, f);
}

template <typename F>
auto PostgresTrackingStore::read(F&& f) -> decltype(f(std::declval<Db&>())) {
  return transact(kReadBegin, f);
}

// ---- opening ----------------------------------------------------------------

Result<std::unique_ptr<PostgresTrackingStore>> PostgresTrackingStore::open(const PostgresStoreOptions& options) {
  {
    AGNX_ASSIGN_OR_RETURN(auto connection, Db::open(options.conninfo, options.display));
    AGNX_RETURN_IF_ERROR(apply_postgres_migrations(*connection).status());
  }
  return std::unique_ptr<PostgresTrackingStore>(new PostgresTrackingStore(options));
}

// ---- notices ----------------------------------------------------------------

std::unique_ptr<NoticeSubscription> PostgresTrackingStore::subscribe_notices(NoticeHandler handler) {
  return std::make_unique<PostgresNoticeListener>(conninfo_, display_, kNoticeChannel, std::move(handler));
}

Status PostgresTrackingStore::do_send_notice(std::string_view payload) {
  AGNX_ASSIGN_OR_RETURN(auto connection, pool_.acquire());
  return connection
      ->exec_prepared("SELECT pg_notify('" + std::string(kNoticeChannel) + "', $1)", Params().add(payload))
      .status();
}

// ---- experiments ------------------------------------------------------------

Result<int64_t> PostgresTrackingStore::do_create_experiment(const std::string& name, const WriteOptions& options) {
  const std::string& key = options.idempotency_key;
  return write([&](Db& db) -> Result<int64_t> {
    AGNX_ASSIGN_OR_RETURN(const auto earlier, earlier_result(db, key, "create_experiment", name));
    if (earlier) return std::stoll(*earlier);
    AGNX_ASSIGN_OR_RETURN(const auto existing, select_experiments(db, "WHERE name = $1", Params().add(name)));
    const auto exists = [&](const std::string& id) {
      return Status::already_exists("experiment '" + name + "' already exists" + id);
    };
    if (!existing.empty()) return exists(" (id " + std::to_string(existing.front().experiment_id) + ")");
    const int64_t now = now_ms();
    auto inserted = db.exec("INSERT INTO experiments (name, creation_time, last_update_time) VALUES ($1, $2, $2) "
                            "RETURNING experiment_id",
                            Params().add(name).add(now));
    if (inserted.status().code() == StatusCode::kAlreadyExists) return exists("");
    if (!inserted.ok()) return inserted.status();
    const int64_t id = (*inserted)[0].int64(0);
    AGNX_RETURN_IF_ERROR(record_key(db, key, "create_experiment", name, std::to_string(id)));
    return id;
  });
}

Result<Experiment> PostgresTrackingStore::get_experiment(int64_t experiment_id) {
  return read([&](Db& db) { return require_experiment(db, experiment_id); });
}

Result<Experiment> PostgresTrackingStore::get_experiment_by_name(const std::string& name) {
  return read([&](Db& db) -> Result<Experiment> {
    AGNX_ASSIGN_OR_RETURN(auto found, select_experiments(db, "WHERE name = $1", Params().add(name)));
    if (found.empty()) return Status::not_found("experiment '" + name + "' does not exist");
    return found.front();
  });
}

Result<std::vector<Experiment>> PostgresTrackingStore::list_experiments(ViewType view) {
  return read([&](Db& db) {
    if (view == ViewType::kAll) return select_experiments(db, "", Params());
    const Lifecycle lifecycle = view == ViewType::kActiveOnly ? Lifecycle::kActive : Lifecycle::kDeleted;
    return select_experiments(db, "WHERE lifecycle_stage = $1", Params().add(lifecycle_name(lifecycle)));
  });
}

Status PostgresTrackingStore::do_set_experiment_lifecycle(int64_t experiment_id, Lifecycle lifecycle) {
  return write([&](Db& db) -> Status {
    AGNX_RETURN_IF_ERROR(require_experiment(db, experiment_id, " FOR UPDATE").status());
    AGNX_RETURN_IF_ERROR(db.exec("UPDATE experiments SET lifecycle_stage = $1, last_update_time = $2 "
                                 "WHERE experiment_id = $3",
                                 Params().add(lifecycle_name(lifecycle)).add(now_ms()).add(experiment_id))
                             .status());
    return db.exec("UPDATE runs SET lifecycle_stage = $1 WHERE experiment_id = $2",
                   Params().add(lifecycle_name(lifecycle)).add(experiment_id))
        .status();
  });
}

// ---- runs -------------------------------------------------------------------

Result<RunInfo> PostgresTrackingStore::do_create_run(int64_t experiment_id, const std::string& run_name,
                                                     const std::string& user_id, int64_t start_time,
                                                     const WriteOptions& options) {
  const std::string& key = options.idempotency_key;
  const std::string target = std::to_string(experiment_id);
  const RunInfo info{new_run_id(),        experiment_id, run_name, user_id, RunStatus::kRunning,
                     start_time,          std::nullopt,  Lifecycle::kActive};
  return write([&](Db& db) -> Result<RunInfo> {
    AGNX_ASSIGN_OR_RETURN(const auto earlier, earlier_result(db, key, "create_run", target));
    if (earlier) return select_run_info(db, *earlier);
    AGNX_RETURN_IF_ERROR(insert_run(db, info));
    AGNX_RETURN_IF_ERROR(record_key(db, key, "create_run", target, info.run_id));
    return info;
  });
}

Result<Run> PostgresTrackingStore::get_run(const std::string& run_id) {
  return read([&](Db& db) -> Result<Run> {
    Run run;
    AGNX_ASSIGN_OR_RETURN(run.info, select_run_info(db, run_id));
    AGNX_RETURN_IF_ERROR(load_run_data(db, std::span<Run>(&run, 1)));
    return run;
  });
}

Status PostgresTrackingStore::do_update_run(const std::string& run_id, RunStatus status,
                                            std::optional<int64_t> end_time) {
  return write([&](Db& db) -> Status {
    AGNX_RETURN_IF_ERROR(lock_active_run(db, run_id));
    return db.exec("UPDATE runs SET status = $1, end_time = $2 WHERE run_id = $3",
                   Params().add(run_status_name(status)).add(end_time).add(run_id))
        .status();
  });
}

Status PostgresTrackingStore::do_set_run_lifecycle(const std::string& run_id, Lifecycle lifecycle) {
  return write([&](Db& db) -> Status {
    AGNX_RETURN_IF_ERROR(select_run_info(db, run_id, " FOR UPDATE").status());
    return db.exec("UPDATE runs SET lifecycle_stage = $1 WHERE run_id = $2",
                   Params().add(lifecycle_name(lifecycle)).add(run_id))
        .status();
  });
}

Result<RunPage> PostgresTrackingStore::search_runs(const SearchRunsRequest& request) {
  AGNX_ASSIGN_OR_RETURN(const int64_t offset, page_token_offset(request));
  AGNX_ASSIGN_OR_RETURN(const SqlQuery query, search_runs_query(request, offset, kPostgresDialect));
  const Params params = query_params(query);
  return read([&](Db& db) -> Result<RunPage> {
    AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec(query.sql, params));
    AGNX_ASSIGN_OR_RETURN(std::vector<RunInfo> infos, read_rows<RunInfo>(rows, read_run_info<pg::Row>));
    RunPage page;
    if (infos.size() > static_cast<std::size_t>(request.max_results)) {
      infos.pop_back();
      page.next_page_token = page_token(request, offset + request.max_results);
    }
    for (RunInfo& info : infos) page.runs.push_back(Run{std::move(info), {}, {}, {}});
    AGNX_RETURN_IF_ERROR(load_run_data(db, page.runs));
    return page;
  });
}

// ---- run data ---------------------------------------------------------------

Status PostgresTrackingStore::do_log_batch(const std::string& run_id, const RunBatch& batch,
                                           const WriteOptions& options) {
  const std::string& key = options.idempotency_key;
  return write([&](Db& db) -> Status {
    AGNX_ASSIGN_OR_RETURN(const auto earlier, earlier_result(db, key, "log_batch", run_id));
    if (earlier) return {};
    AGNX_RETURN_IF_ERROR(write_batch(db, run_id, batch));
    return record_key(db, key, "log_batch", run_id, "");
  });
}

Result<std::vector<Metric>> PostgresTrackingStore::get_metric_history(const std::string& run_id,
                                                                      const std::string& key) {
  return read([&](Db& db) -> Result<std::vector<Metric>> {
    AGNX_RETURN_IF_ERROR(select_run_info(db, run_id).status());
    AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec("SELECT key, value, timestamp, step FROM metrics "
                                                   "WHERE run_id = $1 AND key = $2 ORDER BY step, timestamp, seq",
                                                   Params().add(run_id).add(key)));
    return read_rows<Metric>(rows, [](const pg::Row& row) -> Result<Metric> { return read_metric(row); });
  });
}

// ---- matching ---------------------------------------------------------------

Status PostgresTrackingStore::do_log_matching(const std::string& run_id, const MatchingRecord& record,
                                              const RunBatch& batch, const std::optional<JobLease>& lease) {
  return write([&](Db& db) -> Status {
    if (lease) {  // the job row stays locked to the commit: no claim can pass this write
      AGNX_ASSIGN_OR_RETURN(const Job job, select_job(db, lease->job_id, " FOR UPDATE"));
      AGNX_RETURN_IF_ERROR(require_lease(job, *lease));
    }
    AGNX_RETURN_IF_ERROR(write_batch(db, run_id, batch));
    return write_matching(db, run_id, record);
  });
}

Result<MatchingRecord> PostgresTrackingStore::get_matching(const std::string& run_id) {
  return read([&](Db& db) { return select_matching(db, run_id); });
}

Result<std::vector<EnergyPoint>> PostgresTrackingStore::energy_points(int64_t experiment_id) {
  static constexpr const char* kFinished =
      " JOIN matching_results m ON m.run_id = runs.run_id WHERE runs.experiment_id = $1 "
      "AND runs.lifecycle_stage = 'active' AND runs.status = 'FINISHED'";
  return read([&](Db& db) -> Result<std::vector<EnergyPoint>> {
    AGNX_RETURN_IF_ERROR(require_experiment(db, experiment_id).status());
    AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec(std::string("SELECT runs.run_id, runs.run_name, m.lambda, "
                                                               "m.library, m.metric, m.relative_energy FROM runs") +
                                                       kFinished + " ORDER BY m.lambda, runs.start_time, runs.run_id",
                                                   Params().add(experiment_id)));
    AGNX_ASSIGN_OR_RETURN(auto points, read_rows<EnergyPoint>(rows, [](const pg::Row& row) -> Result<EnergyPoint> {
                            return EnergyPoint{row.text(0), row.text(1), row.real(2), row.text(3),
                                               row.text(4), row.real(5), {}};
                          }));
    std::map<std::string, EnergyPoint*> by_run;
    for (EnergyPoint& p : points) by_run[p.run_id] = &p;
    AGNX_ASSIGN_OR_RETURN(const Rows accuracies,
                          db.exec(std::string("SELECT lm.run_id, lm.key, lm.value FROM latest_metrics lm "
                                              "JOIN runs ON runs.run_id = lm.run_id") +
                                      kFinished + " AND lm.key LIKE '%\\_top%' ESCAPE '\\'",
                                  Params().add(experiment_id)));
    for (int i = 0; i < accuracies.size(); ++i) {
      by_run.at(accuracies[i].text(0))->accuracies[accuracies[i].text(1)] = accuracies[i].real(2);
    }
    return points;
  });
}

// ---- artifacts --------------------------------------------------------------

Result<ArtifactInfo> PostgresTrackingStore::do_log_artifact(const std::string& run_id, const std::string& path,
                                                            std::string_view content) {
  const std::string context = "storing artifact '" + path + "' of run '" + run_id + "'";
  std::shared_lock lock(artifact_gc_mutex_);
  ArtifactInfo info{path, static_cast<int64_t>(content.size()), {}};
  const Result<std::string> sha256 = artifacts_.put(content);
  if (!sha256.ok()) return sha256.status().with_context(context);
  info.sha256 = *sha256;
  const Status written = write([&](Db& db) -> Status {
    AGNX_RETURN_IF_ERROR(lock_active_run(db, run_id));
    return reference_artifact(db, run_id, info);
  });
  if (!written.ok()) return written.with_context(context);
  return info;
}

Result<std::vector<ArtifactInfo>> PostgresTrackingStore::list_artifacts(const std::string& run_id) {
  return read([&](Db& db) -> Result<std::vector<ArtifactInfo>> {
    AGNX_RETURN_IF_ERROR(select_run_info(db, run_id).status());
    AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec("SELECT path, size, sha256 FROM artifacts WHERE run_id = $1 "
                                                   "ORDER BY path COLLATE \"C\"",
                                                   Params().add(run_id)));
    return read_rows<ArtifactInfo>(rows, [](const pg::Row& row) -> Result<ArtifactInfo> {
      return ArtifactInfo{row.text(0), row.int64(1), row.text(2)};
    });
  });
}

Result<std::string> PostgresTrackingStore::artifact_sha256(const std::string& run_id, const std::string& path) {
  return read([&](Db& db) -> Result<std::string> {
    AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec("SELECT sha256 FROM artifacts WHERE run_id = $1 AND path = $2",
                                                   Params().add(run_id).add(path)));
    if (rows.empty()) return Status::not_found("run '" + run_id + "' has no artifact '" + path + "'");
    return rows[0].text(0);
  });
}

Result<std::string> PostgresTrackingStore::read_artifact(const std::string& run_id, const std::string& path) {
  AGNX_ASSIGN_OR_RETURN(const std::string sha, artifact_sha256(run_id, path));
  return artifacts_.get(sha);
}

Result<std::filesystem::path> PostgresTrackingStore::artifact_file(const std::string& run_id,
                                                                   const std::string& path) {
  AGNX_ASSIGN_OR_RETURN(const std::string sha, artifact_sha256(run_id, path));
  return artifacts_.file(sha);
}

// ---- jobs -------------------------------------------------------------------

Result<int64_t> PostgresTrackingStore::do_create_job(const std::string& kind, std::optional<std::string> run_id) {
  return write([&](Db& db) -> Result<int64_t> {
    if (run_id) AGNX_RETURN_IF_ERROR(lock_active_run(db, *run_id));
    return insert_job(db, kind, run_id);
  });
}

Status PostgresTrackingStore::do_update_job(int64_t job_id, const JobUpdate& update) {
  return write([&](Db& db) -> Status {
    AGNX_ASSIGN_OR_RETURN(Job stored, select_job(db, job_id, " FOR UPDATE"));
    AGNX_ASSIGN_OR_RETURN(const Job job, apply_job_update(std::move(stored), update, now_ms()));
    AGNX_RETURN_IF_ERROR(write_job(db, job));
    if (update.run_status && is_terminal(job.state)) return end_job_run(db, job, *update.run_status);
    return {};
  });
}

Result<std::optional<ClaimedJob>> PostgresTrackingStore::do_claim_job(const std::string& owner,
                                                                      std::chrono::milliseconds duration,
                                                                      int64_t max_attempts) {
  return write([&](Db& db) -> Result<std::optional<ClaimedJob>> {
    AGNX_ASSIGN_OR_RETURN(const int64_t now, store_now_ms(db));
    // SKIP LOCKED: a job another replica is claiming right now is passed over,
    // not waited for, so concurrent claims take different jobs.
    AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec(std::string("SELECT ") + kJobColumns +
                                                       " FROM jobs WHERE state IN ('QUEUED', 'RUNNING') AND "
                                                       "(state = 'QUEUED' OR lease_expires IS NULL OR lease_expires < $1) "
                                                       "ORDER BY job_id LIMIT 1 FOR UPDATE SKIP LOCKED",
                                                   Params().add(now)));
    if (rows.empty()) return std::optional<ClaimedJob>();
    AGNX_ASSIGN_OR_RETURN(Job job, read_job(rows[0]));
    ClaimedJob claimed = claim(std::move(job), owner, now, now + duration.count(), max_attempts);
    AGNX_RETURN_IF_ERROR(write_job(db, claimed.job));
    return std::optional<ClaimedJob>(std::move(claimed));
  });
}

Result<Job> PostgresTrackingStore::do_renew_lease(const JobLease& lease, std::chrono::milliseconds duration) {
  return write([&](Db& db) -> Result<Job> {
    AGNX_ASSIGN_OR_RETURN(const int64_t now, store_now_ms(db));
    AGNX_ASSIGN_OR_RETURN(Job stored, select_job(db, lease.job_id, " FOR UPDATE"));
    AGNX_ASSIGN_OR_RETURN(Job renewed, renew(std::move(stored), lease, now + duration.count()));
    AGNX_RETURN_IF_ERROR(write_job(db, renewed));
    return renewed;
  });
}

Result<int64_t> PostgresTrackingStore::do_release_leases(const std::string& owner) {
  return write([&](Db& db) -> Result<int64_t> {
    AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec("UPDATE jobs SET lease_expires = 0 "
                                                   "WHERE owner = $1 AND state = 'RUNNING'",
                                                   Params().add(owner)));
    return rows.affected();
  });
}

Result<Job> PostgresTrackingStore::do_request_cancel(int64_t job_id) {
  return write([&](Db& db) -> Result<Job> {
    AGNX_ASSIGN_OR_RETURN(Job stored, select_job(db, job_id, " FOR UPDATE"));
    AGNX_ASSIGN_OR_RETURN(Job requested, store::request_cancel(std::move(stored), now_ms()));
    AGNX_RETURN_IF_ERROR(write_job(db, requested));
    if (requested.state == JobState::kCancelled) AGNX_RETURN_IF_ERROR(end_job_run(db, requested, RunStatus::kKilled));
    return requested;
  });
}

Result<SubmittedJob> PostgresTrackingStore::do_submit_job(const JobSubmission& submission,
                                                          const WriteOptions& options) {
  std::shared_lock lock(artifact_gc_mutex_);
  std::vector<ArtifactInfo> artifacts;
  for (const ArtifactContent& artifact : submission.artifacts) {
    const Result<std::string> sha256 = artifacts_.put(artifact.content, artifact.same_bytes);
    if (!sha256.ok()) return sha256.status().with_context("storing artifact '" + artifact.path + "' of a submission");
    artifacts.push_back({artifact.path, static_cast<int64_t>(artifact.content.size()), *sha256});
  }
  const std::string& key = options.idempotency_key;
  const std::string target = std::to_string(submission.experiment_id);
  const RunInfo run{new_run_id(),         submission.experiment_id, submission.run_name, submission.user_id,
                    RunStatus::kRunning,  submission.start_time,    std::nullopt,        Lifecycle::kActive};
  return write([&](Db& db) -> Result<SubmittedJob> {
    SubmittedJob submitted{run, 0, true};
    AGNX_ASSIGN_OR_RETURN(const auto earlier, earlier_result(db, key, "submit_job", target));
    if (earlier) {
      AGNX_RETURN_IF_ERROR(read_submitted(db, *earlier, submitted));
      return submitted;
    }
    AGNX_RETURN_IF_ERROR(insert_run(db, run));
    AGNX_ASSIGN_OR_RETURN(submitted.job_id, insert_job(db, submission.kind, run.run_id));
    RunBatch batch = submission.batch;
    if (!submission.job_id_tag.empty()) batch.tags[submission.job_id_tag] = std::to_string(submitted.job_id);
    AGNX_RETURN_IF_ERROR(write_batch(db, run.run_id, batch));
    for (const ArtifactInfo& info : artifacts) AGNX_RETURN_IF_ERROR(reference_artifact(db, run.run_id, info));
    AGNX_RETURN_IF_ERROR(record_key(db, key, "submit_job", target, run.run_id + " " + std::to_string(submitted.job_id)));
    return submitted;
  });
}

Result<Job> PostgresTrackingStore::get_job(int64_t job_id) {
  return read([&](Db& db) { return select_job(db, job_id); });
}

Result<std::vector<Job>> PostgresTrackingStore::list_jobs(std::optional<JobState> state) {
  return read([&](Db& db) -> Result<std::vector<Job>> {
    const std::optional<std::string> name = state ? std::optional<std::string>(job_state_name(*state)) : std::nullopt;
    AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec(std::string("SELECT ") + kJobColumns +
                                                       " FROM jobs WHERE $1::text IS NULL OR state = $1 ORDER BY job_id",
                                                   Params().add(name)));
    return read_rows<Job>(rows, read_job<pg::Row>);
  });
}

// ---- libraries --------------------------------------------------------------

Status PostgresTrackingStore::do_put_library(const StoredLibrary& library) {
  return write([&](Db& db) -> Status {
    AGNX_ASSIGN_OR_RETURN(const Rows inserted,
                          db.exec("INSERT INTO multiplier_libraries (name, metric, metric_max, creation_time) "
                                  "VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING RETURNING library_id",
                                  Params().add(library.name).add(library.metric).add(library.metric_max).add(now_ms())));
    if (inserted.empty()) return Status::already_exists("multiplier library '" + library.name + "' already exists");
    const int64_t library_id = inserted[0].int64(0);
    for (const StoredMultiplier& m : library.multipliers) {
      Params row;
      row.add(library_id).add(m.name).add(int64_t{m.is_signed ? 1 : 0}).add(m.metric).add_bytes(bytes_of(m.products));
      AGNX_RETURN_IF_ERROR(db.exec("INSERT INTO multiplier_tables (library_id, name, is_signed, metric, products) "
                                   "VALUES ($1, $2, $3, $4, $5)",
                                   row)
                               .status()
                               .with_context("multiplier '" + m.name + "'"));
    }
    return {};
  });
}

Result<StoredLibrary> PostgresTrackingStore::get_library(const std::string& name) {
  return read([&](Db& db) -> Result<StoredLibrary> {
    AGNX_ASSIGN_OR_RETURN(const Rows found, db.exec("SELECT library_id, metric, metric_max FROM "
                                                    "multiplier_libraries WHERE name = $1",
                                                    Params().add(name)));
    if (found.empty()) return Status::not_found("multiplier library '" + name + "' does not exist");
    StoredLibrary library{name, found[0].text(1), found[0].real(2), {}};
    AGNX_ASSIGN_OR_RETURN(const Rows tables, db.exec("SELECT name, is_signed, metric, products FROM "
                                                     "multiplier_tables WHERE library_id = $1 "
                                                     "ORDER BY name COLLATE \"C\"",
                                                     Params().add(found[0].int64(0))));
    AGNX_ASSIGN_OR_RETURN(library.multipliers,
                          read_rows<StoredMultiplier>(tables, [](const pg::Row& row) -> Result<StoredMultiplier> {
                            return StoredMultiplier{row.text(0), row.int64(1) != 0, row.real(2),
                                                    values_of<int32_t>(row.blob(3))};
                          }));
    return library;
  });
}

Result<std::vector<std::string>> PostgresTrackingStore::list_libraries() {
  return read([&](Db& db) -> Result<std::vector<std::string>> {
    AGNX_ASSIGN_OR_RETURN(const Rows rows,
                          db.exec("SELECT name FROM multiplier_libraries ORDER BY name COLLATE \"C\""));
    return read_rows<std::string>(rows, [](const pg::Row& row) -> Result<std::string> { return row.text(0); });
  });
}

// ---- maintenance ------------------------------------------------------------

Result<int64_t> PostgresTrackingStore::gc(std::chrono::seconds grace) {
  std::unique_lock lock(artifact_gc_mutex_);
  AGNX_ASSIGN_OR_RETURN(const pg::Pool::Lease lease, pool_.acquire());  // its session holds the lock
  const Params key = Params().add(kGcLockKey);
  AGNX_ASSIGN_OR_RETURN(const Rows locked, lease->exec("SELECT pg_try_advisory_lock($1)", key));
  if (locked[0].text(0) != "t") {
    return Status::failed_precondition("another gc is running on this database (advisory lock " +
                                       std::to_string(kGcLockKey) + "); run gc again when it has finished");
  }
  Result<int64_t> removed = collect_garbage(*lease, grace);
  const Status unlocked = lease->exec("SELECT pg_advisory_unlock($1)", key).status();
  if (removed.ok() && !unlocked.ok()) return unlocked;
  return removed;
}

Result<int64_t> PostgresTrackingStore::collect_garbage(Db& connection, std::chrono::seconds grace) {
  auto forget = [&](Db& db) -> Result<std::set<std::string>> {
    AGNX_RETURN_IF_ERROR(db.exec("DELETE FROM runs WHERE lifecycle_stage = 'deleted'").status());
    AGNX_RETURN_IF_ERROR(db.exec("DELETE FROM experiments WHERE lifecycle_stage = 'deleted' AND NOT EXISTS "
                                 "(SELECT 1 FROM runs WHERE runs.experiment_id = experiments.experiment_id)")
                             .status());
    AGNX_RETURN_IF_ERROR(db.exec("DELETE FROM idempotency_keys WHERE creation_time < $1",
                                 Params().add(now_ms() - kIdempotencyKeyRetentionMs))
                             .status());
    AGNX_ASSIGN_OR_RETURN(const Rows rows, db.exec("SELECT DISTINCT sha256 FROM artifacts"));
    std::set<std::string> shas;
    for (int i = 0; i < rows.size(); ++i) shas.insert(rows[i].text(0));
    return shas;
  };
  Stage stage = Stage::kConnecting;
  AGNX_ASSIGN_OR_RETURN(const std::set<std::string> referenced,
                        run_on<Result<std::set<std::string>>>(connection, kWriteBegin, forget, stage));
  return artifacts_.remove_unreferenced(referenced, grace);
}

Status PostgresTrackingStore::backup(const std::filesystem::path& destination) {
  return Status::failed_precondition("backup to " + destination.string() +
                                     ": a PostgreSQL store is backed up with pg_dump (and its artifact root with a "
                                     "file copy), not by agnx-server backup");
}

}  // namespace agnx::store
