package main

import (
	"context"
	"log/slog"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	labtraining "github.com/xinyi-platform/xinyi/lab/training"
	"github.com/xinyi-platform/xinyi/registry"
	regfeatures "github.com/xinyi-platform/xinyi/registry/features"
)

// platform is what the serving, console and registry commands open: the object
// store, the metadata database with its audit log and access store, the indicator
// catalog, and the registry, which checks uploads against the catalog's feature sets
// (and the public data sets' own columns when the console offers them for training).
type platform struct {
	store      blob.Store
	db         *metadb.DB
	log        *audit.Log
	acc        *access.Store
	cat        *features.Catalog
	reg        *registry.Registry
	closeStore func()
}

// openPlatform opens the store named by storeDir and the metadata database dsn (the
// store's embedded default when empty). logger may be nil.
func openPlatform(ctx context.Context, storeDir, dsn string, data []labtraining.DataSet, logger *slog.Logger) (*platform, error) {
	store, closeStore, err := openGenerateStore(ctx, storeDir)
	if err != nil {
		return nil, err
	}
	p := &platform{store: store, closeStore: closeStore}
	if p.db, p.log, p.acc, err = openMeta(ctx, metaFlags{store: &storeDir, dsn: &dsn}); err != nil {
		closeStore()
		return nil, err
	}
	if p.cat, err = features.DefaultCatalog(); err != nil {
		p.Close()
		return nil, err
	}
	sets := labtraining.SampleFeatureSets(data, regfeatures.New(p.cat))
	if p.reg, err = registry.Open(ctx, p.db, store, sets, p.log, registry.Options{Logger: logger}); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Close closes the database and the store.
func (p *platform) Close() {
	p.db.Close()
	p.closeStore()
}
