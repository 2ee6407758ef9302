package training

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sort"
)

// binMapper maps the values of one feature to bins 0..numBins-1 by upper
// bounds (bin b holds the values v with upper[b-1] < v <= upper[b]; the last
// upper bound is +Inf); NaN goes to the missing bin numBins.
//
// A categorical feature's mapper (cat) puts category code c in bin c; its
// upper holds one unused entry per code so that numBins is the code count.
// NaN, negative codes and codes the training set did not have go to the
// missing bin, which categorical splits always send right.
type binMapper struct {
	upper []float64
	cat   bool
}

func (m *binMapper) numBins() int    { return len(m.upper) }
func (m *binMapper) missingBin() int { return len(m.upper) }

// bin returns the bin of v.
func (m *binMapper) bin(v float64) uint8 {
	if math.IsNaN(v) {
		return uint8(len(m.upper))
	}
	if m.cat {
		return catBin(v, len(m.upper))
	}
	// First b with v <= upper[b]; the last bound is +Inf so b < len(upper).
	lo, hi := 0, len(m.upper)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if v <= m.upper[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return uint8(lo)
}

// threshold returns the model threshold of a split that sends bins 0..t left.
// For the last value bin (a split of every value against missing only) it is
// the largest float64, so that every value (training data is finite) goes left.
func (m *binMapper) threshold(t int) float64 {
	if u := m.upper[t]; !math.IsInf(u, 1) {
		return u
	}
	return math.MaxFloat64
}

// catBin is the bin of category value v with k codes: int(v) when it is a
// code the mapper knows, else the missing bin k.
func catBin(v float64, k int) uint8 {
	if !(v > -1) || v >= float64(k) { // NaN, negative or unseen
		return uint8(k)
	}
	return uint8(int(v))
}

// MaxCategoryCode is the largest category code a categorical feature may
// hold in a training set: codes take one bin each, plus the missing bin.
const MaxCategoryCode = 254

// findCatBins returns the mapper of a categorical column whose codes were
// checked by checkCategorical: one bin per code 0..max.
func findCatBins(col []float64) binMapper {
	k := 0
	for _, v := range col {
		if v == v && int(v)+1 > k {
			k = int(v) + 1
		}
	}
	return binMapper{upper: make([]float64, max(k, 1)), cat: true}
}

// findBins computes the bin upper bounds for the non-NaN values in vals
// (which it sorts in place): distinct values get bins of their own while there
// are at most maxBins of them, otherwise bins hold about equal numbers of
// values, a value that alone fills a bin getting a bin of its own. Bounds lie
// halfway between the neighbouring distinct values.
func findBins(vals []float64, maxBins int) binMapper {
	slices.Sort(vals) // NaN sorts first
	k := 0
	for k < len(vals) && math.IsNaN(vals[k]) {
		k++
	}
	vals = vals[k:]
	if len(vals) == 0 {
		return binMapper{upper: []float64{math.Inf(1)}}
	}
	nd := 1
	for i := 1; i < len(vals); i++ {
		if vals[i] != vals[i-1] {
			nd++
		}
	}
	distinct := make([]float64, 0, nd)
	counts := make([]int, 0, nd)
	for i, v := range vals {
		if i == 0 || v != vals[i-1] {
			distinct = append(distinct, v)
			counts = append(counts, 0)
		}
		counts[len(counts)-1]++
	}
	between := func(a, b float64) float64 {
		mid := a + (b-a)/2
		if mid >= b || math.IsInf(mid, 0) || math.IsNaN(mid) {
			return a
		}
		return mid
	}
	var upper []float64
	if len(distinct) <= maxBins {
		for i := 0; i+1 < len(distinct); i++ {
			upper = append(upper, between(distinct[i], distinct[i+1]))
		}
		return binMapper{upper: append(upper, math.Inf(1))}
	}
	rest := float64(len(vals))
	binsLeft := maxBins
	target := rest / float64(binsLeft)
	acc := 0
	for i, c := range counts {
		if acc > 0 && binsLeft > 1 {
			fa, fc := float64(acc), float64(c)
			if fa+fc > target && (fa >= target/2 || fc >= target) {
				upper = append(upper, between(distinct[i-1], distinct[i]))
				binsLeft--
				rest -= fa
				target = rest / float64(binsLeft)
				acc = 0
			}
		}
		acc += c
	}
	return binMapper{upper: append(upper, math.Inf(1))}
}

// binnedData is a data set with every feature column compressed to uint8 bins.
type binnedData struct {
	rows    int
	cols    [][]uint8
	mappers []binMapper
	// sparse[j], for a training set, lists the rows of feature j outside
	// its most common bin when that bin holds at least sparseShare of
	// sparseMinRows or more rows (nil otherwise): a histogram over every row
	// then visits only those rows and gives the common bin the remainder of
	// the totals.
	sparse []sparseCol
}

// sparseCol is a feature whose bin common holds most rows; rows lists the
// others in ascending order.
type sparseCol struct {
	common uint8
	rows   []uint32
}

// A feature is stored sparse when one bin holds at least sparseShare of at
// least sparseMinRows rows: then visiting the other rows alone costs less
// than a pass over every row.
const (
	sparseShare   = 0.7
	sparseMinRows = 1 << 14
)

// findSparse returns the sparse form of col, or a zero sparseCol when col
// is not sparse.
func findSparse(col []uint8) sparseCol {
	if len(col) < sparseMinRows {
		return sparseCol{}
	}
	var counts [256]int
	for _, b := range col {
		counts[b]++
	}
	common := 0
	for b, c := range counts {
		if c > counts[common] {
			common = b
		}
	}
	if float64(counts[common]) < sparseShare*float64(len(col)) {
		return sparseCol{}
	}
	rows := make([]uint32, 0, len(col)-counts[common])
	for i, b := range col {
		if int(b) != common {
			rows = append(rows, uint32(i))
		}
	}
	return sparseCol{common: uint8(common), rows: rows}
}

// newBinnedData finds bins on (a sample of) d and bins every column, using up
// to threads goroutines over the features.
// Features marked in cat are categorical: every row is read for their codes.
func newBinnedData(d *Dataset, cat []bool, maxBins, sampleRows int, seed uint64, threads int) *binnedData {
	n := d.Rows()
	var sample []int
	if sampleRows > 0 && n > sampleRows {
		rng := rand.New(rand.NewPCG(seed, 0xb1b1b1b1))
		sample = rng.Perm(n)[:sampleRows]
		sort.Ints(sample)
	}
	bd := &binnedData{rows: n, cols: make([][]uint8, len(d.Columns)), mappers: make([]binMapper, len(d.Columns)),
		sparse: make([]sparseCol, len(d.Columns))}
	parallelFor(len(d.Columns), threads, func(j int) {
		col := d.Columns[j]
		if j < len(cat) && cat[j] {
			bd.mappers[j] = findCatBins(col)
			bd.cols[j] = binColumn(&bd.mappers[j], col)
			bd.sparse[j] = findSparse(bd.cols[j])
			return
		}
		var vals []float64
		if sample != nil {
			vals = make([]float64, len(sample))
			for k, r := range sample {
				vals[k] = col[r]
			}
		} else {
			vals = slices.Clone(col)
		}
		bd.mappers[j] = findBins(vals, maxBins)
		bd.cols[j] = binColumn(&bd.mappers[j], col)
		bd.sparse[j] = findSparse(bd.cols[j])
	})
	return bd
}

// applyBins bins d with the mappers of a training set.
func (bd *binnedData) applyBins(d *Dataset, threads int) *binnedData {
	out := &binnedData{rows: d.Rows(), cols: make([][]uint8, len(d.Columns)), mappers: bd.mappers}
	parallelFor(len(d.Columns), threads, func(j int) {
		out.cols[j] = binColumn(&bd.mappers[j], d.Columns[j])
	})
	return out
}

// binColumn bins col with m. It searches the bounds as order-preserving
// integer keys (scoreKey), so that each halving is a subtraction's borrow
// rather than a branch: the bins of real data are not predictable, and a
// mispredicted branch per halving made binning a large set slow. It gives
// the bins of m.bin.
func binColumn(m *binMapper, col []float64) []uint8 {
	if m.cat {
		out := make([]uint8, len(col))
		k := len(m.upper)
		for i, v := range col {
			out[i] = catBin(v, k)
		}
		return out
	}
	keys := make([]uint64, len(m.upper))
	for b, u := range m.upper {
		keys[b] = scoreKey(u)
	}
	miss := uint8(len(m.upper))
	out := make([]uint8, len(col))
	for i, v := range col {
		if v != v { // NaN
			out[i] = miss
			continue
		}
		k := scoreKey(v)
		// First b with k <= keys[b]; the last key is +Inf's, so b < len(keys).
		base, n := 0, len(keys)
		for n > 1 {
			half := n >> 1
			_, less := bits.Sub64(keys[base+half-1], k, 0) // 1 when keys[base+half-1] < k
			base += half & -int(less)
			n -= half
		}
		out[i] = uint8(base)
	}
	return out
}
