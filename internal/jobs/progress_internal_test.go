package jobs

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestOpenPrunesProgressOfDeletedJobs: a progress row whose job is gone (River's
// cleaner deletes finished jobs) is removed at the next Open; a live job's stays.
func TestOpenPrunesProgressOfDeletedJobs(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "jobs.db")
	q, err := Open(ctx, Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	ins, err := q.Insert(ctx, kindArgs{}, InsertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, id := range []int64{ins.ID, ins.ID + 1000} {
		if err := q.saveProgress(ctx, id, Progress{Done: 1, Total: 2, Note: "half", UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	if q, err = Open(ctx, Options{DSN: dsn}); err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	got, err := q.progressOf(ctx, []int64{ins.ID, ins.ID + 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[ins.ID].Note != "half" || got[ins.ID].UpdatedAt.UnixMilli() != now.UnixMilli() {
		t.Fatalf("progress after reopen: %+v", got)
	}
}

type kindArgs struct{}

func (kindArgs) Kind() string { return "test_kind" }

func TestBackoff(t *testing.T) {
	b := backoff{base: time.Second, max: time.Hour}
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{{1, time.Second}, {2, 16 * time.Second}, {3, 81 * time.Second}, {7, 2401 * time.Second}, {8, time.Hour}, {1 << 20, time.Hour}} {
		for range 20 {
			got := b.delay(tc.attempt)
			lo, hi := time.Duration(float64(tc.want)*0.9), time.Duration(float64(tc.want)*1.1)
			if tc.want == time.Hour {
				lo = time.Hour
			}
			if got < lo || got > hi {
				t.Fatalf("attempt %d: delay %v, want %v ±10%%", tc.attempt, got, tc.want)
			}
		}
	}
}
