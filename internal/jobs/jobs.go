package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Sentinel errors, wrapped with context.
var (
	// ErrInvalidOptions means Options or InsertOptions name something impossible.
	ErrInvalidOptions = errors.New("jobs: invalid options")
	// ErrUnavailable means the jobs database could not be opened or migrated.
	ErrUnavailable = errors.New("jobs: database unavailable")
	// ErrNotFound means no job has the id asked for.
	ErrNotFound = errors.New("jobs: no such job")
	// ErrClosed means the Queue was closed.
	ErrClosed = errors.New("jobs: queue closed")
)

// Engine is the database behind a Queue.
type Engine int

const (
	// SQLite is the embedded engine (modernc.org/sqlite), one writer connection.
	SQLite Engine = iota + 1
	// Postgres is PostgreSQL through pgx.
	Postgres
)

// String returns "sqlite" or "postgres".
func (e Engine) String() string {
	switch e {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "unknown"
}

// DefaultQueue is the queue a job goes to when InsertOptions.Queue is empty.
const DefaultQueue = "default"

// DefaultFetchCooldown is Options.FetchCooldown's default.
const DefaultFetchCooldown = 10 * time.Millisecond

// Options configure Open. DSN is required; EnsureDefaults fills the rest.
type Options struct {
	// DSN names the jobs database: postgres://… or sqlite://path (a bare path is
	// SQLite too). On SQLite it must be a file of its own, not the metadata
	// database: River keeps one connection to it.
	DSN string
	// Queues maps a queue name to how many jobs of it this process works at once.
	// Empty: this Queue only inserts and lists (a server with --job-workers 0).
	Queues map[string]int
	// Workers are the handlers this process runs; required when Queues is set.
	Workers *Workers
	// MaxAttempts is how many times a job runs before it is discarded. Default 5.
	MaxAttempts int
	// RetryBase and RetryMax shape the backoff after a failed attempt: attempt n
	// waits RetryBase·n⁴ (±10% jitter), at most RetryMax. Defaults 1s and 1h,
	// River's own schedule (1s, 16s, 81s, 4m16s, …).
	RetryBase, RetryMax time.Duration
	// JobTimeout cancels an attempt's context after this long. Default 1h.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before River's rescuer
	// takes it as abandoned (its worker died) and schedules it again. It must be
	// longer than JobTimeout. Default JobTimeout + 10m.
	RescueAfter time.Duration
	// PollInterval is how often a worker looks for new jobs when no notification
	// arrives. PostgreSQL notifies workers of inserts at once, except that River
	// sends at most one insert notification per queue per FetchCooldown from one
	// process, so a job inserted right after another may wait for the poll;
	// SQLite has no notifications across processes, so there it bounds the
	// pickup delay of jobs inserted elsewhere. Default 1s.
	PollInterval time.Duration
	// FetchCooldown is the least time between two fetches of one queue: a worker
	// with n slots starts at most n jobs per cooldown. River's default is 100ms
	// (40 jobs/s for 4 slots); default here DefaultFetchCooldown.
	FetchCooldown time.Duration
	// ProgressEvery is the least time between two progress writes of one job;
	// reports in between are dropped, except a final one (done == total).
	// Default 250ms.
	ProgressEvery time.Duration
	// BusyTimeout is how long a SQLite connection waits for another process's
	// write lock. Default 10s.
	BusyTimeout time.Duration
	// NoMaintenance keeps this process out of River's leader election, so it
	// never runs the maintenance (scheduling retries that come due, rescuing
	// jobs whose worker died, deleting old finished jobs). Some process working
	// the same database must run it; by default every worker may.
	NoMaintenance bool
	// ID names this process among the workers (River's client id). Default host
	// and start time.
	ID string
	// Logger receives River's messages; nil means warnings and errors to
	// slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = time.Hour
	}
	if o.JobTimeout == 0 {
		o.JobTimeout = time.Hour
	}
	if o.RescueAfter <= 0 {
		o.RescueAfter = o.JobTimeout + 10*time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.FetchCooldown <= 0 {
		o.FetchCooldown = DefaultFetchCooldown
	}
	if o.FetchCooldown > o.PollInterval {
		o.FetchCooldown = o.PollInterval
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 250 * time.Millisecond
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(warnOnly{slog.Default().Handler()})
	}
}

func (o *Options) check() error {
	for name, n := range o.Queues {
		if name == "" || n < 1 || n > 10000 {
			return fmt.Errorf("%w: queue %q with %d workers (want a name and 1..10000)", ErrInvalidOptions, name, n)
		}
	}
	if len(o.Queues) > 0 && (o.Workers == nil || len(o.Workers.kinds) == 0) {
		return fmt.Errorf("%w: queues to work but no workers registered", ErrInvalidOptions)
	}
	if o.JobTimeout < 0 {
		// River's -1 ("none") would also stop the rescue of a dead worker's job.
		return fmt.Errorf("%w: negative JobTimeout %v", ErrInvalidOptions, o.JobTimeout)
	}
	if o.RescueAfter <= o.JobTimeout {
		return fmt.Errorf("%w: RescueAfter %v must be longer than JobTimeout %v", ErrInvalidOptions, o.RescueAfter, o.JobTimeout)
	}
	return nil
}

// client is the part of river.Client[TTx] a Queue uses; both drivers' clients
// have it.
type client interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	JobCancel(ctx context.Context, id int64) (*rivertype.JobRow, error)
}

