package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// claimsTable holds claims: a key taken once, by whichever process inserts it
// first, with a value its holder may update (what a one-time step produced).
const claimsTable = `CREATE TABLE IF NOT EXISTS xinyi_job_claims (
	claim_key  TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	updated_ms BIGINT NOT NULL
)`

// Claim takes key for the caller with value, once across every process sharing
// the database: claimed is true for the one caller that took it; any other gets
// claimed false and the value the holder set. A step that must happen once (a
// finished job's registration) claims its key first.
func (q *Queue) Claim(ctx context.Context, key, value string) (held string, claimed bool, err error) {
	if key == "" {
		return "", false, fmt.Errorf("%w: empty claim key", ErrInvalidOptions)
	}
	res, err := q.db.ExecContext(ctx, q.bind(`INSERT INTO xinyi_job_claims (claim_key, value, updated_ms) VALUES (?, ?, ?)
		ON CONFLICT (claim_key) DO NOTHING`), key, value, time.Now().UnixMilli())
	if err != nil {
		return "", false, fmt.Errorf("jobs: claim %s: %w", key, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return value, true, nil
	}
	err = q.db.QueryRowContext(ctx, q.bind(`SELECT value FROM xinyi_job_claims WHERE claim_key = ?`), key).Scan(&held)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, fmt.Errorf("jobs: claim %s: released while read; try again", key)
	}
	if err != nil {
		return "", false, fmt.Errorf("jobs: claim %s: %w", key, err)
	}
	return held, false, nil
}

// SetClaim replaces the value of a claim its caller holds.
func (q *Queue) SetClaim(ctx context.Context, key, value string) error {
	if _, err := q.db.ExecContext(ctx, q.bind(`UPDATE xinyi_job_claims SET value = ?, updated_ms = ? WHERE claim_key = ?`),
		value, time.Now().UnixMilli(), key); err != nil {
		return fmt.Errorf("jobs: set claim %s: %w", key, err)
	}
	return nil
}

// ReleaseClaim gives key up, so the step may be tried again (its holder failed).
func (q *Queue) ReleaseClaim(ctx context.Context, key string) error {
	if _, err := q.db.ExecContext(ctx, q.bind(`DELETE FROM xinyi_job_claims WHERE claim_key = ?`), key); err != nil {
		return fmt.Errorf("jobs: release claim %s: %w", key, err)
	}
	return nil
}

// Claimed reads key's value without taking it; ok is false when nobody holds it.
func (q *Queue) Claimed(ctx context.Context, key string) (value string, ok bool, err error) {
	err = q.db.QueryRowContext(ctx, q.bind(`SELECT value FROM xinyi_job_claims WHERE claim_key = ?`), key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("jobs: read claim %s: %w", key, err)
	}
	return value, true, nil
}
