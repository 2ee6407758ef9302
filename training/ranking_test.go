package training

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// pairwiseAUC is the definition of the AUC, one comparison per
// (positive, negative) pair, a tie counting one half.
func pairwiseAUC(y, s []float64) float64 {
	var num, pairs float64
	for i := range y {
		if y[i] != 1 {
			continue
		}
		for j := range y {
			if y[j] == 1 {
				continue
			}
			pairs++
			switch {
			case s[i] > s[j]:
				num++
			case s[i] == s[j]:
				num += 0.5
			}
		}
	}
	return num / pairs
}

// midRankAUC is the Mann-Whitney statistic with mid-ranks after a comparison
// sort.
func midRankAUC(y, s []float64) float64 {
	idx := make([]int, len(y))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(s[a], s[b]) })
	var rankSum, pos float64
	for i := 0; i < len(idx); {
		j := i
		var np float64
		for j < len(idx) && s[idx[j]] == s[idx[i]] {
			np += y[idx[j]]
			j++
		}
		rankSum += np * float64(i+1+j) / 2
		pos += np
		i = j
	}
	neg := float64(len(y)) - pos
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

func TestAUCRadixMatchesPairwise(t *testing.T) {
	tests := []struct {
		name string
		gen  func(r *rand.Rand) float64
	}{
		{"continuous", func(r *rand.Rand) float64 { return r.NormFloat64() * 3 }},
		{"few distinct values", func(r *rand.Rand) float64 { return float64(r.IntN(7)) - 3 }},
		{"signed zeros and infinities", func(r *rand.Rand) float64 {
			return []float64{math.Copysign(0, -1), 0, math.Inf(1), math.Inf(-1), -1e-300, 1e-300, -2, 2}[r.IntN(8)]
		}},
		{"tiny and huge", func(r *rand.Rand) float64 { return math.Ldexp(r.Float64()-0.5, r.IntN(2000)-1000) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			for _, n := range []int{2, 17, 600, aucParallelRows + 301} {
				y, s := make([]float64, n), make([]float64, n)
				for i := range y {
					s[i] = tc.gen(rng)
					if rng.IntN(3) == 0 {
						y[i] = 1
					}
				}
				y[0], y[1] = 0, 1 // both classes
				var want float64
				if n <= 600 {
					want = pairwiseAUC(y, s)
				} else {
					want = midRankAUC(y, s) // pairwise is too slow for a unit test here
				}
				var sc aucScratch
				for _, threads := range []int{1, 2, 1} { // the scratch buffers are reused across calls
					if got := sc.aucRadix(y, s, threads); got != want {
						t.Errorf("n %d threads %d: aucRadix %v, want %v", n, threads, got, want)
					}
				}
			}
		})
	}
}

func TestBinColumnMatchesBin(t *testing.T) {
	// binColumn's integer-key search must put every value, bounds, signed
	// zeros, infinities and NaN included, in the bin of the plain search.
	rng := rand.New(rand.NewPCG(13, 14))
	tests := []struct {
		name  string
		upper []float64
	}{
		{"one bin", []float64{math.Inf(1)}},
		{"two bins at zero", []float64{0, math.Inf(1)}},
		{"negative and positive", []float64{-3.5, -1, math.Copysign(0, -1), 0.25, 7, math.Inf(1)}},
		{"255 bins", func() []float64 {
			u := make([]float64, 0, 255)
			for b := range 254 {
				u = append(u, float64(b-100)*0.37)
			}
			return append(u, math.Inf(1))
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := binMapper{upper: tc.upper}
			col := []float64{math.NaN(), math.Inf(-1), math.Inf(1), 0, math.Copysign(0, -1), -math.MaxFloat64, math.MaxFloat64}
			for _, u := range tc.upper {
				col = append(col, u, math.Nextafter(u, math.Inf(-1)), math.Nextafter(u, math.Inf(1)))
			}
			for range 2000 {
				col = append(col, rng.NormFloat64()*50)
			}
			got := binColumn(&m, col)
			for i, v := range col {
				if want := m.bin(v); got[i] != want {
					t.Errorf("value %v: binColumn %d, bin %d", v, got[i], want)
				}
			}
		})
	}
}

func TestSparseHistogram(t *testing.T) {
	// A feature whose common bin holds most rows is summed from its other
	// rows and the totals; every bin must still match a plain per-row sum.
	rng := rand.New(rand.NewPCG(15, 16))
	n := sparseMinRows + 123
	tests := []struct {
		name   string
		share  float64 // of rows in bin 3
		sparse bool
	}{
		{"mostly one bin", 0.9, true},
		{"every row in one bin", 1, true},
		{"dense", 0.5, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			col := make([]uint8, n)
			for i := range col {
				col[i] = 3
				if rng.Float64() >= tc.share {
					col[i] = uint8(rng.IntN(9))
				}
			}
			bd := &binnedData{rows: n, cols: [][]uint8{col}, mappers: []binMapper{{upper: make([]float64, 8)}}}
			bd.sparse = []sparseCol{findSparse(col)}
			if got := bd.sparse[0].rows != nil; got != tc.sparse {
				t.Fatalf("sparse %v, want %v", got, tc.sparse)
			}
			p := DefaultParams()
			gr := newGrower(&p, bd)
			gr.gh = make([]gradPair, n)
			for i := range gr.gh {
				gr.gh[i] = gradPair{rng.NormFloat64(), rng.Float64()}
			}
			want := make([]histBin, 9)
			for i, b := range col {
				want[b].g += gr.gh[i].g
				want[b].h += gr.gh[i].h
				want[b].n++
				gr.fullG += gr.gh[i].g
				gr.fullH += gr.gh[i].h
			}
			hist := gr.getHist()
			gr.buildHist(hist, []int{0}, nil, nil, true)
			for b, w := range want {
				g := hist[b]
				if g.n != w.n || math.Abs(g.g-w.g) > 1e-9*float64(n) || math.Abs(g.h-w.h) > 1e-9*float64(n) {
					t.Errorf("bin %d: got %+v, want %+v", b, g, w)
				}
			}
		})
	}
}

func TestDeterministicSparse(t *testing.T) {
	// With every row in every tree the root histograms of zero-heavy
	// features come from their other rows; the model must still not depend
	// on the number of threads.
	d := synthetic(sparseMinRows+5000, 17)
	rng := rand.New(rand.NewPCG(17, 18))
	zeros := make([]float64, d.Rows())
	for i := range zeros {
		if rng.IntN(10) == 0 {
			zeros[i] = d.Columns[2][i] // a tenth of rows carry x2, the rest 0
		}
	}
	d.Features = append(d.Features, "x2_sparse")
	d.Columns = append(d.Columns, zeros)
	p := DefaultParams()
	p.NumRounds = 10
	var texts []string
	for _, threads := range []int{1, 2} {
		q := p
		q.Threads = threads
		m, _, err := Train(context.Background(), d, nil, q)
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		if err := m.WriteLightGBM(&sb); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, sb.String())
	}
	if texts[0] != texts[1] {
		t.Error("models with 1 and 2 threads differ")
	}
}