// Queue is an open jobs database: it inserts and lists jobs, and works the
// configured queues between Start and Stop. It is safe for concurrent use.
type Queue struct {
	opts   Options
	engine Engine
	db     *sql.DB       // the progress table (on PostgreSQL, over pool)
	pool   *pgxpool.Pool // PostgreSQL only
	client client

	mu      sync.Mutex
	started bool
	closed  bool
}

// Open connects to the jobs database, brings River's tables and the progress
// table up to date, and returns a Queue that has not started working.
func Open(ctx context.Context, opts Options) (*Queue, error) {
	opts.EnsureDefaults()
	if err := opts.check(); err != nil {
		return nil, err
	}
	engine, source, err := parseDSN(opts.DSN)
	if err != nil {
		return nil, err
	}
	q := &Queue{opts: opts, engine: engine}
	cfg := q.riverConfig()
	switch engine {
	case SQLite:
		db, err := sql.Open("sqlite", sqliteSource(source, opts.BusyTimeout))
		if err != nil {
			return nil, fmt.Errorf("%w: open sqlite: %v", ErrUnavailable, err)
		}
		db.SetMaxOpenConns(1) // River's SQLite driver wants a single connection
		q.db = db
		if err := migrateSQLite(ctx, db, opts); err != nil {
			db.Close()
			return nil, err
		}
		c, err := river.NewClient(riversqlite.New(db), cfg)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
		}
		q.client = c
	case Postgres:
		pool, err := pgxpool.New(ctx, source)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		q.pool, q.db = pool, stdlib.OpenDBFromPool(pool)
		if err := migratePostgres(ctx, pool, opts); err != nil {
			q.closeDB()
			return nil, err
		}
		c, err := river.NewClient(riverpgxv5.New(pool), cfg)
		if err != nil {
			q.closeDB()
			return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
		}
		q.client = c
	}
	if err := q.pruneProgress(ctx); err != nil {
		opts.Logger.Warn("jobs: progress of deleted jobs not pruned", "err", err)
	}
	if opts.Workers != nil {
		if err := opts.Workers.bind(q); err != nil {
			q.closeDB()
			return nil, err
		}
	}
	return q, nil
}

