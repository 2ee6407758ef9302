package features

import (
	"cmp"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// IndicatorStats are the statistics of one indicator in one snapshot, stored in its
// manifest. Optional figures are nil when they cannot be computed (no value present, no
// label, no previous snapshot).
type IndicatorStats struct {
	ID       string   `json:"id"`
	Rows     int64    `json:"rows"`
	Present  int64    `json:"present"`
	Coverage float64  `json:"coverage"` // Present / Rows
	Mean     *float64 `json:"mean,omitempty"`
	Std      *float64 `json:"std,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	// Quantiles at QuantileLevels (linear interpolation between order statistics).
	Quantiles []float64 `json:"quantiles,omitempty"`
	// Histogram: HistogramBins equal-width bins between Min and Max.
	Histogram []int64 `json:"histogram,omitempty"`
	// Bins are the decile edges used for PSI and IV (values <= edge[0] fall in bin 0,
	// ..., above the last edge in the last bin; missing values have their own bin at the
	// end), and BinShare the share of rows in each bin including the missing one.
	Bins     []float64 `json:"bins,omitempty"`
	BinShare []float64 `json:"bin_share,omitempty"`
	// PSI against the previous snapshot of the set, on the previous snapshot's bins.
	PSI *float64 `json:"psi,omitempty"`
	// IV and AUC against the set's label (1 = outcome within the horizon).
	IV  *float64 `json:"iv,omitempty"`
	AUC *float64 `json:"auc,omitempty"`
	// IndustryMean is the mean of the present values per industry (GB/T 4754 section).
	IndustryMean map[string]float64 `json:"industry_mean,omitempty"`
}

// QuantileLevels are the quantiles stored per indicator.
var QuantileLevels = []float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99}

// QuantileSample is the largest number of values quantiles and decile bins are computed
// from exactly; beyond it they come from an evenly spaced sample of that many values
// (in snapshot order, which is code order).
const QuantileSample = 1 << 14

// HistogramBins is the number of histogram bins.
const HistogramBins = 20

func num(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// ComputeStats computes the statistics of every indicator of a snapshot. prev is the
// manifest of the previous snapshot (nil: no PSI); y holds the label per company (1, 0,
// or NaN when unknown; nil: no IV or AUC); industry the industry per company (nil: no
// industry means).
func ComputeStats(s *Snapshot, prev *Manifest, y []float64, industry []string) []IndicatorStats {
	width := len(s.Names)
	return computeStats(s.Names, len(s.Codes), func(j int, col []float64) []float64 {
		for i := range col {
			col[i] = s.Values[i*width+j]
		}
		return col
	}, prev, y, industry)
}

// columnStats computes the statistics of the indicators ids held column by
// column (cols[j][i] is indicator j of company i, companies in code order), as
// ComputeStats does of a snapshot holding them.
func columnStats(ids []string, cols [][]float64, n int, prev *Manifest, y []float64, industry []string) []IndicatorStats {
	return computeStats(ids, n, func(j int, _ []float64) []float64 { return cols[j] }, prev, y, industry)
}

// computeStats computes the statistics of the n values of each indicator of
// ids; column returns those of indicator j, in the buffer it is given or its
// own (read only).
func computeStats(ids []string, n int, column func(j int, buf []float64) []float64, prev *Manifest, y []float64, industry []string) []IndicatorStats {
	width := len(ids)
	prevBy := map[string]*IndicatorStats{}
	if prev != nil {
		for i := range prev.Stats {
			prevBy[prev.Stats[i].ID] = &prev.Stats[i]
		}
	}
	// Industries as small integers, once for all indicators.
	var ind []int32
	var indNames []string
	if industry != nil {
		ind = make([]int32, n)
		pos := map[string]int32{}
		for i, name := range industry {
			if name == "" {
				ind[i] = -1
				continue
			}
			k, ok := pos[name]
			if !ok {
				k = int32(len(indNames))
				pos[name] = k
				indNames = append(indNames, name)
			}
			ind[i] = k
		}
	}
	out := make([]IndicatorStats, width)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), width); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &statsScratch{col: make([]float64, n), present: make([]float64, 0, n), sample: make([]float64, min(n, QuantileSample)),
				keys: make([]uint64, 2*min(n, QuantileSample))}
			for {
				j := int(next.Add(1) - 1)
				if j >= width {
					return
				}
				out[j] = indicatorStats(ids[j], column(j, w.col), w, prevBy, y, ind, indNames)
			}
		}()
	}
	wg.Wait()
	return out
}

// statsScratch holds the buffers one worker of ComputeStats reuses from
// indicator to indicator: no statistic keeps them.
type statsScratch struct {
	col, present, sample []float64
	keys                 []uint64
}

func indicatorStats(id string, col []float64, w *statsScratch, prevBy map[string]*IndicatorStats, y []float64, ind []int32, indNames []string) IndicatorStats {
	n := len(col)
	st := IndicatorStats{ID: id, Rows: int64(n)}
	present := w.present[:0]
	for _, v := range col {
		if !math.IsNaN(v) {
			present = append(present, v)
		}
	}
	st.Present = int64(len(present))
	if n > 0 {
		st.Coverage = float64(len(present)) / float64(n)
	}
	if len(present) > 0 {
		mean, sd, lo, hi := summary(present)
		st.Mean, st.Std = num(mean), num(sd)
		st.Min, st.Max = num(lo), num(hi)
		st.Histogram = histogram(present, lo, hi, HistogramBins)
		// Quantiles from an evenly spaced sample when there are many values.
		q := present
		if len(q) > QuantileSample {
			q = w.sample[:QuantileSample]
			for k := range q {
				q[k] = present[int(int64(k)*int64(len(present))/QuantileSample)]
			}
		}
		sortFloats(q, w.keys)
		for _, l := range QuantileLevels {
			st.Quantiles = append(st.Quantiles, quantileSorted(q, l))
		}
		st.Bins = decileEdges(q)
		st.BinShare = binShares(col, st.Bins)
	}
	st.PSI = psiAgainst(prevBy[id], col)
	if y != nil && st.Bins != nil {
		st.IV = num(informationValue(col, y, st.Bins))
		st.AUC = num(AUC(col, y))
	}
	if ind != nil && len(present) > 0 {
		sum := make([]float64, len(indNames))
		cnt := make([]float64, len(indNames))
		for i, v := range col {
			if k := ind[i]; k >= 0 && !math.IsNaN(v) {
				sum[k] += v
				cnt[k]++
			}
		}
		st.IndustryMean = map[string]float64{}
		for k, name := range indNames {
			if cnt[k] > 0 {
				st.IndustryMean[name] = sum[k] / cnt[k]
			}
		}
	}
	return st
}

// psiAgainst is the PSI of the values col against the statistics of the
// previous snapshot (nil when there are none, or no bins).
func psiAgainst(prev *IndicatorStats, col []float64) *float64 {
	if prev == nil || prev.BinShare == nil {
		return nil
	}
	return num(PSI(prev.BinShare, binShares(col, prev.Bins)))
}

// summary returns the mean, standard deviation, least and greatest of x (not
// empty, no NaN), the extremes as slices.Min and slices.Max find them, in the
// pass that sums.
func summary(x []float64) (mean, sd, lo, hi float64) {
	var s float64
	lo, hi = x[0], x[0]
	for _, v := range x {
		s += v
		lo, hi = min(lo, v), max(hi, v)
	}
	mean = s / float64(len(x))
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x))), lo, hi
}

// quantileSorted is the linear-interpolation quantile (type 7, numpy's default) of
// sorted values.
func quantileSorted(x []float64, q float64) float64 {
	if len(x) == 1 {
		return x[0]
	}
	h := q * float64(len(x)-1)
	lo := int(math.Floor(h))
	if lo >= len(x)-1 {
		return x[len(x)-1]
	}
	return x[lo] + (h-float64(lo))*(x[lo+1]-x[lo])
}

func histogram(values []float64, lo, hi float64, bins int) []int64 {
	out := make([]int64, bins)
	if hi == lo {
		out[0] = int64(len(values))
		return out
	}
	w := (hi - lo) / float64(bins)
	for _, v := range values {
		b := int((v - lo) / w)
		out[min(b, bins-1)]++
	}
	return out
}

// decileEdges returns the distinct deciles 10%..90% of sorted values.
func decileEdges(sorted []float64) []float64 {
	var e []float64
	for k := 1; k <= 9; k++ {
		v := quantileSorted(sorted, float64(k)/10)
		if len(e) == 0 || v > e[len(e)-1] {
			e = append(e, v)
		}
	}
	return e
}

func binOf(v float64, edges []float64) int {
	if math.IsNaN(v) {
		return len(edges) + 1
	}
	// The first edge >= v (v <= edges[i]), as sort.SearchFloat64s finds it: the
	// edges are at most nine, so a scan is quicker than a search.
	b := 0
	for b < len(edges) && edges[b] < v {
		b++
	}
	return b
}

// orderKey maps a value that is not NaN to an integer that compares as the
// values do, -0 equal to +0.
func orderKey(v float64) uint64 {
	if v == 0 {
		v = 0 // +0 for -0
	}
	k := math.Float64bits(v)
	return k ^ (uint64(int64(k)>>63) | 1<<63)
}

// sortFloats sorts x, which holds no NaN, in increasing order: a least
// significant digit radix sort on the bits of the values, byte by byte,
// skipping the bytes all values share. It orders the values as slices.Sort
// does, -0 before +0 (which slices.Sort leaves in either order). scratch holds
// at least 2·len(x) keys.
func sortFloats(x []float64, scratch []uint64) {
	n := len(x)
	if n < 2 {
		return
	}
	a, b := scratch[:n], scratch[n:2*n]
	var count [8][256]int
	for i, v := range x {
		k := math.Float64bits(v)
		// Negative values: every bit flipped; others: the sign bit set. The
		// keys then compare as unsigned integers as the values do.
		k ^= uint64(int64(k)>>63) | 1<<63
		a[i] = k
		for d := range 8 {
			count[d][byte(k>>(8*d))]++
		}
	}
	for d := range 8 {
		c := &count[d]
		if c[byte(a[0]>>(8*d))] == n {
			continue // every key has this byte
		}
		sum := 0
		for i := range c {
			c[i], sum = sum, sum+c[i]
		}
		shift := 8 * d
		for _, k := range a {
			j := byte(k >> shift)
			b[c[j]] = k
			c[j]++
		}
		a, b = b, a
	}
	for i, k := range a {
		k ^= uint64(int64(^k)>>63) | 1<<63
		x[i] = math.Float64frombits(k)
	}
}

// binShares is the share of values in each bin of edges plus the missing bin.
func binShares(col, edges []float64) []float64 {
	out := make([]float64, len(edges)+2)
	if len(col) == 0 {
		return out
	}
	if len(edges) <= 9 {
		// Up to nine edges (deciles), padded with +Inf: a value's bin is the
		// number of edges below it, counted without a branch to mispredict by
		// comparing order-preserving integer keys (-0 taken as +0).
		var e [9]uint64
		for i := range e {
			e[i] = orderKey(math.Inf(1))
		}
		for i, x := range edges {
			e[i] = orderKey(x)
		}
		var count [11]int
		for _, v := range col {
			if math.IsNaN(v) {
				count[len(edges)+1]++
				continue
			}
			k := orderKey(v)
			var b uint64
			for _, x := range e {
				_, borrow := bits.Sub64(x, k, 0)
				b += borrow
			}
			count[b]++
		}
		for i := range out {
			out[i] = float64(count[i])
		}
	} else {
		for _, v := range col {
			out[binOf(v, edges)]++
		}
	}
	for i := range out {
		out[i] /= float64(len(col))
	}
	return out
}

// psiFloor keeps empty bins from making PSI infinite.
const psiFloor = 1e-4

// PSI is the population stability index Σ (a−e)·ln(a/e) of actual shares a against
// expected shares e, each share floored at 1e-4.
func PSI(expected, actual []float64) float64 {
	if len(expected) != len(actual) {
		return math.NaN()
	}
	var s float64
	for i := range expected {
		e, a := max(expected[i], psiFloor), max(actual[i], psiFloor)
		s += (a - e) * math.Log(a/e)
	}
	return s
}

// informationValue bins col by edges (plus a missing bin) and returns Σ (g−b)·ln(g/b)
// of the shares of negatives (g) and positives (b) per bin, with 0.5 added to empty
// counts; rows with an unknown label are skipped.
func informationValue(col, y, edges []float64) float64 {
	nb := len(edges) + 2
	good := make([]float64, nb)
	bad := make([]float64, nb)
	for i, v := range col {
		switch y[i] {
		case 0:
			good[binOf(v, edges)]++
		case 1:
			bad[binOf(v, edges)]++
		}
	}
	return IV(good, bad)
}

// IV is the information value of per-bin counts of negatives (good) and positives
// (bad); a bin with a zero count gets 0.5 in both (a common smoothing). Bins empty in
// both are skipped.
func IV(good, bad []float64) float64 {
	var tg, tb float64
	g := slices.Clone(good)
	b := slices.Clone(bad)
	for i := range g {
		if g[i] == 0 && b[i] == 0 {
			continue
		}
		if g[i] == 0 || b[i] == 0 {
			g[i] += 0.5
			b[i] += 0.5
		}
		tg += g[i]
		tb += b[i]
	}
	if tg == 0 || tb == 0 {
		return math.NaN()
	}
	var iv float64
	for i := range g {
		if g[i] == 0 && b[i] == 0 {
			continue
		}
		dg, db := g[i]/tg, b[i]/tb
		iv += (dg - db) * math.Log(dg/db)
	}
	return iv
}

// AUC is the probability that a random positive has a higher value than a random
// negative (ties count half), over rows with a value and a known label.
func AUC(col, y []float64) float64 {
	type pair struct {
		v   float64
		pos bool
	}
	ps := make([]pair, 0, len(col))
	var np, nn float64
	for i, v := range col {
		if math.IsNaN(v) || (y[i] != 0 && y[i] != 1) {
			continue
		}
		ps = append(ps, pair{v, y[i] == 1})
		if y[i] == 1 {
			np++
		} else {
			nn++
		}
	}
	if np == 0 || nn == 0 {
		return math.NaN()
	}
	slices.SortFunc(ps, func(a, b pair) int { return cmp.Compare(a.v, b.v) })
	// Mann–Whitney: sum of positive ranks with average ranks for ties.
	var rankSum float64
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && ps[j].v == ps[i].v {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if ps[k].pos {
				rankSum += avg
			}
		}
		i = j
	}
	return (rankSum - np*(np+1)/2) / (np * nn)
}
