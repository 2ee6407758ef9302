// Package audit is the one append-only, hash-chained audit log of registry changes,
// assessments and screenings, with Verify to detect an edited or removed record.
package audit