func (q *Queue) riverConfig() *river.Config {
	cfg := &river.Config{
		ID:                     q.opts.ID,
		Logger:                 q.opts.Logger,
		MaxAttempts:            q.opts.MaxAttempts,
		RetryPolicy:            backoff{base: q.opts.RetryBase, max: q.opts.RetryMax},
		JobTimeout:             q.opts.JobTimeout,
		RescueStuckJobsAfter:   q.opts.RescueAfter,
		FetchPollInterval:      q.opts.PollInterval,
		FetchCooldown:          q.opts.FetchCooldown,
		LeaderElectionDisabled: q.opts.NoMaintenance,
	}
	if q.opts.Workers != nil {
		cfg.Workers = q.opts.Workers.river
	}
	if len(q.opts.Queues) > 0 {
		cfg.Queues = make(map[string]river.QueueConfig, len(q.opts.Queues))
		for name, n := range q.opts.Queues {
			cfg.Queues[name] = river.QueueConfig{MaxWorkers: n}
		}
	}
	return cfg
}

// Engine reports the database behind q.
func (q *Queue) Engine() Engine { return q.engine }

// Working reports whether q runs workers (Options.Queues was set).
func (q *Queue) Working() bool { return len(q.opts.Queues) > 0 }

// Start begins working the configured queues, and River's maintenance (retries
// coming due, the rescue of abandoned jobs, cleanup) when this process is
// elected to do it. Without queues it does nothing: inserts need no Start.
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	if q.started || !q.Working() {
		return nil
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	q.started = true
	return nil
}

// Stop stops fetching jobs and waits for running ones to finish, or for ctx to
// end (their rows then stay running until the rescuer takes them).
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.started {
		return nil
	}
	q.started = false
	if err := q.client.Stop(ctx); err != nil {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	return nil
}

// Close stops q (waiting at most 30s for running jobs) and closes the database.
func (q *Queue) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := q.Stop(ctx)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return err
	}
	q.closed = true
	q.closeDB()
	if q.opts.Workers != nil {
		q.opts.Workers.unbind(q)
	}
	return err
}

func (q *Queue) closeDB() {
	if q.db != nil {
		q.db.Close()
	}
	if q.pool != nil {
		q.pool.Close()
	}
}

// InsertOptions shape one Insert. The zero value inserts a job on DefaultQueue
// with Options.MaxAttempts and no uniqueness.
type InsertOptions struct {
	// Queue to put the job on. Default DefaultQueue.
	Queue string
	// MaxAttempts overrides Options.MaxAttempts for this job.
	MaxAttempts int
	// Unique makes the insert a no-op returning the existing job while a job of
	// the same kind and equal arguments is pending, scheduled, available,
	// running or waiting for a retry. Fields of the arguments tagged
	// `river:"unique"`, when there are any, are the ones compared.
	Unique bool
	// UniqueFor additionally limits uniqueness to jobs inserted in the same
	// window of this length (at least 1s), so a finished job's arguments may be
	// enqueued again in the next window.
	UniqueFor time.Duration
	// RunAt schedules the job for later; zero means now.
	RunAt time.Time
}

// Inserted is the outcome of Insert.
type Inserted struct {
	ID int64
	// Duplicate is true when a unique job already existed and ID is its id.
	Duplicate bool
}

