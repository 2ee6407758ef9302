package gbdt

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dmitryikh/leaves"
)

const lgbDir = "testdata/lightgbm"

// TestLightGBMTruePredictions checks gbdt and leaves (on gbdt's canonical text)
// against probabilities computed by LightGBM itself.
func TestLightGBMTruePredictions(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name  string
		model string
		rows  [][]float64
		want  []float64
		rel   float64
		raw   bool // want holds raw margins, not probabilities
	}{
		{
			name:  "dart breast cancer v2",
			model: "lg_dart_breast_cancer.model",
			rows:  readMatrix(t, filepath.Join(lgbDir, "breast_cancer_test.tsv")),
			want:  column(readMatrix(t, filepath.Join(lgbDir, "lg_dart_breast_cancer_true_predictions.txt")), 0),
			rel:   1e-9,
		},
		{
			// Raw scores printed with 8 digits in leaves' TestLGEnsemble.
			name:  "simple categorical v2",
			model: "model_simple.txt",
			rows:  [][]float64{{0, 0}, {1000, 0}, {800, 0}, {800, 100}, {0, 100}, {1000, nan}, {nan, nan}},
			want:  []float64{0.29462594, 0.39565483, 0.39565483, 0.69580371, 0.69580371, 0.39565483, 0.29462594},
			rel:   2e-8,
			raw:   true,
		},
		{
			name:  "simple categorical v4",
			model: "model_simple_v4.txt",
			rows:  [][]float64{{0, 0}, {1000, 0}, {800, 0}, {800, 100}, {0, 100}, {1000, nan}, {nan, nan}},
			want:  []float64{0.29462594, 0.39565483, 0.39565483, 0.69580371, 0.69580371, 0.39565483, 0.29462594},
			rel:   2e-8,
			raw:   true,
		},
	}
	// The same model with LightGBM's sigmoid parameter 2: probabilities are
	// 1/(1+exp(-2*raw)) of the raw scores above. The canonical text scales the
	// leaves by 2 and says sigmoid:1, the only value leaves accepts.
	raw := tests[1]
	var sig2 []float64
	for _, r := range raw.want {
		sig2 = append(sig2, 1/(1+math.Exp(-2*r)))
	}
	simple := string(readFile(t, filepath.Join(lgbDir, "model_simple.txt")))
	tests = append(tests, struct {
		name  string
		model string
		rows  [][]float64
		want  []float64
		rel   float64
		raw   bool
	}{"simple sigmoid 2", "", raw.rows, sig2, 5e-8, false})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.rows) != len(tc.want) || len(tc.rows) == 0 {
				t.Fatalf("%d rows, %d predictions", len(tc.rows), len(tc.want))
			}
			var m *Model
			if tc.model == "" {
				m = mustParse(t, []byte(strings.Replace(simple, "sigmoid:1", "sigmoid:2", 1)))
				if m.Sigmoid != 2 {
					t.Fatalf("sigmoid %v", m.Sigmoid)
				}
			} else {
				m = mustParse(t, readFile(t, filepath.Join(lgbDir, tc.model)))
			}
			text := canonical(t, m)
			lv := loadLeaves(t, text, !tc.raw)
			predict := m.Predict
			if tc.raw {
				predict = m.Margin
			}
			back := mustParse(t, text)
			p, err := m.Compile()
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			defer func() { t.Logf("largest relative difference from LightGBM: %.3g", worst) }()
			for i, row := range tc.rows {
				got, err := predict(row)
				if err != nil {
					t.Fatal(err)
				}
				if !relClose(got, tc.want[i], tc.rel, 1e-15) {
					t.Errorf("row %d: gbdt %.17g, LightGBM %.17g", i, got, tc.want[i])
				}
				worst = max(worst, math.Abs(got-tc.want[i])/math.Abs(tc.want[i]))
				if lp := leavesPredict(t, lv, row); !relClose(lp, tc.want[i], tc.rel, 1e-15) {
					t.Errorf("row %d: leaves on canonical text %.17g, LightGBM %.17g", i, lp, tc.want[i])
				}
				// A binary model's canonical margin is Sigmoid times the original's.
				mg, _ := m.Margin(row)
				scale := 1.0
				if m.Objective == Binary {
					scale = m.Sigmoid
				}
				if bm, _ := back.Margin(row); !relClose(bm, scale*mg, 1e-15, 1e-300) {
					t.Errorf("row %d: canonical text re-read gives margin %.17g, original %.17g x %v", i, bm, mg, scale)
				}
				if pm, _ := p.Margin(row); pm != mg {
					t.Errorf("row %d: Predictor margin %.17g, Model %.17g", i, pm, mg)
				}
			}
		})
	}
}

