// Package audit is the one append-only, hash-chained audit log of registry changes,
// assessments and screenings, with Verify to detect an edited or removed record.
//
// Every record carries a sequence number (1, 2, 3, ... with no gaps), its time, the
// actor, the action, the subject, the outcome ("ok" or "refused" with a reason), the
// state before and after as canonical JSON, the previous record's hash and its own
// hash:
//
//	hash = hex(sha256(canonical(record) + "\n" + prev_hash))
//
// where canonical is the JSON object
//
//	{"seq":N,"time":"<RFC 3339 UTC, nanoseconds>","actor":..,"action":..,"subject":..,
//	 "outcome":..,"reason":..,"before":<json>,"after":<json>}
//
// and the first record's prev_hash is 64 zeros. A head row holds the newest seq and
// hash, so removing records from the end is detected as well. Appends serialize on
// the head row (SELECT ... FOR UPDATE on PostgreSQL, the write transaction on
// SQLite) and may join a caller's transaction (AppendTx) so a change and its audit
// record commit together or not at all. Concurrent Appends of one process are
// committed together in one transaction (group commit); each returns only once its
// own record is durable.
//
// Usage:
//
//	log, err := audit.Open(ctx, db, audit.Options{})
//	rec, err := log.Append(ctx, audit.Entry{Actor: "alice", Action: "model.create", Subject: "model:pd-smb", After: m})
//	report, err := log.Verify(ctx)
package audit
