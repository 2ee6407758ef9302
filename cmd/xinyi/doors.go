package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/cases"
	casesapi "github.com/xinyi-platform/xinyi/cases/httpapi"
	"github.com/xinyi-platform/xinyi/cases/rematerialize"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/features/matjobs"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/serving/server"
)

// caseDoor is the companies' cases (objections, credit repair) on a platform:
// its service, which both the server's routes and its publicity-expiry jobs use,
// and the refresher whose queue the server fills in.
type caseDoor struct {
	svc     *cases.Service
	refresh *rematerialize.Refresher // nil: no rematerialization after a change
}

// openCaseDoor builds the case service over pl. owner maps a source to the
// department that reviews its cases (ingestion's owners); refreshSets are the
// feature sets rematerialized after a change ("" none).
func openCaseDoor(ctx context.Context, pl *platform, owner func(context.Context, string) (int64, error), refreshSets string, shards int) (*caseDoor, error) {
	cs, err := cases.OpenStore(ctx, pl.db, pl.log)
	if err != nil {
		return nil, err
	}
	d := &caseDoor{}
	o := cases.Options{Store: cs, Ingest: ingest.New(pl.store).WithLocker(ingest.DBLocker(pl.db, ingest.DBLockOptions{})), Records: cases.RawRecords{Store: pl.store},
		Authorizer: access.NewAuthorizer(pl.acc, pl.log), Audit: pl.log, Owner: owner}
	if sets := splitSets(refreshSets); len(sets) > 0 {
		d.refresh = &rematerialize.Refresher{Catalog: pl.cat, Store: pl.store, Sets: sets, Shards: max(shards, 1)}
		o.Refresher = d.refresh
	}
	if d.svc, err = cases.New(o); err != nil {
		return nil, err
	}
	return d, nil
}

// register installs the publicity-expiry worker.
func (d *caseDoor) register(ws *jobs.Workers) error { return cases.RegisterExpiry(ws, d.svc) }

// door mounts /v1/cases on a running server and keeps publicity expiry queued
// daily (today in China Standard Time; a unique job, so replicas queue it once).
func (d *caseDoor) door(pl *platform, sd server.Doors) (map[string]http.Handler, func(), error) {
	if d.refresh != nil {
		d.refresh.Queue = sd.Queue // set before the server starts its workers
	}
	h, err := casesapi.New(casesapi.Options{Service: d.svc, Auth: pl.acc, Authorizer: access.NewAuthorizer(pl.acc, pl.log), Logger: sd.Logger})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		t := time.NewTicker(6 * time.Hour)
		defer t.Stop()
		for {
			if _, err := cases.EnqueueExpiry(ctx, sd.Queue, time.Now().In(ingest.ChinaStandardTime).Format(time.DateOnly)); err != nil && ctx.Err() == nil {
				sd.Logger.Warn("queueing the daily end of publicity failed; retried in 6 hours", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return map[string]http.Handler{"/v1/cases": h, "/v1/cases/": h}, cancel, nil
}

// splitSets splits a list of feature sets at commas and spaces.
func splitSets(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// batchRefresh is the ingest listener that queues, after each committed
// batch, the refresh of the stored snapshots of its sets that the batch
// reaches (matjobs.EnqueueRefresh).
type batchRefresh struct {
	cat   *features.Catalog
	sets  []string
	queue *jobs.Queue
}

// BatchCommitted implements ingest.Listener.
func (b *batchRefresh) BatchCommitted(ctx context.Context, rep *ingest.Report) error {
	if len(b.sets) == 0 {
		return nil
	}
	if b.queue == nil {
		return errors.New("no job queue: the snapshots are not refreshed")
	}
	var errs []error
	for _, s := range b.sets {
		if _, err := matjobs.EnqueueRefresh(ctx, b.queue, b.cat, s, rep.Source, rep.ID); err != nil {
			errs = append(errs, fmt.Errorf("refresh of %s: %w", s, err))
		}
	}
	return errors.Join(errs...)
}
