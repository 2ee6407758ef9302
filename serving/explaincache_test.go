package serving

import (
	"context"
	"testing"
)

// TestExplainCacheNeverStale: a company whose features change, or a new model version,
// must get fresh contributions; the same row and model hit the cache.
func TestExplainCacheNeverStale(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	explain := func() []float64 {
		t.Helper()
		d, err := e.svc.Assess(ctx, e.bank, Request{Company: e.good, Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		return d.Explanations[0].Contributions // pd
	}
	first := explain()
	second := explain()
	if !near(first[0], -1) || first[0] != second[0] || first[1] != second[1] {
		t.Fatalf("pd contributions %v then %v, want tax -1 both times", first, second)
	}
	// The online store corrects the company's row: tax 80, dishonest debtor. By hand:
	// tax 0.5-(-1) = 1.5, dishonest 2-(-0.7) = 2.7.
	e.features.mu.Lock()
	e.features.rows[e.good] = []float64{80, 1, 0}
	e.features.mu.Unlock()
	if got := explain(); !near(got[0], 1.5) || !near(got[1], 2.7) {
		t.Fatalf("after a correction: %v, want [1.5 2.7 0]", got)
	}
	// A new pd version (first tree's right leaf -3): same row, new decomposition.
	e.features.mu.Lock()
	e.features.rows[e.good] = []float64{150, 0, 0}
	e.features.mu.Unlock()
	v2 := loadStumps(t, "2", func(task Task, text string) string {
		if task == TaskPD {
			return replaceOnce(t, text, "leaf_value=0.5 -2", "leaf_value=0.5 -3")
		}
		return text
	})
	if err := e.models.Install(v2...); err != nil {
		t.Fatal(err)
	}
	// tree0 mean (40·0.5+60·-3)/100 = -1.6, good leaf -3 → -1.4
	if got := explain(); !near(got[0], -1.4) {
		t.Fatalf("after a model swap: %v, want tax -1.4", got)
	}
}

func TestExplainCacheEvicts(t *testing.T) {
	c := newExplainCache(16) // one entry per shard
	e := newEnv(t)
	sc := e.models.Current().PD
	out := make([]float64, 3)
	for i := range 200 {
		if _, err := c.contributions(sc, []float64{float64(i), 0, 0}, out); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for i := range c.shards {
		total += len(c.shards[i].m)
	}
	if total > 16 {
		t.Fatalf("%d entries in a cache of 16", total)
	}
}
