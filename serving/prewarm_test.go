package serving

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestPrewarm(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	snap := e.models.Current()
	explaining := 0
	for _, task := range Tasks {
		if snap.Scorer(task).Explains() {
			explaining++
		}
	}
	if explaining == 0 {
		t.Fatal("no test model explains; the test would prove nothing")
	}
	unknown := testCode(t, "MA9XYY9X")
	n, err := e.svc.Prewarm(ctx, []string{e.good, e.bad, unknown}, 2)
	if err != nil || n != 2 {
		t.Fatalf("Prewarm = %d, %v; want 2 companies (the unknown one skipped)", n, err)
	}
	if got, want := e.svc.cache.len(), 2*explaining; got != want {
		t.Fatalf("cache holds %d decompositions, want %d (2 companies x %d models)", got, want, explaining)
	}
	if len(e.audit.all()) != 0 {
		t.Fatalf("prewarming wrote %d audit records; it releases no decision and must write none", len(e.audit.all()))
	}
	// An assessment now answers from the cache with the values the scorer computes.
	d, err := e.svc.Assess(ctx, e.bank, Request{Company: e.good, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, task := range Tasks {
		sc := snap.Scorer(task)
		if !sc.Explains() {
			continue
		}
		row := e.features.rows[e.good]
		want := make([]float64, len(row))
		if _, err := sc.Contributions(row, want); err != nil {
			t.Fatal(err)
		}
		got := d.Explanations[i].Contributions
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("%s contributions %v from the prewarmed cache, scorer computes %v", task, got, want)
			}
		}
	}
	if got, want := e.svc.cache.len(), 2*explaining; got != want {
		t.Fatalf("after the assessment the cache holds %d, want %d: the assessment missed the prewarmed entries", got, want)
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.svc.Prewarm(ctx2, []string{e.good}, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Prewarm: err %v, want context.Canceled", err)
	}
}

// TestPrewarmOnChange: the loop prewarms at start, again after a model swap (new
// scorers, new cache keys), and not while nothing changes.
func TestPrewarmOnChange(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls, listed atomic.Int64
	content := func() string { calls.Add(1); return "snap-1" }
	codes := func() []string { listed.Add(1); return []string{e.good, e.bad} }
	done := make(chan struct{})
	go func() { e.svc.PrewarmOnChange(ctx, 5*time.Millisecond, content, codes, nil); close(done) }()
	per := 0
	for _, task := range Tasks {
		if e.models.Current().Scorer(task).Explains() {
			per++
		}
	}
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for e.svc.cache.len() != want {
			if time.Now().After(deadline) {
				t.Fatalf("cache holds %d decompositions, want %d", e.svc.cache.len(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(2 * per)
	// Unchanged models and content: many checks, no new work.
	for start := calls.Load(); calls.Load() < start+5; {
		time.Sleep(5 * time.Millisecond)
	}
	if got := e.svc.cache.len(); got != 2*per {
		t.Fatalf("nothing changed, yet the cache grew to %d", got)
	}
	if n := listed.Load(); n != 1 {
		t.Fatalf("the companies were listed %d times while nothing changed; want once", n)
	}
	// A model swap: the new versions' decompositions join the old ones.
	if err := e.models.Install(loadStumps(t, "2", nil)...); err != nil {
		t.Fatal(err)
	}
	waitFor(4 * per)
	cancel()
	<-done
}
