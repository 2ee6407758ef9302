package gbdt

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// shapImpl is one fast TreeSHAP implementation under test.
type shapImpl struct {
	name string
	// explain returns a function computing the contributions of a row, or an
	// error when the model cannot be explained.
	explain func(m *Model) (func(row, out []float64) (float64, error), error)
}

var shapImpls = []shapImpl{
	{"model", func(m *Model) (func(row, out []float64) (float64, error), error) {
		return m.Contributions, nil
	}},
	{"explainer", func(m *Model) (func(row, out []float64) (float64, error), error) {
		e, err := m.CompileExplainer()
		if err != nil {
			return nil, err
		}
		return e.Contributions, nil
	}},
}

// shapCompare checks that every fast implementation gives the reference
// algorithm's contributions and expected value on each row, to 1e-9 of the
// row's largest |contribution| (or 1e-9 absolute for small ones).
func shapCompare(t *testing.T, m *Model, rows [][]float64) (worst float64) {
	t.Helper()
	nf := m.NumFeatures()
	want := make([]float64, nf)
	got := make([]float64, nf)
	for _, impl := range shapImpls {
		f, err := impl.explain(m)
		if err != nil {
			t.Fatalf("%s: %v", impl.name, err)
		}
		for r, row := range rows {
			wantE, err := referenceContributions(m, row, want)
			if err != nil {
				t.Fatal(err)
			}
			for j := range got {
				got[j] = math.NaN() // the implementation must overwrite out
			}
			gotE, err := f(row, got)
			if err != nil {
				t.Fatalf("%s row %d: %v", impl.name, r, err)
			}
			scale := 1.0
			for _, v := range want {
				scale = max(scale, math.Abs(v))
			}
			if d := math.Abs(gotE - wantE); !(d <= 1e-9*max(1, math.Abs(wantE))) {
				t.Errorf("%s row %d: expected value %.17g, reference %.17g", impl.name, r, gotE, wantE)
			}
			for j := range got {
				d := math.Abs(got[j] - want[j])
				if !(d <= 1e-9*scale) {
					t.Errorf("%s row %d feature %d: %.17g, reference %.17g", impl.name, r, j, got[j], want[j])
				}
				worst = max(worst, d/scale)
			}
		}
	}
	return worst
}

// TestSHAPMatchesReferenceFixtures compares the fast TreeSHAP with the
// reference Algorithm 2 on every LightGBM and XGBoost fixture.
func TestSHAPMatchesReferenceFixtures(t *testing.T) {
	type fixture struct {
		name string
		file string
		rows [][]float64
	}
	bc := readMatrix(t, filepath.Join(lgbDir, "breast_cancer_test.tsv"))
	fixtures := []fixture{
		{"lightgbm dart", filepath.Join(lgbDir, "lg_dart_breast_cancer.model"), bc},
		{"lightgbm v3", filepath.Join(lgbDir, "lg_breast_cancer.txt"), readMatrix(t, filepath.Join(lgbDir, "lg_breast_cancer_data.txt"))},
		{"lightgbm categorical", filepath.Join(lgbDir, "model_simple.txt"), [][]float64{{0, 0}, {1000, 100}, {math.NaN(), 100}, {300, math.NaN()}, {1, 2}, {-1, 7}}},
		{"lightgbm categorical v4", filepath.Join(lgbDir, "model_simple_v4.txt"), [][]float64{{0, 0}, {1000, 100}, {math.NaN(), 100}, {300, math.NaN()}, {1, 2}, {-1, 7}}},
	}
	for _, name := range xgbFixtures {
		g := loadGolden(t, name)
		fixtures = append(fixtures, fixture{name, filepath.Join(xgbDir, name+".json"), g.rows})
	}
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			m := mustParse(t, readFile(t, fx.file))
			t.Logf("largest difference from the reference, relative to the row's largest |value|: %.3g", shapCompare(t, m, fx.rows))
		})
	}
}

