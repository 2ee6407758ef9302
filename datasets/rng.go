package datasets

import "math"

// rng is a small deterministic generator (SplitMix64). The generator derives one
// stream per (seed, company, month, purpose), so a company's data never depends
// on the order in which workers run.
type rng struct{ s uint64 }

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// streamOf returns the stream for seed and up to three coordinates.
func streamOf(seed uint64, a, b, c uint64) rng {
	h := mix64(seed ^ 0x9e3779b97f4a7c15)
	h = mix64(h ^ (a + 0x632be59bd9b4e019))
	h = mix64(h ^ (b + 0x85157af5))
	h = mix64(h ^ (c + 0x2545f4914f6cdd1d))
	return rng{s: h}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// float returns a uniform value in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a uniform value in [0, n).
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// bern returns true with probability p.
func (r *rng) bern(p float64) bool { return r.float() < p }

// norm returns a standard normal value (Box-Muller).
func (r *rng) norm() float64 {
	u := r.float()
	for u == 0 {
		u = r.float()
	}
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*r.float())
}

// logn returns exp(mu + sigma*N(0,1)).
func (r *rng) logn(mu, sigma float64) float64 { return math.Exp(mu + sigma*r.norm()) }

// pareto returns a Pareto(xm, alpha) value (heavy tail for alpha near 1).
func (r *rng) pareto(xm, alpha float64) float64 {
	return xm / math.Pow(1-r.float(), 1/alpha)
}

// poisson returns a Poisson(lambda) count (Knuth; lambda is small here).
func (r *rng) poisson(lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.norm())))
	}
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= r.float()
		if p <= l {
			return k
		}
		k++
	}
}

// pick returns an index drawn with probability proportional to the
// cumulative weights cum (cum[len-1] is the total).
func (r *rng) pick(cum []float64) int {
	u := r.float() * cum[len(cum)-1]
	for i, c := range cum {
		if u < c {
			return i
		}
	}
	return len(cum) - 1
}

func cumulative(w []float64) []float64 {
	out := make([]float64, len(w))
	s := 0.0
	for i, x := range w {
		s += x
		out[i] = s
	}
	return out
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
