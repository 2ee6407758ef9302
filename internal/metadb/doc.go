// Package metadb is the SQL metadata database: connection, migrations, SQLite as the
// embedded default and PostgreSQL for several instances. It holds no domain logic.
package metadb
