package training

import (
	"errors"
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestRankMetrics(t *testing.T) {
	tests := []struct {
		name    string
		y, s    []float64
		auc, ks float64
	}{
		// scikit-learn's roc_auc_score documentation example: 0.75.
		// KS by hand: cumulative (neg, pos) shares after 0.1, 0.35, 0.4, 0.8 are
		// (.5,0) (.5,.5) (1,.5) (1,1): largest gap 0.5.
		{"sklearn-example", []float64{0, 0, 1, 1}, []float64{0.1, 0.4, 0.35, 0.8}, 0.75, 0.5},
		// A tie between a positive and a negative counts one half:
		// pairs (.5,.5)=.5 (.5,.2)=1 (.9,.5)=1 (.9,.2)=1 -> 3.5/4.
		{"tie", []float64{0, 1, 0, 1}, []float64{0.5, 0.5, 0.2, 0.9}, 0.875, 0.5},
		// Every score equal: AUC one half, and the tied group moves together so KS is 0.
		{"all-tied", []float64{0, 1, 0, 1, 1}, []float64{3, 3, 3, 3, 3}, 0.5, 0},
		// Perfectly inverted ranking.
		{"inverted", []float64{1, 1, 0, 0}, []float64{0.1, 0.2, 0.3, 0.4}, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			auc, err := AUC(tc.y, tc.s)
			if err != nil || !near(auc, tc.auc) {
				t.Errorf("AUC = %v, %v; want %v", auc, err, tc.auc)
			}
			gini, err := Gini(tc.y, tc.s)
			if err != nil || !near(gini, 2*tc.auc-1) {
				t.Errorf("Gini = %v, %v; want %v", gini, err, 2*tc.auc-1)
			}
			ks, err := KS(tc.y, tc.s)
			if err != nil || !near(ks, tc.ks) {
				t.Errorf("KS = %v, %v; want %v", ks, err, tc.ks)
			}
		})
	}
}

func TestProbabilityMetrics(t *testing.T) {
	y := []float64{1, 0}
	p := []float64{0.8, 0.3}
	ll, err := LogLoss(y, p)
	if want := -(math.Log(0.8) + math.Log(0.7)) / 2; err != nil || !near(ll, want) {
		t.Errorf("LogLoss = %v, %v; want %v", ll, err, want)
	}
	br, err := Brier(y, p)
	if want := (0.2*0.2 + 0.3*0.3) / 2; err != nil || !near(br, want) {
		t.Errorf("Brier = %v, %v; want %v", br, err, want)
	}
	// Clipping: a certain wrong prediction costs -ln(1e-15), not +Inf.
	ll, _ = LogLoss([]float64{1}, []float64{0})
	if want := -math.Log(1e-15); !near(ll, want) {
		t.Errorf("LogLoss of a certain miss = %v, want %v", ll, want)
	}
}

