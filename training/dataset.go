package training

import (
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/xinyi-platform/xinyi/gbdt"
)

// Dataset is a dense, column-major labelled matrix: Columns[j][i] is feature j
// of row i, NaN marks a missing value. Every column has len(Label) rows.
type Dataset struct {
	Features []string
	Columns  [][]float64
	Label    []float64
}

// Rows returns the number of rows.
func (d *Dataset) Rows() int { return len(d.Label) }

// Validate checks the shape of d and its labels for the objective.
func (d *Dataset) Validate(obj gbdt.Objective) error {
	if d == nil {
		return fmt.Errorf("%w: nil data set", ErrInvalidData)
	}
	n := len(d.Label)
	if n == 0 {
		return fmt.Errorf("%w: no rows", ErrInvalidData)
	}
	if len(d.Features) == 0 {
		return fmt.Errorf("%w: no features", ErrInvalidData)
	}
	if len(d.Columns) != len(d.Features) {
		return fmt.Errorf("%w: %d columns for %d feature names", ErrInvalidData, len(d.Columns), len(d.Features))
	}
	for j, c := range d.Columns {
		if len(c) != n {
			return fmt.Errorf("%w: column %q has %d rows, labels have %d", ErrInvalidData, d.Features[j], len(c), n)
		}
		for i, v := range c {
			if math.IsInf(v, 0) {
				return fmt.Errorf("%w: feature %q of row %d is %v (use NaN for a missing value)", ErrInvalidData, d.Features[j], i, v)
			}
		}
	}
	for i, y := range d.Label {
		if math.IsNaN(y) || math.IsInf(y, 0) {
			return fmt.Errorf("%w: label of row %d is %v", ErrInvalidData, i, y)
		}
		if obj == gbdt.Binary && y != 0 && y != 1 {
			return fmt.Errorf("%w: label of row %d is %v, the binary objective needs 0 or 1", ErrInvalidData, i, y)
		}
		if obj == gbdt.Gamma && !(y > 0) {
			return fmt.Errorf("%w: label of row %d is %v, the gamma objective (log link) needs a positive value", ErrInvalidData, i, y)
		}
	}
	return nil
}

// Row copies row i into out (len(out) == len(Features)) and returns it.
func (d *Dataset) Row(i int, out []float64) []float64 {
	for j, c := range d.Columns {
		out[j] = c[i]
	}
	return out
}

// Subset returns a new data set holding the given rows, in that order.
func (d *Dataset) Subset(rows []int) *Dataset {
	s := &Dataset{Features: d.Features, Columns: make([][]float64, len(d.Columns)), Label: make([]float64, len(rows))}
	for j, c := range d.Columns {
		out := make([]float64, len(rows))
		for k, r := range rows {
			out[k] = c[r]
		}
		s.Columns[j] = out
	}
	for k, r := range rows {
		s.Label[k] = d.Label[r]
	}
	return s
}

// FromArrow converts an Arrow record into a Dataset: the named feature columns
// (float64, nulls become NaN) and the target column (float64, no nulls).
// The record may hold other columns; they are ignored.
func FromArrow(rec arrow.Record, features []string, target string) (*Dataset, error) {
	if rec == nil {
		return nil, fmt.Errorf("%w: nil record", ErrInvalidData)
	}
	col := func(name string) (*array.Float64, error) {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) == 0 {
			return nil, fmt.Errorf("%w: record has no column %q", ErrInvalidData, name)
		}
		if len(idx) > 1 {
			return nil, fmt.Errorf("%w: record has %d columns named %q", ErrInvalidData, len(idx), name)
		}
		a, ok := rec.Column(idx[0]).(*array.Float64)
		if !ok {
			return nil, fmt.Errorf("%w: column %q is %s, want float64", ErrInvalidData, name, rec.Column(idx[0]).DataType())
		}
		return a, nil
	}
	n := int(rec.NumRows())
	d := &Dataset{Features: slices.Clone(features), Columns: make([][]float64, len(features))}
	for j, name := range features {
		a, err := col(name)
		if err != nil {
			return nil, err
		}
		out := make([]float64, n)
		vals := a.Float64Values()
		copy(out, vals)
		if a.NullN() > 0 {
			for i := range out {
				if a.IsNull(i) {
					out[i] = math.NaN()
				}
			}
		}
		d.Columns[j] = out
	}
	y, err := col(target)
	if err != nil {
		return nil, err
	}
	if y.NullN() > 0 {
		for i := 0; i < n; i++ {
			if y.IsNull(i) {
				return nil, fmt.Errorf("%w: target %q is null in row %d", ErrInvalidData, target, i)
			}
		}
	}
	d.Label = slices.Clone(y.Float64Values())
	return d, nil
}

// StratifiedSplit splits row indices 0..len(labels)-1 into a training and a
// test part, keeping the share of each label value in both. testFraction is the
// share of rows put in the test part.
//
// The split is a documented function of labels, testFraction and seed, so other
// tools can reproduce it exactly: within each label value, rows are ordered by
// the key splitmix64(seed XOR row) (ties by row), and the first
// round(testFraction * rows of that label) rows go to the test part. Both parts
// are returned in ascending order.
func StratifiedSplit(labels []float64, testFraction float64, seed uint64) (train, test []int, err error) {
	if !(testFraction > 0 && testFraction < 1) {
		return nil, nil, fmt.Errorf("%w: test fraction %v outside (0, 1)", ErrInvalidParams, testFraction)
	}
	groups := map[float64][]int{}
	var keys []float64
	for i, y := range labels {
		if _, ok := groups[y]; !ok {
			keys = append(keys, y)
		}
		groups[y] = append(groups[y], i)
	}
	slices.Sort(keys)
	for _, k := range keys {
		g := groups[k]
		slices.SortFunc(g, func(a, b int) int {
			ka, kb := splitmix64(seed^uint64(a)), splitmix64(seed^uint64(b))
			if ka != kb {
				if ka < kb {
					return -1
				}
				return 1
			}
			return a - b
		})
		nt := int(math.Round(testFraction * float64(len(g))))
		test = append(test, g[:nt]...)
		train = append(train, g[nt:]...)
	}
	slices.Sort(train)
	slices.Sort(test)
	if len(train) == 0 || len(test) == 0 {
		return nil, nil, fmt.Errorf("%w: %d rows cannot be split %v/%v", ErrInvalidData, len(labels), 1-testFraction, testFraction)
	}
	return train, test, nil
}

// splitmix64 is the SplitMix64 finalizer (Steele, Lea and Flood 2014).
func splitmix64(x uint64) uint64 {
	z := x + 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// checkCategorical checks that the features marked in cat hold category codes
// of a training set: whole numbers 0..MaxCategoryCode or NaN.
func (d *Dataset) checkCategorical(cat []bool) error {
	for j, c := range cat {
		if !c {
			continue
		}
		for i, v := range d.Columns[j] {
			if v != v {
				continue
			}
			if v < 0 || v > MaxCategoryCode || v != math.Trunc(v) {
				return fmt.Errorf("%w: categorical feature %q of row %d is %v (want a category code 0..%d, NaN for missing)",
					ErrInvalidData, d.Features[j], i, v, MaxCategoryCode)
			}
		}
	}
	return nil
}
