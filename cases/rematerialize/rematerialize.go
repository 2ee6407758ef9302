// Package rematerialize adapts features/matjobs to cases.Refresher: after a case
// changed a record (a correction, an end of publicity), every stored snapshot of
// the configured feature sets as of the day of the change or later is
// materialized again as a durable job, so profiles, scores and warnings read the
// change. Snapshots as of earlier days are left alone: the change arrived after
// them and they stay exactly as they were.
//
// Usage:
//
//	r := &rematerialize.Refresher{Queue: q, Catalog: cat, Store: store, Sets: []string{"full"}, Shards: 4}
//	svc, _ := cases.New(cases.Options{..., Refresher: r})
package rematerialize

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/features/matjobs"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
)

// Refresher enqueues the materialization jobs. Queue, Catalog, Store and Sets are
// required.
type Refresher struct {
	Queue   *jobs.Queue
	Catalog *features.Catalog
	Store   blob.Store
	// Sets are the feature sets to keep current ("full", "pd/v2"; the latest
	// version when none is named).
	Sets []string
	// Shards of each materialization. Default 1.
	Shards int
	// Location is where the day of a change is counted (ingestion's arrival
	// day). Default UTC+8, China Standard Time.
	Location *time.Location
}

// Refresh implements cases.Refresher: the company and source do not narrow the
// work (a snapshot is materialized whole).
func (r *Refresher) Refresh(ctx context.Context, company, source string, from time.Time) error {
	if r.Queue == nil || r.Catalog == nil || r.Store == nil {
		return errors.New("rematerialize: Queue, Catalog and Store are required")
	}
	loc := r.Location
	if loc == nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	day := features.DayOf(from.In(loc))
	shards := max(r.Shards, 1)
	for _, name := range r.Sets {
		set, err := r.Catalog.Set(name, 0)
		if err != nil {
			return err
		}
		days, err := features.ListSnapshots(ctx, r.Store, set.Name, set.Version)
		if errors.Is(err, features.ErrNoSnapshotStored) {
			continue
		}
		if err != nil {
			return fmt.Errorf("rematerialize: snapshots of %s: %w", set.Key(), err)
		}
		var asof []time.Time
		for _, d := range days {
			if d >= day {
				asof = append(asof, d.Time())
			}
		}
		if len(asof) == 0 {
			continue
		}
		if _, err := matjobs.Enqueue(ctx, r.Queue, r.Catalog, matjobs.Request{Set: set.Key(), AsOf: asof, Shards: shards, Force: true}); err != nil {
			return fmt.Errorf("rematerialize: %s after a change of %s's %s: %w", set.Key(), company, source, err)
		}
	}
	return nil
}
