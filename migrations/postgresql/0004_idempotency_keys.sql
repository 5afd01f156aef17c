-- Idempotency keys of writes: a key is recorded in the transaction of the
-- write it names, so a retried request finds it and returns the first result
-- instead of writing again. gc forgets keys after a retention period. The
-- PostgreSQL twin of migrations/0004_idempotency_keys.sql.

CREATE TABLE idempotency_keys (
  key           text   PRIMARY KEY,
  kind          text   NOT NULL,  -- create_experiment, create_run, log_batch, submit_job
  target        text   NOT NULL,  -- the experiment name, the experiment id, the run id
  result        text   NOT NULL,  -- the first call's result: experiment id, run id, ''
  creation_time bigint NOT NULL
);
