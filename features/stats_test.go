package features

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5}
	// numpy.quantile([1,2,3,4,5], [0.25, 0.5, 0.9]) = [2, 3, 4.6]
	for _, tt := range []struct{ q, want float64 }{{0.25, 2}, {0.5, 3}, {0.9, 4.6}, {0, 1}, {1, 5}} {
		if got := quantileSorted(x, tt.q); !same(got, tt.want) {
			t.Errorf("q%.2f = %v, want %v", tt.q, got, tt.want)
		}
	}
}

func TestAUC(t *testing.T) {
	nan := math.NaN()
	for _, tt := range []struct {
		name string
		x, y []float64
		want float64
	}{
		{"perfect", []float64{1, 2, 3, 4}, []float64{0, 0, 1, 1}, 1},
		{"ties", []float64{1, 1, 2, 2}, []float64{0, 1, 0, 1}, 0.5},
		// scikit-learn's roc_auc_score documentation example.
		{"sklearn", []float64{0.1, 0.4, 0.35, 0.8}, []float64{0, 0, 1, 1}, 0.75},
		{"missing and unknown skipped", []float64{0.1, nan, 0.4, 0.35, 0.8, 9}, []float64{0, 1, 0, 1, 1, nan}, 0.75},
		{"one class", []float64{1, 2}, []float64{1, 1}, nan},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := AUC(tt.x, tt.y); !same(got, tt.want) {
				t.Errorf("AUC = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPSIAndIV(t *testing.T) {
	// 0.1·ln(0.6/0.5) − 0.1·ln(0.4/0.5)
	if got, want := PSI([]float64{0.5, 0.5}, []float64{0.6, 0.4}), 0.1*math.Log(1.2)-0.1*math.Log(0.8); !same(got, want) {
		t.Errorf("PSI = %v, want %v", got, want)
	}
	if got := PSI([]float64{0.3, 0.7}, []float64{0.3, 0.7}); got != 0 {
		t.Errorf("PSI of identical shares = %v, want 0", got)
	}
	// good 40/60, bad 10/5: shares 0.4/0.6 and 2/3, 1/3;
	// IV = (0.4−2/3)·ln(0.4/(2/3)) + (0.6−1/3)·ln(0.6/(1/3)) = 0.292963...
	if got := IV([]float64{40, 60}, []float64{10, 5}); math.Abs(got-0.292963) > 1e-6 {
		t.Errorf("IV = %v, want 0.292963", got)
	}
}

func TestComputeStats(t *testing.T) {
	nan := math.NaN()
	s := &Snapshot{Set: "t/v1", AsOf: time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC), Names: []string{"x"},
		Codes: []string{"a", "b", "c", "d"}, Values: []float64{1, nan, 3, 5}}
	st := ComputeStats(s, nil, []float64{0, 0, 1, 1}, []string{"C", "C", "F", "F"})[0]
	if st.Coverage != 0.75 || st.Present != 3 || *st.Mean != 3 || !same(*st.Std, math.Sqrt(8.0/3)) {
		t.Errorf("coverage %v present %d mean %v std %v, want 0.75 3 3 %v", st.Coverage, st.Present, *st.Mean, *st.Std, math.Sqrt(8.0/3))
	}
	if st.IndustryMean["C"] != 1 || st.IndustryMean["F"] != 4 {
		t.Errorf("industry means = %v, want C 1, F 4", st.IndustryMean)
	}
	if st.AUC == nil || *st.AUC != 1 {
		t.Errorf("AUC = %v, want 1 (b is missing and skipped)", st.AUC)
	}
	if st.PSI != nil {
		t.Errorf("PSI without a previous snapshot = %v", *st.PSI)
	}
	var total int64
	for _, h := range st.Histogram {
		total += h
	}
	if total != 3 || st.Histogram[0] != 1 || st.Histogram[HistogramBins-1] != 1 {
		t.Errorf("histogram = %v", st.Histogram)
	}
	prev := &Manifest{Stats: []IndicatorStats{st}}
	again := ComputeStats(s, prev, nil, nil)[0]
	if again.PSI == nil || *again.PSI != 0 {
		t.Errorf("PSI against itself = %v, want 0", again.PSI)
	}
}

func BenchmarkComputeStats(b *testing.B) {
	n, w := 120_000, 10
	s := &Snapshot{Names: make([]string, w), Codes: make([]string, n), Values: make([]float64, n*w)}
	for i := range s.Values {
		s.Values[i] = float64((i * 7919) % 1000)
	}
	y := make([]float64, n)
	for i := range y {
		y[i] = float64(i % 2)
	}
	for b.Loop() {
		ComputeStats(s, nil, y, nil)
	}
}

// TestSortFloats compares the radix sort of the statistics with slices.Sort on
// values of every sign and magnitude, with ties, infinities and both zeros.
func TestSortFloats(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gens := map[string]func() float64{
		"normal": func() float64 { return r.NormFloat64() * 1e6 },
		"counts": func() float64 { return float64(r.IntN(5)) },
		"narrow": func() float64 { return 1000 + float64(r.IntN(1<<20))/1024 },
		"extremes": func() float64 {
			return []float64{math.Inf(-1), math.Inf(1), 0, math.Copysign(0, -1), -math.MaxFloat64, math.SmallestNonzeroFloat64, -1, 1}[r.IntN(8)]
		},
		"mixed": func() float64 { return math.Ldexp(r.Float64()-0.5, r.IntN(200)-100) },
	}
	for name, gen := range gens {
		for _, n := range []int{0, 1, 255, 256, 1000, QuantileSample} {
			x := make([]float64, n)
			for i := range x {
				x[i] = gen()
			}
			want := slices.Clone(x)
			slices.Sort(want)
			sortFloats(x, make([]uint64, 2*n))
			for i := range x {
				if x[i] != want[i] || (i > 0 && x[i] == 0 && x[i-1] == 0 && math.Signbit(x[i]) && !math.Signbit(x[i-1])) {
					t.Fatalf("%s, %d values: at %d got %v, want %v", name, n, i, x[i], want[i])
				}
			}
		}
	}
}

func BenchmarkSortFloats(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, QuantileSample)
	for i := range x {
		x[i] = math.Exp(r.NormFloat64() * 3)
	}
	y := make([]float64, len(x))
	keys := make([]uint64, 2*len(x))
	b.Run("radix", func(b *testing.B) {
		for b.Loop() {
			copy(y, x)
			sortFloats(y, keys)
		}
	})
	b.Run("pdq", func(b *testing.B) {
		for b.Loop() {
			copy(y, x)
			slices.Sort(y)
		}
	})
}

func BenchmarkBinShares(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	col := make([]float64, 20000)
	for i := range col {
		col[i] = math.Exp(r.NormFloat64() * 3)
		if i%50 == 0 {
			col[i] = math.NaN()
		}
	}
	q := slices.Clone(col[:QuantileSample])
	q = slices.DeleteFunc(q, math.IsNaN)
	slices.Sort(q)
	edges := decileEdges(q)
	for b.Loop() {
		binShares(col, edges)
	}
}

// TestBinShares compares the branch-free counting of binShares with
// sort.SearchFloat64s, the definition of a value's bin, on values and edges
// with ties, both zeros, infinities and missing values.
func TestBinShares(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pool := []float64{math.Inf(-1), -2, -1, math.Copysign(0, -1), 0, 1, 2, 3, math.Inf(1), math.NaN()}
	for round := range 200 {
		col := make([]float64, r.IntN(50))
		for i := range col {
			col[i] = pool[r.IntN(len(pool))]
		}
		edges := make([]float64, r.IntN(12))
		for i := range edges {
			edges[i] = pool[r.IntN(len(pool)-1)]
		}
		slices.Sort(edges)
		want := make([]float64, len(edges)+2)
		for _, v := range col {
			b := len(edges) + 1
			if !math.IsNaN(v) {
				b = sort.SearchFloat64s(edges, v)
			}
			want[b]++
		}
		for i := range want {
			want[i] /= float64(max(len(col), 1))
		}
		if got := binShares(col, edges); !slices.Equal(got, want) {
			t.Fatalf("round %d: binShares(%v, %v) = %v, want %v", round, col, edges, got, want)
		}
	}
}
