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
	cat         bool    // categorical: the bins in set go left, all others right
	set         catSet
}

// catSet is a set of bins (category codes) of a categorical split.
type catSet [4]uint64

func (c *catSet) add(b int)        { c[b>>6] |= 1 << (uint(b) & 63) }
func (c *catSet) has(b uint8) bool { return c[b>>6]>>(b&63)&1 != 0 }

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
	cat         bool // categorical: set's bins go left, others right
	left, right int32
	value       float64
	set         catSet
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
	used    []int   // features used by the current tree
	groups  [][]int // used, in groups for the histogram kernels
	mono    []int8

	fullG, fullH float64     // gradient sums of every row, for sparse histograms
	bestA, bestB []splitInfo // per-feature results of the two children
	goLeft       [256]int    // partition's bin lookup
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
	return min(max(gr.p.capStep(-thresholdL1(g, gr.p.LambdaL1)/den), lo), hi)
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
	if gr.bd.mappers[f].cat {
		gr.bestCatSplit(lf, f, out)
		return
	}
	*out = splitInfo{}
	p := gr.p
	nb := gr.bd.mappers[f].numBins()
	off := gr.offsets[f]
	h := lf.hist[off : off+nb+1]
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

// buildHist fills the histograms of the features of group (at most four)
// from rows, whose gradients are in ordered, or from every row in order with
// the gradients of gr.gh when full.
func (gr *grower) buildHist(hist []histBin, group []int, rows []uint32, ordered []gradPair, full bool) {
	if full && gr.bd.sparse != nil {
		var dense [4]int
		nd := 0
		for _, f := range group {
			if gr.bd.sparse[f].rows != nil {
				gr.sparseHist(hist, f)
			} else {
				dense[nd] = f
				nd++
			}
		}
		if nd == 0 {
			return
		}
		group = dense[:nd]
	}
	var h [4][]histBin
	var c [4][]uint8
	for k, f := range group {
		off := gr.offsets[f]
		h[k] = hist[off : off+gr.bd.mappers[f].numBins()+1]
		clear(h[k])
		c[k] = gr.bd.cols[f]
	}
	gh := gr.gh
	switch len(group) {
	case 1:
		if full {
			hist1Full(h[0], c[0], gh)
		} else {
			hist1(h[0], c[0], rows, ordered)
		}
	case 2:
		if full {
			hist2Full(h[0], h[1], c[0], c[1], gh)
		} else {
			hist2(h[0], h[1], c[0], c[1], rows, ordered)
		}
	case 3:
		if full {
			hist3Full(h[0], h[1], h[2], c[0], c[1], c[2], gh)
		} else {
			hist3(h[0], h[1], h[2], c[0], c[1], c[2], rows, ordered)
		}
	case 4:
		if full {
			hist4Full(h[0], h[1], h[2], h[3], c[0], c[1], c[2], c[3], gh)
		} else {
			hist4(h[0], h[1], h[2], h[3], c[0], c[1], c[2], c[3], rows, ordered)
		}
	}
}

// sparseHist fills the histogram of the sparse feature f over every row:
// the rows outside the common bin one by one, the common bin as the
// remainder of the totals gr.fullG, gr.fullH and the row count.
func (gr *grower) sparseHist(hist []histBin, f int) {
	sp := &gr.bd.sparse[f]
	off := gr.offsets[f]
	h := hist[off : off+gr.bd.mappers[f].numBins()+1]
	clear(h)
	col, gh := gr.bd.cols[f], gr.gh
	for _, r := range sp.rows {
		x := gh[r]
		e := &h[col[r]]
		e.g += x.g
		e.h += x.h
		e.n++
	}
	var sg, sh float64
	var sn int64
	for _, e := range h {
		sg += e.g
		sh += e.h
		sn += e.n
	}
	h[sp.common] = histBin{g: gr.fullG - sg, h: gr.fullH - sh, n: int64(gr.bd.rows) - sn}
}

