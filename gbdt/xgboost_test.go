package gbdt

import (
	"encoding/json"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt/gbdttest"
)

const xgbDir = "testdata/xgboost"

var xgbFixtures = []string{"binary_depthwise", "binary_lossguide", "reg_squarederror", "reg_logistic_lossguide", "reg_gamma", "binary_dart"}

var xgbFormats = []struct {
	ext    string
	source string
}{
	{".json", "xgboost-json"},
	{".ubj", "xgboost-ubj"},
	{".binf.model", "xgboost-binary"},
	{".nobinf.model", "xgboost-binary"},
}

// xgbGolden is what make_xgboost_fixtures.py saved from XGBoost 1.7.4.
type xgbGolden struct {
	Objective    string       `json:"objective"`
	FeatureNames []string     `json:"feature_names"`
	Rows         [][]*float64 `json:"rows"`
	Margin       []float64    `json:"margin"`
	Prediction   []float64    `json:"prediction"`
	Contribs     [][]float64  `json:"contribs"`
	rows         [][]float64
}

func loadGolden(t testing.TB, name string) *xgbGolden {
	t.Helper()
	var g xgbGolden
	if err := json.Unmarshal(readFile(t, filepath.Join(xgbDir, name+".golden.json")), &g); err != nil {
		t.Fatal(err)
	}
	for _, r := range g.Rows {
		row := make([]float64, len(r))
		for j, v := range r {
			if v == nil {
				row[j] = math.NaN()
			} else {
				row[j] = *v
			}
		}
		g.rows = append(g.rows, row)
	}
	if len(g.rows) == 0 || len(g.rows) != len(g.Margin) || len(g.rows) != len(g.Prediction) || len(g.rows) != len(g.Contribs) {
		t.Fatalf("golden %s: %d rows, %d margins, %d predictions, %d contribution rows", name, len(g.rows), len(g.Margin), len(g.Prediction), len(g.Contribs))
	}
	return &g
}

// XGBoost casts every input to float32 and accumulates the margin in float32;
// gbdt makes the same split decisions (see xgbThreshold) and sums the same
// float32 leaf values in float64. The difference is float32 rounding of a sum
// of a dozen terms: a few units of 2^-24 relative to the largest partial sum.
const (
	xgbMarginRel = 1e-6
	xgbMarginAbs = 1e-6
)

func TestXGBoostFixtures(t *testing.T) {
	worst := 0.0
	for _, name := range xgbFixtures {
		g := loadGolden(t, name)
		var first *Model
		for _, f := range xgbFormats {
			t.Run(name+f.ext, func(t *testing.T) {
				m := mustParse(t, readFile(t, filepath.Join(xgbDir, name+f.ext)))
				if m.Source != f.source {
					t.Errorf("source %q, want %q", m.Source, f.source)
				}
				wantObj := Binary
				switch g.Objective {
				case "reg:squarederror":
					wantObj = Regression
				case "reg:gamma":
					wantObj = Gamma
				}
				if m.Objective != wantObj || m.NumFeatures() != len(g.FeatureNames) {
					t.Fatalf("objective %s with %d features, want %s with %d", m.Objective, m.NumFeatures(), wantObj, len(g.FeatureNames))
				}
				text := canonical(t, m)
				lv := loadLeaves(t, text, true)
				back := mustParse(t, text)
				for i, row := range g.rows {
					mg, err := m.Margin(row)
					if err != nil {
						t.Fatal(err)
					}
					worst = max(worst, math.Abs(mg-g.Margin[i])/max(math.Abs(g.Margin[i]), 1))
					if !relClose(mg, g.Margin[i], xgbMarginRel, xgbMarginAbs) {
						t.Errorf("row %d: margin %.9g, XGBoost %.9g", i, mg, g.Margin[i])
					}
					p, _ := m.Predict(row)
					if m.Objective == Gamma {
						// exp turns the margin's absolute difference into a relative
						// one; XGBoost's float32 exp adds a float32 rounding.
						if rel := xgbMarginRel*max(math.Abs(g.Margin[i]), 1) + xgbMarginAbs + 0x1p-23; !relClose(p, g.Prediction[i], rel, 0) {
							t.Errorf("row %d: prediction %.9g, XGBoost %.9g", i, p, g.Prediction[i])
						}
						if want := math.Exp(mg); p != want {
							t.Errorf("row %d: prediction %.17g, exp(margin) %.17g", i, p, want)
						}
					} else if !relClose(p, g.Prediction[i], xgbMarginRel, xgbMarginAbs) {
						t.Errorf("row %d: prediction %.9g, XGBoost %.9g", i, p, g.Prediction[i])
					}
					if lp := leavesPredict(t, lv, row); !relClose(lp, p, 1e-12, 1e-15) {
						t.Errorf("row %d: leaves on canonical text %.17g, gbdt %.17g", i, lp, p)
					}
					if bm, _ := back.Margin(row); !relClose(bm, mg, 1e-12, 1e-15) {
						t.Errorf("row %d: canonical text re-read gives margin %.17g, original %.17g", i, bm, mg)
					}
				}
				if first == nil {
					first = m
					return
				}
				// All formats hold the same model: identical margins.
				for i, row := range g.rows {
					a, _ := first.Margin(row)
					b, _ := m.Margin(row)
					if a != b {
						t.Errorf("row %d: %s margin %.17g, JSON %.17g", i, f.ext, b, a)
					}
				}
			})
		}
	}
	t.Logf("largest margin difference from XGBoost, relative to max(|margin|, 1): %.3g", worst)
}

