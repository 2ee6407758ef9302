// Package registry holds registered models and their immutable versions, aliases such as
// champion and challenger that move atomically under four-eyes approval, lineage from
// sample and feature set to artifact, validated uploads of LightGBM and XGBoost files,
// and an audit record of every change.
package registry
