package training

import (
	"math"
	"math/rand/v2"
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
			for _, n := range []int{2, 17, 600} {
				y, s := make([]float64, n), make([]float64, n)
				for i := range y {
					s[i] = tc.gen(rng)
					if rng.IntN(3) == 0 {
						y[i] = 1
					}
				}
				y[0], y[1] = 0, 1 // both classes
				var sc aucScratch
				got, want := sc.aucRadix(y, s), pairwiseAUC(y, s)
				if got != want {
					t.Errorf("n %d: aucRadix %v, pairwise %v", n, got, want)
				}
				// The scratch buffers are reused across calls.
				if again := sc.aucRadix(y, s); again != want {
					t.Errorf("n %d: second call %v, want %v", n, again, want)
				}
			}
		})
	}
}
