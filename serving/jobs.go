package serving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// PopulationSource loads the latest snapshot of a feature set as a population.
type PopulationSource interface {
	Population(ctx context.Context, set FeatureSet) (*Population, error)
}

// Job states.
const (
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// Job is the state of one screening job.
type Job struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	Task        Task   `json:"task"`
	Institution string `json:"institution"`
	// InstitutionID owns the job: only its users (and platform administrators)
	// see it.
	InstitutionID int64         `json:"institution_id"`
	Done          int           `json:"done"`
	Total         int           `json:"total"`
	Started       time.Time     `json:"started"`
	Finished      time.Time     `json:"finished,omitzero"`
	Result        *ScreenResult `json:"result,omitempty"`
	Objects       []string      `json:"objects,omitempty"`
	Error         string        `json:"error,omitempty"`
}

// ScreeningQueue keeps screening jobs in a database shared by every process, so
// a screening outlives the process that started it and any process sees it.
// serving/screenjobs implements it over internal/jobs.
type ScreeningQueue interface {
	// EnqueueScreening records a screening of task for p (already authorized) and
	// returns its job, not yet started.
	EnqueueScreening(ctx context.Context, p Principal, task Task) (Job, error)
	// Screening returns a job by id, or an error wrapping ErrUnknownJob.
	Screening(ctx context.Context, id string) (Job, error)
	// Screenings returns the newest jobs, newest first.
	Screenings(ctx context.Context) ([]Job, error)
}

