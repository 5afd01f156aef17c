-- Capture details of each matched layer and the model's accuracies, so a
-- stored result is the whole MatchingInfo (re-evaluation needs the scales).

ALTER TABLE matching_results ADD COLUMN float_top1 REAL;  -- NULL: no test data
ALTER TABLE matching_results ADD COLUMN float_top5 REAL;
ALTER TABLE matching_results ADD COLUMN quantized_top1 REAL;
ALTER TABLE matching_results ADD COLUMN quantized_top5 REAL;
ALTER TABLE matching_results ADD COLUMN approximate_top1 REAL;
ALTER TABLE matching_results ADD COLUMN approximate_top5 REAL;

ALTER TABLE matching_layers ADD COLUMN feature_rows INTEGER;  -- NULL: not captured from a model
ALTER TABLE matching_layers ADD COLUMN input_scale REAL;
ALTER TABLE matching_layers ADD COLUMN weight_scale REAL;
ALTER TABLE matching_layers ADD COLUMN w_dist BLOB;         -- little-endian float64 x 256, or empty
ALTER TABLE matching_layers ADD COLUMN x_dist_global BLOB;  -- likewise
