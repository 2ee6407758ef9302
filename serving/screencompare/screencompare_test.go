package screencompare

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/serving"
)

type names map[string]datasets.CompanyRow

func (n names) Company(code string) (datasets.CompanyRow, bool) { r, ok := n[code]; return r, ok }

// pair is a hand-built pair of screenings of six companies each:
//
//	earlier a: C1 0.80 high, C2 0.60 high, C3 0.30 medium, C4 0.20 medium, C5 0.05 low, C6 0.02 low
//	later   b: C5 0.70 high, C1 0.65 high, C7 0.55 high, C3 0.35 medium, C2 0.25 medium, C4 0.04 low
//
// By hand: C1 high→high (−0.15), C2 high→medium (−0.35), C3 medium→medium
// (+0.05), C4 medium→low (−0.16), C5 low→high (+0.65, two tiers up); C7 is new
// (high), C6 gone (low).
func pair() (*serving.ScreenResult, *serving.ScreenResult) {
	rows := func(spec string) []serving.ScreenRow {
		var out []serving.ScreenRow
		for i, f := range strings.Fields(spec) {
			var code, tier string
			var p float64
			parts := strings.Split(f, ":")
			code, tier = parts[0], parts[2]
			fmt.Sscan(parts[1], &p)
			out = append(out, serving.ScreenRow{Rank: i + 1, Company: code, Probability: p, Tier: tier})
		}
		return out
	}
	a := &serving.ScreenResult{ID: "a", Task: serving.TaskViolation, Model: serving.ModelRef{Name: "violation", Version: "1"},
		Rows: rows("C1:0.80:high C2:0.60:high C3:0.30:medium C4:0.20:medium C5:0.05:low C6:0.02:low")}
	b := &serving.ScreenResult{ID: "b", Task: serving.TaskViolation, Model: serving.ModelRef{Name: "violation", Version: "2"},
		Rows: rows("C5:0.70:high C1:0.65:high C7:0.55:high C3:0.35:medium C2:0.25:medium C4:0.04:low")}
	return a, b
}

func codes(l Listed) string {
	var out []string
	for _, m := range l.Companies {
		out = append(out, m.Company)
	}
	return strings.Join(out, " ")
}