// Insert enqueues a job. args must marshal to JSON; their Kind must have a
// handler in some process working the queue.
func (q *Queue) Insert(ctx context.Context, args Args, o InsertOptions) (Inserted, error) {
	if args == nil || args.Kind() == "" {
		return Inserted{}, fmt.Errorf("%w: job arguments without a kind", ErrInvalidOptions)
	}
	if o.UniqueFor != 0 && o.UniqueFor < time.Second {
		return Inserted{}, fmt.Errorf("%w: UniqueFor %v is under 1s", ErrInvalidOptions, o.UniqueFor)
	}
	ro := &river.InsertOpts{Queue: o.Queue, MaxAttempts: o.MaxAttempts, ScheduledAt: o.RunAt}
	if ro.Queue == "" {
		ro.Queue = DefaultQueue
	}
	if o.Unique || o.UniqueFor > 0 {
		// Not River's default states, which include completed: a finished job's
		// arguments may be enqueued again.
		ro.UniqueOpts = river.UniqueOpts{ByArgs: true, ByPeriod: o.UniqueFor, ByState: activeStates}
	}
	res, err := q.client.Insert(ctx, args, ro)
	if err != nil {
		return Inserted{}, fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	return Inserted{ID: res.Job.ID, Duplicate: res.UniqueSkippedAsDuplicate}, nil
}

// activeStates are the states a unique job is unique in.
var activeStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// Cancel cancels a job: one not yet running never runs, a running one has its
// context cancelled.
func (q *Queue) Cancel(ctx context.Context, id int64) error {
	if _, err := q.client.JobCancel(ctx, id); err != nil {
		if errors.Is(err, river.ErrNotFound) {
			return fmt.Errorf("%w: %d", ErrNotFound, id)
		}
		return fmt.Errorf("jobs: cancel %d: %w", id, err)
	}
	return nil
}

// Job states as River names them.
const (
	StateAvailable = string(rivertype.JobStateAvailable)
	StateCancelled = string(rivertype.JobStateCancelled)
	StateCompleted = string(rivertype.JobStateCompleted)
	StateDiscarded = string(rivertype.JobStateDiscarded)
	StatePending   = string(rivertype.JobStatePending)
	StateRetryable = string(rivertype.JobStateRetryable)
	StateRunning   = string(rivertype.JobStateRunning)
	StateScheduled = string(rivertype.JobStateScheduled)
)

// Finished reports whether state is final: completed, cancelled or discarded.
func Finished(state string) bool {
	return state == StateCompleted || state == StateCancelled || state == StateDiscarded
}

// Info is what a listing shows of one job: River's row joined with its progress.
type Info struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	Queue       string          `json:"queue"`
	State       string          `json:"state"`
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"max_attempts"`
	Args        json.RawMessage `json:"args"`
	// Output is what the last attempt recorded with RecordOutput, if anything.
	Output json.RawMessage `json:"output,omitempty"`
	// Error is the last attempt's error, if any.
	Error       string    `json:"error,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	AttemptedAt time.Time `json:"attempted_at,omitzero"`
	FinalizedAt time.Time `json:"finalized_at,omitzero"`
	// AttemptedBy names the processes that ran attempts, the last one last.
	AttemptedBy []string `json:"attempted_by,omitempty"`
	Progress
}

// Progress is the live progress of a job as its worker last reported it.
type Progress struct {
	Done      int64     `json:"done"`
	Total     int64     `json:"total"`
	Note      string    `json:"note,omitempty"`
	UpdatedAt time.Time `json:"progress_at,omitzero"`
}

// ListOptions filter List. The zero value lists the newest 100 jobs of any kind
// and state.
type ListOptions struct {
	States []string
	Kinds  []string
	// Limit caps the jobs returned, newest first. Default 100, at most 10,000.
	Limit int
}

var allStates = map[string]bool{StateAvailable: true, StateCancelled: true, StateCompleted: true, StateDiscarded: true,
	StatePending: true, StateRetryable: true, StateRunning: true, StateScheduled: true}

// List returns jobs newest first with their progress.
func (q *Queue) List(ctx context.Context, o ListOptions) ([]Info, error) {
	if o.Limit <= 0 {
		o.Limit = 100
	}
	if o.Limit > 10000 {
		return nil, fmt.Errorf("%w: list limit %d is over 10000", ErrInvalidOptions, o.Limit)
	}
	p := river.NewJobListParams().OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(o.Limit)
	if len(o.States) > 0 {
		states := make([]rivertype.JobState, len(o.States))
		for i, s := range o.States {
			if !allStates[s] {
				return nil, fmt.Errorf("%w: unknown job state %q", ErrInvalidOptions, s)
			}
			states[i] = rivertype.JobState(s)
		}
		p = p.States(states...)
	}
	if len(o.Kinds) > 0 {
		p = p.Kinds(o.Kinds...)
	}
	res, err := q.client.JobList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("jobs: list: %w", err)
	}
	out := make([]Info, len(res.Jobs))
	ids := make([]int64, len(res.Jobs))
	for i, row := range res.Jobs {
		out[i] = infoOf(row)
		ids[i] = row.ID
	}
	prog, err := q.progressOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Progress = prog[out[i].ID]
	}
	return out, nil
}

