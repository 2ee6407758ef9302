package training

import (
	"math"
	"slices"
)

// words returns the set as LightGBM's category bitset: 32-bit words up to
// the one holding the largest category.
func (c *catSet) words() []uint32 {
	top := -1
	for b := 255; b >= 0; b-- {
		if c.has(uint8(b)) {
			top = b
			break
		}
	}
	out := make([]uint32, top/32+1)
	for b := 0; b <= top; b++ {
		if c.has(uint8(b)) {
			out[b/32] |= 1 << (uint(b) % 32)
		}
	}
	return out
}

// bestCatSplit finds the best split of lf on the categorical feature f. It
// follows LightGBM's method: with at most MaxCatToOnehot categories, each
// category against the rest; otherwise the categories with enough hessian
// ordered by gradient / (hessian + CatSmooth), and every prefix of that order
// taken from either end, up to MaxCatThreshold categories, as the left set.
// The children's outputs carry CatL2 on top of LambdaL2 in the ordered case.
// Missing values and categories left out always go right.
func (gr *grower) bestCatSplit(lf *leaf, f int, out *splitInfo) {
	*out = splitInfo{}
	p := gr.p
	nb := gr.bd.mappers[f].numBins()
	off := gr.offsets[f]
	h := lf.hist[off : off+nb]
	n := int64(lf.end - lf.begin)
	parent := gr.objective(lf.g, lf.h, lf.out)
	best := p.MinGainToSplit + 1e-10*math.Max(1, math.Abs(parent))
	minData := int64(p.MinDataInLeaf)
	minHess := p.MinSumHessianInLeaf
	onehot := nb <= p.MaxCatToOnehot
	l2 := p.LambdaL2
	if !onehot {
		l2 += p.CatL2
	}
	output := func(g, hs float64) float64 {
		den := hs + l2
		if den <= 0 {
			return 0
		}
		return min(max(p.capStep(-thresholdL1(g, p.LambdaL1)/den), lf.lo), lf.hi)
	}
	objective := func(g, hs, w float64) float64 {
		return -(2*thresholdL1(g, p.LambdaL1)*w + (hs+l2)*w*w)
	}
	// try evaluates the left sums lg, lh, ln and keeps the split when it is
	// the best so far; the set is built only then.
	try := func(lg, lh float64, ln int64, set func() catSet) {
		rn := n - ln
		rg, rh := lf.g-lg, lf.h-lh
		wl, wr := output(lg, lh), output(rg, rh)
		gain := objective(lg, lh, wl) + objective(rg, rh, wr) - parent
		if gain > best {
			best = gain
			*out = splitInfo{ok: true, gain: gain, feature: f, cat: true, set: set(),
				lg: lg, lh: lh, ln: int(ln), rg: rg, rh: rh, rn: int(rn), lout: wl, rout: wr}
		}
	}
	if onehot {
		for t := range nb {
			b := h[t]
			if b.n < minData || n-b.n < minData || b.h < minHess || lf.h-b.h < minHess {
				continue
			}
			try(b.g, b.h, b.n, func() (s catSet) { s.add(t); return s })
		}
		return
	}
	order := make([]int, 0, nb)
	for t := range nb {
		if h[t].h >= p.CatSmooth && h[t].n > 0 {
			order = append(order, t)
		}
	}
	ratio := func(t int) float64 { return h[t].g / (h[t].h + p.CatSmooth) }
	slices.SortStableFunc(order, func(a, b int) int {
		ra, rb := ratio(a), ratio(b)
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return 0
	})
	used := len(order)
	maxCats := min(p.MaxCatThreshold, (used+1)/2)
	perGroup := int64(p.MinDataPerGroup)
	for _, fromEnd := range []bool{false, true} {
		var lg, lh float64
		var ln, group int64
		for i := 0; i < used && i < maxCats; i++ {
			t := order[i]
			if fromEnd {
				t = order[used-1-i]
			}
			lg += h[t].g
			lh += h[t].h
			ln += h[t].n
			group += h[t].n
			if ln < minData || lh < minHess {
				continue
			}
			if rn := n - ln; rn < minData || rn < perGroup || lf.h-lh < minHess {
				break
			}
			if group < perGroup {
				continue
			}
			group = 0
			k := i
			try(lg, lh, ln, func() (s catSet) {
				for j := 0; j <= k; j++ {
					if fromEnd {
						s.add(order[used-1-j])
					} else {
						s.add(order[j])
					}
				}
				return s
			})
		}
	}
}
