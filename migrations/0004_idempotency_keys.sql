-- Idempotency keys of writes (CreateExperiment, CreateRun, LogMetric,
-- LogBatch): a key is recorded in the transaction of the write it names, so a
-- retried request finds it and returns the first result instead of writing
-- again. gc forgets keys after a retention period.

CREATE TABLE idempotency_keys (
  key           TEXT    PRIMARY KEY,
  kind          TEXT    NOT NULL,  -- create_experiment, create_run, log_batch
  target        TEXT    NOT NULL,  -- the experiment name, the experiment id, the run id
  result        TEXT    NOT NULL,  -- the first call's result: experiment id, run id, ''
  creation_time INTEGER NOT NULL
) WITHOUT ROWID;
