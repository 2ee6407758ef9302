package features

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	xfeatures "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/lab"
)

func f(v float64) *float64 { return &v }

func TestIndicators(t *testing.T) {
	cat, err := xfeatures.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	a := NewIndicators(cat)
	all, err := a.Indicators(context.Background())
	if err != nil || len(all) != len(cat.Indicators()) {
		t.Fatalf("%d indicators, %v", len(all), err)
	}
	// features/catalog/indicators.yaml and sources.yaml.
	ind, err := a.Indicator(context.Background(), "tax.sales.sum_12m")
	if err != nil {
		t.Fatal(err)
	}
	if ind.NameZH != "近12个月开票销售额合计" || ind.Window != 12 || ind.Sensitivity != "confidential" || ind.SourceZH != "税务" || ind.Direction != "higher_better" {
		t.Fatalf("%+v", ind)
	}
	if _, err := a.Indicator(context.Background(), "no.such"); !errors.Is(err, lab.ErrNotFound) {
		t.Fatalf("unknown indicator: %v", err)
	}
}

func TestStatisticsFromManifests(t *testing.T) {
	ctx := context.Background()
	cat, err := xfeatures.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	set := cat.Sets()[0]
	id := set.Indicators[0]
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(asof time.Time, st xfeatures.IndicatorStats) {
		m := xfeatures.Manifest{Set: set.Name, Version: set.Version, AsOf: asof.Format(time.DateOnly), Rows: st.Rows, Label: "default_12m",
			Stats: []xfeatures.IndicatorStats{st}}
		b, _ := json.Marshal(m)
		if _, err := blob.PutBytes(ctx, store, xfeatures.ManifestKey(set.Name, set.Version, xfeatures.DayOf(asof)), b); err != nil {
			t.Fatal(err)
		}
	}
	stats := NewStatistics(store, cat)
	if _, err := stats.IndicatorStats(ctx, id); !errors.Is(err, lab.ErrNotFound) {
		t.Fatalf("before any snapshot: %v", err)
	}
	put(time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC), xfeatures.IndicatorStats{ID: id, Rows: 100, Present: 50, Coverage: 0.5, Min: f(0), Max: f(4), Histogram: []int64{50}})
	put(time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), xfeatures.IndicatorStats{ID: id, Rows: 120, Present: 90, Coverage: 0.75,
		Min: f(0), Max: f(10), Histogram: []int64{5, 3, 2, 0}, PSI: f(0.02), IV: f(0.3), AUC: f(0.65),
		IndustryMean: map[string]float64{"C": 1.5, "A": 0.5}})
	got, err := stats.IndicatorStats(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.AsOf != "2025-12-31" || got.Coverage != 0.75 || got.Companies != 120 {
		t.Fatalf("%+v", got)
	}
	// Four equal bins over [0, 10]: width 2.5.
	want := [][3]float64{{0, 2.5, 5}, {2.5, 5, 3}, {5, 7.5, 2}, {7.5, 10, 0}}
	if len(got.Histogram) != len(want) {
		t.Fatalf("bins %v", got.Histogram)
	}
	for i, b := range got.Histogram {
		if b.Lo != want[i][0] || b.Hi != want[i][1] || float64(b.Count) != want[i][2] {
			t.Fatalf("bin %d = %+v, want %v", i, b, want[i])
		}
	}
	if len(got.PSI) != 1 || got.PSI[0].PSI != 0.02 || got.PSI[0].AsOf != "2025-12-31" {
		t.Fatalf("PSI %+v", got.PSI)
	}
	if len(got.Power) < 1 || got.Power[0].IV != 0.3 || got.Power[0].AUC != 0.65 {
		t.Fatalf("power %+v", got.Power)
	}
	if len(got.Industry) != 2 || got.Industry[0].Industry != "A" || got.Industry[1].Mean != 1.5 {
		t.Fatalf("industry %+v", got.Industry)
	}
}

