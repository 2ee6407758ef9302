package gbdt

import (
	"fmt"
	"math"
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
}

const (
	flatLeaf = 1 << iota
	flatCategorical
	flatDefaultLeft
	flatMissingZero
	flatMissingNaN
)

// flatNode is one node of a compiled tree. For a leaf, value is the leaf output;
// for a numerical split it is the threshold. For a categorical split, left holds
// the offset of its bitset in Predictor.cats and catLen its length; the children
// then follow in next (left) and right.
type flatNode struct {
	value   float64
	feature int32
	left    int32
	right   int32
	catOff  int32
	catLen  int32
	flags   uint8
}

// Compile validates m and builds its Predictor. Later changes to m do not
// affect the Predictor.
func (m *Model) Compile() (*Predictor, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("compile: %w", err)
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
		nodes := m.Trees[ti].Nodes
		off := int32(len(p.nodes))
		p.roots[ti] = off
		for i := range nodes {
			n := &nodes[i]
			f := flatNode{}
			switch {
			case n.Leaf:
				f.flags = flatLeaf
				f.value = n.Value
			default:
				f.feature = int32(n.Feature)
				f.left = off + int32(n.Left)
				f.right = off + int32(n.Right)
				if n.DefaultLeft {
					f.flags |= flatDefaultLeft
				}
				if n.Categorical {
					f.flags |= flatCategorical
					f.catOff = int32(len(p.cats))
					f.catLen = int32(len(n.Categories))
					p.cats = append(p.cats, n.Categories...)
				} else {
					f.value = n.Threshold
					switch n.Missing {
					case MissingZero:
						f.flags |= flatMissingZero
					case MissingNaN:
						f.flags |= flatMissingNaN
					}
				}
			}
			p.nodes = append(p.nodes, f)
		}
	}
	return p, nil
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
			if n.flags&flatLeaf != 0 {
				s += n.value
				break
			}
			v := row[n.feature]
			var left bool
			switch {
			case n.flags&flatCategorical != 0:
				left = inBitset(p.cats[n.catOff:n.catOff+n.catLen], v)
			case v != v: // NaN
				if n.flags&flatMissingNaN != 0 {
					left = n.flags&flatDefaultLeft != 0
				} else if n.flags&flatMissingZero != 0 {
					left = n.flags&flatDefaultLeft != 0 // NaN counts as 0, and 0 is missing
				} else {
					left = 0 <= n.value
				}
			case n.flags&flatMissingZero != 0 && isZero(v):
				left = n.flags&flatDefaultLeft != 0
			default:
				left = v <= n.value
			}
			if left {
				i = n.left
			} else {
				i = n.right
			}
		}
	}
	return s
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
