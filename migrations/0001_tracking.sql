-- Experiments, runs and what a run logs: params, metrics, tags, artifacts.
-- Times are milliseconds since the Unix epoch.

CREATE TABLE experiments (
  experiment_id    INTEGER PRIMARY KEY,
  name             TEXT    NOT NULL UNIQUE,
  lifecycle_stage  TEXT    NOT NULL DEFAULT 'active' CHECK (lifecycle_stage IN ('active', 'deleted')),
  creation_time    INTEGER NOT NULL,
  last_update_time INTEGER NOT NULL
);

CREATE TABLE runs (
  run_id          TEXT    PRIMARY KEY,
  experiment_id   INTEGER NOT NULL REFERENCES experiments (experiment_id),
  run_name        TEXT    NOT NULL,
  user_id         TEXT    NOT NULL,
  status          TEXT    NOT NULL CHECK (status IN ('RUNNING', 'FINISHED', 'FAILED', 'KILLED')),
  start_time      INTEGER NOT NULL,
  end_time        INTEGER,
  lifecycle_stage TEXT    NOT NULL DEFAULT 'active' CHECK (lifecycle_stage IN ('active', 'deleted'))
) WITHOUT ROWID;
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time DESC, run_id);

-- Immutable once set.
CREATE TABLE params (
  run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  value  TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE tags (
  run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  value  TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- The full history: every logged value, in logging order (rowid).
CREATE TABLE metrics (
  run_id    TEXT    NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  key       TEXT    NOT NULL,
  value     REAL    NOT NULL,
  timestamp INTEGER NOT NULL,
  step      INTEGER NOT NULL
);
CREATE INDEX metrics_by_run_key ON metrics (run_id, key, step);

-- Per run and key the value with the highest (step, timestamp, value).
CREATE TABLE latest_metrics (
  run_id    TEXT    NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  key       TEXT    NOT NULL,
  value     REAL    NOT NULL,
  timestamp INTEGER NOT NULL,
  step      INTEGER NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, value);

-- Content-addressed: the bytes live under <data dir>/artifacts/<sha256[0:2]>/<sha256>.
CREATE TABLE artifacts (
  run_id TEXT    NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  path   TEXT    NOT NULL,
  size   INTEGER NOT NULL CHECK (size >= 0),
  sha256 TEXT    NOT NULL CHECK (length(sha256) = 64),
  PRIMARY KEY (run_id, path)
) WITHOUT ROWID;
CREATE INDEX artifacts_by_sha256 ON artifacts (sha256);
