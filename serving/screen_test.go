package serving

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving/policy"
)

// screenPopulation: five companies; violation margins by hand from stump_violation.txt
// (tree0 on circle: -2.5 / 1.5, tree1 on dishonest: -0.5 / 2; NaN goes left).
func screenPopulation(t testing.TB) (*Population, []string) {
	codes := []string{testCode(t, "MA000001"), testCode(t, "MA000002"), testCode(t, "MA000003"), testCode(t, "MA000004"), testCode(t, "MA000005")}
	return &Population{Set: testSet, AsOf: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), Codes: codes, Values: []float64{
		150, 0, 0, // -3
		80, 1, 1, // 3.5
		80, 0, 1, // 1.0
		150, 1, 0, // -0.5
		150, 0, math.NaN(), // -3
	}}, codes
}

func TestScreen(t *testing.T) {
	e := newEnv(t)
	pop, codes := screenPopulation(t)
	reg := regulatorP
	var progress int
	res, err := e.svc.Screen(context.Background(), reg, pop, ScreenOptions{Workers: 2, Progress: func(d, _ int) { progress = max(progress, d) }})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		code    string
		margin  float64
		tier    string
		reasons string
	}{
		{codes[1], 3.5, "high", "network.circle_defaulted|court.dishonest_debtor"}, // contributions 3.2, 2.25
		{codes[2], 1.0, "high", "network.circle_defaulted"},                        // 3.2, -0.25
		{codes[3], -0.5, "high", "court.dishonest_debtor"},                         // -0.8, 2.25
		{codes[0], -3, "low", ""},
		{codes[4], -3, "low", ""},
	}
	for i, w := range want {
		r := res.Rows[i]
		if r.Rank != i+1 || r.Company != w.code || !near(r.Probability, sigmoid(w.margin)) || r.Tier != w.tier || r.Reasons != w.reasons {
			t.Errorf("row %d = %+v, want %s p=%v %s %q", i, r, w.code, sigmoid(w.margin), w.tier, w.reasons)
		}
	}
	if res.TierCounts[policy.High] != 3 || res.TierCounts[policy.Low] != 2 || !near(res.Inspections, 3.2) || progress != 5 {
		t.Errorf("tiers %v inspections %v progress %d", res.TierCounts, res.Inspections, progress)
	}
	en := lastEntry(t, e.audit)
	if en.Action != "screening" || en.Outcome != audit.OutcomeOK || en.Actor != "inspector@amr-shangyu/k2" {
		t.Errorf("audit %+v", en)
	}

	// Stored and read back.
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	infos, err := WriteScreening(context.Background(), store, res)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].Key != "screenings/"+res.ID+"/result.parquet" || infos[1].Key != "screenings/"+res.ID+"/result.csv" {
		t.Fatalf("objects %+v", infos)
	}
	back, err := ReadScreening(context.Background(), store, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 5 || back[0] != res.Rows[0] || back[4] != res.Rows[4] {
		t.Fatalf("read back %+v", back)
	}
}

func TestScreenRefusals(t *testing.T) {
	e := newEnv(t)
	pop, _ := screenPopulation(t)
	if _, err := e.svc.Screen(context.Background(), e.bank, pop, ScreenOptions{}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("bank screening: %v", err)
	}
	if lastEntry(t, e.audit).Outcome != audit.OutcomeRefused {
		t.Error("refused screening not audited")
	}
	reg := regulatorP
	other := *pop
	other.Set = FeatureSet{Name: "credit", Version: 2, Indicators: testSet.Indicators}
	if _, err := e.svc.Screen(context.Background(), reg, &other, ScreenOptions{}); !errors.Is(err, ErrFeatureSetMismatch) {
		t.Fatalf("wrong population: %v", err)
	}
	short := *pop
	short.Values = short.Values[:7]
	if _, err := e.svc.Screen(context.Background(), reg, &short, ScreenOptions{}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("ragged population: %v", err)
	}
	if _, err := e.svc.Screen(context.Background(), reg, pop, ScreenOptions{Task: TaskLimit}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("limit screening: %v", err)
	}
}

type fixedPopulation struct{ pop *Population }

func (f fixedPopulation) Population(context.Context, FeatureSet) (*Population, error) {
	return f.pop, nil
}

func TestScreenerJobs(t *testing.T) {
	e := newEnv(t)
	pop, codes := screenPopulation(t)
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScreener(ScreenerOptions{Service: e.svc, Source: fixedPopulation{pop}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	reg := regulatorP
	if _, err := s.Start(context.Background(), e.bank, TaskViolation); !errors.Is(err, ErrForbidden) {
		t.Fatalf("bank job: %v", err)
	}
	j, err := s.Start(context.Background(), reg, "")
	if err != nil {
		t.Fatal(err)
	}
	s.Wait()
	got, err := s.Get(context.Background(), reg, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != JobDone || got.Done != 5 || got.Total != 5 || len(got.Objects) != 2 || got.Result.Rows[0].Company != codes[1] {
		t.Fatalf("job %+v", got)
	}
	if _, err := s.Get(context.Background(), otherRegulatorP, j.ID); !errors.Is(err, ErrUnknownJob) {
		t.Fatalf("other institution sees the job: %v", err)
	}
	rows, err := ReadScreening(context.Background(), store, j.ID)
	if err != nil || len(rows) != 5 {
		t.Fatalf("stored rows %d, %v", len(rows), err)
	}
}

// failingPopulation is a snapshot store that is down.
type failingPopulation struct{}

func (failingPopulation) Population(context.Context, FeatureSet) (*Population, error) {
	return nil, fmt.Errorf("%w: object store: connection refused", ErrUnavailable)
}

// TestScreeningRefusalsAndFailuresAreAudited: a screening refused by the access
// layer and one ended by a store outage each leave a record naming who asked and why.
func TestScreeningRefusalsAndFailuresAreAudited(t *testing.T) {
	e := newEnv(t)
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScreener(ScreenerOptions{Service: e.svc, Source: failingPopulation{}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Start(ctx, e.bank, TaskViolation); !errors.Is(err, ErrForbidden) {
		t.Fatalf("bank: %v", err)
	}
	en := lastEntry(t, e.audit)
	if en.Outcome != audit.OutcomeRefused || en.Action != "region.screen" || en.Subject != "population:credit/v3" || en.Actor != e.bank.Actor() {
		t.Fatalf("refusal record %+v", en)
	}
	j, err := s.Start(ctx, regulatorP, TaskPD)
	if err != nil {
		t.Fatal(err)
	}
	s.Wait()
	got, err := s.Get(ctx, regulatorP, j.ID)
	if err != nil || got.State != JobFailed {
		t.Fatalf("job %+v, %v", got, err)
	}
	en = lastEntry(t, e.audit)
	if en.Outcome != audit.OutcomeFailed || en.Action != "screening" || en.Subject != "screening:"+j.ID || en.Actor != regulatorP.Actor() ||
		!strings.Contains(en.Reason, "connection refused") {
		t.Fatalf("failure record %+v", en)
	}
}
