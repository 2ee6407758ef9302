// Package features is the feature store: the indicator library (catalog), point-in-time
// materialization of indicators into offline Parquet snapshots, the online store that
// serves the latest vector per company, training samples, statistics and the guarantee
// network (担保圈).
//
// The catalog (catalog/*.yaml, embedded) defines the raw sources as the store reads them,
// the indicators (id, names, dimension, source, column, aggregation, window, unit,
// monotone direction, sensitivity) and the feature sets (named, versioned lists of
// indicators). It is validated at load; an error names the file and line.
//
// Materialization is bitemporal: a record counts toward a snapshot as of date D only if
// both its event date and its arrival date are at or before D, and of the deliveries of
// one fact (same company and month, or same event id) the highest revision arrived by D
// is in force, so a backfilled correction changes only the snapshots at or after its
// arrival. When the revision in force is a retraction or an end of publicity (the raw
// column row_kind, datasets.RowKind; files without it hold records only) the fact
// does not count, from that row's arrival on: tax and other sources, penalties and
// other events, the registry (the company leaves the snapshots), loans and guarantees
// alike. Windows of W months cover the W calendar months ending with D's month.
//
// Storage layout (through internal/blob):
//
//	features/<set>/v<N>/asof=YYYY-MM-DD/part-NNNNN-<group>.parquet   one part per company shard and source
//	features/<set>/v<N>/asof=YYYY-MM-DD/part-<run>-NNNNN-<group>.parquet   the same, of a staged run
//	features/<set>/v<N>/asof=YYYY-MM-DD/patch-<run>.parquet   new values of some companies (Refresh)
//	features/<set>/v<N>/asof=YYYY-MM-DD/_manifest.json       written last
//	features/<set>/v<N>/_runs/<run>/…                        a staged run's plan, network, done markers
//	samples/<name>/v<N>/{train,valid,test}.parquet, manifest.json (written last)
//
// A shard's parts split its indicators by the source they are computed from (the
// registry's and the guarantee network's count as one each): each holds the
// code column and its group's indicators, for the same companies in the same
// order, so that reading some indicators reads only the parts that hold them.
//
// A snapshot exists only once its manifest does, so a reader never sees half a
// snapshot; a run that fails before the manifest leaves nothing visible and a rerun
// completes it. The manifest carries the row count, schema, part digests, every input
// file with its digest, and the statistics of each indicator.
//
// Usage:
//
//	store, _ := blob.OpenLocal("xinyi-data")
//	res, err := features.Materialize(ctx, store, features.Options{
//		Set:  "pd",
//		AsOf: []time.Time{time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)},
//	})
//	online := features.NewMemoryStore(features.OnlineOptions{})
//	_, err = features.LoadOnline(ctx, store, "pd", 1, online)
//	vec, err := online.Get(ctx, "91330604MA2BXXXXXX")
//
// A materialization can also run as a staged run split over processes that share only
// the object store: PlanRun (companies, guarantee network, plan), RunShard for each
// shard of companies by code hash (any order, any process, again after a crash), and
// CommitRun (checks every shard's parts, writes the manifests, removes the staging).
// It runs the same code as Materialize and gives the same snapshots value for value;
// features/matjobs runs it as durable jobs.
//
// Refresh brings the stored snapshots up to date after one ingestion batch: it
// computes the batch source's indicators again for the companies the batch
// touched, as of the stored dates the batch reaches (its rows' visible day or
// later), writes them as a patch the manifest lists after the parts, and restates
// the statistics that changed. Only the indicators of the value columns the
// batch changes are computed, read and compared: a correction of sales alone
// against the revision in force before it reaches the sales indicators; a new
// fact, a retraction or an end of publicity reaches every indicator of its
// source. A snapshot read applies the patches in order, so
// it gives the values of a full run; the next full run of the date writes plain
// parts again. Batches of the registry, and of the guarantee network's sources
// for a set that uses it, reach every company: their dates are materialized whole.
//
// OnlineSync keeps an online store on the newest snapshot that loads: when the newest
// one is corrupt or unreadable it keeps (or falls back to) the newest intact one, says
// which date it wanted, which it serves and why, and reads the failed one again as soon
// as its objects change.
//
// The Redis online store for several serving replicas is in features/redis, on one
// Redis or a Redis Cluster; both stores pass the contract suite in features/onlinetest
// (the Redis one on one node and on a 3-master cluster the test starts).
package features
