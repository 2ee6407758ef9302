package warnings

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// TestJobAndWatch: the watcher enqueues an evaluation of the newest snapshot,
// the job catches up the earlier dates in order and notifies each once; a new
// snapshot date is picked up by the watcher.
func TestJobAndWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: 400, Months: 16, Seed: 3, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	monthEnd := func(m time.Month) time.Time { return time.Date(2024, m+1, 0, 0, 0, 0, 0, time.UTC) }
	materialize := func(ms ...time.Month) {
		var asofs []time.Time
		for _, m := range ms {
			asofs = append(asofs, monthEnd(m))
		}
		if _, err := features.Materialize(ctx, store, features.Options{Set: "full/v1", AsOf: asofs, Workers: 2}); err != nil {
			t.Fatal(err)
		}
	}
	materialize(time.January, time.February, time.March)

	st, err := Open(ctx, metadbtest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var notified []string
	ws := jobs.NewWorkers()
	src := Source{Store: store, Workers: 2}
	if err := Register(ws, JobOptions{Source: src, Warnings: st, Notify: func(_ context.Context, ch *Changes) error {
		mu.Lock()
		defer mu.Unlock()
		notified = append(notified, ch.AsOf)
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.Open(ctx, jobs.Options{DSN: "sqlite://" + filepath.Join(t.TempDir(), "jobs.db"), Workers: ws,
		Queues: map[string]int{QueueName: 1}, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	defer q.Stop(context.Background())
	go Watch(ctx, q, src, 100*time.Millisecond, nil)

	waitApplied := func(want ...string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			got, err := st.Applied(ctx)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			n := slices.Clone(notified)
			mu.Unlock()
			if slices.Equal(got, want) && slices.Equal(n, want) {
				return
			}
			if time.Now().After(deadline) {
				infos, _ := q.List(ctx, jobs.ListOptions{})
				t.Fatalf("applied %v, notified %v, want %v; jobs %+v", got, n, want, infos)
			}
		}
	}
	waitApplied("2024-01-31", "2024-02-29", "2024-03-31")
	materialize(time.April)
	waitApplied("2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30")

	open, err := st.List(ctx, Filter{State: StateOpen, Limit: 1 << 20})
	if err != nil || len(open) == 0 {
		t.Fatalf("open warnings after April: %d %v", len(open), err)
	}
	// The job's April equals an evaluation of April run here.
	lib, _ := DefaultLibrary()
	in, err := src.Input(ctx, features.DayOf(monthEnd(time.April)))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := lib.Evaluate(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Firings) != len(open) {
		t.Fatalf("%d open warnings, April has %d firings", len(open), len(ev.Firings))
	}
	// Keeping the score history, a date waits for its score run.
	if _, err := (Source{Store: store, RequireScores: true}).Input(ctx, features.DayOf(monthEnd(time.April))); !errors.Is(err, ErrScoresPending) {
		t.Fatalf("input without a score run: %v", err)
	}
	// A job for a date without a snapshot fails for good.
	if _, err := EvaluateThrough(ctx, JobOptions{Source: src, Warnings: st}, "2024-07-31"); err == nil {
		t.Fatal("a date without a snapshot was evaluated")
	}
}
