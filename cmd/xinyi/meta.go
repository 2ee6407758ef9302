package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// defaultDSN is the embedded metadata database of a local store: a SQLite file in
// the store folder's hidden .xinyi/ directory, which the object store never lists
// (keys cannot start a segment with a dot). An s3:// store has no local folder,
// so its database must be named with --db.
func defaultDSN(store string) (string, error) {
	if strings.HasPrefix(store, "s3://") {
		return "", fmt.Errorf("--db is required with an s3:// store (a postgres:// DSN, or a SQLite file path)")
	}
	dir := filepath.Join(store, ".xinyi")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("metadata folder: %w", err)
	}
	return filepath.Join(dir, "xinyi.db"), nil
}

// openMeta opens the metadata database (dsn, or the store's embedded default), the
// audit log and the access store on it. Close the returned database when done.
func openMeta(ctx context.Context, f metaFlags) (*metadb.DB, *audit.Log, *access.Store, error) {
	dsn := *f.dsn
	if dsn == "" {
		var err error
		if dsn, err = defaultDSN(*f.store); err != nil {
			return nil, nil, nil, err
		}
	}
	db, err := metadb.Open(ctx, dsn, metadb.Options{})
	if err != nil {
		return nil, nil, nil, err
	}
	log, err := audit.Open(ctx, db, audit.Options{})
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	acc, err := access.Open(ctx, db, access.Options{Audit: log})
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	return db, log, acc, nil
}
