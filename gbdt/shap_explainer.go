package gbdt

import (
	"fmt"
	"math"
	"sync"
)

// Explainer is a model compiled for TreeSHAP: the trees are checked once, the
// expected value is computed once, and every leaf carries its path's unique
// features, their cover fractions and the splits that decide whether a row
// follows the path; two sibling leaves are one entry, explained by a single
// quadrature (shapPair4). Explaining a row then evaluates each split once and
// runs the leaf quadratures of Model.Contributions, with no tree walk and no
// allocation. Its results equal Model.Contributions' up to float64 rounding.
//
// Usage:
//
//	e, err := m.CompileExplainer() // once per model version
//	phi := make([]float64, e.NumFeatures())
//	expected, err := e.Contributions(row, phi) // sum(phi) + expected == margin
//
// An Explainer is immutable and safe for concurrent use; later changes to the
// Model do not affect it.
type Explainer struct {
	nf       int
	expected float64
	trees    []shapTree
	splits   []shapSplit
	cats     []uint32
	leaves   []shapLeafInfo
	slotFeat []int32
	slotZ    []float64
	conds    []shapCond
	// maxSplits is the largest number of internal nodes of a tree, maxSlots
	// the largest number of unique features on a path.
	maxSplits, maxSlots int
	rules               []glRule
	pool                sync.Pool
}

// shapTree locates one tree's splits and leaves in the Explainer's arrays.
type shapTree struct {
	split0, leaf0, leafEnd int32
}

// shapSplit is an internal node's decision rule.
type shapSplit struct {
	threshold   float64
	feature     int32
	catOff      int32 // categorical bitset: cats[catOff : catOff+catLen]
	catLen      int32
	missing     MissingType
	categorical bool
	defaultLeft bool
	// slow: categorical or MissingZero, decided by goesLeft; otherwise a NaN
	// goes left when nanLeft is 1.
	slow    bool
	nanLeft uint8
}

// shapLeafInfo is one leaf, or a pair of sibling leaves: its value, its
// path's unique features (slotFeat/slotZ[slot0 : slot0+nslot]) and the splits
// on its path (conds[cond0 : cond0+ncond]). A pair (split >= 0) is the two
// leaf children of one split, with paths of at most 8 unique features: the
// slots and conditions are those of the parent, value and zl are the left
// leaf's value and cover fraction, value2 and zr the right leaf's; shapPair4
// explains both at the cost of about one leaf.
type shapLeafInfo struct {
	value, value2 float64
	zl, zr        float64
	slot0, nslot  int32
	cond0, ncond  int32
	split         int32 // pair: the parent split, relative to the tree's first; -1 for one leaf
	feature       int32 // pair: the parent split's feature
	// dup: the pair's split feature is also split on above it; it is then
	// the last slot, and zl, zr are the children's fractions of the parent.
	dup bool
}

// shapCond says that a leaf's path goes left (or right) at a split of its
// tree (index relative to the tree's first split) and which of the leaf's
// slots that split's feature is.
type shapCond struct {
	split int32
	slot  int32
	left  uint8 // 1 for left
}

// CompileExplainer validates m (Validate, plus a positive Cover on every
// internal node) and builds its Explainer.
func (m *Model) CompileExplainer() (*Explainer, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("compile explainer: %w", err)
	}
	nf := len(m.FeatureNames)
	e := &Explainer{nf: nf, expected: m.BaseScore}
	depth := 0
	for ti := range m.Trees {
		nodes := m.Trees[ti].Nodes
		visits := 0
		d, err := shapCheck(nodes, 0, &visits, nf)
		if err != nil {
			return nil, fmt.Errorf("compile explainer: tree %d: %w", ti, err)
		}
		depth = max(depth, d)
	}
	rules, err := shapRuleFor(depth, nf)
	if err != nil {
		return nil, fmt.Errorf("compile explainer: %w", err)
	}
	e.rules = rules
	b := explainerBuilder{e: e, feat: make([]int32, depth+1), z: make([]float64, depth+1), path: make([]shapCond, 0, depth)}
	for ti := range m.Trees {
		t := shapTree{split0: int32(len(e.splits)), leaf0: int32(len(e.leaves))}
		b.nodes = m.Trees[ti].Nodes
		b.split0 = len(e.splits)
		e.expected += b.add(0, 0, 1)
		t.leafEnd = int32(len(e.leaves))
		e.maxSplits = max(e.maxSplits, len(e.splits)-int(t.split0))
		e.trees = append(e.trees, t)
	}
	if len(e.slotFeat) > math.MaxInt32 || len(e.conds) > math.MaxInt32 || len(e.cats) > math.MaxInt32 {
		return nil, invalidf("compile explainer: model too large (%d path entries)", len(e.conds))
	}
	e.pool.New = func() any {
		s := &shapScratch{left: make([]uint8, e.maxSplits)}
		n := e.maxSlots + 1
		s.on = make([]uint8, n)
		s.pf, s.pz = make([]int32, n), make([]float64, n)
		s.pre, s.acc = make([]float64, n+1), make([]float64, n)
		s.pre4 = make([][4]float64, n)
		s.rules = e.rules
		return s
	}
	return e, nil
}

