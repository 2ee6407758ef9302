package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// sumArgs sums 1..N, reporting progress after each term.
type sumArgs struct {
	N int `json:"n"`
	// FailAttempts fails the first attempts with a retryable error.
	FailAttempts int `json:"fail_attempts,omitempty"`
	// Refuse fails with a permanent error.
	Refuse bool `json:"refuse,omitempty"`
	// Tag distinguishes otherwise equal arguments.
	Tag string `json:"tag,omitempty"`
}

func (sumArgs) Kind() string { return "test_sum" }

type sumOutput struct {
	Sum int `json:"sum"`
}

func sumHandler(ctx context.Context, j *jobs.Job[sumArgs]) error {
	if j.Args.Refuse {
		return jobs.Permanent(errors.New("refused: bad input"))
	}
	if j.Attempt <= j.Args.FailAttempts {
		return fmt.Errorf("attempt %d fails on purpose", j.Attempt)
	}
	sum := 0
	for i := 1; i <= j.Args.N; i++ {
		sum += i
		if err := j.Progress.Report(ctx, int64(i), int64(j.Args.N), fmt.Sprintf("term %d", i)); err != nil {
			return err
		}
	}
	return jobs.RecordOutput(ctx, sumOutput{Sum: sum})
}

// each runs fn against a fresh jobs database of each engine.
func each(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, "sqlite://"+filepath.Join(t.TempDir(), "jobs.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, metadbtest.PostgresDSN(t))
	})
}

func fastOptions(dsn string, ws *jobs.Workers) jobs.Options {
	o := jobs.Options{DSN: dsn, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		PollInterval: 50 * time.Millisecond, ProgressEvery: time.Nanosecond}
	if ws != nil {
		o.Workers, o.Queues = ws, map[string]int{jobs.DefaultQueue: 2}
	}
	return o
}

func openWorking(t *testing.T, dsn string) *jobs.Queue {
	t.Helper()
	ws := jobs.NewWorkers()
	if err := jobs.Handle(ws, sumHandler); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.Open(context.Background(), fastOptions(dsn, ws))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return q
}

// waitFinished polls q until job id is in a final state.
func waitFinished(t *testing.T, q *jobs.Queue, id int64, within time.Duration) jobs.Info {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		in, err := q.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if jobs.Finished(in.State) {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d still %s after %v: %+v", id, in.State, within, in)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestJobOutcomes(t *testing.T) {
	each(t, func(t *testing.T, dsn string) {
		q := openWorking(t, dsn)
		ctx := context.Background()
		for _, tc := range []struct {
			name        string
			args        sumArgs
			state       string
			attempt     int
			sum         int
			progress    int64
			errContains string
		}{
			{name: "completes", args: sumArgs{N: 10}, state: jobs.StateCompleted, attempt: 1, sum: 55, progress: 10},
			{name: "retried after failures", args: sumArgs{N: 4, FailAttempts: 2}, state: jobs.StateCompleted, attempt: 3, sum: 10, progress: 4,
				errContains: "attempt 2 fails on purpose"},
			{name: "permanent error cancels", args: sumArgs{N: 3, Refuse: true}, state: jobs.StateCancelled, attempt: 1,
				errContains: "refused: bad input"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ins, err := q.Insert(ctx, tc.args, jobs.InsertOptions{})
				if err != nil || ins.Duplicate {
					t.Fatalf("insert: %+v, %v", ins, err)
				}
				in := waitFinished(t, q, ins.ID, 20*time.Second)
				if in.State != tc.state || in.Attempt != tc.attempt || in.Kind != "test_sum" || in.Queue != jobs.DefaultQueue {
					t.Fatalf("got state %s attempt %d kind %s queue %s, want %s attempt %d", in.State, in.Attempt, in.Kind, in.Queue, tc.state, tc.attempt)
				}
				if tc.errContains != "" && !strings.Contains(in.Error, tc.errContains) {
					t.Errorf("error %q, want it to contain %q", in.Error, tc.errContains)
				}
				if in.Done != tc.progress || (tc.progress > 0 && (in.Total != tc.progress || in.Note != fmt.Sprintf("term %d", tc.progress))) {
					t.Errorf("progress %+v, want %d done", in.Progress, tc.progress)
				}
				if tc.sum > 0 {
					var out sumOutput
					if err := json.Unmarshal(in.Output, &out); err != nil || out.Sum != tc.sum {
						t.Errorf("output %s (%v), want sum %d", in.Output, err, tc.sum)
					}
				}
				var args sumArgs
				if err := json.Unmarshal(in.Args, &args); err != nil || args != tc.args {
					t.Errorf("args %s, want %+v", in.Args, tc.args)
				}
			})
		}
	})
}