// randomSHAPModel builds a random model of unbalanced trees over few features
// (so features repeat on paths), with numerical splits under every missing
// rule and categorical splits. With consistent covers a child's cover is a
// random share of its parent's; otherwise covers are independent, which
// breaks local accuracy but not the equality of two exact algorithms.
func randomSHAPModel(rng *rand.Rand, trees, maxDepth, nf int, consistent bool) *Model {
	m := &Model{Objective: Regression, BaseScore: rng.NormFloat64(), FeatureNames: make([]string, nf)}
	for i := range m.FeatureNames {
		m.FeatureNames[i] = fmt.Sprintf("f%d", i)
	}
	for range trees {
		var nodes []Node
		var build func(d int, cover float64) int
		build = func(d int, cover float64) int {
			idx := len(nodes)
			nodes = append(nodes, Node{Cover: cover})
			if d == maxDepth || (d > 0 && rng.Float64() < 0.25) {
				nodes[idx] = Node{Leaf: true, Value: rng.NormFloat64(), Cover: cover}
				return idx
			}
			n := Node{Feature: rng.IntN(nf), Cover: cover, DefaultLeft: rng.IntN(2) == 0}
			if rng.IntN(4) == 0 {
				n.Categorical = true
				n.Categories = []uint32{rng.Uint32() | 1, rng.Uint32()}
			} else {
				n.Threshold = math.Round(rng.NormFloat64()*4) / 4
				n.Missing = MissingType(rng.IntN(3))
			}
			frac := 0.05 + 0.9*rng.Float64()
			lc, rc := cover*frac, cover*(1-frac)
			if !consistent {
				lc, rc = 0.1+10*rng.Float64(), 0.1+10*rng.Float64()
			}
			n.Left = build(d+1, lc)
			n.Right = build(d+1, rc)
			nodes[idx] = n
			return idx
		}
		build(0, 100+1000*rng.Float64())
		m.Trees = append(m.Trees, Tree{Nodes: nodes})
	}
	return m
}

// randomSHAPRows draws rows with NaNs, zeros, small integers (categories) and
// values on the quarter grid of the thresholds.
func randomSHAPRows(rng *rand.Rand, n, nf int) [][]float64 {
	rows := make([][]float64, n)
	for i := range rows {
		row := make([]float64, nf)
		for j := range row {
			switch rng.IntN(6) {
			case 0:
				row[j] = math.NaN()
			case 1:
				row[j] = 0
			case 2:
				row[j] = float64(rng.IntN(40))
			case 3:
				row[j] = math.Round(rng.NormFloat64()*4) / 4
			default:
				row[j] = rng.NormFloat64() * 2
			}
		}
		rows[i] = row
	}
	return rows
}

// TestSHAPMatchesReferenceRandom compares the fast TreeSHAP with the reference
// on random models and rows, with NaNs and categorical splits, shallow and
// deep trees, few and many features.
func TestSHAPMatchesReferenceRandom(t *testing.T) {
	tests := []struct {
		trees, depth, nf int
		consistent       bool
	}{
		{1, 1, 1, true},
		{5, 3, 2, true},
		{20, 6, 5, true},
		{20, 6, 40, true},
		{10, 12, 8, true},
		{10, 6, 4, false},
		{3, 16, 30, true},
	}
	for i, tc := range tests {
		name := fmt.Sprintf("trees=%d depth=%d features=%d consistent=%v", tc.trees, tc.depth, tc.nf, tc.consistent)
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 99))
			for range 5 {
				m := randomSHAPModel(rng, tc.trees, tc.depth, tc.nf, tc.consistent)
				shapCompare(t, m, randomSHAPRows(rng, 20, tc.nf))
			}
		})
	}
}

// TestSHAPAllocations checks that explaining a row allocates nothing once the
// scratch pool is warm.
func TestSHAPAllocations(t *testing.T) {
	if shapRace {
		t.Skip("sync.Pool drops items under the race detector")
	}
	m := syntheticModel(30, 6, 40, 3)
	rows := syntheticRows(50, 40, 4)
	out := make([]float64, 40)
	for _, impl := range shapImpls {
		t.Run(impl.name, func(t *testing.T) {
			f, err := impl.explain(m)
			if err != nil {
				t.Fatal(err)
			}
			r := 0
			allocs := testing.AllocsPerRun(200, func() {
				if _, err := f(rows[r*40:(r+1)*40], out); err != nil {
					t.Fatal(err)
				}
				r = (r + 1) % 50
			})
			if allocs != 0 {
				t.Errorf("%v allocations per row, want 0", allocs)
			}
		})
	}
}

// TestGaussLegendreRules checks the quadrature rules against integrals known
// in closed form: ∫₀¹ y^n dy = 1/(n+1), exact for n <= 2k-1, and the
// tabulated (1-y)^m weights: ∫₀¹ (1-y)^m y^n dy = m! n! / (m+n+1)!.
func TestGaussLegendreRules(t *testing.T) {
	rules := shapRules(maxShapRule)
	for _, k := range []int{1, 2, 3, 5, 8, 16, 32, 64} {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			r := rules[k]
			for m := 0; m <= 2*k; m += max(1, k/2) {
				for n := 0; n+m <= 2*k-1; n++ {
					got := 0.0
					for i, y := range r.y {
						got += r.w[m*k+i] * math.Pow(y, float64(n))
					}
					lg1, _ := math.Lgamma(float64(m + 1))
					lg2, _ := math.Lgamma(float64(n + 1))
					lg3, _ := math.Lgamma(float64(m + n + 2))
					want := math.Exp(lg1 + lg2 - lg3)
					if !relClose(got, want, 1e-12, 0) {
						t.Errorf("m=%d n=%d: %.17g, want %.17g", m, n, got, want)
					}
				}
			}
		})
	}
}

