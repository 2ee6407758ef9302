package screenjobs_test

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/screenjobs"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

const (
	killDSNEnv   = "XINYI_SCREENJOBS_KILL_DSN"
	killStoreEnv = "XINYI_SCREENJOBS_KILL_STORE"
	// An attempt whose worker is gone is taken again after rescueAfter.
	jobTimeout  = time.Second
	rescueAfter = 1500 * time.Millisecond
	// killCompanies is enough companies for progress reports before the end
	// (Service.Screen reports every 1,024).
	killCompanies = 2500
)

// dying runs a screening and SIGKILLs its own process once the first progress
// report is written: a worker that dies mid-screening.
type dying struct{ run screenjobs.Runner }

func (d dying) RunScreening(ctx context.Context, p serving.Principal, task serving.Task, id string, progress func(done, total int)) (*serving.ScreenResult, []string, error) {
	return d.run.RunScreening(ctx, p, task, id, func(done, total int) {
		progress(done, total)
		if done > 0 && done < total {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal ends the process
		}
	})
}

// workerOn opens a screening worker over r's models on dsn and store.
func workerOn(t *testing.T, r *servingtest.Realistic, dsn string, store blob.Store, wrap func(screenjobs.Runner) screenjobs.Runner, noMaintenance bool) *jobs.Queue {
	t.Helper()
	runner, err := serving.NewScreener(serving.ScreenerOptions{Service: r.Service, Source: &pops{r: r}, Store: store, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ws := jobs.NewWorkers()
	if err := screenjobs.Register(ws, wrap(runner)); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.Open(context.Background(), jobs.Options{DSN: dsn, Workers: ws, Queues: map[string]int{screenjobs.QueueName: 1},
		JobTimeout: jobTimeout, RescueAfter: rescueAfter, RetryBase: 5 * time.Millisecond, RetryMax: 5 * time.Millisecond,
		PollInterval: 50 * time.Millisecond, ProgressEvery: time.Nanosecond, NoMaintenance: noMaintenance})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return q
}

// TestScreeningOutlivesItsWorker: a worker process dies in the middle of a
// screening; the job stays running with the progress it reported, and a worker
// started afterwards runs it again to the end, its result and objects visible
// through a screener of a third queue on the same database.
func TestScreeningOutlivesItsWorker(t *testing.T) {
	if os.Getenv(killDSNEnv) != "" {
		return // the child runs TestScreeningWorkerChild only
	}
	each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		dir := t.TempDir()
		store, err := blob.OpenLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		r := servingtest.NewRealistic(t, killCompanies)
		api, err := jobs.Open(ctx, jobs.Options{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		defer api.Close()
		sc, err := serving.NewScreener(serving.ScreenerOptions{Service: r.Service, Source: &pops{r: r}, Store: store, Queue: screenjobs.New(api)})
		if err != nil {
			t.Fatal(err)
		}
		reg := servingtest.Regulator
		j, err := sc.Start(ctx, reg, serving.TaskViolation)
		if err != nil {
			t.Fatal(err)
		}

		child := exec.Command(os.Args[0], "-test.run=^TestScreeningWorkerChild$", "-test.count=1")
		child.Env = append(os.Environ(), killDSNEnv+"="+dsn, killStoreEnv+"="+dir)
		out, err := child.CombinedOutput()
		ws, ok := child.ProcessState.Sys().(syscall.WaitStatus)
		if err == nil || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("worker did not die by SIGKILL: %v\n%s", err, out)
		}
		mid, err := sc.Get(ctx, reg, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if mid.State != serving.JobRunning || mid.Done == 0 || mid.Done >= mid.Total || mid.Total != killCompanies {
			t.Fatalf("after the kill: %+v, want running with partial progress of %d", mid, killCompanies)
		}
		if objs, _ := store.List(ctx, serving.ScreeningPrefix(j.ID)); len(objs) != 0 {
			t.Fatalf("the killed attempt left objects %v", objs)
		}

		// The rescuer looks when a worker takes the lead: start the new worker
		// once the dead attempt is old enough to be rescued.
		num, err := api.List(ctx, jobs.ListOptions{Kinds: []string{screenjobs.Kind}})
		if err != nil || len(num) != 1 {
			t.Fatalf("jobs %+v, %v", num, err)
		}
		time.Sleep(time.Until(num[0].AttemptedAt.Add(rescueAfter + 100*time.Millisecond)))
		w := workerOn(t, r, dsn, store, func(r screenjobs.Runner) screenjobs.Runner { return r }, false)
		defer w.Close()

		done := waitJob(t, sc, reg, j.ID)
		if done.State != serving.JobDone || done.Done != killCompanies || done.Total != killCompanies || len(done.Objects) != 2 || len(done.Result.Rows) != killCompanies {
			t.Fatalf("rescued screening %+v", done)
		}
		in, err := api.Get(ctx, num[0].ID)
		if err != nil || in.Attempt != 2 {
			t.Fatalf("job row %+v, %v; want a second attempt", in, err)
		}
	})
}

// TestScreeningWorkerChild is the child half of TestScreeningOutlivesItsWorker.
func TestScreeningWorkerChild(t *testing.T) {
	dsn := os.Getenv(killDSNEnv)
	if dsn == "" {
		t.Skip("runs only as the child of TestScreeningOutlivesItsWorker")
	}
	store, err := blob.OpenLocal(os.Getenv(killStoreEnv))
	if err != nil {
		t.Fatal(err)
	}
	// Out of leader election: a killed leader's term would only run out after
	// River's fixed 15s.
	workerOn(t, servingtest.NewRealistic(t, killCompanies), dsn, store, func(r screenjobs.Runner) screenjobs.Runner { return dying{r} }, true)
	time.Sleep(30 * time.Second)
	t.Fatal("the screening did not kill this process")
}
