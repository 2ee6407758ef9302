package riskindex_test

import (
	"context"
	"errors"
	"math"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/riskindex"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

// TestIndexFromScoreHistory writes two scored dates for a generated region and
// checks every cell against a plain recomputation in the test: counts, red and
// yellow codes, mean PD and the index by the published formula; small cells are
// suppressed; recomputing gives the same figures.
func TestIndexFromScoreHistory(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: 600, Months: 13, Seed: 3, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	dates := []time.Time{time.Date(2023, 9, 30, 0, 0, 0, 0, time.UTC), time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC)}
	models := []serving.ModelVersion{{Task: serving.TaskPD, Name: "pd", Version: "1"}}
	type fig struct {
		pd     float64
		colour string
	}
	figures := map[string]map[string]fig{} // date → code → figures
	for di, d := range dates {
		dir, err := datasets.LoadDirectory(ctx, store, datasets.DayOf(d))
		if err != nil {
			t.Fatal(err)
		}
		day := d.Format(time.DateOnly)
		figures[day] = map[string]fig{}
		var ds []*serving.Decision
		for i, code := range dir.Codes() {
			f := fig{pd: float64((i*7+di*3)%50) / 100, colour: []string{"blue", "green", "yellow", "red"}[(i+di)%4]}
			figures[day][code] = f
			ds = append(ds, &serving.Decision{Company: code, AsOf: d, PD: f.pd, Colour: policy.Colour(f.colour), Rating: "B",
				InspectionTier: "low", Models: models, PolicyVersion: "p"})
		}
		if _, err := scores.Write(ctx, store, ds, d); err != nil {
			t.Fatal(err)
		}
	}
	m := riskindex.V1
	got, err := riskindex.Compute(ctx, store, riskindex.District, m)
	if err != nil {
		t.Fatal(err)
	}
	// The recomputation: group each date's figures by the registry's district.
	type acc struct {
		n, red, yellow int
		pd             float64
	}
	want := map[[2]string]*acc{}
	for _, d := range dates {
		dir, _ := datasets.LoadDirectory(ctx, store, datasets.DayOf(d))
		day := d.Format(time.DateOnly)
		for code, f := range figures[day] {
			c, _ := dir.Company(code)
			k := [2]string{day, c.DistrictName}
			if want[k] == nil {
				want[k] = &acc{}
			}
			a := want[k]
			a.n++
			a.pd += f.pd
			if f.colour == "red" {
				a.red++
			}
			if f.colour == "yellow" {
				a.yellow++
			}
		}
	}
	if len(got.Cells) != len(want) {
		t.Fatalf("%d cells, want %d", len(got.Cells), len(want))
	}
	suppressed := 0
	for _, c := range got.Cells {
		a := want[[2]string{c.AsOf, c.District}]
		if a == nil || c.Companies != a.n {
			t.Fatalf("cell %+v, want %+v", c, a)
		}
		if a.n < m.MinCompanies {
			suppressed++
			if !c.Suppressed || c.Index != 0 || c.MeanPD != 0 || c.Red != 0 {
				t.Fatalf("small cell not suppressed: %+v", c)
			}
			continue
		}
		meanPD := a.pd / float64(a.n)
		index := 100 * (0.4*float64(a.red)/float64(a.n) + 0.2*float64(a.yellow)/float64(a.n) + 0.4*math.Min(1, meanPD/0.2))
		if c.Suppressed || c.Red != a.red || c.Yellow != a.yellow || math.Abs(c.MeanPD-meanPD) > 1e-12 || math.Abs(c.Index-index) > 0.05 {
			t.Fatalf("cell %+v: want red %d yellow %d mean PD %.6f index %.2f", c, a.red, a.yellow, meanPD, index)
		}
	}
	t.Logf("%d district cells over 2 dates, %d suppressed", len(got.Cells), suppressed)
	again, err := riskindex.Compute(ctx, store, riskindex.District, m)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again.Cells {
		if again.Cells[i] != got.Cells[i] {
			t.Fatalf("recomputed cell %d differs: %+v vs %+v", i, again.Cells[i], got.Cells[i])
		}
	}
	// District × industry cells are small enough that some are suppressed.
	both, err := riskindex.Compute(ctx, store, riskindex.Both, m)
	if err != nil {
		t.Fatal(err)
	}
	small := 0
	for _, c := range both.Cells {
		if (c.Companies < m.MinCompanies) != c.Suppressed || (c.Suppressed && (c.Index != 0 || c.MeanPD != 0 || c.Red != 0 || c.Yellow != 0)) {
			t.Fatalf("cell %+v", c)
		}
		if c.Suppressed {
			small++
		}
		if c.Industry != "" && c.IndustryName == "" {
			t.Fatalf("industry %q without its name", c.Industry)
		}
	}
	if small == 0 {
		t.Fatalf("no small district × industry cell among %d", len(both.Cells))
	}
	// The whole region is one cell a date; a bad level is refused.
	region, err := riskindex.Compute(ctx, store, riskindex.Region, m)
	if err != nil || len(region.Cells) != 2 {
		t.Fatalf("region: %v %+v", err, region)
	}
	if _, err := riskindex.Compute(ctx, store, riskindex.Level("street"), m); err == nil {
		t.Fatal("level street accepted")
	}

	// Movers: the same comparison worked out here from the figures written above.
	rank := map[string]int{"blue": 0, "green": 1, "yellow": 2, "red": 3}
	from, to := figures["2023-09-30"], figures["2023-12-31"]
	type mv struct {
		code   string
		colour int
		dpd    float64
	}
	var expect []mv
	for code, b := range to {
		if a, ok := from[code]; ok {
			expect = append(expect, mv{code, rank[b.colour] - rank[a.colour], b.pd - a.pd})
		}
	}
	worseThan := func(x, y mv) bool { // x ranks before y among the worse
		if x.colour != y.colour {
			return x.colour > y.colour
		}
		if x.dpd != y.dpd {
			return x.dpd > y.dpd
		}
		return x.code < y.code
	}
	sort.Slice(expect, func(i, j int) bool { return worseThan(expect[i], expect[j]) })
	mov, err := riskindex.FindMovers(ctx, store, riskindex.MoverFilter{Limit: 15})
	if err != nil {
		t.Fatal(err)
	}
	if mov.From != "2023-09-30" || mov.To != "2023-12-31" || mov.Compared != len(expect) || len(mov.Worse) != 15 || len(mov.Better) != 15 {
		t.Fatalf("movers: %s → %s, %d compared (want %d), %d worse, %d better", mov.From, mov.To, mov.Compared, len(expect), len(mov.Worse), len(mov.Better))
	}
	for i, w := range mov.Worse {
		if w.Company != expect[i].code {
			t.Fatalf("worse #%d: %s, want %s", i+1, w.Company, expect[i].code)
		}
	}
	for i, b := range mov.Better {
		if b.Company != expect[len(expect)-1-i].code {
			t.Fatalf("better #%d: %s, want %s", i+1, b.Company, expect[len(expect)-1-i].code)
		}
	}
	one := mov.Worse[0].District
	inOne, err := riskindex.FindMovers(ctx, store, riskindex.MoverFilter{District: one, Limit: 500})
	if err != nil || inOne.Compared == 0 || inOne.Compared >= mov.Compared {
		t.Fatalf("district %s: %v %+v", one, err, inOne)
	}
	for _, w := range slices.Concat(inOne.Worse, inOne.Better) {
		if w.District != one || w.Name == "" {
			t.Fatalf("a mover of another district or without a name: %+v", w)
		}
	}
	if _, err := riskindex.FindMovers(ctx, store, riskindex.MoverFilter{From: "2023-12-31", To: "2023-09-30"}); !errors.Is(err, riskindex.ErrNoRuns) {
		t.Fatalf("reversed dates: %v", err)
	}
	if _, err := riskindex.FindMovers(ctx, store, riskindex.MoverFilter{To: "2024-01-31"}); !errors.Is(err, riskindex.ErrNoRuns) {
		t.Fatalf("a date never scored: %v", err)
	}

	// Guarantee circles of the newest scored date, ranked by risk and by exposure;
	// each circle is the one the network gives each member, and its figures are
	// those written above.
	circles := riskindex.NewCircles(store)
	g, err := features.LoadGuaranteeNetwork(ctx, store, dates[1], 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, sortBy := range []string{"risk", "exposure"} {
		rep, err := circles.Rank(ctx, sortBy, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Circles == 0 || len(rep.Top) != rep.Circles || rep.ScoresAsOf != "2023-12-31" {
			t.Fatalf("%s: %d circles, %d listed, scores of %s", sortBy, rep.Circles, len(rep.Top), rep.ScoresAsOf)
		}
		for i, c := range rep.Top {
			codes := make([]string, len(c.Members))
			for k, m := range c.Members {
				codes[k] = m.Company
				if f := to[m.Company]; !m.Scored || m.PD != f.pd || m.Colour != f.colour {
					t.Fatalf("member %s: %+v, written %+v", m.Company, m, f)
				}
			}
			if circle, _ := g.Circle(codes[0]); !slices.Equal(circle, codes) {
				t.Fatalf("circle %v, the network says %v", codes, circle)
			}
			if i == 0 {
				continue
			}
			prev := rep.Top[i-1]
			if sortBy == "exposure" && prev.Given < c.Given || sortBy == "risk" && prev.Defaulted < c.Defaulted {
				t.Fatalf("%s: circle %d out of order: %+v before %+v", sortBy, i, prev, c)
			}
		}
	}
	if _, err := circles.Rank(ctx, "size", 0); !errors.Is(err, riskindex.ErrInput) {
		t.Fatalf("a bad sort: %v", err)
	}
}

// TestSpearman checks the rank correlation against values worked out by hand.
func TestSpearman(t *testing.T) {
	for _, c := range []struct {
		x, y []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{[]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		// Ranks x 1,2,3,4,5 and y 2,1,4,3,5: d² = 1+1+1+1+0 = 4, ρ = 1 − 6·4/(5·24) = 0.8.
		{[]float64{1, 2, 3, 4, 5}, []float64{0.2, 0.1, 0.4, 0.3, 0.5}, 0.8},
	} {
		if got := riskindex.Spearman(c.x, c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("spearman(%v, %v) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
	if !math.IsNaN(riskindex.Spearman([]float64{1, 2}, []float64{1, 2})) {
		t.Error("two points gave a correlation")
	}
}

// TestReportValidation reports, for a store that has a score history (a demo
// folder: XINYI_RISK_STORE=./xinyi-data), how each scored date's district ×
// industry cells rank the defaults of the next 12 months. A report, not a check:
// it is skipped without the variable.
func TestReportValidation(t *testing.T) {
	dir := os.Getenv("XINYI_RISK_STORE")
	if dir == "" {
		t.Skip("set XINYI_RISK_STORE to a store with a score history")
	}
	store, err := blob.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, level := range []riskindex.Level{riskindex.District, riskindex.Industry, riskindex.Both} {
		vs, err := riskindex.Validate(context.Background(), store, level, riskindex.V1, 12)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			t.Logf("%-17s as of %s: %3d cells, %4d defaults in the next 12 months, Spearman %.2f", level, v.AsOf, v.Cells, v.Defaults, v.Spearman)
		}
	}
}
