package serving

import (
	"context"
	"errors"
	"testing"
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
