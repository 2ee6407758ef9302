// Package screenjobs makes serving's screenings durable jobs of internal/jobs:
// Queue implements serving.ScreeningQueue (a screening is a row of the jobs
// database, visible to every process sharing it), and Register installs the
// worker that runs one through serving.Screener.RunScreening.
//
// It is an adapter, as serving/access is one for internal/access: serving keeps
// its interface (ScreeningQueue) and never imports River; this package translates.
//
//	ws := jobs.NewWorkers()
//	screenjobs.Register(ws, runner) // runner: a Screener without a Queue
//	q, _ := jobs.Open(ctx, jobs.Options{DSN: dsn, Workers: ws, Queues: map[string]int{screenjobs.QueueName: 1}})
//	sc, _ := serving.NewScreener(serving.ScreenerOptions{…, Queue: screenjobs.New(q)})
package screenjobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/serving"
	servingfeatures "github.com/xinyi-platform/xinyi/serving/features"
)

// Kind is the job kind of a screening.
const Kind = "screening"

// QueueName is the queue screenings go to, so workers can size it apart from
// other work.
const QueueName = "screening"

// MaxAttempts of one screening: a store outage is worth retrying, a screening
// that fails three times needs a person.
const MaxAttempts = 3

// Args are a screening job's arguments: the task and the principal who asked,
// as authorized at Start (the worker screens as that principal; serving.Service
// decides again and audits).
type Args struct {
	Task            string   `json:"task"`
	UserID          int64    `json:"user_id"`
	User            string   `json:"user"`
	InstitutionID   int64    `json:"institution_id"`
	Institution     string   `json:"institution"`
	InstitutionKind string   `json:"institution_kind"`
	Roles           []string `json:"roles"`
	KeyID           string   `json:"key_id,omitempty"`
	// Ref is random: the screening id is "<job id>-<ref>", so a jobs database
	// started afresh (whose ids start again at 1) never names the objects of an
	// older screening in the same store.
	Ref string `json:"ref"`
}

// Kind names the job kind.
func (Args) Kind() string { return Kind }

func argsOf(p serving.Principal, task serving.Task) Args {
	var ref [6]byte
	_, _ = rand.Read(ref[:]) // crypto/rand.Read never fails (Go 1.24+)
	a := Args{Ref: hex.EncodeToString(ref[:]), Task: string(task), UserID: p.UserID, User: p.User, InstitutionID: p.InstitutionID, Institution: p.Institution,
		InstitutionKind: string(p.InstitutionKind), KeyID: p.KeyID}
	for _, r := range p.Roles {
		a.Roles = append(a.Roles, string(r))
	}
	return a
}

func (a Args) principal() serving.Principal {
	p := serving.Principal{UserID: a.UserID, User: a.User, InstitutionID: a.InstitutionID, Institution: a.Institution,
		InstitutionKind: access.Kind(a.InstitutionKind), KeyID: a.KeyID}
	for _, r := range a.Roles {
		p.Roles = append(p.Roles, access.Role(r))
	}
	return p
}

// Output is what a finished screening records on its job: the summary (without
// rows, which are in the store) and the keys of the objects written.
type Output struct {
	Result  *serving.ScreenResult `json:"result"`
	Objects []string              `json:"objects"`
}

// Runner runs one screening; *serving.Screener implements it.
type Runner interface {
	RunScreening(ctx context.Context, p serving.Principal, task serving.Task, id string, progress func(done, total int)) (*serving.ScreenResult, []string, error)
}

// screeningID names the screening of job id with arguments a.
func screeningID(id int64, a Args) string { return strconv.FormatInt(id, 10) + "-" + a.Ref }

// Register installs the screening worker in ws. Results land at
// screenings/<job id>-<ref>/.
func Register(ws *jobs.Workers, run Runner) error {
	return jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[Args]) error {
		if j.Args.Ref == "" {
			return jobs.Permanent(fmt.Errorf("%w: screening job %d without a ref", serving.ErrInvalidInput, j.ID))
		}
		id := screeningID(j.ID, j.Args)
		res, objs, err := run.RunScreening(ctx, j.Args.principal(), serving.Task(j.Args.Task), id, func(done, total int) {
			// Progress is advisory: a failed write must not fail the screening.
			_ = j.Progress.Report(ctx, int64(done), int64(total), "scoring")
		})
		if err != nil {
			if errors.Is(err, serving.ErrForbidden) || errors.Is(err, serving.ErrInvalidInput) {
				return jobs.Permanent(err) // another attempt would be refused the same way
			}
			return err
		}
		return jobs.RecordOutput(ctx, Output{Result: res, Objects: objs})
	})
}

// Queue implements serving.ScreeningQueue over a jobs.Queue.
type Queue struct {
	q *jobs.Queue
	// Limit is how many of the newest screenings Screenings returns. Default 200.
	Limit int
}

// New returns a ScreeningQueue over q.
func New(q *jobs.Queue) *Queue { return &Queue{q: q, Limit: 200} }

