// Package matjobs runs a staged materialization of features (PlanRun, RunShard,
// CommitRun) as durable jobs of internal/jobs, on the queue "materialize", so that
// any number of worker processes sharing the object store and the jobs database
// compute the shards of one run.
//
// It is an adapter, as serving/screenjobs is one: features keeps the stages and
// never imports River; this package makes jobs of them. Three kinds:
//
//   - materialize_plan (unique per set and requested dates while it runs) plans the
//     run, then enqueues its commit job (unique per set and requested dates while
//     it is pending: a second run of the same dates joins the first) and one
//     materialize_shard job per shard not done yet (unique per run and shard);
//   - materialize_shard computes one shard; killed, River's rescuer runs it again
//     on any worker, where it writes the same parts under the same keys;
//   - materialize_refresh (unique per set, source and batch) runs features.Refresh
//     after one committed ingestion batch; one that finds a snapshot replaced
//     meanwhile (features.ErrSnapshotChanged) is tried again;
//   - materialize_commit snoozes (without spending attempts) until every shard's
//     done marker is there, re-enqueues a shard whose parts were lost, gives up
//     when a shard job failed for good (removing the run's objects), and then
//     writes the manifests: nothing is visible before.
//
// Usage:
//
//	ws := jobs.NewWorkers()
//	matjobs.Register(ws, store, matjobs.Options{})
//	q, _ := jobs.Open(ctx, jobs.Options{DSN: dsn, Workers: ws, Queues: map[string]int{matjobs.QueueName: 1}})
//	q.Start(ctx)
//	ins, _ := matjobs.Enqueue(ctx, q, cat, matjobs.Request{Set: "pd", AsOf: dates, Shards: 6})
//	out, _ := matjobs.Wait(ctx, q, ins.ID, time.Second, nil)
package matjobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
)

// QueueName is the queue of every materialization job.
const QueueName = "materialize"

// Job kinds.
const (
	PlanKind   = "materialize_plan"
	ShardKind  = "materialize_shard"
	CommitKind = "materialize_commit"
	// RefreshKind brings a set's stored snapshots up to date after one batch.
	RefreshKind = "materialize_refresh"
)

// ErrFailed reports a run that cannot complete (a shard job failed for good, or
// the commit waited longer than Options.MaxWait).
var ErrFailed = errors.New("matjobs: materialization failed")

// PlanArgs are a plan job's arguments. Set and AsOf (normalized: "name/vN", sorted
// YYYY-MM-DD dates) make it unique while it runs.
type PlanArgs struct {
	Set    string   `json:"set" river:"unique"`
	AsOf   []string `json:"asof" river:"unique"`
	Shards int      `json:"shards"`
	Force  bool     `json:"force,omitempty"`
	// Ref is random; it is the run's id, so the plan job run again after its worker
	// died plans (and finds staged) the same run.
	Ref string `json:"ref"`
}

// Kind names the job kind.
func (PlanArgs) Kind() string { return PlanKind }

// ShardArgs are a shard job's arguments.
type ShardArgs struct {
	Run   features.Run `json:"run"`
	Shard int          `json:"shard"`
}

// Kind names the job kind.
func (ShardArgs) Kind() string { return ShardKind }

// CommitArgs are a commit job's arguments: Set and Requested (the plan job's AsOf)
// make it unique while the run is in flight.
type CommitArgs struct {
	Set       string       `json:"set" river:"unique"`
	Requested []string     `json:"requested" river:"unique"`
	Run       features.Run `json:"run"`
}

// Kind names the job kind.
func (CommitArgs) Kind() string { return CommitKind }

// RefreshArgs are a refresh job's arguments: the set ("name/vN") and the
// committed ingestion batch (source and id).
type RefreshArgs struct {
	Set    string `json:"set" river:"unique"`
	Source string `json:"source" river:"unique"`
	Batch  string `json:"batch" river:"unique"`
}

// Kind names the job kind.
func (RefreshArgs) Kind() string { return RefreshKind }