// TestLightGBMPredLeaf checks the leaf every row reaches in every tree against
// LightGBM's pred_leaf output, and the margin against the sum of those leaves'
// values read straight from the file's leaf_value lines.
func TestLightGBMPredLeaf(t *testing.T) {
	data := readFile(t, filepath.Join(lgbDir, "lg_breast_cancer.txt"))
	rows := readMatrix(t, filepath.Join(lgbDir, "lg_breast_cancer_data.txt"))
	truth := readMatrix(t, filepath.Join(lgbDir, "lg_breast_cancer_data_pred_leaves.txt"))
	var leafValues [][]float64
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "leaf_value="); ok {
			var vals []float64
			for _, f := range strings.Fields(v) {
				x, err := strconv.ParseFloat(f, 64)
				if err != nil {
					t.Fatal(err)
				}
				vals = append(vals, x)
			}
			leafValues = append(leafValues, vals)
		}
	}
	m := mustParse(t, data)
	if len(m.Trees) != len(leafValues) || len(rows) != len(truth) {
		t.Fatalf("%d trees, %d leaf_value lines, %d rows, %d truth rows", len(m.Trees), len(leafValues), len(rows), len(truth))
	}
	lv := loadLeaves(t, canonical(t, m), false)
	for r, row := range rows {
		want := 0.0
		for ti, tr := range m.Trees {
			leaf := leafFor(tr.Nodes, row)
			nLeaves := (len(tr.Nodes) + 1) / 2
			if got := leaf - (nLeaves - 1); got != int(truth[r][ti]) {
				t.Fatalf("row %d tree %d: leaf %d, LightGBM %v", r, ti, got, truth[r][ti])
			}
			want += leafValues[ti][int(truth[r][ti])]
		}
		got, err := m.Margin(row)
		if err != nil {
			t.Fatal(err)
		}
		if !relClose(got, want, 1e-12, 1e-15) {
			t.Errorf("row %d: margin %.17g, want %.17g", r, got, want)
		}
		if lp := leavesPredict(t, lv, row); !relClose(lp, want, 1e-9, 1e-15) {
			t.Errorf("row %d: leaves raw %.17g, want %.17g", r, lp, want)
		}
	}
}

func column(m [][]float64, j int) []float64 {
	out := make([]float64, len(m))
	for i := range m {
		out[i] = m[i][j]
	}
	return out
}

