package matjobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

const (
	childDSNEnv   = "XINYI_MATJOBS_CHILD_DSN"
	childStoreEnv = "XINYI_MATJOBS_CHILD_STORE"
	childModeEnv  = "XINYI_MATJOBS_CHILD_MODE" // "die" or "work"
	// A shard attempt whose worker is gone is taken again after rescueAfter.
	jobTimeout  = 8 * time.Second
	rescueAfter = 9 * time.Second
	companies   = 4000
	shards      = 6
)

var dates = []time.Time{
	time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), time.Date(2024, 9, 30, 0, 0, 0, 0, time.UTC),
	time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC),
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

// generated writes the generated universe of these tests into a local store at dir.
func generated(t *testing.T, dir string) blob.Store {
	t.Helper()
	store, err := blob.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	o := datasets.GenerateOptions{Companies: companies, Months: 24, Seed: 11, ShardSize: 1000, Workers: 1}
	if _, err := datasets.Generate(context.Background(), store, o); err != nil {
		t.Fatal(err)
	}
	return store
}

// singleProcess materializes the universe with features.Materialize in a store of its own.
func singleProcess(t *testing.T) blob.Store {
	t.Helper()
	store := generated(t, t.TempDir())
	if _, err := features.Materialize(context.Background(), store, features.Options{Set: "full", AsOf: dates, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	return store
}

// sameSnapshots fails unless the snapshots of got equal those of want value for
// value, with the same columns and rows in their manifests.
func sameSnapshots(t *testing.T, want, got blob.Store) {
	t.Helper()
	ctx := context.Background()
	for _, at := range dates {
		d := features.DayOf(at)
		ws, wm, err := features.ReadSnapshot(ctx, want, "full", 1, d)
		if err != nil {
			t.Fatal(err)
		}
		gs, gm, err := features.ReadSnapshot(ctx, got, "full", 1, d)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(gm.Indicators, wm.Indicators) || gm.Rows != wm.Rows || gm.Shards() != shards {
			t.Fatalf("as of %s: %d indicators, %d rows, %d shards; want %d, %d, %d", d, len(gm.Indicators), gm.Rows, gm.Shards(), len(wm.Indicators), wm.Rows, shards)
		}
		w := len(ws.Names)
		byCode := map[string][]float64{}
		for i, c := range ws.Codes {
			byCode[c] = ws.Values[i*w : (i+1)*w]
		}
		for i, c := range gs.Codes {
			wv, ok := byCode[c]
			if !ok {
				t.Fatalf("as of %s: %s not in the single-process snapshot", d, c)
			}
			for j, v := range gs.Values[i*w : (i+1)*w] {
				if math.Float64bits(v) != math.Float64bits(wv[j]) && !(math.IsNaN(v) && math.IsNaN(wv[j])) {
					t.Fatalf("as of %s: %s %s = %v, want %v", d, c, ws.Names[j], v, wv[j])
				}
			}
		}
	}
}

func workerOptions(dsn string, ws *jobs.Workers, noMaintenance bool) jobs.Options {
	return jobs.Options{DSN: dsn, Workers: ws, Queues: map[string]int{QueueName: 1}, JobTimeout: jobTimeout, RescueAfter: rescueAfter,
		RetryBase: 5 * time.Millisecond, RetryMax: 5 * time.Millisecond, PollInterval: 50 * time.Millisecond,
		ProgressEvery: time.Nanosecond, NoMaintenance: noMaintenance}
}

// child is a worker process running TestMaterializeWorkerChild.
type child struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{} // closed once the process has been waited for
}

func startChild(t *testing.T, dsn, dir, mode string) *child {
	t.Helper()
	c := &child{done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestMaterializeWorkerChild$", "-test.count=1")
	c.cmd.Env = append(os.Environ(), childDSNEnv+"="+dsn, childStoreEnv+"="+dir, childModeEnv+"="+mode)
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

// TestRunOutlivesKilledWorker enqueues a materialization in 6 shards; a first
// worker process plans it and SIGKILLs itself in the middle of a shard. Nothing is
// visible then; two worker processes started once the dead attempt can be rescued
// run the rest, the killed shard again, and the commit, and the snapshots equal
// those of a single-process materialization of the same universe value for value.
// No manifest appears before the commit job runs.
func TestRunOutlivesKilledWorker(t *testing.T) {
	if os.Getenv(childDSNEnv) != "" {
		return // the child runs TestMaterializeWorkerChild only
	}
	want := singleProcess(t)
	each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		dir := t.TempDir()
		store := generated(t, dir)
		api, err := jobs.Open(ctx, jobs.Options{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		defer api.Close()
		cat, err := features.DefaultCatalog()
		if err != nil {
			t.Fatal(err)
		}
		ins, err := Enqueue(ctx, api, cat, Request{Set: "full", AsOf: dates, Shards: shards})
		if err != nil {
			t.Fatal(err)
		}
		reversed := slices.Clone(dates)
		slices.Reverse(reversed)
		if dup, err := Enqueue(ctx, api, cat, Request{Set: "full/v1", AsOf: reversed, Shards: 2}); err != nil || !dup.Duplicate || dup.ID != ins.ID {
			t.Fatalf("second request of the same dates while the first is pending: %+v, %v", dup, err)
		}

		dying := startChild(t, dsn, dir, "die")
		select {
		case <-dying.done:
		case <-time.After(60 * time.Second):
			t.Fatalf("the dying worker did not die\n%s", dying.out.String())
		}
		if ws, ok := dying.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("worker did not die by SIGKILL: %v\n%s", dying.cmd.ProcessState, dying.out.String())
		}
		if days, _ := features.ListSnapshots(ctx, store, "full", 1); len(days) != 0 {
			t.Fatalf("snapshots visible after a shard's worker died: %v", days)
		}
		list, err := api.List(ctx, jobs.ListOptions{Kinds: []string{ShardKind}, States: []string{jobs.StateRunning}})
		if err != nil || len(list) != 1 {
			t.Fatalf("running shard jobs after the kill: %+v, %v; want the killed one", list, err)
		}
		killed := list[0]
		if killed.Done <= 0 || killed.Done >= killed.Total || killed.Note != "companies" {
			t.Fatalf("killed shard's progress %+v, want part of its companies", killed.Progress)
		}

		// The rescuer looks when a worker takes the lead: start the workers once the
		// dead attempt is old enough to be rescued.
		time.Sleep(time.Until(killed.AttemptedAt.Add(rescueAfter + 100*time.Millisecond)))
		startChild(t, dsn, dir, "work")
		startChild(t, dsn, dir, "work")

		var early error
		var once sync.Once
		wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		out, err := Wait(wctx, api, ins.ID, 50*time.Millisecond, func(in jobs.Info) {
			// Snapshots listed before the state is read: any manifest seen must
			// come from a commit attempt that had started.
			days, _ := features.ListSnapshots(ctx, store, "full", 1)
			if cur, err := api.Get(ctx, in.ID); err == nil && len(days) > 0 && cur.State != jobs.StateRunning && cur.State != jobs.StateCompleted {
				once.Do(func() { early = fmt.Errorf("snapshots %v visible while the commit job is %s", days, cur.State) })
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if early != nil {
			t.Fatal(early)
		}
		res := out.Commit.Result
		if len(res.Snapshots) != len(dates) || res.Shards != shards || res.Companies != companies || len(out.Commit.Shards) != shards {
			t.Fatalf("commit output %+v", out.Commit)
		}
		sameSnapshots(t, want, store)
		again, err := api.Get(ctx, killed.ID)
		if err != nil || again.State != jobs.StateCompleted || again.Attempt < 2 || len(again.AttemptedBy) < 2 || again.AttemptedBy[0] == again.AttemptedBy[len(again.AttemptedBy)-1] {
			t.Fatalf("killed shard job %+v, %v; want completed by another worker", again, err)
		}
		if left, _ := store.List(ctx, features.RunPrefix("full", 1, out.Plan.Run.ID)); len(left) != 0 {
			t.Errorf("%d staging objects left, first %s", len(left), left[0].Key)
		}
	})
}

// TestMaterializeWorkerChild is the worker process of TestRunOutlivesKilledWorker.
func TestMaterializeWorkerChild(t *testing.T) {
	dsn := os.Getenv(childDSNEnv)
	if dsn == "" {
		t.Skip("runs only as a child of TestRunOutlivesKilledWorker")
	}
	store, err := blob.OpenLocal(os.Getenv(childStoreEnv))
	if err != nil {
		t.Fatal(err)
	}
	die := os.Getenv(childModeEnv) == "die"
	o := Options{Workers: 1, Poll: 100 * time.Millisecond}
	if die {
		o.shardProgress = func(done, total int64) {
			if done > 0 && done < total {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal ends the process
			}
		}
	}
	ws := jobs.NewWorkers()
	if err := Register(ws, store, o); err != nil {
		t.Fatal(err)
	}
	// The dying worker stays out of leader election: a killed leader's term would
	// only run out after River's fixed 15s.
	q, err := jobs.Open(context.Background(), workerOptions(dsn, ws, die))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Second)
	t.Fatal("the worker was not stopped")
}

// TestRunGivesUpOnFailedShard: a raw file replaced after the plan fails every shard
// for good (the run would mix two deliveries); the commit job then fails naming the
// shards and the run's objects are removed, with nothing visible.
func TestRunGivesUpOnFailedShard(t *testing.T) {
	if os.Getenv(childDSNEnv) != "" {
		return
	}
	each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		store := generated(t, t.TempDir())
		ws := jobs.NewWorkers()
		if err := Register(ws, store, Options{Workers: 1, Poll: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		q, err := jobs.Open(ctx, workerOptions(dsn, ws, false))
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		cat, _ := features.DefaultCatalog()
		ins, err := Enqueue(ctx, q, cat, Request{Set: "full", AsOf: dates[:1], Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		// Stage the job's plan before the queue runs (the plan job then finds it),
		// and change a raw file the shards read.
		in, err := q.Get(ctx, ins.ID)
		if err != nil {
			t.Fatal(err)
		}
		var args PlanArgs
		if err := json.Unmarshal(in.Args, &args); err != nil {
			t.Fatal(err)
		}
		if _, err := features.PlanRun(ctx, store, args.Ref, args.Shards, features.Options{Set: args.Set, AsOf: dates[:1], Workers: 1}); err != nil {
			t.Fatal(err)
		}
		infos, err := store.List(ctx, "raw/tax/month=2024-06/")
		if err != nil || len(infos) == 0 {
			t.Fatalf("tax files of 2024-06: %v, %v", infos, err)
		}
		if _, err := store.Put(ctx, infos[0].Key, strings.NewReader("PAR1 not what the plan read")); err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		_, err = Wait(wctx, q, ins.ID, 50*time.Millisecond, nil)
		if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "shard jobs failed for good") || !strings.Contains(err.Error(), infos[0].Key) {
			t.Fatalf("wait: %v, want the commit to give up naming the shards and %s", err, infos[0].Key)
		}
		if days, _ := features.ListSnapshots(ctx, store, "full", 1); len(days) != 0 {
			t.Errorf("snapshots visible after a failed run: %v", days)
		}
		if left, _ := store.List(ctx, "features/"); len(left) != 0 {
			t.Errorf("a failed run left %d objects, first %s", len(left), left[0].Key)
		}
	})
}
