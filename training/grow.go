package training

import (
	"math"

	"github.com/xinyi-platform/xinyi/gbdt"
)

// histBin accumulates the gradients, hessians and row count of one bin.
type histBin struct {
	g, h float64
	n    int64
}

// gradPair is the gradient and hessian of one row.
type gradPair struct{ g, h float64 }

// splitInfo is a candidate split of a leaf.
type splitInfo struct {
	ok          bool
	gain        float64
	feature     int
	bin         int // bins 0..bin go left (plus missing when defaultLeft)
	defaultLeft bool
	lg, lh      float64
	ln          int
	rg, rh      float64
	rn          int
	lout, rout  float64 // constrained, unshrunk outputs
}

// leaf is a leaf of the tree being grown.
type leaf struct {
	node       int // index in the tree's nodes
	begin, end int // its rows: grower.indices[begin:end]
	g, h       float64
	depth      int
	lo, hi     float64 // bounds of the output from monotone constraints
	out        float64 // constrained, unshrunk output
	hist       []histBin
	best       splitInfo
	canSplit   bool
}

// binNode mirrors a tree node with its split on bins, for scoring binned rows.
type binNode struct {
	feature     int32
	bin         uint8
	missing     uint8
	defaultLeft bool
	leaf        bool
	left, right int32
	value       float64
}

// grower grows one tree at a time on binned data.
type grower struct {
	p       *Params
	bd      *binnedData
	offsets []int // histogram offset of each feature
	width   int   // total histogram length
	gh      []gradPair
	indices []uint32
	tmp     []uint32
	ordered []gradPair
	pool    [][]histBin
	used    []int // features used by the current tree
	mono    []int8

	bestA, bestB []splitInfo // per-feature results of the two children
}

func newGrower(p *Params, bd *binnedData) *grower {
	nf := len(bd.cols)
	gr := &grower{p: p, bd: bd, offsets: make([]int, nf), mono: make([]int8, nf),
		bestA: make([]splitInfo, nf), bestB: make([]splitInfo, nf)}
	copy(gr.mono, p.Monotone)
	for j := range nf {
		gr.offsets[j] = gr.width
		gr.width += bd.mappers[j].numBins() + 1
	}
	gr.indices = make([]uint32, bd.rows)
	gr.tmp = make([]uint32, bd.rows)
	gr.ordered = make([]gradPair, bd.rows)
	return gr
}

func (gr *grower) getHist() []histBin {
	if n := len(gr.pool); n > 0 {
		h := gr.pool[n-1]
		gr.pool = gr.pool[:n-1]
		return h
	}
	return make([]histBin, gr.width)
}

func (gr *grower) putHist(h []histBin) {
	if h != nil {
		gr.pool = append(gr.pool, h)
	}
}

func thresholdL1(s, l1 float64) float64 {
	if s > l1 {
		return s - l1
	}
	if s < -l1 {
		return s + l1
	}
	return 0
}

// output is the constrained optimal leaf output for sums g, h.
func (gr *grower) output(g, h, lo, hi float64) float64 {
	den := h + gr.p.LambdaL2
	if den <= 0 {
		return 0
	}
	w := -thresholdL1(g, gr.p.LambdaL1) / den
	return min(max(w, lo), hi)
}

// objective is the reduction of the loss's second-order approximation when
// the rows with sums g, h get output w (larger is better).
func (gr *grower) objective(g, h, w float64) float64 {
	return -(2*thresholdL1(g, gr.p.LambdaL1)*w + (h+gr.p.LambdaL2)*w*w)
}

// splittable says whether a leaf may be split at all.
func (gr *grower) splittable(lf *leaf) bool {
	p := gr.p
	n := lf.end - lf.begin
	if n < 2*p.MinDataInLeaf || lf.h < 2*p.MinSumHessianInLeaf {
		return false
	}
	return p.MaxDepth == 0 || lf.depth < p.MaxDepth
}

