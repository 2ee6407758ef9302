package training

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
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
