// Package metadbtest opens throwaway metadata databases for tests: a SQLite file
// in a temporary folder and a PostgreSQL schema with a random name that is dropped
// when the test ends, so parallel runs never collide. Each runs a test body against
// both engines, which is how every metadb user runs its one contract suite.
//
// PostgreSQL is found at $XINYI_TEST_POSTGRES (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). When it cannot be
// reached the PostgreSQL half is skipped with a message, unless $CI is set, in
// which case the test fails: CI must never pass by skipping.
package metadbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// DefaultPostgres is the PostgreSQL server tests use when $XINYI_TEST_POSTGRES is unset.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Each runs fn once per engine, as subtests "sqlite" and "postgres", each with a
// fresh empty database.
func Each(t *testing.T, fn func(t *testing.T, db *metadb.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite opens a fresh SQLite database in t.TempDir and returns it; the DSN used
// is available from SQLiteDSN.
func SQLite(t testing.TB) *metadb.DB {
	t.Helper()
	db, err := metadb.Open(context.Background(), SQLiteDSN(t), metadb.Options{})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// SQLiteDSN returns the DSN of a new SQLite file in t.TempDir.
func SQLiteDSN(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "meta.db")
}

// Postgres opens a fresh schema on the test PostgreSQL server, or skips (fails
// under CI) when the server is unreachable.
func Postgres(t testing.TB) *metadb.DB {
	t.Helper()
	dsn := PostgresDSN(t)
	db, err := metadb.Open(context.Background(), dsn, metadb.Options{})
	if err != nil {
		t.Fatalf("open postgres schema: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresDSN creates a schema with a random name on the test server, registers
// its removal with t.Cleanup, and returns a DSN whose search_path is that schema.
// Several Opens of the DSN share the schema (for multi-process tests).
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("XINYI_TEST_POSTGRES")
	if base == "" {
		base = DefaultPostgres
	}
	ctx := context.Background()
	admin, err := metadb.Open(ctx, base, metadb.Options{ConnectTimeout: 3 * time.Second, MaxOpenConns: 2})
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at %s is required under CI: %v", redacted(base), err)
		}
		t.Skipf("PostgreSQL at %s unreachable (set XINYI_TEST_POSTGRES or run 'make services'): %v", redacted(base), err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	schema := "xinyi_test_" + hex.EncodeToString(rnd[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", redacted(base), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redacted(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "<unparsable DSN>"
	}
	return u.Redacted()
}

// Listeners counts the listening connections (metadb.DB.Listen) on db's schema
// that have started listening.
func Listeners(t testing.TB, db *metadb.DB) int {
	t.Helper()
	var n int
	err := metadb.ScanOne(db.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE application_name LIKE 'metadb listen ' || current_schema() || '.%' AND (query LIKE 'LISTEN %' OR query = '-- ping')`), &n)
	if err != nil {
		t.Fatalf("count listeners: %v", err)
	}
	return n
}

// TerminateListeners ends, with pg_terminate_backend, every listening connection
// (metadb.DB.Listen) on db's schema, as a dropped network or a restarted server
// would, and returns how many it ended.
func TerminateListeners(t testing.TB, db *metadb.DB) int {
	t.Helper()
	ctx := context.Background()
	var n int
	err := metadb.ScanOne(db.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name LIKE 'metadb listen ' || current_schema() || '.%'`), &n)
	if err != nil {
		t.Fatalf("terminate listeners: %v", err)
	}
	return n
}
