-- Matching results (core MatchingInfo), jobs, multiplier libraries.

CREATE TABLE matching_results (
  run_id          TEXT    PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
  lambda          REAL    NOT NULL,
  library         TEXT    NOT NULL,
  metric          TEXT    NOT NULL,
  metric_max      REAL    NOT NULL,
  opcount         INTEGER NOT NULL,
  relative_energy REAL    NOT NULL,
  seed            INTEGER,  -- the uint64 seed's bits
  num_samples     INTEGER
) WITHOUT ROWID;
CREATE INDEX matching_results_by_library ON matching_results (library, metric);

CREATE TABLE matching_layers (
  run_id            TEXT    NOT NULL REFERENCES matching_results (run_id) ON DELETE CASCADE,
  layer_index       INTEGER NOT NULL,  -- execution order
  name              TEXT    NOT NULL,
  fan_in            INTEGER NOT NULL,
  opcount           INTEGER NOT NULL,
  sigma             REAL    NOT NULL,
  out_std           REAL    NOT NULL,
  max_std           REAL    NOT NULL,
  multiplier_name   TEXT    NOT NULL,
  multiplier_metric REAL    NOT NULL,
  mul_std           REAL    NOT NULL,
  sample_rows       BLOB    NOT NULL,  -- little-endian uint64 row indices
  observed_mean     REAL,
  observed_std      REAL,
  PRIMARY KEY (run_id, layer_index)
) WITHOUT ROWID;

CREATE TABLE matching_candidates (
  run_id      TEXT    NOT NULL,
  layer_index INTEGER NOT NULL,
  name        TEXT    NOT NULL,
  metric      REAL    NOT NULL,
  mean        REAL    NOT NULL,
  std         REAL    NOT NULL,
  PRIMARY KEY (run_id, layer_index, name),
  FOREIGN KEY (run_id, layer_index) REFERENCES matching_layers (run_id, layer_index) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE jobs (
  job_id        INTEGER PRIMARY KEY,
  run_id        TEXT    REFERENCES runs (run_id) ON DELETE CASCADE,
  kind          TEXT    NOT NULL,
  state         TEXT    NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
  attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  progress      REAL    NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
  error         TEXT    NOT NULL DEFAULT '',
  creation_time INTEGER NOT NULL,
  update_time   INTEGER NOT NULL,
  start_time    INTEGER,
  end_time      INTEGER
);
CREATE INDEX jobs_by_state ON jobs (state, creation_time);
CREATE INDEX jobs_by_run ON jobs (run_id);

CREATE TABLE multiplier_libraries (
  library_id    INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL UNIQUE,
  metric        TEXT    NOT NULL,
  metric_max    REAL    NOT NULL,
  creation_time INTEGER NOT NULL
);

-- One multiplier of a library; the 256x256 product table is an artifact-style blob.
CREATE TABLE multiplier_tables (
  library_id INTEGER NOT NULL REFERENCES multiplier_libraries (library_id) ON DELETE CASCADE,
  name       TEXT    NOT NULL,
  is_signed  INTEGER NOT NULL CHECK (is_signed IN (0, 1)),
  metric     REAL    NOT NULL,
  products   BLOB    NOT NULL CHECK (length(products) = 262144),  -- 65536 little-endian int32
  PRIMARY KEY (library_id, name)
) WITHOUT ROWID;
