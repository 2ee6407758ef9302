// Package gbdt is the tree-ensemble model form shared by the whole platform. It reads
// LightGBM text models (v2, v3, v4) and XGBoost models (JSON, UBJSON, legacy binary),
// writes canonical LightGBM text (version=v3) that github.com/dmitryikh/leaves loads,
// evaluates models directly, and computes exact path-dependent TreeSHAP contributions.
//
// It stands between leaves and the outside world: leaves reads only LightGBM v2/v3,
// cannot read XGBoost >= 1.0 files, and returns 0.0 instead of an error when a row
// has the wrong number of features. Every parser here checks hard limits on size,
// trees, nodes, depth and features before it allocates, and returns an error, never
// a panic, on corrupt input. The package talks to no storage and no network.
package gbdt
