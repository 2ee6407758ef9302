package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	xjobs "github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/lab"
	labjobs "github.com/xinyi-platform/xinyi/lab/jobs"
)

type shardArgs struct {
	Set    string `json:"set"`
	Shard  int    `json:"shard"`
	Shards int    `json:"shards"`
	Fail   bool   `json:"fail"`
}

func (shardArgs) Kind() string { return "materialize_shard" }

// TestJobsList runs real jobs on a SQLite jobs database and reads them back as
// the console lists them: a running shard with its live progress, a finished
// one, and one whose error is shown on its first line only.
func TestJobsList(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	release := make(chan struct{})
	ws := xjobs.NewWorkers()
	if err := xjobs.Handle(ws, func(ctx context.Context, j *xjobs.Job[shardArgs]) error {
		if j.Args.Fail {
			return xjobs.Permanent(errors.New("part 3 is missing\nstack detail that the list leaves out"))
		}
		if err := j.Progress.Report(ctx, 3, 10, "computing"); err != nil {
			return err
		}
		if j.Args.Shard == 0 {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	q, err := xjobs.Open(ctx, xjobs.Options{DSN: "sqlite://" + filepath.Join(t.TempDir(), "jobs.db"), Workers: ws,
		Queues: map[string]int{"materialize": 3}, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(context.Background())
	defer close(release) // before Stop, which waits for the running job
	var ids [3]int64
	for i, a := range []shardArgs{{Set: "pd/v1", Shard: 0, Shards: 6}, {Set: "pd/v1", Shard: 1, Shards: 6}, {Set: "pd/v1", Shard: 2, Shards: 6, Fail: true}} {
		ins, err := q.Insert(ctx, a, xjobs.InsertOptions{Queue: "materialize"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = ins.ID
	}
	list := labjobs.New(q)
	byID := map[int64]lab.QueuedJob{}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got, err := list.Jobs(ctx, lab.Principal{}, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range got {
			byID[j.ID] = j
		}
		if byID[ids[0]].State == "running" && byID[ids[0]].Done == 3 && byID[ids[1]].State == "completed" && byID[ids[2]].State == "cancelled" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs never reached running/completed/cancelled: %+v", byID)
		}
	}
	run := byID[ids[0]]
	if run.Kind != "materialize_shard" || run.Subject != "pd/v1 · 1/6" || run.Total != 10 || run.Note != "computing" || run.Percent() != 30 ||
		run.Queue != "materialize" || run.Attempt != 1 || !run.Finished.IsZero() || len(run.By) != 1 {
		t.Errorf("running shard listed as %+v", run)
	}
	if f := byID[ids[2]]; f.Error != "part 3 is missing" || f.Finished.IsZero() {
		t.Errorf("failed shard listed as %+v", f)
	}
	running, err := list.Jobs(ctx, lab.Principal{}, "running", 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 1 || running[0].ID != ids[0] {
		t.Errorf("state filter running gave %+v", running)
	}
	if _, err := list.Jobs(ctx, lab.Principal{}, "exploded", 50); !errors.Is(err, lab.ErrInvalidInput) {
		t.Errorf("unknown state: %v, want lab.ErrInvalidInput", err)
	}
}

// TestSubject names what each kind of job works on from its arguments.
func TestSubject(t *testing.T) {
	for raw, want := range map[string]string{
		`{"task":"violation","ref":"ab12"}`:                                                           "violation",
		`{"run":{"id":"r1","set":"pd","version":1,"shards":6},"shard":2}`:                             "pd/v1 · 3/6",
		`{"set":"pd","requested":["2025-12-31"],"run":{"id":"r1","set":"pd","version":1,"shards":6}}`: "pd/v1",
		`{"as_of":"2025-12-31","run":"0f3a9c"}`:                                                       "2025-12-31",
		`{"sample":"pd-q/v1","preset":"quick","by":{"user":"alice"},"ref":"ab12"}`:                    "pd-q/v1 · quick",
		`{"name":"pd-q","set":"pd","from":"2023-09-30T00:00:00Z","ref":"ab12"}`:                       "pd-q · pd",
		`not json`: "",
	} {
		if got := labjobs.Subject(json.RawMessage(raw)); got != want {
			t.Errorf("subject of %s = %q, want %q", raw, got, want)
		}
	}
}
