package warnings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
)

// BatchJobKind is the job kind of the evaluation of one committed batch.
const BatchJobKind = "warnings_batch"

// BatchJobArgs name a committed batch.
type BatchJobArgs struct {
	Source string `json:"source"`
	Batch  string `json:"batch"`
}

// Kind names the job kind.
func (BatchJobArgs) Kind() string { return BatchJobKind }

// BatchJobOutput is what a finished warnings_batch job records.
type BatchJobOutput struct {
	Source  string `json:"source"`
	Batch   string `json:"batch"`
	Arrival string `json:"arrival_date,omitempty"`
	Records int    `json:"records"`
	Firings int    `json:"firings"`
	Opened  int    `json:"opened"`
	// Covered is true when an as-of date applied already saw the batch.
	Covered bool `json:"covered,omitempty"`
	Already bool `json:"already,omitempty"`
}

// RegisterBatches installs the warnings_batch worker in ws (Register installs
// warnings_eval; a process that evaluates warnings installs both).
func RegisterBatches(ws *jobs.Workers, o JobOptions) error {
	if o.Source.Store == nil || o.Warnings == nil {
		return fmt.Errorf("%w: warning jobs need a store and a warning store", ErrInput)
	}
	if o.Library == nil {
		lib, err := DefaultLibrary()
		if err != nil {
			return err
		}
		o.Library = lib
	}
	return jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[BatchJobArgs]) error {
		out, err := EvaluateBatch(ctx, o, j.Args.Source, j.Args.Batch)
		if err != nil {
			if errors.Is(err, ErrInput) || errors.Is(err, blob.ErrNotFound) || errors.Is(err, datasets.ErrCorrupt) {
				return jobs.Permanent(err)
			}
			return err
		}
		return jobs.RecordOutput(ctx, out)
	})
}

// EvaluateBatch evaluates one committed batch's records against the rules
// watching its source, applies the firings (Store.ApplyBatch) and notifies the
// warnings it opened, once; it is what a warnings_batch job does. Running it
// again for the same batch changes nothing and notifies only what an earlier
// run failed to hand over.
func EvaluateBatch(ctx context.Context, o JobOptions, source, id string) (*BatchJobOutput, error) {
	if o.Library == nil {
		lib, err := DefaultLibrary()
		if err != nil {
			return nil, err
		}
		o.Library = lib
	}
	if o.Source.Store == nil || o.Warnings == nil {
		return nil, fmt.Errorf("%w: evaluating a batch needs a store and a warning store", ErrInput)
	}
	out := &BatchJobOutput{Source: source, Batch: id}
	applied, err := o.Warnings.BatchesApplied(ctx, source)
	if err != nil {
		return nil, err
	}
	if !applied[id] {
		rep, err := ingest.ReadReport(ctx, o.Source.Store, source, id)
		if err != nil {
			return nil, err
		}
		dates, err := o.Warnings.Applied(ctx)
		if err != nil {
			return nil, err
		}
		// A batch an applied as-of date already saw is not read: it is recorded
		// as covered.
		out.Covered = len(dates) > 0 && rep.Arrival < dates[len(dates)-1]
		be := &BatchEvaluation{Source: rep.Source, Batch: rep.ID, Arrival: rep.Arrival, Version: o.Library.Version}
		if !out.Covered {
			if be, err = o.Library.EvaluateBatch(ctx, o.Source.Store, rep); err != nil {
				return nil, err
			}
		}
		if len(be.Firings) > 0 && !o.Source.NoRegistry {
			// District and industry route the alerts of regulators' filters.
			t, _ := time.Parse(time.DateOnly, be.Arrival)
			day := features.DayOf(t)
			now, _, err := registry(ctx, o.Source.Store, day, day)
			if err != nil {
				return nil, err
			}
			for i := range be.Firings {
				c := now[be.Firings[i].Company]
				be.Firings[i].District, be.Firings[i].Industry = c.District, c.Industry
			}
		}
		ch, err := o.Warnings.ApplyBatch(ctx, be)
		if err != nil {
			return nil, err
		}
		out.Arrival, out.Records, out.Firings, out.Opened, out.Already = be.Arrival, be.Records, len(be.Firings), len(ch.Opened), ch.Already
		if o.Logger != nil {
			o.Logger.Info("warnings: batch evaluated", "source", source, "batch", id, "arrival", be.Arrival, "records", be.Records,
				"firings", len(be.Firings), "opened", len(ch.Opened))
		}
	} else {
		out.Already = true
	}
	if o.Notify == nil {
		return out, nil
	}
	ch, notified, err := o.Warnings.BatchAlerts(ctx, source, id)
	if err != nil {
		return nil, err
	}
	if notified {
		return out, nil
	}
	if len(ch.Opened) > 0 {
		if err := o.Notify(ctx, ch); err != nil {
			return nil, fmt.Errorf("warnings: notify batch %s of %s: %w", id, source, err)
		}
	}
	return out, o.Warnings.BatchNotified(ctx, source, id)
}