func TestXGBoostThreshold(t *testing.T) {
	// For every float32 x near t, float32(x) < t must equal x <= thr, and so
	// must the float64 values around the midpoints between float32 neighbours.
	for _, t32 := range []float32{0.5, 1, -1, 3.1415927, 1e-30, -2.5e7, 0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, -math.MaxFloat32, 123456.79} {
		thr := xgbThreshold(t32)
		x := t32
		for range 4 {
			x = math.Nextafter32(x, float32(math.Inf(-1)))
		}
		for range 9 {
			next := math.Nextafter32(x, float32(math.Inf(1)))
			mid := float64(x) + (float64(next)-float64(x))/2
			for _, v := range []float64{float64(x), mid, math.Nextafter(mid, math.Inf(-1)), math.Nextafter(mid, math.Inf(1))} {
				want := float32(v) < t32
				if got := v <= thr; got != want {
					t.Errorf("t=%v x=%.17g: x <= %.17g is %v, float32(x) < t is %v", t32, v, thr, got, want)
				}
			}
			x = next
		}
	}
}

// TestXGBoost2Layout rewrites a 1.7 JSON model the way XGBoost 2.1 writes its
// fields (base_score as a one-element vector "[3E-1]", default_left as
// booleans, version 2.1.0) and checks it reads as the same model.
func TestXGBoost2Layout(t *testing.T) {
	js := string(readFile(t, filepath.Join(xgbDir, "binary_depthwise.json")))
	v2 := strings.Replace(js, `"base_score":"3E-1"`, `"base_score":"[3E-1]"`, 1)
	v2 = strings.Replace(v2, `"version":[1,7,4]`, `"version":[2,1,0]`, 1)
	re := regexp.MustCompile(`"default_left":\[[01,]*\]`)
	v2 = re.ReplaceAllStringFunc(v2, func(s string) string {
		s = strings.ReplaceAll(s, "1", "true")
		return strings.ReplaceAll(s, "0", "false")
	})
	if v2 == js || !strings.Contains(v2, `"default_left":[true`) {
		t.Fatal("rewrite did not apply")
	}
	a := mustParse(t, []byte(js))
	b := mustParse(t, []byte(v2))
	g := loadGolden(t, "binary_depthwise")
	for i, row := range g.rows {
		ma, _ := a.Margin(row)
		mb, _ := b.Margin(row)
		if ma != mb {
			t.Fatalf("row %d: 2.x layout margin %v, 1.7 layout %v", i, mb, ma)
		}
	}
}

// TestFlexInts checks the decoding of split_type and default_left, which
// XGBoost versions write as integers or booleans, and that it takes no more
// than 8 bytes an element (through []any a million "1," took 104 MB).
func TestFlexInts(t *testing.T) {
	tests := []struct {
		in   string
		want []int64
		err  string
	}{
		{"[0,1,2]", []int64{0, 1, 2}, ""},
		{" [ true , false ] ", []int64{1, 0}, ""},
		{"[1.0,2e0,-3]", []int64{1, 2, -3}, ""},
		{"[]", []int64{}, ""},
		{"null", nil, ""},
		{`["1"]`, nil, "string or container"},
		{"[[1]]", nil, "string or container"},
		{"[1.5]", nil, `element 0 is "1.5"`},
		{"[0,null]", nil, `element 1 is "null"`},
		{"{}", nil, "want an array"},
		{"7", nil, "want an array"},
	}
	for _, tc := range tests {
		var got struct {
			V flexInts `json:"v"`
		}
		err := json.Unmarshal([]byte(`{"v":`+tc.in+`}`), &got)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got.V, tc.want) || (got.V == nil) != (tc.want == nil) {
			t.Errorf("%s: got %v (%v), want %v", tc.in, got.V, err, tc.want)
		}
	}
	data := []byte("[" + strings.Repeat("1,", 1<<20) + "1]")
	var f flexInts
	var err error
	alloc, _ := gbdttest.Cost(func() { err = f.UnmarshalJSON(data) })
	if err != nil || len(f) != 1<<20+1 {
		t.Fatalf("%d elements, %v", len(f), err)
	}
	if alloc > 9<<20 {
		t.Errorf("decoding %d bytes allocated %d", len(data), alloc)
	}
}
