package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/lab"
	labtraining "github.com/xinyi-platform/xinyi/lab/training"
	"github.com/xinyi-platform/xinyi/lab/trainjobs"
)

// TestWorkerRunsLabTraining: a training run a console enqueues on the lab queue
// is done by `xinyi worker --queues lab=1 --samples …`, which writes the model
// and card under the run's keys.
func TestWorkerRunsLabTraining(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	shared := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(shared, "lightgbm-binary", "binary.train")); err != nil {
		t.Skipf("shared data: %v", err)
	}
	store := t.TempDir()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "jobs.db")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var errOut bytes.Buffer
	exited := make(chan int, 1)
	go func() {
		var out bytes.Buffer
		exited <- runMain(ctx, []string{"worker", "-store", store, "-jobs-db", dsn, "-queues", trainjobs.QueueName + "=1", "-samples", shared}, &out, &errOut)
	}()

	q, err := jobs.Open(context.Background(), jobs.Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	bs, err := blob.OpenLocal(store)
	if err != nil {
		t.Fatal(err)
	}
	data, err := publicDataSets(shared)
	if err != nil {
		t.Fatal(err)
	}
	tr := trainjobs.NewTrainer(q, labtraining.New(labtraining.Options{Data: data, Store: bs}), bs)
	id, err := tr.StartTraining(context.Background(), lab.TrainingRequest{Sample: "lightgbm-binary", Preset: "quick"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	var j lab.TrainingJob
	for time.Now().Before(deadline) {
		if j, err = tr.TrainingJob(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if j.State != lab.JobRunning {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if j.State != lab.JobDone || j.Done != 30 || j.Total != 30 {
		t.Fatalf("run %+v; worker said %s", j, errOut.String())
	}
	for _, k := range []string{"trainings/" + id + "/model.txt", "trainings/" + id + "/card.json", "trainings/" + id + "/card.md"} {
		if _, err := bs.Stat(context.Background(), k); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	stop()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("worker exit %d: %s", code, errOut.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("worker did not stop")
	}
}
