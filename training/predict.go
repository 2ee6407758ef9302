package training

import (
	"math"

	"github.com/xinyi-platform/xinyi/gbdt"
)

// margin evaluates the raw margin of a numerical-split model on one row.
// The trainer only makes numerical MissingNaN splits; other rules are
// evaluated as LightGBM does.
func margin(m *gbdt.Model, row []float64) float64 {
	s := m.BaseScore
	for t := range m.Trees {
		nodes := m.Trees[t].Nodes
		k := 0
		for !nodes[k].Leaf {
			nd := &nodes[k]
			v := row[nd.Feature]
			var left bool
			switch {
			case nd.Missing == gbdt.MissingNaN && math.IsNaN(v):
				left = nd.DefaultLeft
			case nd.Missing == gbdt.MissingZero && (math.IsNaN(v) || v == 0):
				left = nd.DefaultLeft
			default:
				if math.IsNaN(v) {
					v = 0
				}
				left = v <= nd.Threshold
			}
			if left {
				k = nd.Left
			} else {
				k = nd.Right
			}
		}
		s += nodes[k].Value
	}
	return s
}

// Margins evaluates m on every row of d (raw margins, before the link).
func Margins(m *gbdt.Model, d *Dataset, threads int) []float64 {
	out := make([]float64, d.Rows())
	parallelChunks(len(out), max(threads, 1), 4096, func(lo, hi int) {
		row := make([]float64, len(d.Columns))
		for i := lo; i < hi; i++ {
			out[i] = margin(m, d.Row(i, row))
		}
	})
	return out
}
