package gbdt

// Objective says how a model's raw margin becomes a prediction.
type Objective string

const (
	// Binary is a logistic model: prediction = 1 / (1 + exp(-Sigmoid * margin)).
	// LightGBM "binary", XGBoost "binary:logistic" and "reg:logistic".
	Binary Objective = "binary"
	// Regression is an identity model: prediction = margin.
	// LightGBM "regression" (L2), XGBoost "reg:squarederror".
	Regression Objective = "regression"
	// Gamma is a log-link model: prediction = exp(margin), so the margin is the
	// log of the predicted mean and the prediction is always positive. LightGBM
	// "gamma" and XGBoost "reg:gamma"; the in-platform trainer fits it with the
	// gamma deviance, whose errors are relative (a heavy-tailed amount such as a
	// credit limit in yuan). github.com/dmitryikh/leaves applies exp to a
	// LightGBM model whose objective line is exactly "gamma".
	Gamma Objective = "gamma"
)

// MissingType is LightGBM's rule for missing values at a numerical split.
type MissingType uint8

const (
	// MissingNone: NaN is treated as 0 and compared with the threshold.
	MissingNone MissingType = iota
	// MissingZero: 0 and NaN both take the default direction.
	MissingZero
	// MissingNaN: NaN takes the default direction; 0 is compared as a number.
	MissingNaN
)

// Node is one node of a tree, stored in Tree.Nodes. Internal nodes route a row to
// Left or Right; leaves hold the value added to the margin.
//
// Numerical splits follow LightGBM semantics: a row goes left when its value is
// <= Threshold (after the missing-value rule). Models with XGBoost's strict "<"
// are converted on import (see the XGBoost parser).
//
// Categorical splits go left when int(value) is in Categories, a bitset of 32-bit
// words (category c is bit c%32 of word c/32); negative, NaN and out-of-range
// categories go right. Several nodes may share one Categories array (the
// LightGBM parser gives every split that names a cat_threshold range the same
// slice of one per-tree array), so treat it as read-only.
type Node struct {
	Leaf bool

	// Split fields, meaningful when Leaf is false.
	Feature     int         // index into Model.FeatureNames
	Threshold   float64     // numerical split threshold
	Categorical bool        // categorical split: Categories is used, Threshold is not
	Categories  []uint32    // categorical bitset
	DefaultLeft bool        // direction of missing values (MissingZero / MissingNaN)
	Missing     MissingType // missing-value rule of a numerical split
	Left, Right int         // child indices into Tree.Nodes
	Gain        float64     // split gain, for importances

	// Value is the leaf output (for a leaf), or the node's own output before the
	// split (for an internal node, where the source format records it).
	Value float64
	// Count is the number of training rows that reached the node (LightGBM
	// leaf_count / internal_count); Weight is their sum of hessians.
	Count  float64
	Weight float64
	// Cover is the weight TreeSHAP uses to split a path's probability between the
	// two children: XGBoost's sum_hess ("cover"), LightGBM's data count.
	Cover float64
}

// Tree is one regression tree; Nodes[0] is the root. A tree that is a single
// leaf has exactly one node.
type Tree struct {
	Nodes []Node
}

// Model is a gradient-boosted tree ensemble: the one model form shared by the
// parsers, the trainer, the canonical LightGBM writer, TreeSHAP and the registry.
//
// margin(x) = BaseScore + sum over trees of the leaf value reached by x.
type Model struct {
	Objective Objective
	// Sigmoid scales the margin in the logistic link of a Binary model (1 for
	// XGBoost and for LightGBM's default).
	Sigmoid float64
	// BaseScore is added to every margin (XGBoost's base_score on the margin scale;
	// 0 for LightGBM, whose trees already include the initial score).
	BaseScore float64
	// FeatureNames lists the model's input columns in order; its length is the
	// number of features every row must have.
	FeatureNames []string
	// Monotone holds optional per-feature monotone constraints (-1, 0, +1).
	Monotone []int8
	Trees    []Tree
	// Source names the format the model was read from, e.g. "lightgbm-v4",
	// "xgboost-json", "xgboost-ubj", "xgboost-binary", "xinyi-trainer".
	Source string
}

// NumFeatures is the number of input columns a row must have.
func (m *Model) NumFeatures() int { return len(m.FeatureNames) }
