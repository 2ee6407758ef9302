package serving

import (
	"bufio"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// testSet is the feature set the hand-written stump models are bound to.
var testSet = FeatureSet{Name: "credit", Version: 3, Indicators: []string{"tax.paid.sum_12m", "court.dishonest_debtor", "network.circle_defaulted"}}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func refFor(task Task, name string) ModelRef {
	return ModelRef{Task: task, Name: name, Version: "1", FeatureSet: testSet.Name, FeatureSetVersion: testSet.Version}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// TestScorerMatchesLightGBM checks leaves-loaded predictions against LightGBM's own
// predict output for the breast-cancer DART model (leaves testdata).
func TestScorerMatchesLightGBM(t *testing.T) {
	names := make([]string, 30)
	for i := range names {
		names[i] = "Column_" + strconv.Itoa(i)
	}
	set := FeatureSet{Name: "breast_cancer", Version: 1, Indicators: names}
	ref := ModelRef{Task: TaskPD, Name: "bc", Version: "1", FeatureSet: "breast_cancer", FeatureSetVersion: 1}
	sc, err := LoadScorer(readTestdata(t, "lg_dart_breast_cancer.model"), ref, set)
	if err != nil {
		t.Fatal(err)
	}
	rows := readTSV(t, "breast_cancer_test.tsv")
	want := readTSV(t, "lg_dart_breast_cancer_true_predictions.txt")
	if len(rows) != len(want) || len(rows) == 0 {
		t.Fatalf("%d rows, %d predictions", len(rows), len(want))
	}
	for i, row := range rows {
		got, err := sc.Predict(row)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if math.Abs(got-want[i][0]) > 1e-10 {
			t.Errorf("row %d: got %.15g, LightGBM %.15g", i, got, want[i][0])
		}
		m, err := sc.Margin(row)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(sigmoid(m)-want[i][0]) > 1e-10 {
			t.Errorf("row %d: sigmoid(margin) %.15g, LightGBM %.15g", i, sigmoid(m), want[i][0])
		}
	}
}

func readTSV(t *testing.T, name string) [][]float64 {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var row []float64
		for _, s := range strings.Fields(sc.Text()) {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			row = append(row, v)
		}
		out = append(out, row)
	}
	return out
}

func TestScorerHandCalculated(t *testing.T) {
	pd, err := LoadScorer(readTestdata(t, "stump_pd.txt"), refFor(TaskPD, "pd"), testSet)
	if err != nil {
		t.Fatal(err)
	}
	lim, err := LoadScorer(readTestdata(t, "stump_limit.txt"), refFor(TaskLimit, "limit"), testSet)
	if err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	tests := []struct {
		name       string
		row        []float64
		wantMargin float64 // sum of the leaf values reached, by hand
		wantLimit  float64
	}{
		{"good", []float64{150, 0, 0}, -2 + -1, 1200000 + 0},
		{"bad", []float64{80, 1, 1}, 0.5 + 2, 300000 - 200000},
		{"on threshold goes left", []float64{100, 0.5, 0}, 0.5 - 1, 300000},
		{"missing tax goes default left", []float64{nan, 0, 0}, 0.5 - 1, 300000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := pd.Margin(tt.row)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(m-tt.wantMargin) > 1e-12 {
				t.Errorf("margin %v, want %v", m, tt.wantMargin)
			}
			p, err := pd.Predict(tt.row)
			if err != nil {
				t.Fatal(err)
			}
			if want := sigmoid(tt.wantMargin); math.Abs(p-want) > 1e-12 {
				t.Errorf("pd %v, want %v", p, want)
			}
			l, err := lim.Predict(tt.row)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(l-tt.wantLimit) > 1e-6 {
				t.Errorf("limit %v, want %v", l, tt.wantLimit)
			}
		})
	}
}

func TestScorerRowLength(t *testing.T) {
	pd, err := LoadScorer(readTestdata(t, "stump_pd.txt"), refFor(TaskPD, "pd"), testSet)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range [][]float64{nil, {1, 2}, {1, 2, 3, 4}} {
		if _, err := pd.Predict(row); !errors.Is(err, ErrFeatureCount) {
			t.Errorf("Predict(%v): err %v, want ErrFeatureCount", row, err)
		}
		if _, err := pd.Margin(row); !errors.Is(err, ErrFeatureCount) {
			t.Errorf("Margin(%v): err %v, want ErrFeatureCount", row, err)
		}
	}
	if _, err := pd.Predict([]float64{math.Inf(1), 0, 0}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("infinite feature: err %v, want ErrInvalidInput", err)
	}
}