// Get returns one job with its progress.
func (q *Queue) Get(ctx context.Context, id int64) (Info, error) {
	row, err := q.client.JobGet(ctx, id)
	if err != nil {
		if errors.Is(err, river.ErrNotFound) {
			return Info{}, fmt.Errorf("%w: %d", ErrNotFound, id)
		}
		return Info{}, fmt.Errorf("jobs: get %d: %w", id, err)
	}
	in := infoOf(row)
	prog, err := q.progressOf(ctx, []int64{id})
	if err != nil {
		return Info{}, err
	}
	in.Progress = prog[id]
	return in, nil
}

func infoOf(row *rivertype.JobRow) Info {
	in := Info{ID: row.ID, Kind: row.Kind, Queue: row.Queue, State: string(row.State), Attempt: row.Attempt,
		MaxAttempts: row.MaxAttempts, Args: json.RawMessage(row.EncodedArgs), CreatedAt: row.CreatedAt,
		AttemptedBy: row.AttemptedBy}
	if out := row.Output(); len(out) > 0 {
		in.Output = json.RawMessage(out)
	}
	if n := len(row.Errors); n > 0 {
		in.Error = row.Errors[n-1].Error
	}
	if row.AttemptedAt != nil {
		in.AttemptedAt = *row.AttemptedAt
	}
	if row.FinalizedAt != nil {
		in.FinalizedAt = *row.FinalizedAt
	}
	return in
}

// backoff is the retry policy: attempt n waits base·n⁴ with ±10% jitter, capped.
type backoff struct{ base, max time.Duration }

func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().UTC().Add(b.delay(len(job.Errors) + 1))
}

func (b backoff) delay(n int) time.Duration {
	d := float64(b.base) * math.Pow(float64(max(n, 1)), 4)
	d *= 0.9 + 0.2*rand.Float64()
	if d > float64(b.max) || math.IsInf(d, 0) {
		return b.max
	}
	return time.Duration(d)
}

// parseDSN picks the engine and the connection source.
func parseDSN(dsn string) (Engine, string, error) {
	dsn = strings.TrimSpace(dsn)
	switch {
	case dsn == "":
		return 0, "", fmt.Errorf("%w: empty DSN", ErrInvalidOptions)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		if _, err := url.Parse(dsn); err != nil {
			return 0, "", fmt.Errorf("%w: DSN: %v", ErrInvalidOptions, err)
		}
		return Postgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		path := strings.TrimPrefix(dsn, "sqlite://")
		if path == "" || path == "/" {
			return 0, "", fmt.Errorf("%w: DSN %q names no file", ErrInvalidOptions, dsn)
		}
		return SQLite, path, nil
	case strings.Contains(dsn, "://"):
		return 0, "", fmt.Errorf("%w: DSN scheme of %q (want postgres:// or sqlite://)", ErrInvalidOptions, redact(dsn))
	}
	return SQLite, dsn, nil
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "<unparsable>"
	}
	return u.Redacted()
}

// sqliteSource adds WAL, a busy timeout and write-locking transactions to path:
// other processes (a server inserting, workers working) share the file.
func sqliteSource(path string, busy time.Duration) string {
	file, query, _ := strings.Cut(path, "?")
	v, err := url.ParseQuery(query)
	if err != nil {
		v = url.Values{}
	}
	if v.Get("_txlock") == "" {
		v.Set("_txlock", "immediate")
	}
	v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	v.Add("_pragma", "journal_mode(WAL)")
	v.Add("_pragma", "synchronous(NORMAL)")
	return file + "?" + v.Encode()
}

// warnOnly passes on warnings and errors only: River logs every start and stop
// at info.
type warnOnly struct{ slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}

func (w warnOnly) WithAttrs(as []slog.Attr) slog.Handler { return warnOnly{w.Handler.WithAttrs(as)} }
func (w warnOnly) WithGroup(name string) slog.Handler    { return warnOnly{w.Handler.WithGroup(name)} }
