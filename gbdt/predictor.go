package gbdt

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Predictor is a model compiled for fast evaluation: the nodes of all trees in
// one flat array of small structs, leaves inline, categorical bitsets in one
// shared slice. It is immutable and safe for concurrent use. It predicts exactly
// what Model.Margin and Model.Predict do.
type Predictor struct {
	objective Objective
	sigmoid   float64
	base      float64
	nf        int
	roots     []int32
	nodes     []flatNode
	cats      []uint32
	slow      []slowSplit // sorted by flat index
	depth     []int32     // per tree: the largest depth of a leaf
	simple    []bool      // per tree: no slow splits, so batches may use step
}

// flatNode is one node of a compiled tree, 16 bytes so four share a cache line.
// Nodes are laid out depth-first: an internal node's left child is the next
// node, its right child is at index right. meta holds the feature index in its
// low 24 bits and the flags above. value is the leaf output, the threshold of a
// numerical split, or (offset<<32 | length) of a categorical bitset in cats.
type flatNode struct {
	value float64
	meta  uint32
	right int32
}

const (
	flatFeatureMask = 1<<24 - 1
	flatLeaf        = 1 << 24
	// flatNaNLeft: a NaN value goes left. For MissingNaN that is the default
	// direction; for MissingNone NaN is compared as 0, known at compile time.
	flatNaNLeft = 1 << 25
	// flatSlow marks splits that need the general rule: categorical splits and
	// MissingZero splits.
	flatSlow = 1 << 26
)

// Compile validates m and builds its Predictor. Later changes to m do not
// affect the Predictor.
func (m *Model) Compile() (*Predictor, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	if len(m.FeatureNames) > flatFeatureMask {
		return nil, invalidf("model has %d features, more than a Predictor holds", len(m.FeatureNames))
	}
	p := &Predictor{
		objective: m.Objective,
		sigmoid:   m.Sigmoid,
		base:      m.BaseScore,
		nf:        len(m.FeatureNames),
		roots:     make([]int32, len(m.Trees)),
	}
	total := 0
	for ti := range m.Trees {
		total += len(m.Trees[ti].Nodes)
	}
	if total > math.MaxInt32 {
		return nil, invalidf("model has %d nodes, more than a Predictor holds", total)
	}
	p.nodes = make([]flatNode, 0, total)
	for ti := range m.Trees {
		p.roots[ti] = int32(len(p.nodes))
		slow := p.compileTree(m.Trees[ti].Nodes)
		p.slow = append(p.slow, slow...)
		depth := treeDepth(m.Trees[ti].Nodes)
		p.depth = append(p.depth, int32(depth))
		// Walking every row to the deepest leaf pays only when most rows go
		// about that deep: balanced (depth-wise) trees, not deep leaf-wise ones.
		p.simple = append(p.simple, len(slow) == 0 && float64(depth) <= 1.5*meanLeafDepth(m.Trees[ti].Nodes)+1)
	}
	return p, nil
}

// compileTree appends one tree depth-first and returns the original nodes of
// its slow splits, indexed by flat node.
func (p *Predictor) compileTree(nodes []Node) []slowSplit {
	var slow []slowSplit
	stack := []int{0}
	// pending[i] is the flat index whose right child is original node i.
	pending := map[int]int{}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		at := int32(len(p.nodes))
		if parent, ok := pending[i]; ok {
			p.nodes[parent].right = at
			delete(pending, i)
		}
		n := &nodes[i]
		if n.Leaf {
			// A leaf points at itself, so step can run past it.
			p.nodes = append(p.nodes, flatNode{value: n.Value, meta: flatLeaf, right: at})
			continue
		}
		f := flatNode{meta: uint32(n.Feature)}
		switch {
		case n.Categorical:
			f.meta |= flatSlow
			f.value = math.Float64frombits(uint64(len(p.cats))<<32 | uint64(len(n.Categories)))
			p.cats = append(p.cats, n.Categories...)
			slow = append(slow, slowSplit{at: at, categorical: true})
		case n.Missing == MissingZero:
			f.meta |= flatSlow
			f.value = n.Threshold
			slow = append(slow, slowSplit{at: at, defaultLeft: n.DefaultLeft})
		default:
			f.value = n.Threshold
			if (n.Missing == MissingNaN && n.DefaultLeft) || (n.Missing == MissingNone && 0 <= n.Threshold) {
				f.meta |= flatNaNLeft
			}
		}
		p.nodes = append(p.nodes, f)
		pending[n.Right] = int(at)
		stack = append(stack, n.Right, n.Left) // left is popped next: it follows its parent
	}
	return slow
}

// meanLeafDepth is the mean depth of the leaves of a tree, each weighted by
// its share of the root's cover (or equally when covers are missing).
func meanLeafDepth(nodes []Node) float64 {
	type item struct {
		node, depth int
		share       float64
	}
	sum := 0.0
	stack := []item{{0, 0, 1}}
	leaves := 0
	plain := 0.0
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := &nodes[it.node]
		if n.Leaf {
			sum += it.share * float64(it.depth)
			plain += float64(it.depth)
			leaves++
			continue
		}
		l, r := 0.5, 0.5
		if n.Cover > 0 {
			l, r = nodes[n.Left].Cover/n.Cover, nodes[n.Right].Cover/n.Cover
		}
		stack = append(stack, item{n.Left, it.depth + 1, it.share * l}, item{n.Right, it.depth + 1, it.share * r})
	}
	if sum > 0 && !math.IsInf(sum, 0) {
		return sum
	}
	return plain / float64(leaves)
}

