// Package ingest is the door for department records: it reads a delivered file
// (CSV or other delimited text, JSON Lines, Parquet, Excel .xlsx; UTF-8 with or
// without BOM, GBK or GB18030), maps the department's headers, units and codes
// through the source's contract (datasets.Contract), validates every row,
// quarantines the bad ones with a reason, stamps the arrival date and assigns
// revisions against what is stored, and commits the batch atomically.
//
// Invariants:
//   - Memory is bounded whatever the file size: a record longer than
//     Limits.MaxRecordBytes or wider than Limits.MaxColumns is refused before it
//     is allocated; validated rows go to temporary spill files, one per event
//     month, and are revised and written one month at a time (a 560 MB, 8.6
//     million row tax file peaks at 213 MB resident).
//   - A batch is visible whole or not at all: its parts are written under
//     raw/<source>/month=YYYY-MM/batch-<attempt>-NNNNN.parquet and count only once
//     raw/<source>/_batches/<id>.json lists them (datasets.VisibleParts).
//   - The arrival date is the platform's day of acceptance (Options.Now), never a
//     value from the file. A row whose key is stored with other values becomes the
//     next revision; a row equal to the stored one creates nothing.
//   - Every stored row carries row_kind (datasets.RowKind), stamped next to
//     arrival_date and revision. A delivered row may say it is a retraction or an
//     end of publicity (the contracts' shared row_kind column: 撤销, 停止公示, …);
//     such a row needs only the key columns, carries the values of the fact in
//     force and takes the key's next revision; one for a key never stored is
//     rejected (unknown_key). A record for a voided key revives it. A full
//     delivery of a source whose contract says omitted: withdrawn retracts the
//     keys in force it omits, unless some row of it was rejected.
//   - Facts lists one company's stored rows of a source with their kind and
//     whether each is in force as of a date (objections, credit reports).
//   - A batch has an id (Options.BatchID, or the digest of its content); ingesting
//     an id again returns the first report and changes nothing.
//   - A batch with more than Options.MaxBad of its rows rejected is refused whole;
//     its report and rejected rows are still kept under quarantine/<source>/<id>/.
//
// Usage:
//
//	g := ingest.New(store)
//	rep, err := g.Ingest(ctx, "tax", []ingest.Input{{Name: "tax-2024-05.csv", R: f}}, ingest.Options{})
//	// rep.Accepted, rep.Corrected, rep.Rejected, rep.Reasons, rep.Examples
package ingest
