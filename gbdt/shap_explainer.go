package gbdt

import (
	"fmt"
	"math"
	"sync"
)

// Explainer is a model compiled for TreeSHAP: the trees are checked once, the
// expected value is computed once, and every leaf carries its path's unique
// features, their cover fractions and the splits that decide whether a row
// follows the path. Explaining a row then evaluates each split once and runs
// the leaf quadrature of Model.Contributions, with no tree walk and no
// allocation. Its results equal Model.Contributions' up to float64 rounding.
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
}

// shapLeafInfo is one leaf: its value, its path's unique features
// (slotFeat/slotZ[slot0 : slot0+nslot]) and the splits on its path
// (conds[cond0 : cond0+ncond]).
type shapLeafInfo struct {
	value        float64
	slot0, nslot int32
	cond0, ncond int32
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
		left := s.left[:len(s.left)]
		if ti+1 < len(e.trees) {
			splits = splits[:e.trees[ti+1].split0-t.split0]
		}
		for k := range splits {
			left[k] = b2u8(e.goesLeft(&splits[k], row[splits[k].feature]))
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
			shapLeaf(l.value, e.slotFeat[l.slot0:l.slot0+l.nslot], e.slotZ[l.slot0:l.slot0+l.nslot], on, out, s)
		}
	}
	return e.expected, nil
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
