-- Indexes of search_runs (store/search_sql.h), the PostgreSQL twin of
-- migrations/0005_search_indexes.sql, which says which query shape each
-- serves. runs_by_name uses text_pattern_ops so that a LIKE 'prefix%'
-- becomes an index range whatever the database's collation.

CREATE INDEX runs_by_experiment_stage ON runs (experiment_id, lifecycle_stage, start_time DESC, run_id);
CREATE INDEX runs_by_name ON runs (experiment_id, run_name text_pattern_ops);
CREATE INDEX params_by_key ON params (key, value, run_id);
CREATE INDEX tags_by_key ON tags (key, value, run_id);
