package scores_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

func decisions(asOf time.Time, version string, pdOf func(i int) float64, codes ...string) []*serving.Decision {
	models := []serving.ModelVersion{{Task: serving.TaskPD, Name: "pd", Version: version}, {Task: serving.TaskViolation, Name: "violation", Version: "1"},
		{Task: serving.TaskLimit, Name: "limit", Version: "1"}}
	var out []*serving.Decision
	for i, c := range codes {
		out = append(out, &serving.Decision{Company: c, AsOf: asOf, PD: pdOf(i), Score: 700 - float64(i), Rating: policy.Rating("B"),
			Colour: policy.Colour("yellow"), Limit: 100000 * float64(i+1), Violation: 0.1, InspectionTier: policy.Tier("medium"),
			Models: models, PolicyVersion: "p1"})
	}
	return out
}

func TestWriteAndHistory(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	q1 := time.Date(2025, 9, 30, 0, 0, 0, 0, time.UTC)
	q2 := time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	// Written out of code order: the run sorts them.
	codes := []string{"C3", "C1", "C2"}
	if _, err := scores.Write(ctx, store, decisions(q1, "1", func(i int) float64 { return 0.01 * float64(i+1) }, codes...), now); err != nil {
		t.Fatal(err)
	}
	if _, err := scores.Write(ctx, store, decisions(q2, "1", func(i int) float64 { return 0.02 * float64(i+1) }, codes...), now); err != nil {
		t.Fatal(err)
	}
	// A new champion scores q2 again: its run replaces the first for that date.
	m, err := scores.Write(ctx, store, decisions(q2, "2", func(i int) float64 { return 0.05 * float64(i+1) }, "C3", "C2"), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if m.Companies != 2 || m.Run == scores.RunName(decisions(q2, "1", func(int) float64 { return 0 }, "x")[0].Models, "p1") {
		t.Fatalf("second run manifest %+v", m)
	}
	r := scores.NewReader(store, 0)
	got, err := r.History(ctx, "C2")
	if err != nil {
		t.Fatal(err)
	}
	// C2 was written third in q1 (pd 0.03) and second in the new q2 run (pd 0.10).
	if len(got) != 2 || got[0].AsOf != "2025-09-30" || got[0].PD != 0.03 || got[1].AsOf != "2025-12-31" || got[1].PD != 0.1 || got[1].Models[0].Version != "2" {
		t.Fatalf("history of C2: %+v", got)
	}
	// C1 is not in the newest q2 run: its history has q1 only.
	if got, err := r.History(ctx, "C1"); err != nil || len(got) != 1 || got[0].AsOf != "2025-09-30" || got[0].Limit != 200000 {
		t.Fatalf("history of C1: %+v, %v", got, err)
	}
	if got, err := r.History(ctx, "C9"); err != nil || len(got) != 0 {
		t.Fatalf("unknown company: %+v, %v", got, err)
	}
	// A part whose bytes changed is reported, not served.
	if _, err := blob.PutBytes(ctx, store, m.Part, []byte("not parquet")); err != nil {
		t.Fatal(err)
	}
	if _, err := scores.NewReader(store, 0).History(ctx, "C2"); !errors.Is(err, scores.ErrCorrupt) {
		t.Fatalf("corrupt part: %v, want ErrCorrupt", err)
	}
	// Mixed runs are refused before anything is written.
	mixed := append(decisions(q1, "1", func(int) float64 { return 0.1 }, "D1"), decisions(q2, "1", func(int) float64 { return 0.1 }, "D2")...)
	if _, err := scores.Write(ctx, store, mixed, now); !errors.Is(err, serving.ErrInvalidInput) {
		t.Fatalf("mixed dates: %v", err)
	}
}

// TestDrift: the first run of a model is its own baseline (PSI 0); a run whose
// PDs all fall in the baseline's top decile drifts by the PSI worked out by hand;
// a new model version starts a new baseline.
func TestDrift(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	codes := make([]string, 100)
	for i := range codes {
		codes[i] = fmt.Sprintf("C%03d", i)
	}
	day := func(m int) time.Time { return time.Date(2025, time.Month(m), 28, 0, 0, 0, 0, time.UTC) }
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(d time.Time, version string, pd func(i int) float64) {
		t.Helper()
		if _, err := scores.Write(ctx, store, decisions(d, version, pd, codes...), now); err != nil {
			t.Fatal(err)
		}
	}
	write(day(3), "1", func(i int) float64 { return float64(i) / 100 })      // uniform over 0 .. 0.99
	write(day(6), "1", func(i int) float64 { return 0.9 + float64(i)/1000 }) // all in the top decile
	write(day(9), "2", func(i int) float64 { return 0.9 + float64(i)/1000 }) // a new model: its own baseline
	got, err := scores.Drift(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	var pd []scores.DriftPoint
	for _, p := range got {
		if p.Task == serving.TaskPD {
			pd = append(pd, p)
		}
	}
	// By hand: baseline shares 0.1 in each of 10 deciles; the shifted run has
	// share 1 in the top one and 0 (counted as 1e-4) in the other nine.
	want := 9*(1e-4-0.1)*math.Log(1e-4/0.1) + (1-0.1)*math.Log(1/0.1)
	if len(pd) != 3 || pd[0].PSI != 0 || pd[0].Level != "stable" || pd[0].Baseline != "2025-03-28" ||
		math.Abs(pd[1].PSI-want) > 1e-9 || pd[1].Level != "act" || pd[1].Baseline != "2025-03-28" ||
		pd[2].PSI != 0 || pd[2].Baseline != "2025-09-28" || pd[2].Version != "2" {
		t.Fatalf("PD drift %+v, want PSI %.4f for the shifted run", pd, want)
	}
}
