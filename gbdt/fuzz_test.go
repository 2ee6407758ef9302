package gbdt

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt/gbdttest"
)

// fuzzLimits keeps fuzzing fast: small enough that no input can make a parser
// work for long, large enough for every fixture.
var fuzzLimits = Limits{MaxBytes: 1 << 20, MaxTrees: 200, MaxNodesPerTree: 1 << 12, MaxTotalNodes: 1 << 15, MaxDepth: 32, MaxFeatures: 256,
	MaxCategoryWordsPerTree: 1 << 12, MaxCategoryWords: 1 << 14}

func addSeeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files match %s", pattern)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// checkParsed checks what every parser promises about a model it returns: it
// validates, evaluates, explains with local accuracy where covers allow, and
// survives the canonical LightGBM round trip with the same margins.
func checkParsed(t *testing.T, m *Model) {
	if err := m.Validate(); err != nil {
		t.Fatalf("parsed model does not validate: %v", err)
	}
	rows := [][]float64{make([]float64, m.NumFeatures()), make([]float64, m.NumFeatures())}
	for j := range rows[1] {
		rows[1][j] = math.NaN()
	}
	var buf bytes.Buffer
	if err := m.WriteLightGBM(&buf); err != nil {
		t.Fatalf("write: %v", err)
	}
	if size, err := m.LightGBMTextSize(); err != nil || size != int64(buf.Len()) {
		t.Fatalf("predicted text size %d (%v), wrote %d bytes", size, err, buf.Len())
	}
	back, err := parseLightGBM(buf.Bytes(), Limits{})
	if err != nil {
		t.Fatalf("canonical text does not parse: %v\n%s", err, buf.Bytes())
	}
	p, err := m.Compile()
	if err != nil {
		t.Fatal(err)
	}
	// Five rows, so the batch walks four together and one alone.
	var batch []float64
	for k := range 5 {
		batch = append(batch, rows[k%2]...)
	}
	bout := make([]float64, 5)
	if err := p.MarginBatch(batch, bout); err != nil {
		t.Fatal(err)
	}
	out := make([]float64, m.NumFeatures())
	for k, row := range rows {
		a, err := m.Margin(row)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := back.Margin(row); !relClose(b, a, 1e-9, 1e-9) && !math.IsInf(a, 0) {
			t.Fatalf("canonical round trip: margin %v, original %v", b, a)
		}
		if c, _ := p.Margin(row); c != a && !(math.IsNaN(a) && math.IsNaN(c)) {
			t.Fatalf("Predictor margin %v, Model %v", c, a)
		}
		for _, c := range []float64{bout[k], bout[k+2]} {
			if c != a && !(math.IsNaN(a) && math.IsNaN(c)) {
				t.Fatalf("Predictor batch margin %v, Model %v", c, a)
			}
		}
		if expected, err := m.Contributions(row, out); err == nil {
			// Tolerance relative to the size of the terms: mutated files can hold
			// leaf values like 1e17 whose cancellation costs float64 digits.
			sum, scale := expected, math.Abs(expected)+math.Abs(a)
			for _, v := range out {
				sum += v
				scale += math.Abs(v)
			}
			if math.Abs(sum-a) > 1e-9*scale+1e-9 && !math.IsInf(scale, 0) && !math.IsNaN(scale) {
				t.Fatalf("local accuracy: sum %v, margin %v", sum, a)
			}
		}
	}
}

func FuzzParseLightGBM(f *testing.F) {
	addSeeds(f, filepath.Join(lgbDir, "*.txt"))
	addSeeds(f, filepath.Join(lgbDir, "*.model"))
	// Hostile files: splits that all name one cat_threshold range, beyond the
	// category-word bound (and within the node bounds, so only it refuses the
	// file) and within it; and a cat_boundaries count the text cannot hold.
	f.Add(gbdttest.CategoricalBomb(500, 5000))
	f.Add(gbdttest.CategoricalBomb(40, 100))
	f.Add(gbdttest.HugeCatBoundaries(4_000_000_000))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseLightGBM(data, fuzzLimits)
		if err != nil {
			return
		}
		checkParsed(t, m)
	})
}

func FuzzParseXGBoostJSON(f *testing.F) {
	addSeeds(f, filepath.Join(xgbDir, "*.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseXGBoostJSON(data, fuzzLimits)
		if err != nil {
			return
		}
		checkParsed(t, m)
	})
}

func FuzzParseUBJSON(f *testing.F) {
	addSeeds(f, filepath.Join(xgbDir, "*.ubj"))
	// 255 control chars in a typed container: nine bytes of JSON each before
	// chars were limited to printable ASCII.
	f.Add(append([]byte("[$C#U\xff"), bytes.Repeat([]byte{1}, 255)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if int64(len(data)) > fuzzLimits.MaxBytes {
			return
		}
		js, err := ubjsonToJSON(data)
		if err != nil {
			return
		}
		if len(js) > 8*len(data)+16 {
			t.Fatalf("%d bytes of UBJSON became %d bytes of JSON", len(data), len(js))
		}
		m, err := parseXGBoostUBJSON(data, fuzzLimits)
		if err != nil {
			return
		}
		checkParsed(t, m)
	})
}

func FuzzParseXGBoostBinary(f *testing.F) {
	addSeeds(f, filepath.Join(xgbDir, "*.model"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseXGBoostBinary(data, fuzzLimits)
		if err != nil {
			return
		}
		checkParsed(t, m)
	})
}
