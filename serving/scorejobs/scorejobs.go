// Package scorejobs keeps the score history current as durable jobs of
// internal/jobs: a score_history job scores the whole region as of one snapshot
// date with the champions and policy in force (serving.Service.ScorePopulation)
// and stores the run (serving/scores). Watch, run by every serving process,
// enqueues one when a new snapshot appears or a champion or the policy changes,
// and once for every stored date that has never been scored; the unique insert
// keeps replicas from enqueuing it twice, and a run already stored is not scored
// again.
package scorejobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/serving"
	servingfeatures "github.com/xinyi-platform/xinyi/serving/features"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

// Kind is the job kind of a population scoring.
const Kind = "score_history"

// QueueName is the queue score-history jobs go to.
const QueueName = "scoring"

// Args name the date to score and the run (models and policy) in force when the
// job was enqueued.
type Args struct {
	AsOf string `json:"as_of"`
	Run  string `json:"run"`
}

// Kind names the job kind.
func (Args) Kind() string { return Kind }

// Output is what a finished job records.
type Output struct {
	AsOf      string `json:"as_of"`
	Run       string `json:"run"`
	Companies int    `json:"companies"`
	// Existing is true when the run was already stored and nothing was scored.
	Existing bool `json:"existing,omitempty"`
}

// Options configure the worker.
type Options struct {
	Service *serving.Service
	Store   blob.Store
	// Principal is who scores: a platform administrator (the service key's).
	Principal serving.Principal
	// Workers scoring in parallel within one job (0: GOMAXPROCS).
	Workers int
	Logger  *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Register installs the score_history worker in ws.
func Register(ws *jobs.Workers, o Options) error {
	if o.Service == nil || o.Store == nil {
		return fmt.Errorf("%w: score history jobs need a service and a store", serving.ErrInvalidInput)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[Args]) error {
		day, err := time.Parse(time.DateOnly, j.Args.AsOf)
		if err != nil {
			return jobs.Permanent(fmt.Errorf("%w: score history job %d: as-of %q is not a date", serving.ErrInvalidInput, j.ID, j.Args.AsOf))
		}
		if j.Args.Run != "" {
			if _, err := o.Store.Stat(ctx, scores.ManifestKey(j.Args.AsOf, j.Args.Run)); err == nil {
				return jobs.RecordOutput(ctx, Output{AsOf: j.Args.AsOf, Run: j.Args.Run, Existing: true})
			} else if !errors.Is(err, blob.ErrNotFound) {
				return err
			}
		}
		pops, err := Populations(ctx, o.Store, o.Service.Models(), features.DayOf(day))
		if err != nil {
			return err
		}
		ds, err := o.Service.ScorePopulation(ctx, o.Principal, pops, serving.ScorePopulationOptions{Workers: o.Workers,
			Progress: func(done, total int) { _ = j.Progress.Report(ctx, int64(done), int64(total), "scoring") }})
		if err != nil {
			if errors.Is(err, serving.ErrForbidden) || errors.Is(err, serving.ErrInvalidInput) || errors.Is(err, serving.ErrFeatureSetMismatch) {
				return jobs.Permanent(err)
			}
			return err
		}
		m, err := scores.Write(ctx, o.Store, ds, o.Now())
		if err != nil {
			return err
		}
		return jobs.RecordOutput(ctx, Output{AsOf: m.AsOf, Run: m.Run, Companies: m.Companies})
	})
}

// Populations reads each task's feature set snapshot of one date (tasks sharing
// a set share its population).
func Populations(ctx context.Context, store blob.Store, models *serving.Models, day features.Day) (map[serving.Task]*serving.Population, error) {
	pops := map[serving.Task]*serving.Population{}
	bySet := map[string]*serving.Population{}
	for _, t := range serving.Tasks {
		set := models.FeatureSet(t)
		if p, ok := bySet[set.Key()]; ok {
			pops[t] = p
			continue
		}
		snap, _, err := features.ReadSnapshot(ctx, store, set.Name, set.Version, day)
		if errors.Is(err, features.ErrNoSnapshotStored) {
			return nil, jobs.Permanent(fmt.Errorf("%w: %v", serving.ErrInvalidInput, err))
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", serving.ErrUnavailable, err)
		}
		p, err := servingfeatures.Population(snap, set)
		if err != nil {
			return nil, jobs.Permanent(err)
		}
		bySet[set.Key()], pops[t] = p, p
	}
	return pops, nil
}

// Dates are the as-of dates every task's feature set has a snapshot of, oldest
// first.
func Dates(ctx context.Context, store blob.Store, models *serving.Models) ([]string, error) {
	var common []string
	for i, t := range serving.Tasks {
		set := models.FeatureSet(t)
		days, err := features.ListSnapshots(ctx, store, set.Name, set.Version)
		if err != nil {
			return nil, err
		}
		var ds []string
		for _, d := range days {
			ds = append(ds, d.String())
		}
		if i == 0 {
			common = ds
			continue
		}
		common = slices.DeleteFunc(common, func(d string) bool { return !slices.Contains(ds, d) })
	}
	slices.Sort(common)
	return common, nil
}

// Enqueue inserts a score_history job unless an equal one is waiting or running.
func Enqueue(ctx context.Context, q *jobs.Queue, a Args) (jobs.Inserted, error) {
	return q.Insert(ctx, a, jobs.InsertOptions{Queue: QueueName, MaxAttempts: 5, Unique: true})
}

// Watch enqueues score-history jobs until ctx ends, looking every interval: the
// newest common snapshot date whenever it or the run in force (champions and
// policy) changes, and every stored date without any run. It waits until the
// models are complete.
func Watch(ctx context.Context, q *jobs.Queue, svc *serving.Service, store blob.Store, interval time.Duration, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var last Args
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if a, err := watchOnce(ctx, q, svc, store, last); err != nil {
			if ctx.Err() != nil {
				return
			}
			logger.Warn("score history: could not enqueue; trying again", "err", err)
		} else {
			last = a
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func watchOnce(ctx context.Context, q *jobs.Queue, svc *serving.Service, store blob.Store, last Args) (Args, error) {
	snap := svc.Models().Current()
	if !snap.Complete() {
		return last, nil
	}
	models := make([]serving.ModelVersion, 0, len(serving.Tasks))
	for _, t := range serving.Tasks {
		ref := snap.Scorer(t).Ref()
		models = append(models, serving.ModelVersion{Task: t, Name: ref.Name, Version: ref.Version})
	}
	run := scores.RunName(models, svc.Policy().Version)
	dates, err := Dates(ctx, store, svc.Models())
	if err != nil || len(dates) == 0 {
		return last, err
	}
	newest := Args{AsOf: dates[len(dates)-1], Run: run}
	if newest == last {
		return last, nil
	}
	runs, err := scores.Runs(ctx, store)
	if err != nil {
		return last, err
	}
	scored := map[string]bool{}
	for _, m := range runs {
		scored[m.AsOf] = true
	}
	for _, d := range dates[:len(dates)-1] {
		if !scored[d] {
			if _, err := Enqueue(ctx, q, Args{AsOf: d, Run: run}); err != nil {
				return last, err
			}
		}
	}
	if _, err := Enqueue(ctx, q, newest); err != nil {
		return last, err
	}
	return newest, nil
}
