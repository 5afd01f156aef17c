-- Capture details of each matched layer and the model's accuracies, so a
-- stored result is the whole MatchingInfo (re-evaluation needs the scales).
-- The PostgreSQL twin of migrations/0003_capture_details.sql.

ALTER TABLE matching_results ADD COLUMN float_top1 double precision;  -- NULL: no test data
ALTER TABLE matching_results ADD COLUMN float_top5 double precision;
ALTER TABLE matching_results ADD COLUMN quantized_top1 double precision;
ALTER TABLE matching_results ADD COLUMN quantized_top5 double precision;
ALTER TABLE matching_results ADD COLUMN approximate_top1 double precision;
ALTER TABLE matching_results ADD COLUMN approximate_top5 double precision;

ALTER TABLE matching_layers ADD COLUMN feature_rows bigint;  -- NULL: not captured from a model
ALTER TABLE matching_layers ADD COLUMN input_scale double precision;
ALTER TABLE matching_layers ADD COLUMN weight_scale double precision;
ALTER TABLE matching_layers ADD COLUMN w_dist bytea;         -- little-endian float64 x 256, or empty
ALTER TABLE matching_layers ADD COLUMN x_dist_global bytea;  -- likewise
