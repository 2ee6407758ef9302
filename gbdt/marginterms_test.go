package gbdt

import "testing"

func TestMarginTerms(t *testing.T) {
	// A stump on feature 0 at 1.5 with leaves -2 (left) and 3 (right), twice, base 0.5.
	stump := Tree{Nodes: []Node{{Feature: 0, Threshold: 1.5, Left: 1, Right: 2, DefaultLeft: true}, {Leaf: true, Value: -2}, {Leaf: true, Value: 3}}}
	m := &Model{Objective: Regression, BaseScore: 0.5, FeatureNames: []string{"x"}, Trees: []Tree{stump, stump}}
	for _, tt := range []struct{ x, margin, magnitude float64 }{{1, -3.5, 4.5}, {2, 6.5, 6.5}} {
		margin, mag, err := m.MarginTerms([]float64{tt.x})
		if err != nil || margin != tt.margin || mag != tt.magnitude {
			t.Errorf("x=%g: margin %g magnitude %g %v; want %g %g", tt.x, margin, mag, err, tt.margin, tt.magnitude)
		}
		if want, _ := m.Margin([]float64{tt.x}); want != margin {
			t.Errorf("x=%g: MarginTerms %g, Margin %g", tt.x, margin, want)
		}
	}
	if _, _, err := m.MarginTerms(nil); err == nil {
		t.Error("short row accepted")
	}
}
