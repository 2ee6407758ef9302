package serving

import (
	"context"
	"math"
	"testing"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/serving/modeldrift"
)

// TestDriftView: one model's points become the score series first, then the
// indicators by gain with their catalog names, a PSI per date (NaN where a
// date has none) and the newest date's level; other models' points stay out.
func TestDriftView(t *testing.T) {
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	pt := func(model, kind, ind string, gain float64, asof string, psi float64) modeldrift.Point {
		return modeldrift.Point{Model: model, Version: "3", Kind: kind, Indicator: ind, Gain: gain, AsOf: asof, Baseline: "s/v1",
			BaselineKind: modeldrift.BaselineSample, PSI: psi, Level: modeldrift.LevelOf(psi)}
	}
	rep := &modeldrift.Report{Points: []modeldrift.Point{
		pt("m", modeldrift.KindIndicator, "court.amount.count_24m", 0.2, "2025-02-28", 0.05),
		pt("m", modeldrift.KindIndicator, "tax.tax_paid.sum_12m", 0.5, "2025-01-31", 0.01),
		pt("m", modeldrift.KindScore, "score", 0, "2025-01-31", 0),
		pt("m", modeldrift.KindIndicator, "tax.tax_paid.sum_12m", 0.5, "2025-02-28", 0.3),
		pt("m", modeldrift.KindScore, "score", 0, "2025-02-28", 0.12),
		pt("other", modeldrift.KindScore, "score", 0, "2025-03-31", 0.9),
	}}
	d := NewDrift(func(context.Context) (*modeldrift.Report, error) { return rep, nil }, cat)
	v, err := d.ModelDrift(context.Background(), lab.Principal{}, "m")
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != "3" || v.Baseline != "s/v1" || len(v.Dates) != 2 || v.Dates[0] != "2025-01-31" || v.Dates[1] != "2025-02-28" {
		t.Fatalf("view %+v", v)
	}
	want := []struct {
		ind, level, nameZH string
		psi                []float64
	}{
		{"score", "watch", "", []float64{0, 0.12}},
		{"tax.tax_paid.sum_12m", "act", "近12个月纳税总额合计", []float64{0.01, 0.3}},
		{"court.amount.count_24m", "stable", "近24个月涉诉记录次数", []float64{math.NaN(), 0.05}},
	}
	if len(v.Series) != len(want) {
		t.Fatalf("%d series, want %d", len(v.Series), len(want))
	}
	for i, w := range want {
		s := v.Series[i]
		if s.Indicator != w.ind || s.Level != w.level || s.NameZH != w.nameZH || s.Latest != w.psi[1] {
			t.Fatalf("series %d %+v, want %+v", i, s, w)
		}
		for j := range w.psi {
			if s.PSI[j] != w.psi[j] && !(math.IsNaN(s.PSI[j]) && math.IsNaN(w.psi[j])) {
				t.Fatalf("series %s PSI %v, want %v", s.Indicator, s.PSI, w.psi)
			}
		}
	}
	if v, err := d.ModelDrift(context.Background(), lab.Principal{}, "never-scored"); err != nil || len(v.Dates) != 0 {
		t.Fatalf("a model without points: %+v %v", v, err)
	}
}
