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
// Processes sharing a PostgreSQL database tell each other of commits with
// Tx.Notify (NOTIFY, sent when the transaction commits) and DB.Listen (one
// connection of its own, reopened with backoff when it drops, announcing each
// start so readers re-read what they may have missed). Channels are confined to
// the connection's schema. SQLite has no notifications: Notify does nothing and
// Listen returns ErrUnsupported, so its readers poll.
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