// RefreshOutput is what a refresh job records.
type RefreshOutput struct {
	Touched int      `json:"touched"`
	Dates   []string `json:"dates,omitempty"`
	Full    bool     `json:"full,omitempty"`
	// Columns are the source's value columns whose indicators were computed
	// again (features.RefreshResult.Columns).
	Columns []string      `json:"columns,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// PlanOutput is what a plan job records.
type PlanOutput struct {
	Run       features.Run `json:"run"`
	Skipped   []string     `json:"skipped,omitempty"`
	Companies int          `json:"companies"`
	// CommitJob is the job that commits the run: this run's, or the one of the run
	// of the same dates already in flight when Joined.
	CommitJob int64         `json:"commit_job,omitempty"`
	Joined    bool          `json:"joined,omitempty"`
	ShardJobs []int64       `json:"shard_jobs,omitempty"`
	Elapsed   time.Duration `json:"elapsed_ns"`
}

// ShardOutput is what a shard job records.
type ShardOutput struct {
	Run       string        `json:"run"`
	Shard     int           `json:"shard"`
	Companies int           `json:"companies"`
	Parts     int           `json:"parts"`
	Decoded   int64         `json:"decoded"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	CPU       time.Duration `json:"cpu_ns"`
}

// ShardCost is one shard's cost as the commit job records it.
type ShardCost struct {
	Shard   int           `json:"shard"`
	Elapsed time.Duration `json:"elapsed_ns"`
	CPU     time.Duration `json:"cpu_ns"`
}

// CommitOutput is what a commit job records: the run's result.
type CommitOutput struct {
	Result *features.Result `json:"result"`
	Shards []ShardCost      `json:"shards,omitempty"`
	Plan   time.Duration    `json:"plan_ns"`
}

// Options configure the workers Register installs.
type Options struct {
	// Catalog is the indicator library. Default features.DefaultCatalog().
	Catalog *features.Catalog
	// Workers is the goroutines of one stage. Default GOMAXPROCS.
	Workers int
	// MemoryBudget is one stage's memory budget (see features.Options). Default 2 GiB.
	MemoryBudget int64
	// Poll is how long the commit job waits between looks at the shards. Default 2s.
	Poll time.Duration
	// MaxWait is how long after the plan the commit job waits for the shards before
	// it gives up. Default 24h.
	MaxWait time.Duration
	// Logger receives a line per stage; nil means none.
	Logger *slog.Logger

	// shardProgress, when set, sees the progress of a shard (tests).
	shardProgress func(done, total int64)
}

func (o *Options) ensureDefaults() error {
	if o.Catalog == nil {
		c, err := features.DefaultCatalog()
		if err != nil {
			return err
		}
		o.Catalog = c
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 24 * time.Hour
	}
	return nil
}

func (o *Options) features() features.Options {
	return features.Options{Catalog: o.Catalog, Workers: o.Workers, MemoryBudget: o.MemoryBudget, Logger: o.Logger}
}

// Request is one materialization to enqueue.
type Request struct {
	Set    string
	AsOf   []time.Time
	Shards int
	Force  bool
}

// Enqueue inserts the plan job of a request on QueueName. While a plan job of the
// same set and dates runs, it returns that one (Duplicate).
func Enqueue(ctx context.Context, q *jobs.Queue, cat *features.Catalog, r Request) (jobs.Inserted, error) {
	set, err := cat.Set(r.Set, 0)
	if err != nil {
		return jobs.Inserted{}, err
	}
	if len(r.AsOf) == 0 {
		return jobs.Inserted{}, fmt.Errorf("%w: no as-of date", features.ErrInvalidOptions)
	}
	if r.Shards < 1 || r.Shards > 1024 {
		return jobs.Inserted{}, fmt.Errorf("%w: %d shards (want 1..1024)", features.ErrInvalidOptions, r.Shards)
	}
	var dates []string
	for _, t := range r.AsOf {
		dates = append(dates, features.DayOf(t).String())
	}
	slices.Sort(dates)
	args := PlanArgs{Set: set.Key(), AsOf: slices.Compact(dates), Shards: r.Shards, Force: r.Force, Ref: features.NewRunID()}
	return q.Insert(ctx, args, jobs.InsertOptions{Queue: QueueName, Unique: true})
}

// EnqueueRefresh inserts the refresh job of a feature set after batch of source
// was committed; the same set, source and batch enqueued again is the same job.
func EnqueueRefresh(ctx context.Context, q *jobs.Queue, cat *features.Catalog, set, source, batch string) (jobs.Inserted, error) {
	s, err := cat.Set(set, 0)
	if err != nil {
		return jobs.Inserted{}, err
	}
	if source == "" || batch == "" {
		return jobs.Inserted{}, fmt.Errorf("%w: refresh needs a source and a batch", features.ErrInvalidOptions)
	}
	return q.Insert(ctx, RefreshArgs{Set: s.Key(), Source: source, Batch: batch}, jobs.InsertOptions{Queue: QueueName, Unique: true})
}