// explainerBuilder walks one tree depth-first, keeping the current path's
// unique features (feat, z: d of them) and its splits (path).
type explainerBuilder struct {
	e      *Explainer
	nodes  []Node
	split0 int
	feat   []int32
	z      []float64
	path   []shapCond
}

// add appends the subtree at node i, reached with probability frac through a
// path of d unique features, and returns its share of the tree's
// cover-weighted mean leaf value.
func (b *explainerBuilder) add(i, d int, frac float64) float64 {
	e := b.e
	n := &b.nodes[i]
	if n.Leaf {
		e.leaves = append(e.leaves, shapLeafInfo{
			value: n.Value,
			slot0: int32(len(e.slotFeat)), nslot: int32(d),
			cond0: int32(len(e.conds)), ncond: int32(len(b.path)),
			split: -1,
		})
		e.slotFeat = append(e.slotFeat, b.feat[:d]...)
		e.slotZ = append(e.slotZ, b.z[:d]...)
		e.conds = append(e.conds, b.path...)
		e.maxSlots = max(e.maxSlots, d)
		return frac * n.Value
	}
	sp := shapSplit{threshold: n.Threshold, feature: int32(n.Feature), missing: n.Missing, categorical: n.Categorical, defaultLeft: n.DefaultLeft}
	if n.Categorical {
		sp.catOff, sp.catLen = int32(len(e.cats)), int32(len(n.Categories))
		e.cats = append(e.cats, n.Categories...)
	}
	sp.slow = n.Categorical || n.Missing == MissingZero
	sp.nanLeft = b2u8(numericalLeft(math.NaN(), n.Threshold, n.Missing, n.DefaultLeft))
	local := int32(len(e.splits) - b.split0)
	e.splits = append(e.splits, sp)
	f := int32(n.Feature)
	slot := d
	for k := range d {
		if b.feat[k] == f {
			slot = k
			break
		}
	}
	l, r := &b.nodes[n.Left], &b.nodes[n.Right]
	if l.Leaf && r.Leaf && (d < 8 || (slot < d && d <= 8)) {
		zl, zr := l.Cover/n.Cover, r.Cover/n.Cover
		info := shapLeafInfo{
			value: l.Value, value2: r.Value, zl: zl, zr: zr,
			slot0: int32(len(e.slotFeat)), nslot: int32(d),
			cond0: int32(len(e.conds)), ncond: int32(len(b.path)),
			split: local, feature: f,
		}
		if slot == d {
			e.slotFeat = append(e.slotFeat, b.feat[:d]...)
			e.slotZ = append(e.slotZ, b.z[:d]...)
			e.conds = append(e.conds, b.path...)
		} else {
			// The split's feature is already on the path: its slot moves
			// last, so the pair's other slots are feat[:d-1].
			info.dup = true
			for k := range d {
				if k != slot {
					e.slotFeat = append(e.slotFeat, b.feat[k])
					e.slotZ = append(e.slotZ, b.z[k])
				}
			}
			e.slotFeat = append(e.slotFeat, f)
			e.slotZ = append(e.slotZ, b.z[slot])
			for _, c := range b.path {
				switch {
				case c.slot == int32(slot):
					c.slot = int32(d - 1)
				case c.slot > int32(slot):
					c.slot--
				}
				e.conds = append(e.conds, c)
			}
		}
		e.leaves = append(e.leaves, info)
		e.maxSlots = max(e.maxSlots, d+1)
		return frac*zl*l.Value + frac*zr*r.Value
	}
	mean := 0.0
	for _, c := range [2]int{n.Left, n.Right} {
		cf := b.nodes[c].Cover / n.Cover
		b.path = append(b.path, shapCond{split: local, slot: int32(slot), left: b2u8(c == n.Left)})
		if slot < d {
			z := b.z[slot]
			b.z[slot] = z * cf
			mean += b.add(c, d, frac*cf)
			b.z[slot] = z
		} else {
			b.feat[d], b.z[d] = f, cf
			mean += b.add(c, d+1, frac*cf)
		}
		b.path = b.path[:len(b.path)-1]
	}
	return mean
}

