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
		p.slow = append(p.slow, p.compileTree(m.Trees[ti].Nodes)...)
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
			p.nodes = append(p.nodes, flatNode{value: n.Value, meta: flatLeaf})
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
	nodes := p.nodes
	for _, r := range p.roots {
		i := r
		for {
			n := &nodes[i]
			meta := n.meta
			if meta&flatLeaf != 0 {
				s += n.value
				break
			}
			v := row[meta&flatFeatureMask]
			var left bool
			switch {
			case meta&flatSlow != 0:
				left = p.slowLeft(i, v)
			case v != v: // NaN
				left = meta&flatNaNLeft != 0
			default:
				left = v <= n.value
			}
			if left {
				i++
			} else {
				i = n.right
			}
		}
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

func (p *Predictor) transform(s float64) float64 {
	if p.objective == Binary {
		return sigmoid(p.sigmoid * s)
	}
	return s
}

// MarginBatch writes the raw score of each row of rows, a row-major matrix of
// len(out) rows by NumFeatures() columns, into out.
func (p *Predictor) MarginBatch(rows, out []float64) error {
	if err := p.checkBatch(rows, out); err != nil {
		return err
	}
	for r := range out {
		out[r] = p.margin(rows[r*p.nf : (r+1)*p.nf])
	}
	return nil
}

// PredictBatch is MarginBatch followed by the model's transform.
func (p *Predictor) PredictBatch(rows, out []float64) error {
	if err := p.checkBatch(rows, out); err != nil {
		return err
	}
	for r := range out {
		out[r] = p.transform(p.margin(rows[r*p.nf : (r+1)*p.nf]))
	}
	return nil
}

func (p *Predictor) checkBatch(rows, out []float64) error {
	if len(rows) != len(out)*p.nf {
		return fmt.Errorf("%w: batch has %d values for %d rows of %d features", ErrRowLength, len(rows), len(out), p.nf)
	}
	return nil
}