// TestSHAPDepthLimit checks that a hand-built path with more distinct
// features than the quadrature rules cover is refused with ErrLimit.
func TestSHAPDepthLimit(t *testing.T) {
	const depth = 2*maxShapRule + 1
	m := &Model{Objective: Regression, FeatureNames: make([]string, depth)}
	var nodes []Node
	for i := range depth {
		m.FeatureNames[i] = fmt.Sprintf("f%d", i)
		nodes = append(nodes, Node{Feature: i, Left: 2*i + 2, Right: 2*i + 1, Cover: 2}, Node{Leaf: true, Value: 1, Cover: 1})
	}
	nodes = nodes[:len(nodes)-1]
	nodes = append(nodes, Node{Leaf: true, Value: 2, Cover: 1}, Node{Leaf: true, Value: 3, Cover: 1})
	nodes[len(nodes)-3].Left = len(nodes) - 1
	m.Trees = []Tree{{Nodes: nodes}}
	if err := m.Validate(); err != nil {
		t.Fatalf("test model: %v", err)
	}
	for _, impl := range shapImpls {
		t.Run(impl.name, func(t *testing.T) {
			f, err := impl.explain(m)
			if err == nil {
				_, err = f(make([]float64, depth), make([]float64, depth))
			}
			if !errors.Is(err, ErrLimit) {
				t.Errorf("got %v, want ErrLimit", err)
			}
		})
	}
}

// TestExplainerPairs checks that the sibling-pair path is taken on full trees
// (so the equality tests above exercise it) and still matches the reference
// when the pair's split sends NaN, categories and zeros either way.
func TestExplainerPairs(t *testing.T) {
	m := syntheticModel(20, 6, 40, 11)
	e, err := m.CompileExplainer()
	if err != nil {
		t.Fatal(err)
	}
	pairs := 0
	for _, l := range e.leaves {
		if l.split >= 0 {
			pairs++
		}
	}
	if pairs == 0 {
		t.Fatal("no sibling pairs compiled from full depth-6 trees")
	}
	// Over 3 features, most pairs split on a feature already on their path.
	few := syntheticModel(20, 6, 3, 13)
	fe, err := few.CompileExplainer()
	if err != nil {
		t.Fatal(err)
	}
	dups := 0
	for _, l := range fe.leaves {
		if l.dup {
			dups++
		}
	}
	if dups == 0 {
		t.Fatal("no pairs on a repeated feature compiled from trees over 3 features")
	}
	fewRows := syntheticRows(40, 3, 14)
	var fr [][]float64
	for r := range 40 {
		fr = append(fr, fewRows[r*3:(r+1)*3])
	}
	shapCompare(t, few, fr)
	rows := syntheticRows(30, 40, 12)
	var rr [][]float64
	for r := range 30 {
		rr = append(rr, rows[r*40:(r+1)*40])
	}
	shapCompare(t, m, rr)
}

// TestExplainerErrors checks the errors of CompileExplainer and of
// Explainer.Contributions.
func TestExplainerErrors(t *testing.T) {
	m := mustParse(t, readFile(t, filepath.Join(lgbDir, "model_simple.txt")))
	e, err := m.CompileExplainer()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		row, out []float64
	}{
		{"short buffer", []float64{1, 2}, make([]float64, 3)},
		{"short row", []float64{1}, make([]float64, 2)},
		{"long row", []float64{1, 2, 3}, make([]float64, 2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.Contributions(tc.row, tc.out); !errors.Is(err, ErrRowLength) {
				t.Errorf("got %v, want ErrRowLength", err)
			}
		})
	}
	t.Run("zero cover", func(t *testing.T) {
		bad := mustParse(t, readFile(t, filepath.Join(lgbDir, "model_simple.txt")))
		bad.Trees[0].Nodes[0].Cover = 0
		if _, err := bad.CompileExplainer(); !errors.Is(err, ErrInvalid) {
			t.Errorf("got %v, want ErrInvalid", err)
		}
	})
	t.Run("invalid model", func(t *testing.T) {
		bad := &Model{Objective: "poisson", FeatureNames: []string{"x"}, Trees: []Tree{{Nodes: []Node{{Leaf: true}}}}}
		if _, err := bad.CompileExplainer(); !errors.Is(err, ErrInvalid) {
			t.Errorf("got %v, want ErrInvalid", err)
		}
	})
	t.Run("later model changes", func(t *testing.T) {
		mm := mustParse(t, readFile(t, filepath.Join(lgbDir, "model_simple.txt")))
		ee, err := mm.CompileExplainer()
		if err != nil {
			t.Fatal(err)
		}
		row := []float64{300, 2}
		want := make([]float64, 2)
		wantE, err := referenceContributions(mm, row, want)
		if err != nil {
			t.Fatal(err)
		}
		for ti := range mm.Trees {
			for ni := range mm.Trees[ti].Nodes {
				mm.Trees[ti].Nodes[ni].Value += 1
				mm.Trees[ti].Nodes[ni].Threshold += 1000
			}
		}
		got := make([]float64, 2)
		gotE, err := ee.Contributions(row, got)
		if err != nil {
			t.Fatal(err)
		}
		if gotE != ee.Expected() || math.Abs(gotE-wantE) > 1e-12 {
			t.Errorf("expected %v (Expected() %v), want %v", gotE, ee.Expected(), wantE)
		}
		for j := range got {
			if math.Abs(got[j]-want[j]) > 1e-12 {
				t.Errorf("feature %d: %v, want %v", j, got[j], want[j])
			}
		}
	})
}