// TestLightGBMRefusals checks that models outside the supported set are refused
// with an error saying why.
func TestLightGBMRefusals(t *testing.T) {
	simple := string(readFile(t, filepath.Join(lgbDir, "model_simple.txt")))
	v4 := string(readFile(t, filepath.Join(lgbDir, "model_simple_v4.txt")))
	tests := []struct {
		name string
		data string
		err  error
		says string
	}{
		{"random forest", string(readFile(t, filepath.Join(lgbDir, "lg_rf_iris.model"))), ErrUnsupported, "random forest"},
		{"multiclass", string(readFile(t, filepath.Join(lgbDir, "lgmulticlass_header.txt"))), ErrUnsupported, "multiclass"},
		{"linear tree", strings.Replace(v4, "is_linear=0", "is_linear=1", 1), ErrUnsupported, "linear"},
		{"poisson", strings.Replace(simple, "objective=binary sigmoid:1", "objective=poisson", 1), ErrUnsupported, "poisson"},
		{"gamma with parameters", strings.Replace(simple, "objective=binary sigmoid:1", "objective=gamma max_delta_step:1", 1), ErrUnsupported, "gamma with parameters"},
		{"version v5", strings.Replace(simple, "version=v2", "version=v5", 1), ErrUnsupported, "v5"},
		{"no version", strings.Replace(simple, "version=v2\n", "", 1), ErrCorrupt, "version"},
		{"truncated in tree", simple[:strings.Index(simple, "leaf_value")], ErrCorrupt, "inside tree 0"},
		{"truncated before end", simple[:strings.Index(simple, "end of trees")], ErrCorrupt, "end of trees"},
		{"leaf out of range", strings.Replace(simple, "left_child=-1 -2", "left_child=-1 -9", 1), ErrCorrupt, "only 3 leaves"},
		{"feature out of range", strings.Replace(simple, "split_feature=1 0", "split_feature=1 7", 1), ErrCorrupt, "feature 7"},
		{"short array", strings.Replace(simple, "threshold=0 340.50000000000006", "threshold=0", 1), ErrCorrupt, "threshold has 1 values, want 2"},
		{"shared child", strings.Replace(simple, "left_child=-1 -2", "left_child=-1 -1", 1), ErrInvalid, "child of both"},
		{"cycle", strings.Replace(simple, "right_child=1 -3", "right_child=1 1", 1), ErrInvalid, "child"},
		{"huge num_leaves", strings.Replace(simple, "num_leaves=3", "num_leaves=999999999", 1), ErrLimit, "leaves"},
		{"bad missing type", strings.Replace(simple, "decision_type=9 2", "decision_type=13 2", 1), ErrCorrupt, "missing type 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data), Limits{})
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

// TestLightGBMLimits checks that each bound is enforced.
func TestLightGBMLimits(t *testing.T) {
	data := readFile(t, filepath.Join(lgbDir, "lg_breast_cancer.txt"))
	tests := []struct {
		name string
		lim  Limits
		says string
	}{
		{"bytes", Limits{MaxBytes: 1000}, "bytes"},
		{"trees", Limits{MaxTrees: 10}, "trees"},
		{"features", Limits{MaxFeatures: 29}, "features"},
		{"nodes per tree", Limits{MaxNodesPerTree: 15}, "nodes"},
		{"total nodes", Limits{MaxTotalNodes: 500}, "nodes in total"},
		{"depth", Limits{MaxDepth: 3}, "depth"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(data, tc.lim)
			if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %v, want ErrLimit about %s", err, tc.says)
			}
		})
	}
	if _, err := Parse(data, DefaultLimits()); err != nil {
		t.Fatalf("default limits: %v", err)
	}
}

func TestRowLength(t *testing.T) {
	m := mustParse(t, readFile(t, filepath.Join(lgbDir, "model_simple.txt")))
	_, err := m.Predict([]float64{1})
	if !errors.Is(err, ErrRowLength) || !strings.Contains(err.Error(), "1 values, model expects 2") {
		t.Fatalf("error %v", err)
	}
	p, err := m.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Margin([]float64{1, 2, 3}); !errors.Is(err, ErrRowLength) {
		t.Fatalf("Predictor error %v", err)
	}
	if err := p.PredictBatch(make([]float64, 5), make([]float64, 3)); !errors.Is(err, ErrRowLength) {
		t.Fatalf("batch error %v", err)
	}
}

// TestLightGBMGamma reads a LightGBM file whose objective is gamma (log link) and
// checks its predictions against leaves, which applies exp to such a file: on the
// file itself, on the canonical text gbdt writes, and through the Predictor.
func TestLightGBMGamma(t *testing.T) {
	simple := string(readFile(t, filepath.Join(lgbDir, "model_simple.txt")))
	text := []byte(strings.Replace(simple, "objective=binary sigmoid:1", "objective=gamma", 1))
	m := mustParse(t, text)
	if m.Objective != Gamma {
		t.Fatalf("objective %q, want %q", m.Objective, Gamma)
	}
	canon := canonical(t, m)
	if !strings.Contains(string(canon), "\nobjective=gamma\n") {
		t.Fatalf("canonical text has no objective=gamma line:\n%s", canon)
	}
	if back := mustParse(t, canon); back.Objective != Gamma {
		t.Fatalf("canonical text reads back as %q", back.Objective)
	}
	fromFile, fromCanon := loadLeaves(t, text, true), loadLeaves(t, canon, true)
	pr, err := m.Compile()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var rows []float64
	for i := range 200 {
		row := []float64{math.Round(rng.Float64() * 1000), float64(rng.IntN(6))}
		if i%7 == 0 {
			row[i%2] = math.NaN()
		}
		mg, err := m.Margin(row)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := m.Predict(row)
		if want := math.Exp(mg); got != want {
			t.Fatalf("row %v: prediction %.17g, exp(margin) %.17g", row, got, want)
		}
		for name, lv := range map[string]*leaves.Ensemble{"file": fromFile, "canonical": fromCanon} {
			if lp := leavesPredict(t, lv, row); !relClose(lp, got, 1e-12, 0) {
				t.Errorf("row %v: leaves on the %s text %.17g, gbdt %.17g", row, name, lp, got)
			}
		}
		if pp, _ := pr.Predict(row); pp != got {
			t.Errorf("row %v: Predictor %.17g, Model %.17g", row, pp, got)
		}
		rows = append(rows, row...)
	}
	batch := make([]float64, 200)
	if err := pr.PredictBatch(rows, batch); err != nil {
		t.Fatal(err)
	}
	for i := range batch {
		if want, _ := m.Predict(rows[2*i : 2*i+2]); batch[i] != want {
			t.Errorf("batch row %d: %.17g, Predict %.17g", i, batch[i], want)
		}
	}
}