// EnqueueScreening inserts a screening job for p.
func (q *Queue) EnqueueScreening(ctx context.Context, p serving.Principal, task serving.Task) (serving.Job, error) {
	args := argsOf(p, task)
	ins, err := q.q.Insert(ctx, args, jobs.InsertOptions{Queue: QueueName, MaxAttempts: MaxAttempts})
	if err != nil {
		return serving.Job{}, fmt.Errorf("%w: enqueue screening: %v", serving.ErrUnavailable, err)
	}
	return q.Screening(ctx, screeningID(ins.ID, args))
}

// Screening returns the screening job id.
func (q *Queue) Screening(ctx context.Context, id string) (serving.Job, error) {
	num, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return serving.Job{}, fmt.Errorf("%w: %q", serving.ErrUnknownJob, id)
	}
	in, err := q.q.Get(ctx, n)
	if errors.Is(err, jobs.ErrNotFound) || (err == nil && in.Kind != Kind) {
		return serving.Job{}, fmt.Errorf("%w: %q", serving.ErrUnknownJob, id)
	}
	if err != nil {
		return serving.Job{}, fmt.Errorf("%w: %v", serving.ErrUnavailable, err)
	}
	j, err := jobOf(in)
	if err == nil && j.ID != id {
		return serving.Job{}, fmt.Errorf("%w: %q", serving.ErrUnknownJob, id) // a job of another database's history
	}
	return j, err
}

// Screenings returns the newest screening jobs, newest first.
func (q *Queue) Screenings(ctx context.Context) ([]serving.Job, error) {
	list, err := q.q.List(ctx, jobs.ListOptions{Kinds: []string{Kind}, Limit: q.Limit})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", serving.ErrUnavailable, err)
	}
	out := make([]serving.Job, 0, len(list))
	for _, in := range list {
		j, err := jobOf(in)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// jobOf maps a job row to serving's view: queued, running and retrying are all
// "running" to the caller; cancelled and discarded are "failed".
func jobOf(in jobs.Info) (serving.Job, error) {
	var a Args
	if err := json.Unmarshal(in.Args, &a); err != nil {
		return serving.Job{}, fmt.Errorf("screening job %d: arguments: %w", in.ID, err)
	}
	j := serving.Job{ID: screeningID(in.ID, a), State: serving.JobRunning, Task: serving.Task(a.Task),
		Institution: a.Institution, InstitutionID: a.InstitutionID, Done: int(in.Done), Total: int(in.Total),
		Started: in.CreatedAt, Finished: in.FinalizedAt}
	switch in.State {
	case jobs.StateCompleted:
		var out Output
		if err := json.Unmarshal(in.Output, &out); err != nil {
			return serving.Job{}, fmt.Errorf("screening job %d: output: %w", in.ID, err)
		}
		j.State, j.Result, j.Objects = serving.JobDone, out.Result, out.Objects
	case jobs.StateCancelled, jobs.StateDiscarded:
		j.State, j.Error = serving.JobFailed, in.Error
	}
	return j, nil
}

// OpenOptions configure Open.
type OpenOptions struct {
	// DSN is the jobs database (see jobs.Options.DSN).
	DSN string
	// Queues to work and how many jobs of each at once; empty: insert and list
	// only (the process runs no screening).
	Queues map[string]int
	// Service, Store and Scoring make the screening runner when Queues is set
	// (Service nil: a process that runs no screening, only the kinds Register
	// installs): Scoring is the scoring goroutines of one screening (0:
	// GOMAXPROCS).
	Service *serving.Service
	Store   blob.Store
	Scoring int
	// Register, when set, installs the workers of further job kinds.
	Register func(*jobs.Workers) error
	// JobTimeout and RescueAfter are as in jobs.Options (0: their defaults).
	JobTimeout, RescueAfter time.Duration
	Logger                  *slog.Logger
}

// Open opens the jobs database with the screening worker installed when the
// process works queues. The returned Queue has not started.
func Open(ctx context.Context, o OpenOptions) (*jobs.Queue, error) {
	opts := jobs.Options{DSN: o.DSN, Logger: o.Logger, JobTimeout: o.JobTimeout, RescueAfter: o.RescueAfter}
	if len(o.Queues) > 0 {
		ws := jobs.NewWorkers()
		if o.Service != nil {
			runner, err := serving.NewScreener(serving.ScreenerOptions{Service: o.Service, Source: servingfeatures.Snapshots{Store: o.Store, Logger: o.Logger},
				Store: o.Store, Workers: o.Scoring, Logger: o.Logger})
			if err != nil {
				return nil, err
			}
			if err := Register(ws, runner); err != nil {
				return nil, err
			}
		}
		if o.Register != nil {
			if err := o.Register(ws); err != nil {
				return nil, err
			}
		}
		opts.Workers, opts.Queues = ws, o.Queues
	}
	return jobs.Open(ctx, opts)
}