func refresh(ctx context.Context, j *jobs.Job[RefreshArgs], store blob.Store, o Options) error {
	fo := o.features()
	fo.Set = j.Args.Set
	res, err := features.Refresh(ctx, store, features.RefreshOptions{Options: fo, Source: j.Args.Source, Batch: j.Args.Batch})
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) { // no such batch: it never will be
			return jobs.Permanent(err)
		}
		return permanentIf(err)
	}
	out := RefreshOutput{Touched: res.Touched, Full: res.Full, Columns: res.Columns, Elapsed: res.Elapsed}
	for _, sr := range res.Snapshots {
		out.Dates = append(out.Dates, sr.AsOf.String())
	}
	if o.Logger != nil {
		o.Logger.Info("snapshots refreshed", "set", j.Args.Set, "source", j.Args.Source, "batch", j.Args.Batch, "dates", len(out.Dates), "touched", out.Touched)
	}
	return jobs.RecordOutput(ctx, out)
}

// Register installs the workers in ws; they read and write store.
func Register(ws *jobs.Workers, store blob.Store, o Options) error {
	if err := o.ensureDefaults(); err != nil {
		return err
	}
	if err := jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[PlanArgs]) error { return plan(ctx, j, store, o) }); err != nil {
		return err
	}
	if err := jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[ShardArgs]) error { return shard(ctx, j, store, o) }); err != nil {
		return err
	}
	if err := jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[RefreshArgs]) error { return refresh(ctx, j, store, o) }); err != nil {
		return err
	}
	return jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[CommitArgs]) error { return commit(ctx, j, store, o) })
}

// permanentIf makes errors another attempt would meet again final.
func permanentIf(err error) error {
	if errors.Is(err, features.ErrInvalidOptions) || errors.Is(err, features.ErrUnknownSet) || errors.Is(err, features.ErrInputChanged) ||
		errors.Is(err, features.ErrRunNotFound) {
		return jobs.Permanent(err)
	}
	return err
}

func plan(ctx context.Context, j *jobs.Job[PlanArgs], store blob.Store, o Options) error {
	a := j.Args
	var asof []time.Time
	for _, s := range a.AsOf {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return jobs.Permanent(fmt.Errorf("%w: as-of %q", features.ErrInvalidOptions, s))
		}
		asof = append(asof, t)
	}
	_ = j.Progress.Report(ctx, 0, 1, "planning")
	fo := o.features()
	fo.Set, fo.AsOf, fo.Force = a.Set, asof, a.Force
	rp, err := features.PlanRun(ctx, store, a.Ref, a.Shards, fo)
	if err != nil {
		return permanentIf(err)
	}
	out := PlanOutput{Run: rp.Run, Skipped: rp.Skipped, Companies: rp.Companies, Elapsed: rp.Elapsed}
	if len(rp.AsOf) == 0 {
		_ = j.Progress.Report(ctx, 1, 1, "every snapshot exists")
		return jobs.RecordOutput(ctx, out)
	}
	// The commit job first: unique per set and requested dates, it tells whether
	// another run of them is in flight.
	ins, err := j.Queue.Insert(ctx, CommitArgs{Set: a.Set, Requested: a.AsOf, Run: rp.Run},
		jobs.InsertOptions{Queue: QueueName, Unique: true, RunAt: time.Now().Add(o.Poll)})
	if err != nil {
		return err
	}
	out.CommitJob = ins.ID
	if ins.Duplicate {
		in, err := j.Queue.Get(ctx, ins.ID)
		if err != nil {
			return err
		}
		var other CommitArgs
		if err := json.Unmarshal(in.Args, &other); err != nil {
			return fmt.Errorf("commit job %d: arguments: %w", ins.ID, err)
		}
		if other.Run.ID != rp.ID {
			if err := features.AbortRun(ctx, store, rp.Run); err != nil {
				return err
			}
			out.Run, out.Joined = other.Run, true
			_ = j.Progress.Report(ctx, 1, 1, "joined run "+other.Run.ID)
			return jobs.RecordOutput(ctx, out)
		}
	}
	st, err := features.ReadRunStatus(ctx, store, rp.Run)
	if err != nil {
		return err
	}
	for s := range rp.Shards {
		if st.Done[s] != nil && st.Damaged[s] == "" {
			continue
		}
		ins, err := j.Queue.Insert(ctx, ShardArgs{Run: rp.Run, Shard: s}, jobs.InsertOptions{Queue: QueueName, Unique: true})
		if err != nil {
			return err
		}
		out.ShardJobs = append(out.ShardJobs, ins.ID)
	}
	_ = j.Progress.Report(ctx, 1, 1, fmt.Sprintf("%d shards enqueued", len(out.ShardJobs)))
	if o.Logger != nil {
		o.Logger.Info("materialization planned", "set", a.Set, "run", rp.ID, "dates", len(rp.AsOf), "shards", rp.Shards, "commit_job", out.CommitJob)
	}
	return jobs.RecordOutput(ctx, out)
}