func TestUniqueInsertAndList(t *testing.T) {
	each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		// An insert-only queue: nothing works the jobs, so they stay available.
		q, err := jobs.Open(ctx, fastOptions(dsn, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if q.Working() {
			t.Fatal("a queue without Queues must not work")
		}
		first, err := q.Insert(ctx, sumArgs{N: 5, Tag: "a"}, jobs.InsertOptions{Unique: true})
		if err != nil || first.Duplicate {
			t.Fatalf("first unique insert: %+v, %v", first, err)
		}
		again, err := q.Insert(ctx, sumArgs{N: 5, Tag: "a"}, jobs.InsertOptions{Unique: true})
		if err != nil || !again.Duplicate || again.ID != first.ID {
			t.Fatalf("second unique insert: %+v, %v; want duplicate of %d", again, err, first.ID)
		}
		other, err := q.Insert(ctx, sumArgs{N: 5, Tag: "b"}, jobs.InsertOptions{Unique: true})
		if err != nil || other.Duplicate || other.ID == first.ID {
			t.Fatalf("unique insert of other args: %+v, %v", other, err)
		}
		plain, err := q.Insert(ctx, sumArgs{N: 5, Tag: "a"}, jobs.InsertOptions{})
		if err != nil || plain.Duplicate {
			t.Fatalf("non-unique insert: %+v, %v", plain, err)
		}
		if _, err := q.Insert(ctx, sumArgs{}, jobs.InsertOptions{UniqueFor: time.Millisecond}); !errors.Is(err, jobs.ErrInvalidOptions) {
			t.Errorf("UniqueFor under 1s: %v, want ErrInvalidOptions", err)
		}

		later, err := q.Insert(ctx, sumArgs{N: 1}, jobs.InsertOptions{RunAt: time.Now().Add(time.Hour), MaxAttempts: 2})
		if err != nil {
			t.Fatal(err)
		}
		if in, err := q.Get(ctx, later.ID); err != nil || in.State != jobs.StateScheduled || in.MaxAttempts != 2 {
			t.Fatalf("job to run in an hour: %+v, %v", in, err)
		}
		if err := q.Cancel(ctx, later.ID); err != nil {
			t.Fatal(err)
		}

		all, err := q.List(ctx, jobs.ListOptions{States: []string{jobs.StateAvailable, jobs.StateScheduled}})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3 || all[0].ID != plain.ID || all[2].ID != first.ID {
			t.Fatalf("list: %+v, want 3 jobs newest first", all)
		}
		if err := q.Cancel(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		cancelled, err := q.List(ctx, jobs.ListOptions{States: []string{jobs.StateCancelled}})
		if err != nil || len(cancelled) != 2 || cancelled[0].ID != later.ID || cancelled[1].ID != other.ID {
			t.Fatalf("cancelled: %+v, %v", cancelled, err)
		}
		if got, err := q.List(ctx, jobs.ListOptions{Kinds: []string{"other_kind"}}); err != nil || len(got) != 0 {
			t.Fatalf("other kind: %+v, %v", got, err)
		}
		if _, err := q.List(ctx, jobs.ListOptions{States: []string{"sleeping"}}); !errors.Is(err, jobs.ErrInvalidOptions) {
			t.Errorf("unknown state: %v, want ErrInvalidOptions", err)
		}
		if _, err := q.Get(ctx, 1<<40); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("get unknown: %v, want ErrNotFound", err)
		}
		if err := q.Cancel(ctx, 1<<40); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("cancel unknown: %v, want ErrNotFound", err)
		}
	})
}