// TestExplainerConcurrent explains rows from several goroutines at once (run
// with -race) and checks each against the single-threaded result.
func TestExplainerConcurrent(t *testing.T) {
	m := syntheticModel(20, 6, 40, 21)
	e, err := m.CompileExplainer()
	if err != nil {
		t.Fatal(err)
	}
	rows := syntheticRows(40, 40, 22)
	want := make([]float64, len(rows))
	for r := range 40 {
		if _, err := e.Contributions(rows[r*40:(r+1)*40], want[r*40:(r+1)*40]); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			out := make([]float64, 40)
			for i := range 200 {
				r := (i*7 + g) % 40
				if _, err := e.Contributions(rows[r*40:(r+1)*40], out); err != nil {
					errs <- err
					return
				}
				for j := range out {
					if out[j] != want[r*40+j] {
						errs <- fmt.Errorf("goroutine %d row %d feature %d: %v, alone %v", g, r, j, out[j], want[r*40+j])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestSHAPSingleLeafTrees checks models whose trees include bare leaves: they
// add their value to the expected value and nothing to any feature.
func TestSHAPSingleLeafTrees(t *testing.T) {
	m := &Model{Objective: Regression, BaseScore: 0.5, FeatureNames: []string{"a", "b"}, Trees: []Tree{
		{Nodes: []Node{{Leaf: true, Value: 3, Cover: 10}}},
		{Nodes: []Node{
			{Feature: 1, Threshold: 0, Left: 1, Right: 2, Cover: 4},
			{Leaf: true, Value: -1, Cover: 1},
			{Leaf: true, Value: 1, Cover: 3},
		}},
	}}
	// Second tree by hand: E = (1*-1 + 3*1)/4 = 0.5; for b = -1 the row
	// reaches -1, so phi_b = -1 - 0.5 = -1.5; for b = 1, phi_b = 1 - 0.5 = 0.5.
	tests := []struct {
		row  []float64
		phiB float64
	}{
		{[]float64{0, -1}, -1.5},
		{[]float64{0, 1}, 0.5},
	}
	for _, impl := range shapImpls {
		f, err := impl.explain(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s b=%v", impl.name, tc.row[1]), func(t *testing.T) {
				out := make([]float64, 2)
				e, err := f(tc.row, out)
				if err != nil {
					t.Fatal(err)
				}
				if e != 4 || out[0] != 0 || math.Abs(out[1]-tc.phiB) > 1e-15 {
					t.Errorf("expected %v, phi %v; want 4, [0 %v]", e, out, tc.phiB)
				}
			})
		}
	}
}

// FuzzExplainerMatchesReference explains arbitrary rows (infinities, NaNs,
// huge and negative values, categories) of a fixed random model with every
// fast implementation and compares with the reference algorithm.
func FuzzExplainerMatchesReference(f *testing.F) {
	const nf = 5
	m := randomSHAPModel(rand.New(rand.NewPCG(5, 5)), 8, 7, nf, true)
	f.Add(0.0, 1.0, -1.0, 3.0, math.NaN())
	f.Add(math.Inf(1), math.Inf(-1), 1e300, -0.0, 31.0)
	f.Add(0.25, 0.5, -0.25, 2.0, 7.0)
	f.Fuzz(func(t *testing.T, a, b, c, d, e float64) {
		shapCompare(t, m, [][]float64{{a, b, c, d, e}})
	})
}
