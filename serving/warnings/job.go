package warnings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/jobs"
)

// JobKind is the job kind of a warning evaluation.
const JobKind = "warnings_eval"

// QueueName is the queue warning evaluations go to.
const QueueName = "warnings"

// JobArgs name the date to evaluate up to.
type JobArgs struct {
	AsOf string `json:"as_of"`
}

// Kind names the job kind.
func (JobArgs) Kind() string { return JobKind }

// JobOutput is what a finished job records.
type JobOutput struct {
	AsOf string `json:"as_of"`
	// Dates are the dates evaluated (earlier dates not yet applied are caught up,
	// in order).
	Dates   []string `json:"dates"`
	Firings int      `json:"firings"`
	Opened  int      `json:"opened"`
	Closed  int      `json:"closed"`
}

// Notifier is told of each applied date's opened and closed warnings
// (subscriptions deliver them); an error retries the job, which notifies again.
type Notifier func(ctx context.Context, ch *Changes) error

// JobOptions configure the warnings_eval worker.
type JobOptions struct {
	Source   Source
	Warnings *Store
	// Library is the rule library (nil: DefaultLibrary).
	Library *Library
	// Notify, when set, is told of every applied date's alerts.
	Notify Notifier
	Logger *slog.Logger
}

// Register installs the warnings_eval worker in ws.
func Register(ws *jobs.Workers, o JobOptions) error {
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
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[JobArgs]) error {
		out, err := o.run(ctx, j.Args.AsOf, func(done, total int, note string) {
			_ = j.Progress.Report(ctx, int64(done), int64(total), note)
		})
		if err != nil {
			if errors.Is(err, ErrInput) || errors.Is(err, ErrOutOfOrder) {
				return jobs.Permanent(err)
			}
			return err
		}
		return jobs.RecordOutput(ctx, out)
	})
}

// EvaluateThrough applies every stored date up to asof that is later than the
// latest applied one, in order, and notifies each; it is what a warnings_eval
// job does.
func EvaluateThrough(ctx context.Context, o JobOptions, asof string) (*JobOutput, error) {
	if o.Library == nil {
		lib, err := DefaultLibrary()
		if err != nil {
			return nil, err
		}
		o.Library = lib
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Source.Store == nil || o.Warnings == nil {
		return nil, fmt.Errorf("%w: evaluating warnings needs a store and a warning store", ErrInput)
	}
	return o.run(ctx, asof, nil)
}

func (o JobOptions) run(ctx context.Context, asof string, progress func(done, total int, note string)) (*JobOutput, error) {
	t, err := time.Parse(time.DateOnly, asof)
	if err != nil {
		return nil, fmt.Errorf("%w: as-of %q is not a date", ErrInput, asof)
	}
	target := features.DayOf(t)
	days, err := o.Source.Dates(ctx)
	if err != nil {
		return nil, err
	}
	applied, err := o.Warnings.Applied(ctx)
	if err != nil {
		return nil, err
	}
	latest := ""
	if len(applied) > 0 {
		latest = applied[len(applied)-1]
	}
	var todo []features.Day
	found := false
	for _, d := range days {
		found = found || d == target
		if d.String() > latest && d <= target {
			todo = append(todo, d)
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: no snapshot of %s as of %s", ErrInput, o.Source.set(), asof)
	}
	out := &JobOutput{AsOf: asof}
	for i, d := range todo {
		in, err := o.Source.Input(ctx, d)
		if err != nil {
			return nil, err
		}
		ev, err := o.Library.Evaluate(ctx, in)
		if err != nil {
			return nil, err
		}
		ch, err := o.Warnings.Apply(ctx, ev)
		if err != nil {
			return nil, err
		}
		out.Dates = append(out.Dates, ev.AsOf)
		out.Firings += len(ev.Firings)
		out.Opened += len(ch.Opened)
		out.Closed += len(ch.Closed)
		o.Logger.Info("warnings evaluated", "as_of", ev.AsOf, "companies", ev.Companies, "firings", len(ev.Firings),
			"opened", len(ch.Opened), "updated", len(ch.Updated), "closed", len(ch.Closed))
		if progress != nil {
			progress(i+1, len(todo), "evaluated "+ev.AsOf)
		}
	}
	if o.Notify != nil {
		// Notify every applied date up to the target not yet notified, including
		// one applied by an attempt that failed before notifying.
		pending, err := o.Warnings.Unnotified(ctx, asof)
		if err != nil {
			return nil, err
		}
		for _, d := range pending {
			ch, _, err := o.Warnings.Alerts(ctx, d)
			if err != nil {
				return nil, err
			}
			if err := o.Notify(ctx, ch); err != nil {
				return nil, fmt.Errorf("warnings: notify %s: %w", d, err)
			}
			if err := o.Warnings.Notified(ctx, d); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Enqueue inserts a warnings_eval job unless an equal one is waiting or running.
func Enqueue(ctx context.Context, q *jobs.Queue, asof string) (jobs.Inserted, error) {
	return q.Insert(ctx, JobArgs{AsOf: asof}, jobs.InsertOptions{Queue: QueueName, MaxAttempts: 5, Unique: true})
}

// Watch enqueues a warnings_eval job for the newest snapshot date of the source's
// set whenever it changes (and once at start), looking every interval until ctx
// ends. The job catches up any earlier date not yet applied.
func Watch(ctx context.Context, q *jobs.Queue, src Source, interval time.Duration, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	last := ""
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if d, err := watchOnce(ctx, q, src, last); err != nil {
			if ctx.Err() != nil {
				return
			}
			logger.Warn("warnings: could not enqueue an evaluation; trying again", "err", err)
		} else {
			last = d
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func watchOnce(ctx context.Context, q *jobs.Queue, src Source, last string) (string, error) {
	days, err := src.Dates(ctx)
	if err != nil || len(days) == 0 {
		return last, err
	}
	newest := days[len(days)-1].String()
	if newest == last {
		return last, nil
	}
	if _, err := Enqueue(ctx, q, newest); err != nil {
		return last, err
	}
	return newest, nil
}