// slowSplit records what the general decision rule needs for a flat node.
type slowSplit struct {
	at          int32
	categorical bool
	defaultLeft bool
}

// NumFeatures is the number of values each row must have.
func (p *Predictor) NumFeatures() int { return p.nf }

func (p *Predictor) margin(row []float64) float64 {
	s := p.base
	for _, r := range p.roots {
		s += p.treeValue(r, row)
	}
	return s
}

// slowLeft applies the general rule to a categorical or MissingZero split.
func (p *Predictor) slowLeft(i int32, v float64) bool {
	k, _ := slices.BinarySearchFunc(p.slow, i, func(s slowSplit, at int32) int { return cmp.Compare(s.at, at) })
	sp := p.slow[k]
	n := &p.nodes[i]
	if sp.categorical {
		bits := math.Float64bits(n.value)
		off, l := bits>>32, bits&(1<<32-1)
		return inBitset(p.cats[off:off+l], v)
	}
	return numericalLeft(v, n.value, MissingZero, sp.defaultLeft)
}

// Margin returns the raw score of one row (see Model.Margin).
func (p *Predictor) Margin(row []float64) (float64, error) {
	if len(row) != p.nf {
		return 0, rowLengthError(len(row), p.nf)
	}
	return p.margin(row), nil
}

// Predict returns the prediction of one row (see Model.Predict).
func (p *Predictor) Predict(row []float64) (float64, error) {
	if len(row) != p.nf {
		return 0, rowLengthError(len(row), p.nf)
	}
	return p.transform(p.margin(row)), nil
}

func (p *Predictor) transform(s float64) float64 { return transform(p.objective, p.sigmoid, s) }

// batchBlock is the number of rows MarginBatch runs through one tree before the
// next: the tree's nodes stay in cache while the block's rows use it.
const batchBlock = 64

// MarginBatch writes the raw score of each row of rows, a row-major matrix of
// len(out) rows by NumFeatures() columns, into out. It walks blocks of rows
// tree by tree, which keeps each tree in cache; the sums are added in the same
// order as Margin, so the results are identical.
func (p *Predictor) MarginBatch(rows, out []float64) error {
	if err := p.checkBatch(rows, out); err != nil {
		return err
	}
	nf := p.nf
	for start := 0; start < len(out); start += batchBlock {
		end := min(start+batchBlock, len(out))
		acc := out[start:end]
		for r := range acc {
			acc[r] = p.base
		}
		for t, root := range p.roots {
			r := 0
			if p.simple[t] {
				// Four rows walk the tree together, a fixed number of steps,
				// without branches: the four independent chains of loads
				// overlap instead of waiting on mispredicted splits.
				d := int(p.depth[t])
				for ; r+4 <= len(acc); r += 4 {
					base := (start + r) * nf
					r0, r1 := rows[base:base+nf], rows[base+nf:base+2*nf]
					r2, r3 := rows[base+2*nf:base+3*nf], rows[base+3*nf:base+4*nf]
					i0, i1, i2, i3 := root, root, root, root
					nodes := p.nodes
					for range d {
						i0 = step(nodes, i0, r0)
						i1 = step(nodes, i1, r1)
						i2 = step(nodes, i2, r2)
						i3 = step(nodes, i3, r3)
					}
					acc[r] += p.nodes[i0].value
					acc[r+1] += p.nodes[i1].value
					acc[r+2] += p.nodes[i2].value
					acc[r+3] += p.nodes[i3].value
				}
			}
			for ; r < len(acc); r++ {
				row := rows[(start+r)*nf : (start+r+1)*nf]
				acc[r] += p.treeValue(root, row)
			}
		}
	}
	return nil
}

// step moves one level down from flat node i of a tree without slow splits,
// and stays put on a leaf. It makes the same decision as treeValue, and is
// small enough to inline.
func step(nodes []flatNode, i int32, row []float64) int32 {
	n := &nodes[i]
	v := row[n.meta&flatFeatureMask]
	var left uint32
	if v <= n.value {
		left = 1
	}
	if v != v { // NaN: the flatNaNLeft bit
		left = n.meta >> 25
	}
	left = left &^ (n.meta >> 24) & 1 // never left from a leaf
	return n.right ^ ((n.right ^ (i + 1)) & -int32(left))
}

// treeValue returns the leaf value row reaches in the tree rooted at flat node i.
func (p *Predictor) treeValue(i int32, row []float64) float64 {
	nodes := p.nodes
	for {
		n := &nodes[i]
		meta := n.meta
		if meta&(flatLeaf|flatSlow) != 0 {
			if meta&flatLeaf != 0 {
				return n.value
			}
			if p.slowLeft(i, row[meta&flatFeatureMask]) {
				i++
			} else {
				i = n.right
			}
			continue
		}
		v := row[meta&flatFeatureMask]
		left := v <= n.value
		if v != v { // NaN: rare, so this branch predicts well
			left = meta&flatNaNLeft != 0
		}
		if left {
			i++
		} else {
			i = n.right
		}
	}
}

// PredictBatch is MarginBatch followed by the model's transform.
func (p *Predictor) PredictBatch(rows, out []float64) error {
	if err := p.MarginBatch(rows, out); err != nil {
		return err
	}
	if p.objective != Regression {
		for r := range out {
			out[r] = p.transform(out[r])
		}
	}
	return nil
}

func (p *Predictor) checkBatch(rows, out []float64) error {
	if len(rows) != len(out)*p.nf {
		return fmt.Errorf("%w: batch has %d values for %d rows of %d features", ErrRowLength, len(rows), len(out), p.nf)
	}
	return nil
}