// ScreenerOptions configure a Screener. Service, Source and Store are required.
type ScreenerOptions struct {
	// Queue, when set, makes screenings durable jobs run by whichever process
	// works the queue (RunScreening is their work); nil runs them in this
	// process's memory, lost on restart.
	Queue   ScreeningQueue
	Service *Service
	Source  PopulationSource
	Store   blob.Store
	// MaxJobs is how many finished jobs are remembered. Default 64.
	MaxJobs int
	// Workers per screening. Default GOMAXPROCS.
	Workers int
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Screener runs screening jobs in the background and reports their progress.
type Screener struct {
	opts ScreenerOptions
	mu   sync.Mutex
	jobs map[string]*Job
	ids  []string // start order, for forgetting old jobs
	wg   sync.WaitGroup
}

// NewScreener checks the options.
func NewScreener(opts ScreenerOptions) (*Screener, error) {
	if opts.Service == nil || opts.Source == nil || opts.Store == nil {
		return nil, fmt.Errorf("%w: screener needs a service, a population source and a store", ErrInvalidInput)
	}
	if opts.MaxJobs <= 0 {
		opts.MaxJobs = 64
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Screener{opts: opts, jobs: map[string]*Job{}}, nil
}

// Start begins a screening with the model of task for p and returns at once.
func (s *Screener) Start(ctx context.Context, p Principal, task Task) (Job, error) {
	if task == "" {
		task = TaskViolation
	}
	if task != TaskViolation && task != TaskPD {
		return Job{}, fmt.Errorf("%w: screen with the violation or pd model, not %q", ErrInvalidInput, task)
	}
	set := s.opts.Service.Models().FeatureSet(task)
	if err := s.opts.Service.allow(ctx, p, access.ActionScreen, access.Resource{Kind: "population", ID: set.Key()}); err != nil {
		return Job{}, err
	}
	if s.opts.Queue != nil {
		return s.opts.Queue.EnqueueScreening(ctx, p, task)
	}
	j := &Job{ID: newID(), State: JobRunning, Task: task, Institution: p.Institution, InstitutionID: p.InstitutionID, Started: time.Now()}
	s.mu.Lock()
	s.jobs[j.ID] = j
	s.ids = append(s.ids, j.ID)
	for len(s.ids) > s.opts.MaxJobs {
		if old := s.jobs[s.ids[0]]; old != nil && old.State == JobRunning {
			break
		}
		delete(s.jobs, s.ids[0])
		s.ids = s.ids[1:]
	}
	out := *j
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		res, objs, err := s.RunScreening(context.WithoutCancel(ctx), p, task, j.ID, func(done, total int) {
			s.mu.Lock()
			j.Done, j.Total = done, total
			s.mu.Unlock()
		})
		s.mu.Lock()
		defer s.mu.Unlock()
		j.Finished = time.Now()
		if err != nil {
			j.State, j.Error = JobFailed, err.Error()
			return
		}
		j.State, j.Result, j.Objects = JobDone, res, objs
	}()
	return out, nil
}

// RunScreening does the work of one screening job id: it loads the population of
// task's feature set, screens it for p, and writes screenings/<id>/…, reporting
// progress. A failure is logged and audited (who asked, and why it ended) before
// it is returned. Start runs it in a goroutine; a durable worker runs it for a
// queued job.
func (s *Screener) RunScreening(ctx context.Context, p Principal, task Task, id string, progress func(done, total int)) (*ScreenResult, []string, error) {
	set := s.opts.Service.Models().FeatureSet(task)
	res, objs, err := s.run(ctx, p, set, task, id, progress)
	if err != nil {
		s.opts.Logger.Error("screening failed", "id", id, "err", err)
		// A failed screening is part of the record too (a store outage, a
		// population that does not load): who asked, and why it ended.
		_ = s.opts.Service.audit(ctx, audit.Entry{Actor: p.Actor(), Action: "screening", Subject: "screening:" + id,
			Outcome: audit.OutcomeFailed, Reason: err.Error(), After: map[string]any{"task": task, "feature_set": set.Key()}})
	}
	return res, objs, err
}

func (s *Screener) run(ctx context.Context, p Principal, set FeatureSet, task Task, id string, progress func(done, total int)) (*ScreenResult, []string, error) {
	pop, err := s.opts.Source.Population(ctx, set)
	if err != nil {
		return nil, nil, fmt.Errorf("load population %s: %w", set.Key(), err)
	}
	res, err := s.opts.Service.Screen(ctx, p, pop, ScreenOptions{Task: task, Workers: s.opts.Workers, Progress: progress})
	if err != nil {
		return nil, nil, err
	}
	res.ID = id
	infos, err := WriteScreening(ctx, s.opts.Store, res)
	if err != nil {
		return nil, nil, err
	}
	keys := make([]string, len(infos))
	for i, in := range infos {
		keys[i] = in.Key
	}
	return res, keys, nil
}

// Get returns a job of p's institution. Another institution's job is unknown to p
// (and the refusal is audited).
func (s *Screener) Get(ctx context.Context, p Principal, id string) (Job, error) {
	out, err := s.lookup(ctx, id)
	if err != nil {
		return Job{}, err
	}
	if err := s.opts.Service.allow(ctx, p, access.ActionViewJob, access.Resource{Kind: "screening", ID: id, Owner: out.InstitutionID}); err != nil {
		if errors.Is(err, ErrForbidden) {
			return Job{}, fmt.Errorf("%w: %q", ErrUnknownJob, id)
		}
		return Job{}, err
	}
	if s.opts.Queue != nil && out.State == JobDone && out.Result != nil && out.Result.Rows == nil {
		// A queued job records its summary; its rows are in the store.
		rows, err := ReadScreening(ctx, s.opts.Store, id)
		if err != nil {
			return Job{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		out.Result.Rows = rows
	}
	return out, nil
}

func (s *Screener) lookup(ctx context.Context, id string) (Job, error) {
	if s.opts.Queue != nil {
		return s.opts.Queue.Screening(ctx, id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return Job{}, fmt.Errorf("%w: %q", ErrUnknownJob, id)
	}
	return *j, nil
}

// List returns the jobs p may see, newest first, without their results' rows.
// With a Queue, a database that does not answer gives an empty list (logged).
func (s *Screener) List(ctx context.Context, p Principal) []Job {
	all := s.all(ctx)
	var out []Job
	for _, j := range all {
		if _, err := access.Decide(p, access.ActionViewJob, access.Resource{Owner: j.InstitutionID}); err == nil {
			out = append(out, j)
		}
	}
	return out
}

func (s *Screener) all(ctx context.Context) []Job {
	if s.opts.Queue != nil {
		all, err := s.opts.Queue.Screenings(ctx)
		if err != nil {
			s.opts.Logger.Error("list screenings", "err", err)
		}
		return all
	}
	s.mu.Lock()
	var all []Job
	for i := len(s.ids) - 1; i >= 0; i-- {
		if j := s.jobs[s.ids[i]]; j != nil {
			all = append(all, *j)
		}
	}
	s.mu.Unlock()
	return all
}

// Wait blocks until every job this process started in memory has finished
// (queued jobs are the workers' concern).
func (s *Screener) Wait() { s.wg.Wait() }
