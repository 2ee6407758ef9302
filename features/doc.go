// Package features is the feature store: the indicator library (catalog), point-in-time
// materialization of indicators into offline Parquet snapshots, the online store that
// serves the latest vector per company, training samples, statistics and the guarantee
// network.
//
// Materialization is bitemporal: an event counts toward a snapshot as of date D only if
// both its event time and its arrival time are at or before D. A snapshot becomes visible
// only once its _manifest.json is written, so a reader never sees half a snapshot.
package features