func TestOpenRefusesBadOptions(t *testing.T) {
	ws := jobs.NewWorkers()
	if err := jobs.Handle(ws, sumHandler); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Handle(ws, sumHandler); !errors.Is(err, jobs.ErrInvalidOptions) {
		t.Errorf("second handler of a kind: %v, want ErrInvalidOptions", err)
	}
	file := "sqlite://" + filepath.Join(t.TempDir(), "jobs.db")
	for _, tc := range []struct {
		name string
		opts jobs.Options
	}{
		{"empty DSN", jobs.Options{}},
		{"unknown scheme", jobs.Options{DSN: "mysql://localhost/x"}},
		{"sqlite without a file", jobs.Options{DSN: "sqlite://"}},
		{"queues without workers", jobs.Options{DSN: file, Queues: map[string]int{"default": 1}}},
		{"zero workers", jobs.Options{DSN: file, Workers: ws, Queues: map[string]int{"default": 0}}},
		{"rescue before timeout", jobs.Options{DSN: file, JobTimeout: time.Minute, RescueAfter: time.Second}},
		{"negative timeout", jobs.Options{DSN: file, JobTimeout: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := jobs.Open(context.Background(), tc.opts)
			if !errors.Is(err, jobs.ErrInvalidOptions) {
				if q != nil {
					q.Close()
				}
				t.Fatalf("Open: %v, want ErrInvalidOptions", err)
			}
		})
	}
}

// TestReopenKeepsJobs checks that jobs live in the database, not the process:
// a job inserted through one Queue is worked by another opened later.
func TestReopenKeepsJobs(t *testing.T) {
	each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		q1, err := jobs.Open(ctx, fastOptions(dsn, nil))
		if err != nil {
			t.Fatal(err)
		}
		ins, err := q1.Insert(ctx, sumArgs{N: 3}, jobs.InsertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := q1.Close(); err != nil {
			t.Fatal(err)
		}
		q2 := openWorking(t, dsn) // migrations run again over the existing tables
		if in := waitFinished(t, q2, ins.ID, 20*time.Second); in.State != jobs.StateCompleted {
			t.Fatalf("after reopen: %+v", in)
		}
	})
}

// TestUniqueAgainAfterCompletion: a unique job's arguments may be enqueued again
// once it finished, and a snoozed job runs again without spending an attempt.
func TestUniqueAgainAfterCompletion(t *testing.T) {
	each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		q := openWorking(t, dsn)
		first, err := q.Insert(ctx, sumArgs{N: 3, Tag: "u"}, jobs.InsertOptions{Unique: true})
		if err != nil {
			t.Fatal(err)
		}
		if in := waitFinished(t, q, first.ID, 10*time.Second); in.State != jobs.StateCompleted {
			t.Fatalf("first job %+v", in)
		}
		again, err := q.Insert(ctx, sumArgs{N: 3, Tag: "u"}, jobs.InsertOptions{Unique: true})
		if err != nil || again.Duplicate || again.ID == first.ID {
			t.Fatalf("unique insert after completion: %+v, %v; want a new job", again, err)
		}
		waitFinished(t, q, again.ID, 10*time.Second)
	})
}

type snoozeArgs struct {
	Times int `json:"times"`
}

func (snoozeArgs) Kind() string { return "test_snooze" }

func TestSnoozeKeepsAttempts(t *testing.T) {
	each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		var runs atomic.Int32
		ws := jobs.NewWorkers()
		if err := jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[snoozeArgs]) error {
			if int(runs.Add(1)) <= j.Args.Times {
				return jobs.Snooze(20 * time.Millisecond)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		q, err := jobs.Open(ctx, fastOptions(dsn, ws))
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		ins, err := q.Insert(ctx, snoozeArgs{Times: 4}, jobs.InsertOptions{MaxAttempts: 2})
		if err != nil {
			t.Fatal(err)
		}
		in := waitFinished(t, q, ins.ID, 10*time.Second)
		if in.State != jobs.StateCompleted || runs.Load() != 5 || in.Attempt != 1 {
			t.Fatalf("snoozed job %+v after %d runs; want completed at attempt 1 after 5 runs", in, runs.Load())
		}
	})
}
