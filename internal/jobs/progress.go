package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// progressTable is the project's table beside River's: one row per job that
// reported progress. updated_ms is Unix milliseconds on both engines.
const progressTable = `CREATE TABLE IF NOT EXISTS xinyi_job_progress (
	job_id     BIGINT PRIMARY KEY,
	done       BIGINT NOT NULL,
	total      BIGINT NOT NULL,
	note       TEXT NOT NULL,
	updated_ms BIGINT NOT NULL
)`

// migrationLock is the PostgreSQL advisory lock key held while migrating, so
// processes starting together migrate one after the other.
const migrationLock = 0x78696e79 // "xiny"

func migrateSQLite(ctx context.Context, db *sql.DB, opts Options) error {
	m, err := rivermigrate.New(riversqlite.New(db), &rivermigrate.Config{Logger: opts.Logger})
	if err != nil {
		return fmt.Errorf("%w: migrator: %v", ErrUnavailable, err)
	}
	// _txlock=immediate: the transaction holds the write lock from its start, so
	// another process migrating the same file waits for it.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: sqlite: %v", ErrUnavailable, err)
	}
	defer tx.Rollback()
	if _, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("%w: river migrations: %v", ErrUnavailable, err)
	}
	if _, err := tx.ExecContext(ctx, progressTable); err != nil {
		return fmt.Errorf("%w: progress table: %v", ErrUnavailable, err)
	}
	if _, err := tx.ExecContext(ctx, claimsTable); err != nil {
		return fmt.Errorf("%w: claims table: %v", ErrUnavailable, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%w: commit migrations: %v", ErrUnavailable, err)
	}
	return nil
}

func migratePostgres(ctx context.Context, pool *pgxpool.Pool, opts Options) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: opts.Logger})
	if err != nil {
		return fmt.Errorf("%w: migrator: %v", ErrUnavailable, err)
	}
	// River's migrations each run in their own transaction (one adds an enum
	// value that a later statement uses, which PostgreSQL refuses within one), so
	// a session advisory lock on a connection held aside serializes processes.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("%w: postgres: %v", ErrUnavailable, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLock)); err != nil {
		return fmt.Errorf("%w: migration lock: %v", ErrUnavailable, err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLock))
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("%w: river migrations: %v", ErrUnavailable, err)
	}
	if _, err := pool.Exec(ctx, progressTable); err != nil {
		return fmt.Errorf("%w: progress table: %v", ErrUnavailable, err)
	}
	if _, err := pool.Exec(ctx, claimsTable); err != nil {
		return fmt.Errorf("%w: claims table: %v", ErrUnavailable, err)
	}
	return nil
}

// bind rewrites "?" placeholders for PostgreSQL.
func (q *Queue) bind(query string) string {
	if q.engine != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (q *Queue) saveProgress(ctx context.Context, id int64, p Progress) error {
	_, err := q.db.ExecContext(ctx, q.bind(`INSERT INTO xinyi_job_progress (job_id, done, total, note, updated_ms)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (job_id) DO UPDATE SET done = excluded.done, total = excluded.total,
			note = excluded.note, updated_ms = excluded.updated_ms`),
		id, p.Done, p.Total, p.Note, p.UpdatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("jobs: progress of %d: %w", id, err)
	}
	return nil
}

// progressOf reads the progress rows of ids; a job that never reported has none.
func (q *Queue) progressOf(ctx context.Context, ids []int64) (map[int64]Progress, error) {
	out := make(map[int64]Progress, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		marks := strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := q.db.QueryContext(ctx, q.bind(`SELECT job_id, done, total, note, updated_ms
			FROM xinyi_job_progress WHERE job_id IN (`+marks+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("jobs: read progress: %w", err)
		}
		for rows.Next() {
			var id, ms int64
			var p Progress
			if err := rows.Scan(&id, &p.Done, &p.Total, &p.Note, &ms); err != nil {
				rows.Close()
				return nil, fmt.Errorf("jobs: read progress: %w", err)
			}
			p.UpdatedAt = time.UnixMilli(ms)
			out[id] = p
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("jobs: read progress: %w", err)
		}
	}
	return out, nil
}

// pruneProgress deletes the progress of jobs River's cleaner has deleted
// (finished jobs are kept for a day by default).
func (q *Queue) pruneProgress(ctx context.Context) error {
	_, err := q.db.ExecContext(ctx, `DELETE FROM xinyi_job_progress WHERE job_id NOT IN (SELECT id FROM river_job)`)
	return err
}