// bestSplit finds the best split of lf on feature f from its histogram.
func (gr *grower) bestSplit(lf *leaf, f int, out *splitInfo) {
	*out = splitInfo{}
	p := gr.p
	nb := gr.bd.mappers[f].numBins()
	off := gr.offsets[f]
	h := gr.hist(lf)[off : off+nb+1]
	miss := h[nb]
	n := int64(lf.end - lf.begin)
	parent := gr.objective(lf.g, lf.h, lf.out)
	minGain := p.MinGainToSplit + 1e-10*math.Max(1, math.Abs(parent))
	mono := gr.mono[f]
	minData := int64(p.MinDataInLeaf)
	minHess := p.MinSumHessianInLeaf
	best := minGain
	try := func(t int, lg, lh float64, ln int64, defLeft bool) {
		rn := n - ln
		if ln < minData || rn < minData {
			return
		}
		rg, rh := lf.g-lg, lf.h-lh
		if lh < minHess || rh < minHess {
			return
		}
		wl := gr.output(lg, lh, lf.lo, lf.hi)
		wr := gr.output(rg, rh, lf.lo, lf.hi)
		if (mono > 0 && wl > wr) || (mono < 0 && wl < wr) {
			return
		}
		gain := gr.objective(lg, lh, wl) + gr.objective(rg, rh, wr) - parent
		if gain > best {
			best = gain
			*out = splitInfo{ok: true, gain: gain, feature: f, bin: t, defaultLeft: defLeft,
				lg: lg, lh: lh, ln: int(ln), rg: rg, rh: rh, rn: int(rn), lout: wl, rout: wr}
		}
	}
	var cg, ch float64
	var cn int64
	for t := 0; t < nb; t++ {
		cg += h[t].g
		ch += h[t].h
		cn += h[t].n
		if cn == 0 {
			continue
		}
		if miss.n == 0 {
			if t == nb-1 {
				break
			}
			// No missing values here: send them to the larger side.
			try(t, cg, ch, cn, cn >= n-cn)
			continue
		}
		// Missing values right, then left.
		try(t, cg, ch, cn, false)
		if t < nb-1 {
			try(t, cg+miss.g, ch+miss.h, cn+miss.n, true)
		}
	}
}

func (gr *grower) hist(lf *leaf) []histBin { return lf.hist }

// buildHist fills the histogram of lf on feature f from its rows, whose
// gradients are in ordered (or in gr.gh when the leaf holds every row in order).
func (gr *grower) buildHist(hist []histBin, f int, rows []uint32, ordered []gradPair, full bool) {
	nb := gr.bd.mappers[f].numBins()
	off := gr.offsets[f]
	h := hist[off : off+nb+1]
	clear(h)
	col := gr.bd.cols[f]
	if full {
		gh := gr.gh[:len(col)]
		for i, b := range col {
			e := &h[b]
			e.g += gh[i].g
			e.h += gh[i].h
			e.n++
		}
		return
	}
	ordered = ordered[:len(rows)]
	for i, r := range rows {
		e := &h[col[r]]
		e.g += ordered[i].g
		e.h += ordered[i].h
		e.n++
	}
}

// subtractHist turns parent's histogram of feature f into parent - small.
func (gr *grower) subtractHist(parent, small []histBin, f int) {
	nb := gr.bd.mappers[f].numBins()
	off := gr.offsets[f]
	p := parent[off : off+nb+1]
	s := small[off : off+nb+1]
	for b := range p {
		p[b].g -= s[b].g
		p[b].h -= s[b].h
		p[b].n -= s[b].n
	}
}

// parallelWork is the number of row-feature visits below which histogram work
// runs on one goroutine.
const parallelWork = 1 << 14

func (gr *grower) forFeatures(rows int, fn func(f int)) {
	threads := gr.p.Threads
	if rows*len(gr.used) < parallelWork {
		threads = 1
	}
	used := gr.used
	parallelFor(len(used), threads, func(i int) { fn(used[i]) })
}

// pickBest reduces per-feature results in feature order (ties keep the first).
func pickBest(used []int, per []splitInfo) splitInfo {
	var best splitInfo
	for _, f := range used {
		s := per[f]
		if s.ok && (!best.ok || s.gain > best.gain) {
			best = s
		}
	}
	return best
}

