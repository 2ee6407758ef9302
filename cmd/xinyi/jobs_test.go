package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/jobs"
)

type tallyArgs struct {
	N int `json:"n"`
}

func (tallyArgs) Kind() string { return "test_tally" }

// TestJobsCommand fills the store's embedded jobs database with one finished job
// that reported progress, one that failed for good and one nobody works, and
// reads them back through `xinyi jobs`.
func TestJobsCommand(t *testing.T) {
	store := filepath.Join(t.TempDir(), "data")
	dsn, err := jobsDSN(store, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "sqlite://" + filepath.Join(store, ".xinyi", "jobs.db"); dsn != want {
		t.Fatalf("default jobs DSN %q, want %q", dsn, want)
	}
	ws := jobs.NewWorkers()
	if err := jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[tallyArgs]) error {
		if j.Args.N < 0 {
			return jobs.Permanent(errors.New("negative tally\nsecond line"))
		}
		return j.Progress.Report(ctx, int64(j.Args.N), int64(j.Args.N), "counted")
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q, err := jobs.Open(ctx, jobs.Options{DSN: dsn, Workers: ws, Queues: map[string]int{jobs.DefaultQueue: 1}, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done, _ := q.Insert(ctx, tallyArgs{N: 12}, jobs.InsertOptions{})
	failed, _ := q.Insert(ctx, tallyArgs{N: -1}, jobs.InsertOptions{})
	if _, err := q.Insert(ctx, tallyArgs{N: 1}, jobs.InsertOptions{Queue: "nobody"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{done.ID, failed.ID} {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			in, err := q.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if jobs.Finished(in.State) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %d: %+v", id, in)
			}
		}
	}

	out, errOut, code := run(t, "jobs", "-store", store)
	if code != 0 {
		t.Fatalf("xinyi jobs: %d %s", code, errOut)
	}
	for _, want := range []string{"test_tally  completed  1/5", "12/12 (100%)", "test_tally  cancelled  1/5", "negative tally",
		"test_tally  available  0/5", "3 jobs: 1 available, 1 cancelled, 1 completed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "second line") {
		t.Errorf("an error's later lines are shown:\n%s", out)
	}
	out, _, code = run(t, "jobs", "-store", store, "-state", "completed,cancelled")
	if code != 0 || !strings.Contains(out, "2 jobs: 1 cancelled, 1 completed") {
		t.Errorf("--state completed,cancelled: %d\n%s", code, out)
	}
	_, errOut, code = run(t, "jobs", "-store", store, "-state", "asleep")
	if code == 0 || !strings.Contains(errOut, `unknown job state "asleep"`) {
		t.Errorf("--state asleep: %d %s", code, errOut)
	}
}

func TestJobFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"worker", "-queues", "screening=0"}, `"screening=0" is not queue=workers`},
		{[]string{"worker", "-queues", "a=1,a=2"}, `"a" given twice`},
		{[]string{"worker", "-queues", ""}, "no queue to work"},
		{[]string{"worker", "-service-key", ""}, "--service-key (or XINYI_SERVICE_KEY) is required"},
		{[]string{"jobs", "-store", "s3://bucket"}, "--jobs-db is required with an s3:// store"},
		{[]string{"serve", "-job-workers", "-1", "-service-key", "x", "-store", t.TempDir()}, "--job-workers -1 is negative"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv("XINYI_SERVICE_KEY", "")
			_, errOut, code := run(t, tc.args...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q, want it to contain %q", code, errOut, tc.want)
			}
		})
	}
	if dsn, _ := jobsDSN("s3://bucket", "postgres://db/x", ""); dsn != "postgres://db/x" {
		t.Errorf("a PostgreSQL metadata database holds the jobs too: got %q", dsn)
	}
}