// NumFeatures is the number of values each row must have.
func (e *Explainer) NumFeatures() int { return e.nf }

// Expected is the expected margin: BaseScore plus, for every tree, the mean of
// its leaf values weighted by Cover. Contributions returns it with every row.
func (e *Explainer) Expected() float64 { return e.expected }

// Contributions computes the exact path-dependent TreeSHAP values of one row
// on the margin scale, as Model.Contributions does: one value per feature in
// out (len(out) must be NumFeatures()), and the expected value is returned;
// sum(out) + expected == Margin(row) up to float64 rounding.
func (e *Explainer) Contributions(row, out []float64) (float64, error) {
	if len(row) != e.nf {
		return 0, rowLengthError(len(row), e.nf)
	}
	if len(out) != e.nf {
		return 0, fmt.Errorf("%w: contributions buffer has %d values, model has %d features", ErrRowLength, len(out), e.nf)
	}
	for i := range out {
		out[i] = 0
	}
	s := e.pool.Get().(*shapScratch)
	defer e.pool.Put(s)
	for ti := range e.trees {
		t := &e.trees[ti]
		splits := e.splits[t.split0:]
		left := s.left
		if ti+1 < len(e.trees) {
			splits = splits[:e.trees[ti+1].split0-t.split0]
		}
		for k := range splits {
			sp := &splits[k]
			v := row[sp.feature]
			var l uint8
			if v <= sp.threshold { // a flag, not a branch
				l = 1
			}
			if v != v { // NaN: rare
				l = sp.nanLeft
			}
			if sp.slow {
				l = b2u8(e.goesLeft(sp, v))
			}
			left[k] = l
		}
		for li := t.leaf0; li < t.leafEnd; li++ {
			l := &e.leaves[li]
			on := s.on[:l.nslot]
			for j := range on {
				on[j] = 1
			}
			for _, c := range e.conds[l.cond0 : l.cond0+l.ncond] {
				on[c.slot] &= 1 ^ left[c.split] ^ c.left
			}
			feat, z := e.slotFeat[l.slot0:l.slot0+l.nslot], e.slotZ[l.slot0:l.slot0+l.nslot]
			if l.split < 0 {
				shapLeaf(l.value, feat, z, on, out, s)
				continue
			}
			vh, zh, vc, zc := l.value, l.zl, l.value2, l.zr
			if left[l.split] == 0 {
				vh, zh, vc, zc = vc, zc, vh, zh
			}
			if !l.dup {
				shapPair(vh, zh, vc, zc, l.feature, feat, z, on, out, s)
				continue
			}
			last := len(feat) - 1
			if on[last] == 0 {
				// The row left the path at an earlier split on the same
				// feature: both leaves weigh in through their cover
				// fractions alone, as one leaf of the parent's path.
				shapLeaf(vh*zh+vc*zc, feat, z, on, out, s)
				continue
			}
			shapPair(vh, z[last]*zh, vc, z[last]*zc, l.feature, feat[:last], z[:last], on[:last], out, s)
		}
	}
	return e.expected, nil
}