// grow grows one tree on the rows gr.indices[:nrows] with gradients gr.gh.
// It returns the tree, its bin mirror and its final leaves (whose row ranges
// are valid until the next call).
func (gr *grower) grow(nrows int) (gbdt.Tree, []binNode, []*leaf) {
	p := gr.p
	lr := p.LearningRate
	root := &leaf{begin: 0, end: nrows, lo: math.Inf(-1), hi: math.Inf(1)}
	rows := gr.indices[:nrows]
	full := nrows == gr.bd.rows
	for _, r := range rows {
		root.g += gr.gh[r].g
		root.h += gr.gh[r].h
	}
	root.out = gr.output(root.g, root.h, root.lo, root.hi)
	nodes := []gbdt.Node{{Leaf: true}}
	bnodes := []binNode{{leaf: true}}
	leaves := []*leaf{root}
	root.canSplit = gr.splittable(root)
	if root.canSplit {
		root.hist = gr.getHist()
		if !full {
			for i, r := range rows {
				gr.ordered[i] = gr.gh[r]
			}
		}
		gr.forFeatures(nrows, func(f int) {
			gr.buildHist(root.hist, f, rows, gr.ordered, full)
			gr.bestSplit(root, f, &gr.bestA[f])
		})
		root.best = pickBest(gr.used, gr.bestA)
	}
	for len(leaves) < p.NumLeaves {
		var lf *leaf
		for _, c := range leaves {
			if c.canSplit && c.best.ok && (lf == nil || c.best.gain > lf.best.gain) {
				lf = c
			}
		}
		if lf == nil {
			break
		}
		s := lf.best
		m := &gr.bd.mappers[s.feature]
		// Turn the leaf's node into a split.
		li, ri := len(nodes), len(nodes)+1
		nd := &nodes[lf.node]
		*nd = gbdt.Node{Feature: s.feature, Threshold: m.threshold(s.bin), DefaultLeft: s.defaultLeft,
			Missing: gbdt.MissingNaN, Left: li, Right: ri, Gain: s.gain, Value: lf.out * lr,
			Count: float64(lf.end - lf.begin), Weight: lf.h, Cover: lf.h}
		bnodes[lf.node] = binNode{feature: int32(s.feature), bin: uint8(s.bin), missing: uint8(m.missingBin()),
			defaultLeft: s.defaultLeft, left: int32(li), right: int32(ri)}
		nodes = append(nodes, gbdt.Node{Leaf: true}, gbdt.Node{Leaf: true})
		bnodes = append(bnodes, binNode{leaf: true}, binNode{leaf: true})

		mid := gr.partition(lf, s)
		left := &leaf{node: li, begin: lf.begin, end: mid, g: s.lg, h: s.lh, depth: lf.depth + 1,
			lo: lf.lo, hi: lf.hi, out: s.lout}
		right := &leaf{node: ri, begin: mid, end: lf.end, g: s.rg, h: s.rh, depth: lf.depth + 1,
			lo: lf.lo, hi: lf.hi, out: s.rout}
		switch c := (s.lout + s.rout) / 2; gr.mono[s.feature] {
		case 1:
			left.hi, right.lo = c, c
		case -1:
			left.lo, right.hi = c, c
		}
		left.canSplit = gr.splittable(left)
		right.canSplit = gr.splittable(right)
		// Replace lf by its children in the leaf list.
		for i, c := range leaves {
			if c == lf {
				leaves[i] = left
				break
			}
		}
		leaves = append(leaves, right)

		if !left.canSplit && !right.canSplit {
			gr.putHist(lf.hist)
			lf.hist = nil
			continue
		}
		small, large := left, right
		if small.end-small.begin > large.end-large.begin {
			small, large = large, small
		}
		small.hist = gr.getHist()
		large.hist = lf.hist
		lf.hist = nil
		srows := gr.indices[small.begin:small.end]
		for i, r := range srows {
			gr.ordered[i] = gr.gh[r]
		}
		gr.forFeatures(len(srows), func(f int) {
			gr.buildHist(small.hist, f, srows, gr.ordered, false)
			gr.subtractHist(large.hist, small.hist, f)
			if small.canSplit {
				gr.bestSplit(small, f, &gr.bestA[f])
			}
			if large.canSplit {
				gr.bestSplit(large, f, &gr.bestB[f])
			}
		})
		if small.canSplit {
			small.best = pickBest(gr.used, gr.bestA)
		}
		if large.canSplit {
			large.best = pickBest(gr.used, gr.bestB)
		}
		for _, c := range []*leaf{small, large} {
			if !c.canSplit || !c.best.ok {
				gr.putHist(c.hist)
				c.hist = nil
			}
		}
	}
	for _, lf := range leaves {
		gr.putHist(lf.hist)
		lf.hist = nil
		v := lf.out * lr
		nodes[lf.node] = gbdt.Node{Leaf: true, Value: v, Count: float64(lf.end - lf.begin), Weight: lf.h, Cover: lf.h}
		bnodes[lf.node] = binNode{leaf: true, value: v}
	}
	return gbdt.Tree{Nodes: nodes}, bnodes, leaves
}

// partition reorders lf's rows so that those going left come first (keeping
// their order) and returns the index where the right child's rows begin.
func (gr *grower) partition(lf *leaf, s splitInfo) int {
	var goLeft [256]bool
	for b := 0; b <= s.bin; b++ {
		goLeft[b] = true
	}
	goLeft[gr.bd.mappers[s.feature].missingBin()] = s.defaultLeft
	col := gr.bd.cols[s.feature]
	rows := gr.indices[lf.begin:lf.end]
	nl, nr := 0, 0
	tmp := gr.tmp
	for _, r := range rows {
		if goLeft[col[r]] {
			rows[nl] = r
			nl++
		} else {
			tmp[nr] = r
			nr++
		}
	}
	copy(rows[nl:], tmp[:nr])
	return lf.begin + nl
}

// scoreBinned returns the leaf value that the binned row i reaches.
func scoreBinned(bnodes []binNode, cols [][]uint8, i int) float64 {
	k := int32(0)
	for {
		nd := &bnodes[k]
		if nd.leaf {
			return nd.value
		}
		b := cols[nd.feature][i]
		switch {
		case b == nd.missing:
			if nd.defaultLeft {
				k = nd.left
			} else {
				k = nd.right
			}
		case b <= nd.bin:
			k = nd.left
		default:
			k = nd.right
		}
	}
}
