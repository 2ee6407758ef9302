// Package metadb is the SQL metadata database: connection, migrations, SQLite as the
// embedded default and PostgreSQL for several instances. It holds no domain logic.
//
// A DSN selects the engine: "postgres://..." or "postgresql://..." opens PostgreSQL
// through pgx; "sqlite:///path/file.db", "sqlite://file.db" or a bare file path opens
// SQLite through modernc.org/sqlite (pure Go) in WAL mode with a busy timeout, where
// every transaction takes the write lock when it begins so concurrent writers queue
// instead of failing (within one process they queue in Go, in order; other processes
// wait in SQLite's busy handler). Readers never wait for writers.
//
// Queries are written once with "?" placeholders; DB rewrites them to "$1, $2, ..."
// for PostgreSQL. Migrations are plain SQL with a few dialect macros (see Migration)
// and are recorded per component in the xinyi_migrations table.
//
// Usage:
//
//	db, err := metadb.Open(ctx, "sqlite:///var/lib/xinyi/meta.db", metadb.Options{})
//	err = db.Migrate(ctx, "registry", migrations)
//	err = db.Tx(ctx, func(tx *metadb.Tx) error {
//		id, err := tx.InsertID(ctx, "INSERT INTO models (name) VALUES (?)", name)
//		return err
//	})
package metadb