// counter turns a stage's progress increments into running totals per stage.
type counter struct {
	mu   sync.Mutex
	done map[string]int64
}

func (c *counter) add(stage string, n int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done[stage] += n
	return c.done[stage]
}

func shard(ctx context.Context, j *jobs.Job[ShardArgs], store blob.Store, o Options) error {
	a := j.Args
	c := &counter{done: map[string]int64{}}
	fo := o.features()
	fo.Progress = func(stage string, n, total int64) {
		done := c.add(stage, n)
		note := "companies"
		if stage == "read" {
			note = "raw files read"
		}
		// Progress is advisory: a failed write must not fail the shard.
		_ = j.Progress.Report(ctx, done, total, note)
		if stage != "read" && o.shardProgress != nil {
			o.shardProgress(done, total)
		}
	}
	d, err := features.RunShard(ctx, store, a.Run, a.Shard, fo)
	if err != nil {
		return permanentIf(err)
	}
	parts := 0
	for _, p := range d.Parts {
		parts += len(p)
	}
	_ = j.Progress.Report(ctx, int64(d.Companies), int64(d.Companies), "companies")
	if o.Logger != nil {
		o.Logger.Info("shard materialized", "run", a.Run.ID, "shard", a.Shard, "companies", d.Companies, "elapsed", d.Elapsed, "cpu", d.CPU)
	}
	return jobs.RecordOutput(ctx, ShardOutput{Run: d.Run, Shard: d.Shard, Companies: d.Companies, Parts: parts, Decoded: d.Decoded,
		Elapsed: d.Elapsed, CPU: d.CPU})
}

func commit(ctx context.Context, j *jobs.Job[CommitArgs], store blob.Store, o Options) error {
	run := j.Args.Run
	st, err := features.ReadRunStatus(ctx, store, run)
	if errors.Is(err, features.ErrRunNotFound) {
		// Committed already (this job's worker died before River recorded it), or
		// the plan is gone: CommitRun tells.
		res, err := features.CommitRun(ctx, store, run, o.features())
		if err != nil {
			return jobs.Permanent(err)
		}
		return jobs.RecordOutput(ctx, CommitOutput{Result: res})
	}
	if err != nil {
		return err
	}
	if !st.Complete() {
		return wait(ctx, j, store, o, st)
	}
	out := CommitOutput{Plan: st.Plan.Elapsed}
	for _, d := range st.Done {
		out.Shards = append(out.Shards, ShardCost{Shard: d.Shard, Elapsed: d.Elapsed, CPU: d.CPU})
	}
	fo := o.features()
	c := &counter{done: map[string]int64{}}
	fo.Progress = func(stage string, n, total int64) {
		if stage == "commit" {
			_ = j.Progress.Report(ctx, c.add(stage, n), total, "manifests written")
		}
	}
	res, err := features.CommitRun(ctx, store, run, fo)
	if err != nil {
		return err
	}
	out.Result = res
	if o.Logger != nil {
		o.Logger.Info("materialization committed", "set", j.Args.Set, "run", run.ID, "snapshots", len(res.Snapshots))
	}
	return jobs.RecordOutput(ctx, out)
}