func TestDeciles(t *testing.T) {
	// 20 rows scored 0..19 with positives at 19, 18, 17, 10 and 2 (overall rate 0.25).
	y := make([]float64, 20)
	s := make([]float64, 20)
	for i := range s {
		s[i] = float64(i)
	}
	for _, i := range []int{19, 18, 17, 10, 2} {
		y[i] = 1
	}
	lift, err := Lift(y, s)
	if err != nil {
		t.Fatal(err)
	}
	// Decile k+1 (descending, k 0-based) holds scores 19-2k and 18-2k.
	want := []struct {
		pos                   int
		lift, cumLift, cumCap float64
	}{
		{2, 4, 4, 0.4},       // {19,18}
		{1, 2, 3, 0.6},       // {17,16}: cum 3 of 4 rows
		{0, 0, 2, 0.6},       // {15,14}: 3 of 6
		{0, 0, 1.5, 0.6},     // 3 of 8
		{1, 2, 1.6, 0.8},     // {11,10}: 4 of 10
		{0, 0, 4.0 / 3, 0.8}, // 4 of 12
		{0, 0, 8.0 / 7, 0.8}, // 4 of 14
		{0, 0, 1, 0.8},       // 4 of 16
		{1, 2, 10.0 / 9, 1},  // {3,2}: 5 of 18
		{0, 0, 1, 1},         // {1,0}
	}
	if len(lift) != 10 {
		t.Fatalf("%d deciles", len(lift))
	}
	for k, w := range want {
		d := lift[k]
		if d.Rows != 2 || d.Positives != w.pos || !near(d.Lift, w.lift) || !near(d.CumLift, w.cumLift) || !near(d.CumCapture, w.cumCap) {
			t.Errorf("decile %d = %+v, want %+v", k+1, d, w)
		}
		if d.MaxScore != float64(19-2*k) || d.MinScore != float64(18-2*k) {
			t.Errorf("decile %d scores %v..%v, want %d..%d", k+1, d.MinScore, d.MaxScore, 18-2*k, 19-2*k)
		}
	}
	prob := make([]float64, 20)
	for i := range prob {
		prob[i] = float64(i) / 20
	}
	cal, err := Calibration(y, prob)
	if err != nil {
		t.Fatal(err)
	}
	// Ascending: decile 1 = {0, .05} mean .025 rate 0; decile 2 = {.1, .15} holds row 2.
	if !near(cal[0].MeanScore, 0.025) || cal[0].Rate != 0 || !near(cal[1].MeanScore, 0.125) || cal[1].Rate != 0.5 || cal[9].Rate != 1 {
		t.Errorf("calibration %+v", cal[:2])
	}
	// 7 rows into deciles: row k goes to floor(10k/7): groups 0,1,2,4,5,7,8.
	small, _ := Calibration([]float64{0, 0, 0, 1, 1, 1, 1}, []float64{1, 2, 3, 4, 5, 6, 7})
	var got []int
	for _, d := range small {
		got = append(got, d.Decile)
	}
	if want := []int{1, 2, 3, 5, 6, 8, 9}; !equalInts(got, want) {
		t.Errorf("deciles of 7 rows %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPSI(t *testing.T) {
	expected := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name   string
		actual []float64
		want   float64
	}{
		// Cut at 6: expected shares .5/.5, actual .8/.2.
		{"shifted", []float64{1, 1, 1, 1, 1, 1, 1, 1, 7, 8}, 0.3*math.Log(0.8/0.5) + (-0.3)*math.Log(0.2/0.5)},
		{"same", []float64{5, 6}, 0},
		// Empty actual group counts 1e-4.
		{"empty", []float64{1, 2}, (1-0.5)*math.Log(1/0.5) + (1e-4-0.5)*math.Log(1e-4/0.5)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PSI(expected, tc.actual, 2)
			if err != nil || !near(got, tc.want) {
				t.Errorf("PSI = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	// Ten deciles of 1..100: cut points 11, 21, ..., 91; 1..10 all fall in the first.
	exp := make([]float64, 100)
	for i := range exp {
		exp[i] = float64(i + 1)
	}
	got, _ := PSI(exp, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10)
	want := (1 - 0.1) * math.Log(1/0.1)
	want += 9 * (1e-4 - 0.1) * math.Log(1e-4/0.1)
	if !near(got, want) {
		t.Errorf("PSI deciles = %v, want %v", got, want)
	}
	if _, err := PSI(exp, nil, 10); !errors.Is(err, ErrInvalidData) {
		t.Errorf("empty actual: %v", err)
	}
	if _, err := PSI(exp, exp, 1); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("one bin: %v", err)
	}
}

func TestConfusion(t *testing.T) {
	y := []float64{0, 0, 1, 1}
	s := []float64{0.1, 0.4, 0.35, 0.8}
	tests := []struct {
		cut                    float64
		tp, fp, tn, fn         int
		acc, prec, recall, fpr float64
	}{
		{0.4, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5},
		{0.35, 2, 1, 1, 0, 0.75, 2.0 / 3, 1, 0.5},
		{0.9, 0, 0, 2, 2, 0.5, math.NaN(), 0, 0},
	}
	for _, tc := range tests {
		c, err := ConfusionAt(y, s, tc.cut)
		if err != nil {
			t.Fatal(err)
		}
		if c.TP != tc.tp || c.FP != tc.fp || c.TN != tc.tn || c.FN != tc.fn || !near(c.Accuracy, tc.acc) ||
			!(near(c.Precision, tc.prec) || math.IsNaN(tc.prec) && math.IsNaN(c.Precision)) || !near(c.Recall, tc.recall) || !near(c.FPR, tc.fpr) {
			t.Errorf("cut %v: %+v", tc.cut, c)
		}
	}
}

func TestMetricErrors(t *testing.T) {
	tests := []struct {
		name string
		y, s []float64
	}{
		{"empty", nil, nil},
		{"length", []float64{0, 1}, []float64{0.5}},
		{"label", []float64{0, 2}, []float64{0.5, 0.5}},
		{"nan", []float64{0, 1}, []float64{math.NaN(), 0.5}},
		{"one-class", []float64{1, 1}, []float64{0.2, 0.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := AUC(tc.y, tc.s); !errors.Is(err, ErrInvalidData) {
				t.Errorf("AUC err %v", err)
			}
			if _, err := KS(tc.y, tc.s); !errors.Is(err, ErrInvalidData) {
				t.Errorf("KS err %v", err)
			}
		})
	}
	if _, err := LogLoss([]float64{1}, []float64{1.5}); !errors.Is(err, ErrInvalidData) {
		t.Errorf("LogLoss of 1.5: %v", err)
	}
	if _, err := Brier([]float64{1}, []float64{-0.1}); !errors.Is(err, ErrInvalidData) {
		t.Errorf("Brier of -0.1: %v", err)
	}
}
