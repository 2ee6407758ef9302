package gbdt

import (
	"errors"
	"math"
	"path/filepath"
	"testing"
)

// TestContributionsHandCalculated checks TreeSHAP on a tree small enough to
// work out by hand from the Shapley formula.
//
// One tree: x0 <= 0 goes to node 1, else leaf 10 (cover 50); node 1 splits
// x1 <= 0 to leaf 0 (cover 30) and leaf 20 (cover 20). Root cover 100.
// For x = (-1, 1): f(x) = 20. With E[f | S] the cover-weighted mean over the
// unknown features:
//
//	E[f]        = 0.3*0 + 0.2*20 + 0.5*10 = 9
//	E[f | x0]   = (30*0 + 20*20)/50       = 8
//	E[f | x1]   = 0.5*20 + 0.5*10         = 15   (x1 known: right branch of node 1)
//	E[f | x0,x1] = 20
//
// phi0 = 1/2[(8-9) + (20-15)] = 2,  phi1 = 1/2[(15-9) + (20-8)] = 9.
func TestContributionsHandCalculated(t *testing.T) {
	m := &Model{
		Objective:    Regression,
		FeatureNames: []string{"x0", "x1"},
		BaseScore:    0.5,
		Trees: []Tree{{Nodes: []Node{
			{Feature: 0, Threshold: 0, Left: 1, Right: 2, Cover: 100},
			{Feature: 1, Threshold: 0, Left: 3, Right: 4, Cover: 50},
			{Leaf: true, Value: 10, Cover: 50},
			{Leaf: true, Value: 0, Cover: 30},
			{Leaf: true, Value: 20, Cover: 20},
		}}},
	}
	tests := []struct {
		name string
		row  []float64
		want []float64
	}{
		{"x0 low x1 high", []float64{-1, 1}, []float64{2, 9}},
		// x = (1, -1): f = 10, E[f|x0] = 10, E[f|x1] = 0.5*0 + 0.5*10 = 5;
		// phi0 = 1/2[(10-9) + (10-5)] = 3, phi1 = 1/2[(5-9) + (10-10)] = -2.
		{"x0 high x1 low", []float64{1, -1}, []float64{3, -2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := make([]float64, 2)
			expected, err := m.Contributions(tc.row, out)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(expected-9.5) > 1e-12 {
				t.Errorf("expected value %v, want 9.5", expected)
			}
			for j := range out {
				if math.Abs(out[j]-tc.want[j]) > 1e-12 {
					t.Errorf("phi[%d] = %v, want %v", j, out[j], tc.want[j])
				}
			}
		})
	}
}

// TestContributionsXGBoost compares with XGBoost's own pred_contribs (last
// column: the bias, XGBoost's expected value). XGBoost computes in float32.
func TestContributionsXGBoost(t *testing.T) {
	worst := 0.0
	for _, name := range xgbFixtures {
		t.Run(name, func(t *testing.T) {
			g := loadGolden(t, name)
			for _, ext := range []string{".json", ".binf.model"} {
				m := mustParse(t, readFile(t, filepath.Join(xgbDir, name+ext)))
				// The canonical LightGBM text keeps the covers as weights.
				back := mustParse(t, canonical(t, m))
				out := make([]float64, m.NumFeatures())
				for i, row := range g.rows {
					for _, mm := range []*Model{m, back} {
						expected, err := mm.Contributions(row, out)
						if err != nil {
							t.Fatal(err)
						}
						want := g.Contribs[i]
						if len(want) != len(out)+1 {
							t.Fatalf("golden row has %d columns for %d features", len(want), len(out))
						}
						bias := want[len(out)]
						if mm == back {
							bias = 0 // base score is folded into the first tree's leaves
						}
						if mm == m && !relClose(expected, bias, 1e-5, 1e-5) {
							t.Errorf("%s row %d: expected value %.9g, XGBoost bias %.9g", ext, i, expected, bias)
						}
						scale := 0.0
						for _, w := range want {
							scale = max(scale, math.Abs(w))
						}
						for j := range out {
							d := math.Abs(out[j]-want[j]) / max(scale, 1e-3)
							worst = max(worst, d)
							if d > 1e-5 {
								t.Errorf("%s row %d feature %d: %.9g, XGBoost %.9g", ext, i, j, out[j], want[j])
							}
						}
					}
				}
			}
		})
	}
	t.Logf("largest contribution difference from XGBoost, relative to the row's largest |value|: %.3g", worst)
}