// EnqueueBatch inserts a warnings_batch job unless an equal one is waiting or
// running.
func EnqueueBatch(ctx context.Context, q *jobs.Queue, source, id string) (jobs.Inserted, error) {
	return q.Insert(ctx, BatchJobArgs{Source: source, Batch: id}, jobs.InsertOptions{Queue: QueueName, MaxAttempts: 5, Unique: true})
}

// BatchListener is the ingest.Listener that queues a warnings_batch job for
// each committed batch of a source the library's rules watch on arrival.
type BatchListener struct {
	Queue *jobs.Queue
	// Library is the rule library (nil: DefaultLibrary).
	Library *Library
}

// BatchCommitted queues the batch's evaluation when a rule watches its source.
func (l BatchListener) BatchCommitted(ctx context.Context, rep *ingest.Report) error {
	lib := l.Library
	if lib == nil {
		var err error
		if lib, err = DefaultLibrary(); err != nil {
			return err
		}
	}
	for _, s := range lib.BatchSources() {
		if s == rep.Source {
			_, err := EnqueueBatch(ctx, l.Queue, rep.Source, rep.ID)
			return err
		}
	}
	return nil
}

// WatchBatches queues a warnings_batch job for every committed batch of a
// watched source not applied yet, every interval (and once at start) until ctx
// ends: it catches batches committed by a process without a listener (the
// ingest command) or whose listener failed.
func WatchBatches(ctx context.Context, q *jobs.Queue, st *Store, store blob.Store, lib *Library, interval time.Duration, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if lib == nil {
		var err error
		if lib, err = DefaultLibrary(); err != nil {
			logger.Error("warnings: no rule library; batches are not watched", "err", err)
			return
		}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := SweepBatches(ctx, q, st, store, lib); err != nil && ctx.Err() == nil {
			logger.Warn("warnings: could not look for new batches; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SweepBatches queues the evaluation of every committed batch of a watched
// source not applied yet and returns how many it queued.
func SweepBatches(ctx context.Context, q *jobs.Queue, st *Store, store blob.Store, lib *Library) (int, error) {
	n := 0
	for _, source := range lib.BatchSources() {
		applied, err := st.BatchesApplied(ctx, source)
		if err != nil {
			return n, err
		}
		infos, err := store.List(ctx, datasets.BatchPrefix(source))
		if err != nil {
			return n, fmt.Errorf("warnings: list batches of %s: %w", source, err)
		}
		for _, in := range infos {
			id, ok := strings.CutSuffix(strings.TrimPrefix(in.Key, datasets.BatchPrefix(source)), ".json")
			if !ok || strings.Contains(id, "/") || applied[id] {
				continue
			}
			ins, err := EnqueueBatch(ctx, q, source, id)
			if err != nil {
				return n, err
			}
			if !ins.Duplicate {
				n++
			}
		}
	}
	return n, nil
}
