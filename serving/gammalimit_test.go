package serving

import (
	"context"
	"math"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt"
)

// A gamma (log-link) limit model, testdata/stump_limit_gamma.txt: the stumps of
// stump_limit.txt with leaves on the log-yuan scale, by hand:
//
//	tree0 (tax <= 100): 12.5, else 14.2;  tree1 (dishonest <= 0.5): 0, else -0.5
//	good (tax 150, clean):  margin 14.2 + 0,  limit exp(14.2) = 1,468,864.2 yuan
//	bad  (tax 80, dishonest): margin 12.5 - 0.5 = 12, limit exp(12) yuan
//	TreeSHAP: tree0 mean (40·12.5 + 60·14.2)/100 = 13.52; tree1 mean (10·-0.5)/100 = -0.05
func TestScorerGammaLimit(t *testing.T) {
	sc, err := LoadScorer(readTestdata(t, "stump_limit_gamma.txt"), refFor(TaskLimit, "limit"), testSet)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Model().Objective != gbdt.Gamma || sc.Binary() {
		t.Fatalf("objective %s binary %v", sc.Model().Objective, sc.Binary())
	}
	nan := math.NaN()
	for _, tt := range []struct {
		name   string
		row    []float64
		margin float64
	}{
		{"good", []float64{150, 0, 0}, 14.2},
		{"bad", []float64{80, 1, 1}, 12},
		{"on threshold goes left", []float64{100, 0.5, 0}, 12.5},
		{"missing tax goes default left", []float64{nan, 0, 0}, 12.5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := sc.Margin(tt.row)
			if err != nil || math.Abs(m-tt.margin) > 1e-12 {
				t.Fatalf("margin %v, %v; want %v", m, err, tt.margin)
			}
			// leaves applies exp itself: Predict is the limit in yuan.
			got, err := sc.Predict(tt.row)
			if want := math.Exp(tt.margin); err != nil || math.Abs(got-want) > 1e-12*want {
				t.Fatalf("limit %v, %v; want exp(%v) = %v yuan", got, err, tt.margin, want)
			}
			if cols, _ := sc.PredictColumns(tt.row); cols != got {
				t.Errorf("PredictColumns %v, Predict %v", cols, got)
			}
			contrib := make([]float64, len(tt.row))
			exp, err := sc.Contributions(tt.row, contrib)
			if err != nil {
				t.Fatal(err)
			}
			if sum := exp + contrib[0] + contrib[1] + contrib[2]; !near(exp, 13.47) || !near(sum, tt.margin) {
				t.Errorf("expected %v (want 13.47), contributions sum to %v (want the margin %v)", exp, sum, tt.margin)
			}
		})
	}
	if _, err := LoadScorer(readTestdata(t, "stump_limit_gamma.txt"), refFor(TaskPD, "limit"), testSet); err == nil {
		t.Error("a gamma model was taken as a pd model")
	}
}

// TestAssessGammaLimit: a decision with a gamma limit model gets its limit in yuan
// through the policy (rating B: 0.8, round down to 10,000, cap 2,000,000), and the
// limit reasons on the log scale.
func TestAssessGammaLimit(t *testing.T) {
	e := newEnv(t)
	sc, err := LoadScorer(readTestdata(t, "stump_limit_gamma.txt"), ModelRef{Task: TaskLimit, Name: "xinyi-limit", Version: "2",
		FeatureSet: testSet.Name, FeatureSetVersion: testSet.Version}, testSet)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.models.Install(sc); err != nil {
		t.Fatal(err)
	}
	d, err := e.svc.Assess(context.Background(), e.bank, Request{Company: e.good})
	if err != nil {
		t.Fatal(err)
	}
	// exp(14.2) × 0.8 = 1,175,091.4, rounded down to 1,170,000.
	if want := math.Floor(math.Exp(14.2)*0.8/10000) * 10000; d.Rating != "B" || d.Limit != want || want != 1170000 {
		t.Errorf("rating %s limit %v, want B and %v", d.Rating, d.Limit, want)
	}
	d, err = e.svc.Assess(context.Background(), e.bank, Request{Company: e.bad})
	if err != nil {
		t.Fatal(err)
	}
	var got []Reason
	for _, r := range d.Reasons {
		if r.Model == TaskLimit {
			got = append(got, r)
		}
	}
	// tax: 12.5 - 13.52 = -1.02; dishonest: -0.5 - (-0.05) = -0.45 (log yuan).
	if d.Limit != 0 || len(got) != 2 || got[0].Indicator != "tax.paid.sum_12m" || !near(got[0].Contribution, -1.02) ||
		got[1].Indicator != "court.dishonest_debtor" || !near(got[1].Contribution, -0.45) {
		t.Errorf("limit %v, limit reasons %+v", d.Limit, got)
	}
}
