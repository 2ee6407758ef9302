package trainjobs_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/lab"
	labtraining "github.com/xinyi-platform/xinyi/lab/training"
	"github.com/xinyi-platform/xinyi/lab/trainjobs"
)

const (
	killDSNEnv   = "XINYI_TRAINJOBS_KILL_DSN"
	killStoreEnv = "XINYI_TRAINJOBS_KILL_STORE"
	// An attempt whose worker is gone is taken again after rescueAfter, which
	// must exceed the job timeout; the timeout leaves a loaded 2-core machine
	// time to train the run (about 0.4 s when idle).
	jobTimeout  = 4 * time.Second
	rescueAfter = 5 * time.Second
	// killAfter is the round after which the dying worker kills itself.
	killAfter = 10
)

// dying trains and SIGKILLs its own process once round killAfter is reported: a
// worker that dies mid-training.
type dying struct{ run trainjobs.Runner }

func (d dying) Run(ctx context.Context, req lab.TrainingRequest, progress func(lab.TrainingJob)) (*labtraining.Result, error) {
	return d.run.Run(ctx, req, func(j lab.TrainingJob) {
		progress(j)
		if j.Done >= killAfter {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal ends the process
		}
	})
}

// TestTrainingOutlivesItsWorker: a worker process dies in the middle of a
// training run; the run stays running with the rounds it reported, and a worker
// started afterwards runs it again to the end, writing its objects under the
// same keys (a second attempt overwrites, it does not add).
func TestTrainingOutlivesItsWorker(t *testing.T) {
	if os.Getenv(killDSNEnv) != "" {
		return // the child runs TestTrainingWorkerChild only
	}
	each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		dir := t.TempDir()
		e := newEnv(t)
		store, err := blob.OpenLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		e.store = store
		con, q := e.console(t, dsn)
		id, err := con.StartTraining(ctx, lab.TrainingRequest{Sample: "lightgbm-binary", Preset: "conservative", By: e.alice})
		if err != nil {
			t.Fatal(err)
		}

		child := exec.Command(os.Args[0], "-test.run=^TestTrainingWorkerChild$", "-test.count=1")
		child.Env = append(os.Environ(), killDSNEnv+"="+dsn, killStoreEnv+"="+dir)
		out, err := child.CombinedOutput()
		ws, ok := child.ProcessState.Sys().(syscall.WaitStatus)
		if err == nil || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("worker did not die by SIGKILL: %v\n%s", err, out)
		}
		mid, err := con.TrainingJob(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if mid.State != lab.JobRunning || mid.Done != killAfter || mid.Total != 300 {
			t.Fatalf("after the kill: %+v, want running at %d/300", mid, killAfter)
		}
		if objs, _ := store.List(ctx, "trainings/"); len(objs) != 0 {
			t.Fatalf("the killed attempt left objects %v", objs)
		}

		num := mustNum(t, id)
		in, err := q.Get(ctx, num)
		if err != nil {
			t.Fatal(err)
		}
		// The rescuer looks when a worker takes the lead: start the new worker
		// once the dead attempt is old enough to be rescued.
		time.Sleep(time.Until(in.AttemptedAt.Add(rescueAfter + 100*time.Millisecond)))
		w := worker(t, dsn, e.trainer(t), store, jobs.Options{JobTimeout: jobTimeout, RescueAfter: rescueAfter,
			RetryBase: 5 * time.Millisecond, RetryMax: 5 * time.Millisecond, ID: "rescuer"})
		defer w.Close()

		done := waitTraining(t, con, id)
		if done.State != lab.JobDone || done.Done == 0 || done.Done != done.Total {
			t.Fatalf("rescued run %+v", done)
		}
		in, err = q.Get(ctx, num)
		if err != nil || in.Attempt != 2 || len(in.AttemptedBy) != 2 || in.AttemptedBy[1] != "rescuer" {
			t.Fatalf("job row %+v, %v; want a second attempt by the rescuer", in, err)
		}
		var o trainjobs.TrainingOutput
		if err := json.Unmarshal(in.Output, &o); err != nil || len(o.Objects) != 4 {
			t.Fatalf("output %s: %v", in.Output, err)
		}
		if objs, _ := store.List(ctx, "trainings/"); len(objs) != 4 {
			t.Fatalf("trainings/ holds %v, want the run's 4 objects", objs)
		}
		// The rescued run equals one trained in this process (same data, seed, preset).
		want, err := e.trainer(t).Run(ctx, lab.TrainingRequest{Sample: "lightgbm-binary", Preset: "conservative", By: e.alice}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := blob.ReadAll(ctx, store, o.Model)
		if err != nil {
			t.Fatal(err)
		}
		if blob.SHA256Hex(got) != blob.SHA256Hex(want.Model) {
			t.Errorf("rescued model differs from an in-process run of the same request")
		}
		if ref, err := con.RegisterTraining(ctx, id, "lgb-rescued", e.alice); err != nil || ref != "lgb-rescued:v1" {
			t.Errorf("register rescued run: %q, %v", ref, err)
		}
	})
}

// TestTrainingWorkerChild is the child half of TestTrainingOutlivesItsWorker.
func TestTrainingWorkerChild(t *testing.T) {
	dsn := os.Getenv(killDSNEnv)
	if dsn == "" {
		t.Skip("runs only as the child of TestTrainingOutlivesItsWorker")
	}
	store, err := blob.OpenLocal(os.Getenv(killStoreEnv))
	if err != nil {
		t.Fatal(err)
	}
	tr := labtraining.New(labtraining.Options{Data: dataSets(t), Store: store, Threads: 2})
	// Out of leader election: a killed leader's term would only run out after
	// River's fixed 15s.
	worker(t, dsn, dying{tr}, store, jobs.Options{JobTimeout: jobTimeout, RescueAfter: rescueAfter, NoMaintenance: true, ID: "killed"})
	time.Sleep(30 * time.Second)
	t.Fatal("the training did not kill this process")
}
