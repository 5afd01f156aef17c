-- Indexes of search_runs (store/search_sql.h) beside latest_metrics_by_key
-- (order by a metric, 0001):
--  * runs_by_experiment_stage: the run ids of an experiment's active (or
--    deleted) runs in the default order (start_time DESC, run_id), read
--    without reading the runs' rows;
--  * runs_by_name: attributes.run_name LIKE 'prefix%' as a range (LIKE is
--    case-sensitive in the store, so SQLite turns a prefix into one);
--  * params_by_key, tags_by_key: order by a param or tag, walked in value
--    order from its key.
-- The run_id last in each is implicit in SQLite (the primary key of a
-- WITHOUT ROWID table ends every index) and written out for PostgreSQL's sake.

CREATE INDEX runs_by_experiment_stage ON runs (experiment_id, lifecycle_stage, start_time DESC, run_id);
CREATE INDEX runs_by_name ON runs (experiment_id, run_name);
CREATE INDEX params_by_key ON params (key, value, run_id);
CREATE INDEX tags_by_key ON tags (key, value, run_id);
