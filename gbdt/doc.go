// Package gbdt is the tree-ensemble model form shared by the whole platform. It reads
// LightGBM text models (v2, v3, v4) and XGBoost models (JSON, UBJSON, legacy binary),
// writes canonical LightGBM text (version=v3) that github.com/dmitryikh/leaves loads,
// evaluates models directly, and computes exact path-dependent TreeSHAP contributions.
//
// It stands between leaves and the outside world: leaves reads only LightGBM v2/v3,
// cannot read XGBoost >= 1.0 files, and returns 0.0 instead of an error when a row
// has the wrong number of features. Every parser here checks hard limits on size,
// trees, nodes, depth, features and category words before it allocates, sizes
// every list it reserves by the bytes that hold it, and returns an error, never
// a panic, on corrupt input; the writer predicts the size of its text before
// writing it. The package talks to no storage and no network.
//
// Usage:
//
//	m, err := gbdt.Parse(data, gbdt.DefaultLimits()) // LightGBM text, XGBoost JSON/UBJSON/binary
//	if err != nil {
//		return fmt.Errorf("import model: %w", err) // wraps ErrFormat, ErrCorrupt, ErrUnsupported or ErrLimit
//	}
//	var buf bytes.Buffer
//	err = m.WriteLightGBM(&buf) // canonical LightGBM v3 text for leaves and the registry
//
//	pred, err := m.Predict(row)               // one row; len(row) must be m.NumFeatures(), NaN = missing
//	phi := make([]float64, m.NumFeatures())
//	expected, err := m.Contributions(row, phi) // sum(phi) + expected == m.Margin(row)
//
//	c, err := m.Compile()          // flat, immutable, concurrent-safe form for many rows
//	err = c.PredictBatch(rows, out) // rows is row-major, len(out) rows
//
//	e, err := m.CompileExplainer()             // TreeSHAP for many rows, allocation-free
//	expected, err = e.Contributions(row, phi) // same values as m.Contributions
//
// Semantics. A Model follows LightGBM's split rules: a row goes left at a numerical
// split when value <= Threshold after the missing-value rule (MissingNone: NaN is 0;
// MissingZero: |value| <= 1e-35 and NaN take the default side; MissingNaN: NaN takes
// the default side), and at a categorical split when int(value) is in the bitset.
// XGBoost's rule float32(x) < t becomes x <= Threshold exactly (see xgbThreshold), so
// gbdt and leaves take the same path as XGBoost for every input; XGBoost's base_score
// becomes BaseScore on the margin scale (logit for binary:logistic and reg:logistic,
// log for reg:gamma). Three links turn a margin into a prediction: logistic (Binary),
// identity (Regression) and exp (Gamma, a log-link model of a positive amount such as
// a credit limit; its canonical text says objective=gamma, which leaves also maps to
// exp, so serving gets the amount itself from leaves).
// Predictions then differ from XGBoost's only by XGBoost's float32 accumulation of
// the leaf values (measured below 2e-7 relative on the fixtures; tests allow 1e-6).
package gbdt
