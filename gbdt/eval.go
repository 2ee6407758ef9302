package gbdt

import "math"

// zeroThreshold is LightGBM's kZeroThreshold: |x| <= 1e-35 counts as zero for
// MissingZero splits (float32 literal in LightGBM, hence the conversion).
var zeroThreshold = float64(float32(1e-35))

func isZero(v float64) bool { return v > -zeroThreshold && v <= zeroThreshold }

// goesLeft applies LightGBM's decision rule of an internal node to value v.
func goesLeft(n *Node, v float64) bool {
	if n.Categorical {
		return inBitset(n.Categories, v)
	}
	return numericalLeft(v, n.Threshold, n.Missing, n.DefaultLeft)
}

func numericalLeft(v, threshold float64, missing MissingType, defaultLeft bool) bool {
	if math.IsNaN(v) && missing != MissingNaN {
		v = 0
	}
	if (missing == MissingZero && isZero(v)) || (missing == MissingNaN && math.IsNaN(v)) {
		return defaultLeft
	}
	return v <= threshold
}

// inBitset reports whether category int(v) is in the bitset. NaN and values
// whose truncation is negative go right, as in LightGBM; so do categories past
// the end of the bitset.
func inBitset(bits []uint32, v float64) bool {
	if !(v > -1) { // NaN or truncates to a negative integer
		return false
	}
	if v >= float64(32*len(bits)) {
		return false
	}
	c := int(v)
	return bits[c/32]>>(uint(c)%32)&1 != 0
}

// leafFor returns the index of the leaf of tree t that row reaches, or -1 if the
// tree's structure is broken (child out of range or a cycle).
func leafFor(nodes []Node, row []float64) int {
	i := 0
	for steps := 0; steps <= len(nodes); steps++ {
		if i < 0 || i >= len(nodes) {
			return -1
		}
		n := &nodes[i]
		if n.Leaf {
			return i
		}
		if n.Feature < 0 || n.Feature >= len(row) {
			return -1
		}
		if goesLeft(n, row[n.Feature]) {
			i = n.Left
		} else {
			i = n.Right
		}
	}
	return -1
}

// Margin returns the raw score of one row: BaseScore plus the leaf value of every
// tree. Missing values are NaN. It returns ErrRowLength when len(row) is not
// NumFeatures(), and ErrInvalid when a tree's structure is broken.
//
// Margin walks the Node structs directly; for many rows, Compile the model once
// and use Predictor.
func (m *Model) Margin(row []float64) (float64, error) {
	if len(row) != len(m.FeatureNames) {
		return 0, rowLengthError(len(row), len(m.FeatureNames))
	}
	s := m.BaseScore
	for ti := range m.Trees {
		nodes := m.Trees[ti].Nodes
		leaf := leafFor(nodes, row)
		if leaf < 0 {
			return 0, invalidf("tree %d has a broken structure", ti)
		}
		s += nodes[leaf].Value
	}
	return s, nil
}

// MarginTerms returns Margin(row) and the magnitude of the terms it sums:
// |BaseScore| plus the |value| of every leaf the row reaches. A predictor that
// sums in float32 (XGBoost) rounds on the scale of the terms, not of their sum,
// so comparisons with its output scale their relative tolerance by this.
func (m *Model) MarginTerms(row []float64) (margin, magnitude float64, err error) {
	if len(row) != len(m.FeatureNames) {
		return 0, 0, rowLengthError(len(row), len(m.FeatureNames))
	}
	margin, magnitude = m.BaseScore, math.Abs(m.BaseScore)
	for ti := range m.Trees {
		nodes := m.Trees[ti].Nodes
		leaf := leafFor(nodes, row)
		if leaf < 0 {
			return 0, 0, invalidf("tree %d has a broken structure", ti)
		}
		margin += nodes[leaf].Value
		magnitude += math.Abs(nodes[leaf].Value)
	}
	return margin, magnitude, nil
}

// Predict returns the prediction of one row: the logistic transform of the
// margin for Binary models (1/(1+exp(-Sigmoid*margin))), exp(margin) for Gamma
// models, the margin itself for Regression models.
func (m *Model) Predict(row []float64) (float64, error) {
	s, err := m.Margin(row)
	if err != nil {
		return 0, err
	}
	return m.Transform(s), nil
}

// Transform maps a raw margin to the model's prediction scale.
func (m *Model) Transform(margin float64) float64 {
	return transform(m.Objective, m.Sigmoid, margin)
}

// transform is the link of objective obj, shared by Model and Predictor.
func transform(obj Objective, sig, margin float64) float64 {
	switch obj {
	case Binary:
		return sigmoid(sig * margin)
	case Gamma:
		return math.Exp(margin)
	}
	return margin
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