// makeGroups splits the used features into groups of at most four, as evenly
// as possible, in a number of groups that is a multiple of the thread count so
// that the goroutines get equal shares.
func makeGroups(used []int, threads int) [][]int {
	n := len(used)
	if n == 0 {
		return nil
	}
	g := (n + 3) / 4
	if threads > 1 {
		g = threads * ((n + 4*threads - 1) / (4 * threads))
	}
	g = min(g, n)
	groups := make([][]int, 0, g)
	base, extra := n/g, n%g
	at := 0
	for i := range g {
		size := base
		if i < extra {
			size++
		}
		groups = append(groups, used[at:at+size])
		at += size
	}
	return groups
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

func (gr *grower) forGroups(groups [][]int, rows int, fn func(group []int)) {
	threads := gr.p.Threads
	if rows*len(gr.used) < parallelWork {
		threads = 1
	}
	parallelFor(len(groups), threads, func(i int) { fn(groups[i]) })
}

// rootGroups groups the used features for a histogram over every row: the
// dense ones as makeGroups does, then each sparse one on its own (its pass
// visits only its own row list).
func (gr *grower) rootGroups() [][]int {
	if gr.bd.sparse == nil {
		return gr.groups
	}
	var dense []int
	var groups [][]int
	for _, f := range gr.used {
		if gr.bd.sparse[f].rows != nil {
			groups = append(groups, []int{f})
		} else {
			dense = append(dense, f)
		}
	}
	return append(makeGroups(dense, gr.p.Threads), groups...)
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
	gr.groups = makeGroups(gr.used, gr.p.Threads)
	root.g, root.h = gr.sumGradients(rows, full)
	gr.fullG, gr.fullH = root.g, root.h
	root.out = gr.output(root.g, root.h, root.lo, root.hi)
	nodes := []gbdt.Node{{Leaf: true}}
	bnodes := []binNode{{leaf: true}}
	leaves := []*leaf{root}
	root.canSplit = gr.splittable(root)
	if root.canSplit {
		root.hist = gr.getHist()
		if !full {
			gh, ordered := gr.gh, gr.ordered
			gr.parallelRows(nrows, (nrows+partitionChunk-1)/partitionChunk, func(c int) {
				lo, hi := c*partitionChunk, min((c+1)*partitionChunk, nrows)
				for i, r := range rows[lo:hi] {
					ordered[lo+i] = gh[r]
				}
			})
		}
		groups := gr.groups
		if full {
			groups = gr.rootGroups()
		}
		gr.forGroups(groups, nrows, func(group []int) {
			gr.buildHist(root.hist, group, rows, gr.ordered, full)
			for _, f := range group {
				gr.bestSplit(root, f, &gr.bestA[f])
			}
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
		if s.cat {
			*nd = gbdt.Node{Feature: s.feature, Categorical: true, Categories: s.set.words(),
				Missing: gbdt.MissingNaN, Left: li, Right: ri, Gain: s.gain, Value: lf.out * lr,
				Count: float64(lf.end - lf.begin), Weight: lf.h, Cover: lf.h}
			bnodes[lf.node] = binNode{feature: int32(s.feature), missing: uint8(m.missingBin()), cat: true,
				set: s.set, left: int32(li), right: int32(ri)}
		} else {
			*nd = gbdt.Node{Feature: s.feature, Threshold: m.threshold(s.bin), DefaultLeft: s.defaultLeft,
				Missing: gbdt.MissingNaN, Left: li, Right: ri, Gain: s.gain, Value: lf.out * lr,
				Count: float64(lf.end - lf.begin), Weight: lf.h, Cover: lf.h}
			bnodes[lf.node] = binNode{feature: int32(s.feature), bin: uint8(s.bin), missing: uint8(m.missingBin()),
				defaultLeft: s.defaultLeft, left: int32(li), right: int32(ri)}
		}
		nodes = append(nodes, gbdt.Node{Leaf: true}, gbdt.Node{Leaf: true})
		bnodes = append(bnodes, binNode{leaf: true}, binNode{leaf: true})

		mid := gr.partition(lf, s, s.ln <= s.rn)
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
		// Once the tree is full no leaf splits again, so the last split's
		// children need no histograms.
		last := len(leaves)+1 >= p.NumLeaves
		left.canSplit = !last && gr.splittable(left)
		right.canSplit = !last && gr.splittable(right)
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
		small, large := left, right // partition gathered the smaller child's gradients
		if s.ln > s.rn {
			small, large = right, left
		}
		small.hist = gr.getHist()
		large.hist = lf.hist
		lf.hist = nil
		srows := gr.indices[small.begin:small.end]
		gr.forGroups(gr.groups, len(srows), func(group []int) {
			gr.buildHist(small.hist, group, srows, gr.ordered, false)
			for _, f := range group {
				gr.subtractHist(large.hist, small.hist, f)
				if small.canSplit {
					gr.bestSplit(small, f, &gr.bestA[f])
				}
				if large.canSplit {
					gr.bestSplit(large, f, &gr.bestB[f])
				}
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

// partitionChunk is the number of rows one goroutine partitions at a time.
// It is fixed, so the work split does not depend on the number of threads.
const partitionChunk = 1 << 14

// partition reorders lf's rows so that those going left come first (keeping
// their order) and returns the index where the right child's rows begin. It
// also gathers the gradients of the child with fewer rows (the left one when
// gatherLeft) into gr.ordered, in the child's row order.
func (gr *grower) partition(lf *leaf, s splitInfo, gatherLeft bool) int {
	goLeft := &gr.goLeft // 1 for bins going left
	for b := range goLeft {
		goLeft[b] = 0
		if s.cat {
			if s.set.has(uint8(b)) {
				goLeft[b] = 1
			}
		} else if b <= s.bin {
			goLeft[b] = 1
		}
	}
	if s.defaultLeft && !s.cat {
		goLeft[gr.bd.mappers[s.feature].missingBin()] = 1
	}
	col := gr.bd.cols[s.feature]
	rows := gr.indices[lf.begin:lf.end]
	tmp := gr.tmp[lf.begin:lf.end]
	n := len(rows)
	chunks := (n + partitionChunk - 1) / partitionChunk
	nleft := make([]int, chunks)
	// Pass 1: each chunk splits its rows into tmp, lefts first.
	gr.parallelRows(n, chunks, func(c int) {
		lo, hi := c*partitionChunk, min((c+1)*partitionChunk, n)
		// Branch-free: write the row at both ends and advance one of them.
		// A stray write is always overwritten later by the slot's owner.
		l, r := lo, hi
		seg := tmp[lo:hi]
		for _, row := range rows[lo:hi] {
			isLeft := goLeft[col[row]]
			seg[l-lo] = row
			seg[r-1-lo] = row
			l += isLeft
			r -= 1 - isLeft
		}
		// Rights were written backwards; restore their order.
		for a, b := l, hi-1; a < b; a, b = a+1, b-1 {
			tmp[a], tmp[b] = tmp[b], tmp[a]
		}
		nleft[c] = l - lo
	})
	total := 0
	for _, k := range nleft {
		total += k
	}
	// Pass 2: copy each chunk's lefts and rights into place and gather the
	// smaller child's gradients.
	gh, ordered := gr.gh, gr.ordered
	gr.parallelRows(n, chunks, func(c int) {
		lo, hi := c*partitionChunk, min((c+1)*partitionChunk, n)
		ldst, rdst := 0, total
		for k := range c {
			ldst += nleft[k]
			rdst += min((k+1)*partitionChunk, n) - k*partitionChunk - nleft[k]
		}
		nl := nleft[c]
		copy(rows[ldst:], tmp[lo:lo+nl])
		copy(rows[rdst:], tmp[lo+nl:hi])
		if gatherLeft {
			for i, row := range tmp[lo : lo+nl] {
				ordered[ldst+i] = gh[row]
			}
		} else {
			for i, row := range tmp[lo+nl : hi] {
				ordered[rdst-total+i] = gh[row]
			}
		}
	})
	return lf.begin + total
}

// parallelRows runs fn over chunks of a row range on the trainer's threads
// when the range is large enough to pay for it.
func (gr *grower) parallelRows(n, chunks int, fn func(c int)) {
	threads := gr.p.Threads
	if n < 2*partitionChunk {
		threads = 1
	}
	parallelFor(chunks, threads, fn)
}

// sumGradients sums the gradients and hessians of rows in fixed chunks added
// in order, so the result does not depend on the number of threads.
func (gr *grower) sumGradients(rows []uint32, full bool) (g, h float64) {
	n := len(rows)
	chunks := (n + partitionChunk - 1) / partitionChunk
	part := make([]gradPair, chunks)
	gh := gr.gh
	gr.parallelRows(n, chunks, func(c int) {
		lo, hi := c*partitionChunk, min((c+1)*partitionChunk, n)
		var sg, sh float64
		if full {
			for _, x := range gh[lo:hi] {
				sg += x.g
				sh += x.h
			}
		} else {
			for _, r := range rows[lo:hi] {
				sg += gh[r].g
				sh += gh[r].h
			}
		}
		part[c] = gradPair{sg, sh}
	})
	for _, x := range part {
		g += x.g
		h += x.h
	}
	return g, h
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
		case nd.cat:
			if nd.set.has(b) {
				k = nd.left
			} else {
				k = nd.right
			}
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
