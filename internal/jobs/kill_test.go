package jobs_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// stepArgs runs Steps steps; in a process started as the kill child, the
// handler SIGKILLs its own process after reporting step KillAfter.
type stepArgs struct {
	Steps     int `json:"steps"`
	KillAfter int `json:"kill_after"`
}

func (stepArgs) Kind() string { return "test_steps" }

const killEnv = "XINYI_JOBS_KILL_CHILD"

func stepHandler(ctx context.Context, j *jobs.Job[stepArgs]) error {
	child := os.Getenv(killEnv) != ""
	for i := 1; i <= j.Args.Steps; i++ {
		if err := j.Progress.Report(ctx, int64(i), int64(j.Args.Steps), "step"); err != nil {
			return err
		}
		if child && i == j.Args.KillAfter {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal ends the process
		}
	}
	return jobs.RecordOutput(ctx, map[string]int{"steps": j.Args.Steps})
}

// Rescue settings shared by the child and the new worker: an attempt older than
// rescueAfter whose worker is gone is scheduled again.
const (
	jobTimeout  = 300 * time.Millisecond
	rescueAfter = 600 * time.Millisecond
)

func stepOptions(dsn string, ws *jobs.Workers, id string) jobs.Options {
	return jobs.Options{DSN: dsn, Workers: ws, Queues: map[string]int{jobs.DefaultQueue: 1}, ID: id,
		JobTimeout: jobTimeout, RescueAfter: rescueAfter, RetryBase: 10 * time.Millisecond, RetryMax: 10 * time.Millisecond,
		PollInterval: 50 * time.Millisecond, ProgressEvery: time.Nanosecond}
}

// TestKilledWorkerJobCompletesElsewhere starts a worker in a child process that
// SIGKILLs itself in the middle of a job, then checks from this process that the
// job's row is still running with the progress the child reported, and that a new
// worker (through River's rescuer) runs it again to completion.
//
// The child stays out of leader election: a killed leader's term would only run
// out after River's fixed 15s, which this test would wait out and not learn from.
func TestKilledWorkerJobCompletesElsewhere(t *testing.T) {
	if os.Getenv(killEnv) != "" {
		return // the child runs TestKilledWorkerChild only
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			dsn := "sqlite://" + filepath.Join(t.TempDir(), "jobs.db")
			if engine == "postgres" {
				dsn = metadbtest.PostgresDSN(t)
			}
			ctx := context.Background()
			inserter, err := jobs.Open(ctx, jobs.Options{DSN: dsn})
			if err != nil {
				t.Fatal(err)
			}
			defer inserter.Close()
			ins, err := inserter.Insert(ctx, stepArgs{Steps: 5, KillAfter: 2}, jobs.InsertOptions{})
			if err != nil {
				t.Fatal(err)
			}

			cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWorkerChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), killEnv+"="+dsn)
			out, err := cmd.CombinedOutput()
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if err == nil || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
			}

			in, err := inserter.Get(ctx, ins.ID)
			if err != nil {
				t.Fatal(err)
			}
			if in.State != jobs.StateRunning || in.Attempt != 1 || in.Done != 2 || in.Total != 5 {
				t.Fatalf("after the kill: state %s attempt %d progress %d/%d, want running, attempt 1, 2/5", in.State, in.Attempt, in.Done, in.Total)
			}
			// The rescuer looks once when a worker takes the lead, then every 30s:
			// let the attempt become old enough before starting the new worker.
			time.Sleep(time.Until(in.AttemptedAt.Add(rescueAfter + 100*time.Millisecond)))

			wsNew := jobs.NewWorkers()
			if err := jobs.Handle(wsNew, stepHandler); err != nil {
				t.Fatal(err)
			}
			q, err := jobs.Open(ctx, stepOptions(dsn, wsNew, "rescuer"))
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			done := waitFinished(t, q, ins.ID, 30*time.Second)
			if done.State != jobs.StateCompleted || done.Attempt != 2 || done.Done != 5 || done.Total != 5 {
				t.Fatalf("rescued job: state %s attempt %d progress %d/%d, want completed, attempt 2, 5/5", done.State, done.Attempt, done.Done, done.Total)
			}
			if len(done.AttemptedBy) != 2 || done.AttemptedBy[0] != "killed" || done.AttemptedBy[1] != "rescuer" {
				t.Errorf("attempted by %v, want [killed rescuer]", done.AttemptedBy)
			}
			var got map[string]int
			if err := json.Unmarshal(done.Output, &got); err != nil || got["steps"] != 5 {
				t.Errorf("output %s: %v", done.Output, err)
			}
		})
	}
}

// TestKilledWorkerChild is the child half of TestKilledWorkerJobCompletesElsewhere.
func TestKilledWorkerChild(t *testing.T) {
	dsn := os.Getenv(killEnv)
	if dsn == "" {
		t.Skip("runs only as the child of TestKilledWorkerJobCompletesElsewhere")
	}
	ws := jobs.NewWorkers()
	if err := jobs.Handle(ws, stepHandler); err != nil {
		t.Fatal(err)
	}
	opts := stepOptions(dsn, ws, "killed")
	opts.NoMaintenance = true
	q, err := jobs.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Second)
	t.Fatal("the job did not kill this process")
}