func TestLoadScorerRefusesWrongBinding(t *testing.T) {
	text := readTestdata(t, "stump_pd.txt")
	shorter := FeatureSet{Name: "credit", Version: 3, Indicators: testSet.Indicators[:2]}
	tests := []struct {
		name string
		ref  ModelRef
		set  FeatureSet
		want error
	}{
		{"registry binds another version", ModelRef{Task: TaskPD, Name: "pd", Version: "1", FeatureSet: "credit", FeatureSetVersion: 2}, testSet, ErrFeatureSetMismatch},
		{"registry binds another set", ModelRef{Task: TaskPD, Name: "pd", Version: "1", FeatureSet: "retail", FeatureSetVersion: 3}, testSet, ErrFeatureSetMismatch},
		{"a column the set lacks", refFor(TaskPD, "pd"), shorter, ErrFeatureSetMismatch},
		{"binary model as limit", refFor(TaskLimit, "pd"), testSet, ErrInvalidModel},
		{"unknown task", ModelRef{Task: "churn", Name: "pd", Version: "1", FeatureSet: "credit", FeatureSetVersion: 3}, testSet, ErrInvalidModel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadScorer(text, tt.ref, tt.set)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("limit model as pd", func(t *testing.T) {
		_, err := LoadScorer(readTestdata(t, "stump_limit.txt"), refFor(TaskPD, "limit"), testSet)
		if !errors.Is(err, ErrInvalidModel) {
			t.Fatalf("err %v, want ErrInvalidModel", err)
		}
	})
	t.Run("holder refuses scorer of a set with an indicator no online set holds", func(t *testing.T) {
		other := FeatureSet{Name: "credit", Version: 4, Indicators: append(slices.Clone(testSet.Indicators), "tax.not_served")}
		sc, err := LoadScorer(text, ModelRef{Task: TaskPD, Name: "pd", Version: "1", FeatureSet: "credit", FeatureSetVersion: 4}, other)
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewModels(map[Task]FeatureSet{TaskPD: testSet, TaskViolation: testSet, TaskLimit: testSet})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Install(sc); !errors.Is(err, ErrFeatureSetMismatch) {
			t.Fatalf("err %v, want ErrFeatureSetMismatch", err)
		}
		if m.Current().PD != nil {
			t.Fatal("refused model was installed")
		}
	})
}

func TestLoadScorerBadText(t *testing.T) {
	for name, text := range map[string]string{
		"empty":        "",
		"json":         `{"learner":{}}`,
		"no names":     "tree\nversion=v3\nobjective=binary\n\nTree=0\n",
		"no objective": "tree\nversion=v3\nfeature_names=a b c\n\nTree=0\n",
		"truncated":    string(readTestdata(t, "stump_pd.txt")[:300]),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadScorer([]byte(text), refFor(TaskPD, "pd"), testSet); !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("err %v, want ErrInvalidModel", err)
			}
		})
	}
}

func FuzzLoadScorer(f *testing.F) {
	f.Add(readTestdata(f, "stump_pd.txt"))
	f.Add([]byte("tree\nfeature_names=a\nobjective=binary\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		sc, err := LoadScorer(text, refFor(TaskPD, "pd"), testSet)
		if err != nil {
			return
		}
		if _, err := sc.Predict([]float64{1, 2, 3}); err != nil {
			t.Fatalf("loaded model fails on a valid row: %v", err)
		}
	})
}

