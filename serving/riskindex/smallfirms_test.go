package riskindex_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/riskindex"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

// TestSmallFirms scores a generated region on one date and checks the small-firm
// clusters against a recomputation here: each firm's headcount is the newest
// social insurance row visible on the date found by scanning every month, the
// cells grouped by the registry, the index by the published formula.
func TestSmallFirms(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := riskindex.SmallFirms(ctx, store, riskindex.V1, 0, 0); !errors.Is(err, riskindex.ErrNoRuns) {
		t.Fatalf("nothing scored: %v", err)
	}
	if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: 800, Months: 13, Seed: 4, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	d := time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC)
	day := datasets.DayOf(d)
	dir, err := datasets.LoadDirectory(ctx, store, day)
	if err != nil {
		t.Fatal(err)
	}
	type fig struct {
		pd     float64
		colour string
	}
	figures := map[string]fig{}
	var ds []*serving.Decision
	for i, code := range dir.Codes() {
		f := fig{pd: float64((i*11)%40) / 100, colour: []string{"blue", "green", "yellow", "red", "green"}[i%5]}
		figures[code] = f
		ds = append(ds, &serving.Decision{Company: code, AsOf: d, PD: f.pd, Colour: policy.Colour(f.colour), Rating: "B", InspectionTier: "low",
			Models: []serving.ModelVersion{{Task: serving.TaskPD, Name: "pd", Version: "1"}}, PolicyVersion: "p"})
	}
	if _, err := scores.Write(ctx, store, ds, d); err != nil {
		t.Fatal(err)
	}
	// Headcounts by scanning every month of the source.
	src, _ := datasets.SourceByName(datasets.SourceSocialInsurance)
	months, err := datasets.Months(ctx, store, src)
	if err != nil {
		t.Fatal(err)
	}
	latest := map[string]datasets.SocialInsuranceRow{}
	for _, m := range months {
		rows, err := datasets.ReadMonth[datasets.SocialInsuranceRow](ctx, store, src, m)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.EventDate > day || r.ArrivalDate > day {
				continue
			}
			b, ok := latest[r.Code]
			if !ok || r.EventDate > b.EventDate || (r.EventDate == b.EventDate && r.Revision > b.Revision) {
				latest[r.Code] = r
			}
		}
	}
	m := riskindex.V1
	m.MinCompanies = 5
	type acc struct {
		all, n, red, yellow int
		pd, allPD           float64
		allRed, allYellow   int
	}
	want := map[[2]string]*acc{}
	small, scored := 0, 0
	for code, f := range figures {
		c, _ := dir.Company(code)
		k := [2]string{c.DistrictName, c.Industry}
		if want[k] == nil {
			want[k] = &acc{}
		}
		a := want[k]
		scored++
		a.all++
		a.allPD += f.pd
		a.allRed += map[bool]int{true: 1}[f.colour == "red"]
		a.allYellow += map[bool]int{true: 1}[f.colour == "yellow"]
		r, ok := latest[code]
		// Only rows of the last three months count as known.
		if !ok || r.EventDate.Month() < day.Month()-2 || r.Insured >= 20 {
			continue
		}
		small++
		a.n++
		a.pd += f.pd
		a.red += map[bool]int{true: 1}[f.colour == "red"]
		a.yellow += map[bool]int{true: 1}[f.colour == "yellow"]
	}
	rep, err := riskindex.SmallFirms(ctx, store, m, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if rep.AsOf != "2023-12-31" || rep.Headcount != 20 || rep.Scored != scored || rep.Small != small || small == 0 {
		t.Fatalf("report %+v, want %d scored, %d small", rep, scored, small)
	}
	shown, suppressed := 0, 0
	for _, a := range want {
		switch {
		case a.n >= m.MinCompanies:
			shown++
		case a.n > 0:
			suppressed++
		}
	}
	if rep.Clusters != shown || len(rep.Top) != shown || rep.Suppressed != suppressed || shown == 0 {
		t.Fatalf("%d clusters (%d listed), %d suppressed; want %d and %d", rep.Clusters, len(rep.Top), rep.Suppressed, shown, suppressed)
	}
	index := func(red, yellow, n int, pd float64) float64 {
		return 100 * (0.4*float64(red)/float64(n) + 0.2*float64(yellow)/float64(n) + 0.4*math.Min(1, pd/float64(n)/0.2))
	}
	for i, c := range rep.Top {
		a := want[[2]string{c.District, c.Industry}]
		if a == nil || c.Companies != a.n || c.CellCompanies != a.all || c.Red != a.red || c.Yellow != a.yellow ||
			math.Abs(c.MeanPD-a.pd/float64(a.n)) > 1e-12 || math.Abs(c.Index-index(a.red, a.yellow, a.n, a.pd)) > 0.05 ||
			math.Abs(c.CellIndex-index(a.allRed, a.allYellow, a.all, a.allPD)) > 0.05 || c.IndustryName == "" {
			t.Fatalf("cluster %+v, want %+v", c, a)
		}
		if i > 0 && c.Index > rep.Top[i-1].Index {
			t.Fatalf("cluster %d (%.1f) ranked below a less risky one (%.1f)", i, c.Index, rep.Top[i-1].Index)
		}
	}
	t.Logf("%d scored, %d small, %d unknown; %d clusters, %d suppressed", rep.Scored, rep.Small, rep.Unknown, rep.Clusters, rep.Suppressed)
	if short, _ := riskindex.SmallFirms(ctx, store, m, 0, 2); len(short.Top) != 2 || short.Top[0] != rep.Top[0] {
		t.Fatalf("limit 2: %+v", short.Top)
	}
}
