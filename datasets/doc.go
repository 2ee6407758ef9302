// Package datasets owns the raw department tables that every other part of Xinyi
// reads: their schemas, a deterministic generator of a realistic enterprise universe
// (companies, monthly tax, social insurance, utilities, court cases, penalties, loans,
// guarantees, ...) whose latent health drives default and violation labels, and
// loaders for real public credit data sets into Arrow records.
//
// Every record carries an event time and an arrival time: a department delivers late
// and sometimes backfills, and the feature store counts a record only once both are
// at or before the as-of date. The package knows nothing of features or models.
//
// Raw tables are written as Parquet under
//
//	raw/<source>/month=YYYY-MM/part-NNNNN.parquet
//
// through an internal/blob store, labels under labels/month=YYYY-MM/. schema.go is
// the contract with the feature store (sources, columns, time semantics);
// contracts.yaml (Contracts) adds what a department delivers: its header names in
// Chinese and English, units, ranges, enumerations and code lists, the key of a
// fact, full or incremental delivery and the expected cadence, checked against the
// row structs. Delivered records arrive through datasets/ingest as batches whose
// parts count only once the batch manifest under raw/<source>/_batches/ lists them
// (VisibleParts); GENERATOR.md describes the generating process and its measured
// properties.
//
// Usage:
//
//	sum, err := datasets.Generate(ctx, store, datasets.DefaultGenerateOptions())
//	tax, _ := datasets.SourceByName(datasets.SourceTax)
//	rows, err := datasets.ReadMonth[datasets.TaxRow](ctx, store, tax, month)
//
//	t, err := datasets.LoadGMSC("../shared/data/gmsc/cs-training.csv")
//	defer t.Release() // t.Record: one float64 column per feature, then the target
package datasets