func TestBetweenHandBuiltPair(t *testing.T) {
	a, b := pair()
	dir := names{"C5": {Name: "佛山市高明区恒达制造有限公司", DistrictName: "高明区", Industry: "C"}}
	c, err := Between(a, b, dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c.InBoth != 5 || c.New != 1 || c.Gone != 1 || c.NewByTier["high"] != 1 || c.GoneByTier["low"] != 1 {
		t.Fatalf("in both %d, new %d %v, gone %d %v", c.InBoth, c.New, c.NewByTier, c.Gone, c.GoneByTier)
	}
	if c.Up != 1 || c.Down != 2 || c.Same != 2 {
		t.Fatalf("up %d down %d same %d, want 1 2 2", c.Up, c.Down, c.Same)
	}
	want := map[[2]string]int{{"high", "high"}: 1, {"high", "medium"}: 1, {"medium", "medium"}: 1, {"medium", "low"}: 1, {"low", "high"}: 1}
	if len(c.Transitions) != 9 {
		t.Fatalf("%d transitions, want 3 × 3", len(c.Transitions))
	}
	for i, tr := range c.Transitions {
		if tr.From != Tiers[i/3] || tr.To != Tiers[i%3] || tr.Count != want[[2]string{tr.From, tr.To}] {
			t.Errorf("transition %d %+v, want %s→%s %d", i, tr, Tiers[i/3], Tiers[i%3], want[[2]string{Tiers[i/3], Tiers[i%3]}])
		}
	}
	// Entered the top tier: C5 (0.70) and the new C7 (0.55); left it: C2.
	if got := codes(c.EnteredTop); got != "C5 C7" || c.EnteredTop.Count != 2 {
		t.Errorf("entered top %q (%d)", got, c.EnteredTop.Count)
	}
	if n := c.EnteredTop.Companies[1]; n.FromTier != "" || n.FromRank != 0 || n.ToRank != 3 {
		t.Errorf("new company %+v", n)
	}
	if got := codes(c.LeftTop); got != "C2" || c.LeftTop.Count != 1 {
		t.Errorf("left top %q", got)
	}
	// Rose: C5 (two tiers), C3 (+0.05 in its tier). Fell: C2 and C4 (a tier
	// each, C2 by more), then C1 (−0.15 in its tier); cut at 2 of 3.
	if got := codes(c.Rose); got != "C5 C3" || c.Rose.Count != 2 {
		t.Errorf("rose %q", got)
	}
	if got := codes(c.Fell); got != "C2 C4" || c.Fell.Count != 3 {
		t.Errorf("fell %q (%d)", got, c.Fell.Count)
	}
	m := c.Rose.Companies[0]
	if m.Steps != 2 || m.FromRank != 5 || m.ToRank != 1 || m.Name != "佛山市高明区恒达制造有限公司" || m.District != "高明区" || m.IndustryName != "制造业" {
		t.Errorf("C5 %+v", m)
	}
	if d := m.Change - 0.65; d > 1e-12 || d < -1e-12 {
		t.Errorf("C5 change %v, want 0.65", m.Change)
	}
	if f := c.Fell.Companies[0]; f.Steps != -1 || f.Name != "" {
		t.Errorf("C2 %+v (not in the registry: no name)", f)
	}
	if c.From.Model != "violation:1" || c.To.Model != "violation:2" {
		t.Errorf("models %q and %q", c.From.Model, c.To.Model)
	}
	if c.From.Companies != 6 || c.To.Companies != 6 {
		t.Errorf("refs %+v %+v", c.From, c.To)
	}
}

func TestBetweenRefuses(t *testing.T) {
	a, b := pair()
	pd := *b
	pd.Task = serving.TaskPD
	if _, err := Between(a, &pd, nil, 0); !errors.Is(err, serving.ErrInvalidInput) || !strings.Contains(err.Error(), "one task") {
		t.Errorf("two tasks: %v", err)
	}
	bad := *b
	bad.Rows = append([]serving.ScreenRow(nil), b.Rows...)
	bad.Rows[0].Tier = "urgent"
	if _, err := Between(a, &bad, nil, 0); !errors.Is(err, serving.ErrInvalidInput) || !strings.Contains(err.Error(), "urgent") {
		t.Errorf("unknown tier: %v", err)
	}
	dup := *b
	dup.Rows = append(append([]serving.ScreenRow(nil), b.Rows...), b.Rows[0])
	if _, err := Between(a, &dup, nil, 0); !errors.Is(err, serving.ErrInvalidInput) || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a company twice: %v", err)
	}
}

// jobs hands out the pair to its owner and refuses everyone else, as the
// screener does (an unknown job).
type jobs struct {
	owner int64
	byID  map[string]serving.Job
}

func (j jobs) Get(_ context.Context, p serving.Principal, id string) (serving.Job, error) {
	job, ok := j.byID[id]
	if !ok || p.InstitutionID != j.owner {
		return serving.Job{}, fmt.Errorf("%w: %q", serving.ErrUnknownJob, id)
	}
	return job, nil
}

func TestCompare(t *testing.T) {
	a, b := pair()
	js := jobs{owner: 7, byID: map[string]serving.Job{
		"a":   {ID: "a", State: serving.JobDone, Result: a},
		"b":   {ID: "b", State: serving.JobDone, Result: b},
		"run": {ID: "run", State: serving.JobRunning},
	}}
	c, err := New(Options{Jobs: js})
	if err != nil {
		t.Fatal(err)
	}
	p := serving.Principal{InstitutionID: 7}
	got, err := c.Compare(context.Background(), p, "a", "b", Query{})
	if err != nil || got.InBoth != 5 || got.Fell.Count != 3 || len(got.Fell.Companies) != 3 {
		t.Fatalf("compare: %+v %v", got, err)
	}
	for name, tc := range map[string]struct {
		p        serving.Principal
		from, to string
		q        Query
		want     error
	}{
		"another institution": {serving.Principal{InstitutionID: 8}, "a", "b", Query{}, serving.ErrUnknownJob},
		"itself":              {p, "a", "a", Query{}, serving.ErrInvalidInput},
		"running":             {p, "a", "run", Query{}, ErrNotDone},
		"limit":               {p, "a", "b", Query{Limit: MaxLimit + 1}, serving.ErrInvalidInput},
		"unknown":             {p, "a", "zz", Query{}, serving.ErrUnknownJob},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.Compare(context.Background(), tc.p, tc.from, tc.to, tc.q); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}