func TestBinsConstant(t *testing.T) {
	b := Bins(&xfeatures.IndicatorStats{Min: f(3), Max: f(3), Histogram: []int64{7, 0}})
	if len(b) != 1 || b[0].Lo != 3 || b[0].Hi != 4 || b[0].Count != 7 {
		t.Fatalf("%+v", b)
	}
	if Bins(&xfeatures.IndicatorStats{}) != nil {
		t.Fatal("bins without a histogram")
	}
}

func TestSamplesFromTheStore(t *testing.T) {
	ctx := context.Background()
	cat, err := xfeatures.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := xfeatures.SampleManifest{Name: "pd-2025", Version: 2, Set: "pd", SetVersion: 1, Indicators: []string{"a", "b", "c"},
		Label: xfeatures.LabelDef{Name: "default_12m"}, From: "2024-01-31", To: "2024-12-31", BuildAt: "2025-12-31",
		Splits: map[string]xfeatures.SampleSplit{
			"train": {FileRef: xfeatures.FileRef{Rows: 800}, Positives: 40},
			"valid": {FileRef: xfeatures.FileRef{Rows: 100}, Positives: 6},
			"test":  {FileRef: xfeatures.FileRef{Rows: 100}, Positives: 4},
		}}
	b, _ := json.Marshal(m)
	if _, err := blob.PutBytes(ctx, store, xfeatures.SamplePrefix(m.Name, m.Version)+"manifest.json", b); err != nil {
		t.Fatal(err)
	}
	s := NewSamples(store, cat)
	defer s.Close()
	got, err := s.Samples(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
	// 800+100+100 rows, 40+6+4 positives: 5%.
	g := got[0]
	if g.Rows != 1000 || g.Positives != 50 || g.PositiveRate() != 0.05 || g.FeatureSet != "pd/v1" || g.Features != 3 || g.Version != 2 {
		t.Fatalf("%+v", g)
	}
	if len(s.FeatureSets()) != len(cat.Sets()) || len(s.Labels()) != len(xfeatures.Labels) {
		t.Fatal("choices")
	}
	// No snapshot is materialized: the build fails and says why.
	id, err := s.BuildSample(ctx, lab.SampleRequest{Name: "x", FeatureSet: "pd/v1", From: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	s.Wait()
	jobs, _ := s.SampleJobs(ctx)
	if len(jobs) != 1 || jobs[0].ID != id || jobs[0].State != lab.JobFailed || !strings.Contains(jobs[0].Err, "no snapshot") {
		t.Fatalf("%+v", jobs)
	}
}

func TestSplitBilingual(t *testing.T) {
	for in, want := range map[string][2]string{
		"税务局 tax bureau":                              {"税务局", "tax bureau"},
		"供电/水务/燃气 power, water and gas utilities":     {"供电/水务/燃气", "power, water and gas utilities"},
		"市场监管局 market regulation (business registry)": {"市场监管局", "market regulation (business registry)"},
		"法院":     {"法院", "法院"},
		"courts": {"courts", "courts"},
	} {
		if zh, en := splitBilingual(in); zh != want[0] || en != want[1] {
			t.Errorf("%q: %q / %q, want %q / %q", in, zh, en, want[0], want[1])
		}
	}
}

// TestSourcesFromStore: with nothing delivered every source of the contracts is
// listed, never delivered and late, with its Chinese name and department.
func TestSourcesFromStore(t *testing.T) {
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	got, err := NewSources(store).SourceStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var tax *lab.SourceStatus
	for i := range got {
		if !got[i].Late || !got[i].LastArrival.IsZero() || got[i].Batches != 0 {
			t.Errorf("undelivered source %+v", got[i])
		}
		if got[i].Source == "tax" {
			tax = &got[i]
		}
	}
	if len(got) < 10 || tax == nil || tax.NameZH == "" || tax.DepartmentZH == "" || tax.DepartmentEN == "" || tax.DepartmentZH == tax.DepartmentEN {
		t.Fatalf("%d sources; tax %+v", len(got), tax)
	}
}
