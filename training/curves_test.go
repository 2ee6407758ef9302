package training

import (
	"math"
	"testing"
)

func nearly(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// TestCurvesOf: the curves of five rows worked by hand, ties moving together.
func TestCurvesOf(t *testing.T) {
	// Scores high to low: 0.9(+) 0.8(-) 0.8(+) 0.3(-) 0.1(-). P=2, N=3.
	// Distinct-score steps: after 0.9: tp=1 fp=0; after the tied 0.8s: tp=2 fp=1;
	// after 0.3: fp=2; after 0.1: fp=3.
	c := CurvesOf([]float64{1, 0, 1, 0, 0}, []float64{0.9, 0.8, 0.8, 0.3, 0.1})
	want := [][]float64{{0, 0, 1.0 / 3, 2.0 / 3, 1}, {0, 0.5, 1, 1, 1}, {0, 0.2, 0.6, 0.8, 1}}
	for k, got := range [][]float64{c.FPR, c.TPR, c.Share} {
		if len(got) != len(want[k]) {
			t.Fatalf("curve %d: %v, want %v", k, got, want[k])
		}
		for i := range got {
			if !nearly(got[i], want[k][i]) {
				t.Fatalf("curve %d: %v, want %v", k, got, want[k])
			}
		}
	}
	// Largest gap: after the 0.8s, 1 - 1/3.
	best := 0.0
	for i := range c.Share {
		best = max(best, math.Abs(c.CumPos[i]-c.CumNeg[i]))
	}
	if !nearly(best, 2.0/3) {
		t.Fatalf("KS gap %v", best)
	}
	if CurvesOf([]float64{1, 1}, []float64{0.2, 0.3}) != nil {
		t.Fatal("curves for a single class")
	}
}

// TestCurvesThinKeepsTheKSPoint: thinned to MaxCurvePoints, the curve still holds
// the largest gap, equal to KS over every row computed directly.
func TestCurvesThinKeepsTheKSPoint(t *testing.T) {
	n := 5000
	y := make([]float64, n)
	score := make([]float64, n)
	for i := range n {
		score[i] = float64(n-i) / float64(n)
		if (i*7919)%10 < 3 {
			y[i] = 1
		}
	}
	c := CurvesOf(y, score)
	if len(c.FPR) > MaxCurvePoints+3 || len(c.Share) != len(c.FPR) {
		t.Fatalf("%d ROC points, %d KS points", len(c.FPR), len(c.Share))
	}
	var P, N, tp, fp, full float64
	for _, v := range y {
		if v == 1 {
			P++
		} else {
			N++
		}
	}
	for i := range y { // scores are distinct and in descending order
		if y[i] == 1 {
			tp++
		} else {
			fp++
		}
		full = max(full, math.Abs(tp/P-fp/N))
	}
	got := 0.0
	for i := range c.Share {
		got = max(got, math.Abs(c.CumPos[i]-c.CumNeg[i]))
	}
	if !nearly(got, full) {
		t.Fatalf("thinned KS %v, full %v", got, full)
	}
	if ks, err := KS(y, score); err != nil || !nearly(ks, full) {
		t.Fatalf("KS %v (%v), curve %v", ks, err, full)
	}
}

func BenchmarkCurvesOf(b *testing.B) {
	n := 100000
	y := make([]float64, n)
	score := make([]float64, n)
	for i := range n {
		score[i] = float64((i*7919)%n) / float64(n)
		if (i*31)%10 < 2 {
			y[i] = 1
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		CurvesOf(y, score)
	}
}
