package screenjobs_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/screenjobs"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// pops serves the populations of a realistic environment; fail makes it an
// object store that is down.
type pops struct {
	r    *servingtest.Realistic
	fail atomic.Bool
}

func (p *pops) Population(_ context.Context, set serving.FeatureSet) (*serving.Population, error) {
	if p.fail.Load() {
		return nil, fmt.Errorf("%w: object store: connection refused", serving.ErrUnavailable)
	}
	for task, s := range p.r.Sets {
		if s.Name == set.Name {
			return p.r.Pops[task], nil
		}
	}
	return nil, fmt.Errorf("no population for %s", set.Name)
}

// env is a worker process (runner, working queue) and an API process (screener
// over an insert-only queue) sharing one jobs database and one object store.
type env struct {
	r        *servingtest.Realistic
	src      *pops
	store    blob.Store
	screener *serving.Screener
}

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	ctx := context.Background()
	r := servingtest.NewRealistic(t, 300)
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{r: r, src: &pops{r: r}, store: store}

	runner, err := serving.NewScreener(serving.ScreenerOptions{Service: r.Service, Source: e.src, Store: store, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ws := jobs.NewWorkers()
	if err := screenjobs.Register(ws, runner); err != nil {
		t.Fatal(err)
	}
	fast := jobs.Options{DSN: dsn, RetryBase: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond,
		PollInterval: 50 * time.Millisecond, ProgressEvery: time.Nanosecond}
	workOpts := fast
	workOpts.Workers, workOpts.Queues = ws, map[string]int{screenjobs.QueueName: 1}
	worker, err := jobs.Open(ctx, workOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { worker.Close() })
	if err := worker.Start(ctx); err != nil {
		t.Fatal(err)
	}

	api, err := jobs.Open(ctx, fast)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	e.screener, err = serving.NewScreener(serving.ScreenerOptions{Service: r.Service, Source: e.src, Store: store, Queue: screenjobs.New(api)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

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

func waitJob(t *testing.T, sc *serving.Screener, p serving.Principal, id string) serving.Job {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := sc.Get(context.Background(), p, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != serving.JobRunning {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("screening %s still running: %+v", id, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var otherBank = access.Principal{UserID: 7, User: "sun", InstitutionID: servingtest.WeihaiBank.InstitutionID, Institution: "weihai-bank",
	InstitutionKind: access.KindBank, Roles: []access.Role{access.RoleBank, access.RoleRegulator}, KeyID: "k1"}

func TestDurableScreening(t *testing.T) {
	each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		ctx := context.Background()
		reg := servingtest.Regulator

		if _, err := e.screener.Start(ctx, otherBank, serving.TaskViolation); !errors.Is(err, serving.ErrForbidden) {
			t.Fatalf("a bank user with a regulator role: %v", err)
		}
		j, err := e.screener.Start(ctx, reg, serving.TaskViolation)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != serving.JobRunning || j.InstitutionID != reg.InstitutionID || j.Task != serving.TaskViolation {
			t.Fatalf("started %+v", j)
		}
		got := waitJob(t, e.screener, reg, j.ID)
		if got.State != serving.JobDone || got.Done != 300 || got.Total != 300 || got.Result == nil || got.Result.Companies != 300 {
			t.Fatalf("finished %+v", got)
		}
		if got.Result.ID != j.ID || len(got.Result.Rows) != 300 || got.Result.Rows[0].Rank != 1 {
			t.Fatalf("result id %s, %d rows", got.Result.ID, len(got.Result.Rows))
		}
		want := []string{serving.ScreeningPrefix(j.ID) + "result.parquet", serving.ScreeningPrefix(j.ID) + "result.csv"}
		if len(got.Objects) != 2 {
			t.Fatalf("objects %v, want %v", got.Objects, want)
		}
		for _, key := range got.Objects {
			if _, err := e.store.Stat(ctx, key); err != nil {
				t.Errorf("object %s: %v", key, err)
			}
		}
		if _, err := e.screener.Get(ctx, otherBank, j.ID); !errors.Is(err, serving.ErrUnknownJob) {
			t.Errorf("another institution sees the job: %v", err)
		}
		num, _, _ := strings.Cut(j.ID, "-")
		for _, id := range []string{"not-a-job", num, num + "-000000000000", "999-" + strings.TrimPrefix(j.ID, num+"-")} {
			if _, err := e.screener.Get(ctx, reg, id); !errors.Is(err, serving.ErrUnknownJob) {
				t.Errorf("id %q: %v, want ErrUnknownJob", id, err)
			}
		}
		if l := e.screener.List(ctx, reg); len(l) != 1 || l[0].ID != j.ID || l[0].State != serving.JobDone {
			t.Errorf("regulator's list %+v", l)
		}
		if l := e.screener.List(ctx, otherBank); len(l) != 0 {
			t.Errorf("bank's list %+v", l)
		}
	})
}

// TestDurableScreeningFailureIsRetriedAndAudited: a store outage fails each
// attempt; after MaxAttempts the job is failed with the outage as its error, and
// every attempt left an audit record naming who asked.
func TestDurableScreeningFailureIsRetriedAndAudited(t *testing.T) {
	each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.src.fail.Store(true)
		ctx := context.Background()
		reg := servingtest.Regulator
		j, err := e.screener.Start(ctx, reg, serving.TaskPD)
		if err != nil {
			t.Fatal(err)
		}
		got := waitJob(t, e.screener, reg, j.ID)
		if got.State != serving.JobFailed || !strings.Contains(got.Error, "connection refused") {
			t.Fatalf("failed job %+v", got)
		}
		var failures int
		for _, en := range e.r.Audit.Entries() {
			if en.Outcome == audit.OutcomeFailed && en.Action == "screening" && en.Subject == "screening:"+j.ID && en.Actor == reg.Actor() {
				failures++
			}
		}
		if failures != screenjobs.MaxAttempts {
			t.Fatalf("%d failure records, want one per attempt (%d)", failures, screenjobs.MaxAttempts)
		}
	})
}