// wait handles a commit whose shards are not all done: it re-enqueues shards whose
// parts were lost, gives up when a shard job failed for good or MaxWait passed, and
// otherwise snoozes.
func wait(ctx context.Context, j *jobs.Job[CommitArgs], store blob.Store, o Options, st *features.RunStatus) error {
	run := j.Args.Run
	for s, why := range st.Damaged {
		if o.Logger != nil {
			o.Logger.Warn("shard to run again", "run", run.ID, "shard", s, "why", why)
		}
		if err := features.ResetShard(ctx, store, run, s); err != nil {
			return err
		}
		if _, err := j.Queue.Insert(ctx, ShardArgs{Run: run, Shard: s}, jobs.InsertOptions{Queue: QueueName, Unique: true}); err != nil {
			return err
		}
	}
	failed, err := failedShards(ctx, j.Queue, run, st.Missing)
	if err != nil {
		return err
	}
	giveUp := ""
	if len(failed) > 0 {
		giveUp = fmt.Sprintf("shard jobs failed for good: %s", strings.Join(failed, "; "))
	} else if time.Since(st.Plan.CreatedAt) > o.MaxWait {
		giveUp = fmt.Sprintf("shards %v not done %v after the plan", st.Missing, o.MaxWait)
	}
	if giveUp != "" {
		if err := features.AbortRun(ctx, store, run); err != nil && o.Logger != nil {
			o.Logger.Warn("objects of a failed run not removed", "run", run.ID, "err", err)
		}
		return jobs.Permanent(fmt.Errorf("%w: run %s of %s: %s", ErrFailed, run.ID, j.Args.Set, giveUp))
	}
	_ = j.Progress.Report(ctx, int64(st.DoneCount()), int64(st.Plan.Shards), WaitingNote)
	return jobs.Snooze(o.Poll)
}

// WaitingNote is the progress note of a commit job waiting for its shards; its
// progress then counts the shards done.
const WaitingNote = "shards done, waiting"

// failedShards names the shards among missing whose every job of the run has failed
// for good (cancelled or discarded), with the last error.
func failedShards(ctx context.Context, q *jobs.Queue, run features.Run, missing []int) ([]string, error) {
	if len(missing) == 0 {
		return nil, nil
	}
	list, err := q.List(ctx, jobs.ListOptions{Kinds: []string{ShardKind}, Limit: 10000})
	if err != nil {
		return nil, err
	}
	alive, dead := map[int]bool{}, map[int]string{}
	for _, in := range list {
		var a ShardArgs
		if json.Unmarshal(in.Args, &a) != nil || a.Run.ID != run.ID {
			continue
		}
		switch in.State {
		case jobs.StateCancelled, jobs.StateDiscarded:
			if _, ok := dead[a.Shard]; !ok {
				dead[a.Shard] = fmt.Sprintf("shard %d (job %d): %s", a.Shard, in.ID, in.Error)
			}
		default:
			alive[a.Shard] = true
		}
	}
	var out []string
	for _, s := range missing {
		if why, ok := dead[s]; ok && !alive[s] {
			out = append(out, why)
		}
	}
	return out, nil
}

// Outcome is what Wait returns: the plan's output and, unless every snapshot
// existed, the commit's.
type Outcome struct {
	Plan   PlanOutput
	Commit *CommitOutput
}

// Wait polls the plan job id and then its commit job until they finish, calling
// progress (when set) with each look at the commit job. A job that failed for good
// is an error with its last error.
func Wait(ctx context.Context, q *jobs.Queue, id int64, poll time.Duration, progress func(jobs.Info)) (*Outcome, error) {
	in, err := waitJob(ctx, q, id, poll, nil)
	if err != nil {
		return nil, err
	}
	out := &Outcome{}
	if err := json.Unmarshal(in.Output, &out.Plan); err != nil {
		return nil, fmt.Errorf("plan job %d: output: %w", id, err)
	}
	if out.Plan.CommitJob == 0 {
		return out, nil
	}
	in, err = waitJob(ctx, q, out.Plan.CommitJob, poll, progress)
	if err != nil {
		return nil, err
	}
	out.Commit = new(CommitOutput)
	if err := json.Unmarshal(in.Output, out.Commit); err != nil {
		return nil, fmt.Errorf("commit job %d: output: %w", out.Plan.CommitJob, err)
	}
	return out, nil
}

func waitJob(ctx context.Context, q *jobs.Queue, id int64, poll time.Duration, progress func(jobs.Info)) (jobs.Info, error) {
	t := time.NewTicker(max(poll, 10*time.Millisecond))
	defer t.Stop()
	for {
		in, err := q.Get(ctx, id)
		if err != nil {
			return in, err
		}
		if progress != nil {
			progress(in)
		}
		switch in.State {
		case jobs.StateCompleted:
			return in, nil
		case jobs.StateCancelled, jobs.StateDiscarded:
			return in, fmt.Errorf("%w: job %d (%s) %s: %s", ErrFailed, id, in.Kind, in.State, in.Error)
		}
		select {
		case <-ctx.Done():
			return in, ctx.Err()
		case <-t.C:
		}
	}
}
