package serving

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
	ID          string        `json:"id"`
	State       string        `json:"state"`
	Task        Task          `json:"task"`
	Institution string        `json:"institution"`
	Done        int           `json:"done"`
	Total       int           `json:"total"`
	Started     time.Time     `json:"started"`
	Finished    time.Time     `json:"finished,omitzero"`
	Result      *ScreenResult `json:"result,omitempty"`
	Objects     []string      `json:"objects,omitempty"`
	Error       string        `json:"error,omitempty"`
}

// ScreenerOptions configure a Screener. Service, Source and Store are required.
type ScreenerOptions struct {
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
	if p.Role != RoleRegulator && p.Role != RoleOperator {
		return Job{}, Forbidden(p, "screening companies", needScreen)
	}
	set := s.opts.Service.Models().FeatureSet(task)
	j := &Job{ID: newID(), State: JobRunning, Task: task, Institution: p.Institution, Started: time.Now()}
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
		bg := context.WithoutCancel(ctx)
		res, objs, err := s.run(bg, p, set, j)
		s.mu.Lock()
		defer s.mu.Unlock()
		j.Finished = time.Now()
		if err != nil {
			j.State, j.Error = JobFailed, err.Error()
			s.opts.Logger.Error("screening failed", "id", j.ID, "err", err)
			return
		}
		j.State, j.Result, j.Objects = JobDone, res, objs
	}()
	return out, nil
}

func (s *Screener) run(ctx context.Context, p Principal, set FeatureSet, j *Job) (*ScreenResult, []string, error) {
	pop, err := s.opts.Source.Population(ctx, set)
	if err != nil {
		return nil, nil, fmt.Errorf("load population %s: %w", set.Key(), err)
	}
	res, err := s.opts.Service.Screen(ctx, p, pop, ScreenOptions{Task: j.Task, Workers: s.opts.Workers, Progress: func(done, total int) {
		s.mu.Lock()
		j.Done, j.Total = done, total
		s.mu.Unlock()
	}})
	if err != nil {
		return nil, nil, err
	}
	res.ID = j.ID
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

// Get returns a job of p's institution.
func (s *Screener) Get(p Principal, id string) (Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok || (j.Institution != p.Institution && p.Role != RoleOperator) {
		return Job{}, fmt.Errorf("%w: %q", ErrUnknownJob, id)
	}
	return *j, nil
}

// Wait blocks until every started job has finished.
func (s *Screener) Wait() { s.wg.Wait() }