// shapPair4 adds the contributions of two sibling leaves whose parent splits
// on feature fi, not otherwise on their common path of len(feat) <= 7 unique
// features (described as for shapLeaf). The row goes to the hot leaf (value
// vh, cover fraction zh at the parent) and not to the cold one (vc, zc).
//
// With P, m and Zp those of the common path, a_j(y) = z_j + (1−z_j)·y and
// B(y) = vh·a_h(y) + vc·zc·(1−y), the sum of shapLeaf's formulas over the two
// leaves is
//
//	phi_j  = −Zp·∫ Π_{P} a·(1−y)^(m−1)·B dy          for j ∉ P,
//	phi_j  = (1−z_j)·Zp·∫ Π_{P, ≠j} a·(1−y)^m·B dy   for j ∈ P,
//	phi_fi = (vh·(1−zh) − vc·zc)·Zp·∫ Π_{P} a·(1−y)^m dy,
//
// integrands of degree len(feat), integrated exactly by the 4-node rule.
func shapPair4(vh, zh, vc, zc float64, fi int32, feat []int32, z []float64, on []uint8, phi []float64, s *shapScratch) {
	pz, pf, zp := s.onPath(feat, z, on)
	if zp == 0 {
		return
	}
	p := len(pz)
	m := len(feat) - p
	q := &s.rules[4]
	y0, y1, y2, y3 := q.y[0], q.y[1], q.y[2], q.y[3]
	b0 := vh*(zh+(1-zh)*y0) + vc*zc*(1-y0)
	b1 := vh*(zh+(1-zh)*y1) + vc*zc*(1-y1)
	b2 := vh*(zh+(1-zh)*y2) + vc*zc*(1-y2)
	b3 := vh*(zh+(1-zh)*y3) + vc*zc*(1-y3)
	// Prefix products of the a_j at the four nodes.
	pre := s.pre4[:p]
	p0, p1, p2, p3 := 1.0, 1.0, 1.0, 1.0
	for j, a := range pz {
		pre[j] = [4]float64{p0, p1, p2, p3}
		b := 1 - a
		p0 *= a + b*y0
		p1 *= a + b*y1
		p2 *= a + b*y2
		p3 *= a + b*y3
	}
	w := q.w[m*4 : (m+1)*4 : (m+1)*4]
	phi[fi] += (vh*(1-zh) - vc*zc) * zp * ((w[0]*p0 + w[1]*p1) + (w[2]*p2 + w[3]*p3))
	if m > 0 {
		wo := q.w[(m-1)*4 : m*4 : m*4]
		c := -zp * ((wo[0]*b0*p0 + wo[1]*b1*p1) + (wo[2]*b2*p2 + wo[3]*b3*p3))
		for j, o := range on {
			phi[feat[j]] += c * float64(1-o) // adds 0 for followed features
		}
	}
	s0, s1, s2, s3 := w[0]*b0, w[1]*b1, w[2]*b2, w[3]*b3
	for j := p - 1; j >= 0; j-- {
		a := pz[j]
		b := 1 - a
		pr := &pre[j]
		phi[pf[j]] += zp * b * ((pr[0]*s0 + pr[1]*s1) + (pr[2]*s2 + pr[3]*s3))
		s0 *= a + b*y0
		s1 *= a + b*y1
		s2 *= a + b*y2
		s3 *= a + b*y3
	}
}

// shapPair3 is shapPair4 with the 3-node rule, for common paths of up to 5
// unique features (integrands of degree up to 5).
func shapPair3(vh, zh, vc, zc float64, fi int32, feat []int32, z []float64, on []uint8, phi []float64, s *shapScratch) {
	pz, pf, zp := s.onPath(feat, z, on)
	if zp == 0 {
		return
	}
	p := len(pz)
	m := len(feat) - p
	q := &s.rules[3]
	y0, y1, y2 := q.y[0], q.y[1], q.y[2]
	b0 := vh*(zh+(1-zh)*y0) + vc*zc*(1-y0)
	b1 := vh*(zh+(1-zh)*y1) + vc*zc*(1-y1)
	b2 := vh*(zh+(1-zh)*y2) + vc*zc*(1-y2)
	// Prefix products of the a_j at the four nodes.
	pre := s.pre4[:p]
	p0, p1, p2 := 1.0, 1.0, 1.0
	for j, a := range pz {
		pre[j] = [4]float64{p0, p1, p2, 0}
		b := 1 - a
		p0 *= a + b*y0
		p1 *= a + b*y1
		p2 *= a + b*y2
	}
	w := q.w[m*3 : (m+1)*3 : (m+1)*3]
	phi[fi] += (vh*(1-zh) - vc*zc) * zp * (w[0]*p0 + w[1]*p1 + w[2]*p2)
	if m > 0 {
		wo := q.w[(m-1)*3 : m*3 : m*3]
		c := -zp * (wo[0]*b0*p0 + wo[1]*b1*p1 + wo[2]*b2*p2)
		for j, o := range on {
			phi[feat[j]] += c * float64(1-o) // adds 0 for followed features
		}
	}
	s0, s1, s2 := w[0]*b0, w[1]*b1, w[2]*b2
	for j := p - 1; j >= 0; j-- {
		a := pz[j]
		b := 1 - a
		pr := &pre[j]
		phi[pf[j]] += zp * b * (pr[0]*s0 + pr[1]*s1 + pr[2]*s2)
		s0 *= a + b*y0
		s1 *= a + b*y1
		s2 *= a + b*y2
	}
}

// shapPair explains a pair of sibling leaves with the smallest exact rule.
func shapPair(vh, zh, vc, zc float64, fi int32, feat []int32, z []float64, on []uint8, phi []float64, s *shapScratch) {
	if len(feat) <= 5 {
		shapPair3(vh, zh, vc, zc, fi, feat, z, on, phi, s)
		return
	}
	shapPair4(vh, zh, vc, zc, fi, feat, z, on, phi, s)
}

// goesLeft applies a split's rule to value v, as goesLeft on a Node.
func (e *Explainer) goesLeft(sp *shapSplit, v float64) bool {
	if sp.categorical {
		return inBitset(e.cats[sp.catOff:sp.catOff+sp.catLen], v)
	}
	return numericalLeft(v, sp.threshold, sp.missing, sp.defaultLeft)
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
