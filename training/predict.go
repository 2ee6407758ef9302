package training

import (
	"fmt"

	"github.com/xinyi-platform/xinyi/gbdt"
)

// Margins evaluates m on every row of d and returns the raw margins (before
// the logistic link), using up to threads goroutines.
func Margins(m *gbdt.Model, d *Dataset, threads int) ([]float64, error) {
	if len(d.Columns) != m.NumFeatures() {
		return nil, fmt.Errorf("%w: data has %d features, model %d", ErrInvalidData, len(d.Columns), m.NumFeatures())
	}
	pr, err := m.Compile()
	if err != nil {
		return nil, fmt.Errorf("training: evaluate model: %w", err)
	}
	out := make([]float64, d.Rows())
	var firstErr error
	parallelChunks(len(out), max(threads, 1), 4096, func(lo, hi int) {
		row := make([]float64, len(d.Columns))
		for i := lo; i < hi; i++ {
			v, err := pr.Margin(d.Row(i, row))
			if err != nil {
				firstErr = err // cannot happen: the row length was checked
				return
			}
			out[i] = v
		}
	})
	if firstErr != nil {
		return nil, fmt.Errorf("training: evaluate model: %w", firstErr)
	}
	return out, nil
}