func BenchmarkScorerPredict(b *testing.B) {
	names := make([]string, 30)
	for i := range names {
		names[i] = "Column_" + strconv.Itoa(i)
	}
	set := FeatureSet{Name: "breast_cancer", Version: 1, Indicators: names}
	sc, err := LoadScorer(readTestdata(b, "lg_dart_breast_cancer.model"), ModelRef{Task: TaskPD, Name: "bc", Version: "1", FeatureSet: "breast_cancer", FeatureSetVersion: 1}, set)
	if err != nil {
		b.Fatal(err)
	}
	row := make([]float64, 30)
	for i := range row {
		row[i] = float64(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sc.Predict(row); err != nil {
			b.Fatal(err)
		}
	}
}

// TestScorerWithoutCovers: a model file with no training counts cannot be explained;
// it still predicts, and Contributions says why there are no reasons.
func TestScorerWithoutCovers(t *testing.T) {
	var kept []string
	for _, line := range strings.Split(string(readTestdata(t, "stump_pd.txt")), "\n") {
		if strings.HasPrefix(line, "leaf_count=") || strings.HasPrefix(line, "internal_count=") ||
			strings.HasPrefix(line, "leaf_weight=") || strings.HasPrefix(line, "internal_weight=") {
			continue
		}
		kept = append(kept, line)
	}
	sc, err := LoadScorer([]byte(strings.Join(kept, "\n")), refFor(TaskPD, "pd"), testSet)
	if err != nil {
		t.Skipf("gbdt refuses a model without counts: %v", err)
	}
	if sc.Explains() {
		t.Fatal("a model without covers claims to explain")
	}
	if m, err := sc.Margin([]float64{150, 0, 0}); err != nil || m != -3 {
		t.Fatalf("margin %v %v, want -3", m, err)
	}
	if _, err := sc.Contributions([]float64{150, 0, 0}, make([]float64, 3)); !errors.Is(err, ErrNoExplainer) {
		t.Fatalf("contributions: %v, want ErrNoExplainer", err)
	}
}

// TestScorerBindsByName loads one model under sets that hold its columns in another
// order and with a column more: rows in the set's order are scored as the model's
// own rows permuted by hand, and contributions land on the set's columns.
func TestScorerBindsByName(t *testing.T) {
	text := readTestdata(t, "stump_pd.txt")
	own, err := LoadScorer(text, refFor(TaskPD, "pd"), testSet)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(own.Columns(), testSet.Indicators) {
		t.Fatalf("columns %v", own.Columns())
	}
	ind := testSet.Indicators
	// set column k holds model column perm[k]; -1 is a column the model does not read.
	set := FeatureSet{Name: "credit", Version: 3, Indicators: []string{"power.kwh.sum_12m", ind[2], ind[0], ind[1]}}
	perm := []int{-1, 2, 0, 1}
	sc, err := LoadScorer(text, refFor(TaskPD, "pd"), set)
	if err != nil {
		t.Fatal(err)
	}
	if sc.NumFeatures() != 4 || sc.NumColumns() != 3 || !slices.Equal(sc.Columns(), ind) {
		t.Fatalf("features %d, columns %v", sc.NumFeatures(), sc.Columns())
	}
	for _, modelRow := range [][]float64{{0, 0, 0}, {1e9, 0, 1}, {math.NaN(), 3, 0}, {5e5, 1, math.NaN()}} {
		setRow := make([]float64, 4)
		for k, j := range perm {
			if j < 0 {
				setRow[k] = 12345 // read by no column
			} else {
				setRow[k] = modelRow[j]
			}
		}
		want, err := own.Predict(modelRow)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sc.Predict(setRow)
		if err != nil || got != want {
			t.Fatalf("row %v: set order %v, want %v", modelRow, got, err)
		}
		if got, err := sc.PredictColumns(modelRow); err != nil || got != want {
			t.Fatalf("row %v: model order %v %v, want %v", modelRow, got, err, want)
		}
		if !sc.Explains() {
			continue
		}
		wantC := make([]float64, 3)
		if _, err := own.Contributions(modelRow, wantC); err != nil {
			t.Fatal(err)
		}
		gotC := make([]float64, 4)
		if _, err := sc.Contributions(setRow, gotC); err != nil {
			t.Fatal(err)
		}
		for k, j := range perm {
			w := 0.0
			if j >= 0 {
				w = wantC[j]
			}
			if gotC[k] != w {
				t.Fatalf("row %v: contribution of %s is %v, want %v", modelRow, set.Indicators[k], gotC[k], w)
			}
		}
	}
	if _, err := sc.PredictColumns(make([]float64, 4)); !errors.Is(err, ErrFeatureCount) {
		t.Fatalf("model row of the set's length: %v", err)
	}
	base := testing.AllocsPerRun(100, func() { _, _ = own.Predict([]float64{2, 3, 1}) })
	if allocs := testing.AllocsPerRun(100, func() { _, _ = sc.Predict([]float64{1, 2, 3, 4}) }); allocs > base {
		t.Fatalf("Predict through the index map allocates %v times per row, the model's own order %v", allocs, base)
	}
}