// TestContributionsLocalAccuracy checks sum(phi) + expected == margin on every
// fixture, LightGBM and XGBoost, before and after the canonical round trip.
func TestContributionsLocalAccuracy(t *testing.T) {
	type fixture struct {
		name string
		file string
		rows [][]float64
	}
	var fixtures []fixture
	bc := readMatrix(t, filepath.Join(lgbDir, "breast_cancer_test.tsv"))
	fixtures = append(fixtures,
		fixture{"lightgbm dart", filepath.Join(lgbDir, "lg_dart_breast_cancer.model"), bc},
		fixture{"lightgbm v3", filepath.Join(lgbDir, "lg_breast_cancer.txt"), readMatrix(t, filepath.Join(lgbDir, "lg_breast_cancer_data.txt"))},
		fixture{"lightgbm categorical", filepath.Join(lgbDir, "model_simple.txt"), [][]float64{{0, 0}, {1000, 100}, {math.NaN(), 100}, {300, math.NaN()}}},
	)
	for _, name := range xgbFixtures {
		g := loadGolden(t, name)
		for _, f := range xgbFormats {
			fixtures = append(fixtures, fixture{name + f.ext, filepath.Join(xgbDir, name+f.ext), g.rows})
		}
	}
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			m := mustParse(t, readFile(t, fx.file))
			for _, mm := range []*Model{m, mustParse(t, canonical(t, m))} {
				out := make([]float64, mm.NumFeatures())
				for i, row := range fx.rows {
					expected, err := mm.Contributions(row, out)
					if err != nil {
						t.Fatal(err)
					}
					sum := expected
					for _, v := range out {
						sum += v
					}
					margin, _ := mm.Margin(row)
					if !relClose(sum, margin, 1e-9, 1e-9) {
						t.Errorf("row %d: sum(phi)+expected = %.17g, margin %.17g", i, sum, margin)
					}
				}
			}
		})
	}
}

func TestContributionsErrors(t *testing.T) {
	m := mustParse(t, readFile(t, filepath.Join(lgbDir, "model_simple.txt")))
	if _, err := m.Contributions([]float64{1, 2}, make([]float64, 3)); !errors.Is(err, ErrRowLength) {
		t.Errorf("short buffer: %v", err)
	}
	if _, err := m.Contributions([]float64{1}, make([]float64, 2)); !errors.Is(err, ErrRowLength) {
		t.Errorf("short row: %v", err)
	}
	m.Trees[0].Nodes[0].Cover = 0
	if _, err := m.Contributions([]float64{1, 2}, make([]float64, 2)); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero cover: %v", err)
	}
	// 64 nodes where both children of node i are node i+1: a DAG with 2^63
	// paths must be refused at once, not walked.
	dag := &Model{Objective: Regression, FeatureNames: []string{"x"}}
	nodes := make([]Node, 64)
	for i := range 63 {
		nodes[i] = Node{Left: i + 1, Right: i + 1, Cover: 1}
	}
	nodes[63] = Node{Leaf: true, Cover: 1}
	dag.Trees = []Tree{{Nodes: nodes}}
	if _, err := dag.Contributions([]float64{0}, make([]float64, 1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("shared children: %v", err)
	}
	if _, err := dag.Margin([]float64{0}); err != nil {
		t.Errorf("Margin walks one path and needs no tree check: %v", err)
	}
	if err := dag.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Validate: %v", err)
	}
}
