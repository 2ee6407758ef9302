package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"
)

// Args are a job's arguments: a JSON-marshalable value whose Kind names its
// handler. Kind must be stable: it is stored with every job.
type Args interface {
	Kind() string
}

// Job is one attempt of a job as its handler sees it.
type Job[A Args] struct {
	ID          int64
	Attempt     int
	MaxAttempts int
	Args        A
	// Progress records how far the attempt got, for List and Get.
	Progress Reporter
	// Queue is the queue the job runs on, for a handler that enqueues the jobs
	// that follow it or looks at others.
	Queue *Queue
}

// Reporter is how a handler reports live progress.
type Reporter interface {
	// Report records done of total and a short note. Reports closer together
	// than Options.ProgressEvery are dropped, except the one with done == total.
	Report(ctx context.Context, done, total int64, note string) error
}

// Workers holds the handlers a Queue runs. Register them with Handle before
// Open; one Workers serves one open Queue at a time.
type Workers struct {
	river *river.Workers
	kinds []string

	mu sync.Mutex
	q  *Queue
}

// NewWorkers returns an empty set of handlers.
func NewWorkers() *Workers { return &Workers{river: river.NewWorkers()} }

// Handle registers fn as the handler of jobs of A's kind. A handler's error fails
// the attempt, which is retried with backoff until MaxAttempts; wrap it with
// Permanent to fail the job at once. A handler must return when ctx ends.
func Handle[A Args](ws *Workers, fn func(ctx context.Context, j *Job[A]) error) error {
	var zero A
	kind := zero.Kind()
	for _, k := range ws.kinds {
		if k == kind {
			return fmt.Errorf("%w: a handler for %q is already registered", ErrInvalidOptions, kind)
		}
	}
	err := river.AddWorkerSafely(ws.river, river.WorkFunc(func(ctx context.Context, rj *river.Job[A]) error {
		q := ws.queue()
		if q == nil {
			return errors.New("jobs: workers not bound to a queue")
		}
		j := &Job[A]{ID: rj.ID, Attempt: rj.Attempt, MaxAttempts: rj.MaxAttempts, Args: rj.Args,
			Progress: &reporter{q: q, id: rj.ID}, Queue: q}
		err := fn(ctx, j)
		var perm permanent
		if errors.As(err, &perm) {
			return river.JobCancel(perm.err)
		}
		return err
	}))
	if err != nil {
		return fmt.Errorf("%w: handler for %q: %v", ErrInvalidOptions, kind, err)
	}
	ws.kinds = append(ws.kinds, kind)
	return nil
}

func (ws *Workers) bind(q *Queue) error {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.q != nil && ws.q != q {
		return fmt.Errorf("%w: these workers already serve another queue", ErrInvalidOptions)
	}
	ws.q = q
	return nil
}

func (ws *Workers) unbind(q *Queue) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.q == q {
		ws.q = nil
	}
}

func (ws *Workers) queue() *Queue {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.q
}

// Permanent marks a handler's error as final: the job is cancelled instead of
// retried (bad arguments, a refusal that another attempt will not change).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// Snooze, returned by a handler, puts the job back to run again after d without
// counting an attempt: a job waiting for others to finish.
func Snooze(d time.Duration) error { return river.JobSnooze(max(d, 0)) }

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// RecordOutput stores v (as JSON, at most 32 MB) as the job's output, readable
// through Info.Output once the attempt ends. Call it from a handler only.
func RecordOutput(ctx context.Context, v any) error {
	if err := river.RecordOutput(ctx, v); err != nil {
		return fmt.Errorf("jobs: record output: %w", err)
	}
	return nil
}

// reporter writes one job's progress, at most once per Options.ProgressEvery.
type reporter struct {
	q  *Queue
	id int64

	mu   sync.Mutex
	last time.Time
}

func (r *reporter) Report(ctx context.Context, done, total int64, note string) error {
	r.mu.Lock()
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < r.q.opts.ProgressEvery && done != total {
		r.mu.Unlock()
		return nil
	}
	r.last = now
	r.mu.Unlock()
	return r.q.saveProgress(ctx, r.id, Progress{Done: done, Total: total, Note: note, UpdatedAt: now})
}
