package training

import (
	"errors"
	"fmt"
	"math"
	"runtime"

	"github.com/xinyi-platform/xinyi/gbdt"
)

// Sentinel errors of the package, wrapped with the parameter, column or row involved.
var (
	// ErrInvalidParams reports a training parameter outside its allowed range.
	ErrInvalidParams = errors.New("training: invalid parameters")
	// ErrInvalidData reports a data set that cannot be trained or evaluated on:
	// ragged columns, a label that is not 0/1 for a binary objective or not
	// positive for the gamma objective, no rows.
	ErrInvalidData = errors.New("training: invalid data")
)

// Metric names accepted by Params.Metric.
const (
	MetricAUC     = "auc"
	MetricLogLoss = "logloss"
	MetricL2      = "l2"
	// MetricRMSELog is the root mean squared error of log(label) by the log of
	// the prediction, the margin of a Gamma model: exp of it is the typical
	// factor between prediction and label (0.1 is about ±10%). Gamma only.
	MetricRMSELog = "rmse_log"
)

// Params configures Train. Start from DefaultParams and change what you need;
// the zero value is not valid.
type Params struct {
	// Objective is gbdt.Binary (log loss, labels 0/1), gbdt.Regression (L2) or
	// gbdt.Gamma (gamma deviance with a log link, labels > 0: the margin is the
	// log of the prediction, errors count relative to the label, so a
	// heavy-tailed amount is not fitted for its largest values alone).
	// Default gbdt.Binary.
	Objective gbdt.Objective
	// NumRounds is the number of boosting rounds (trees). Default 100.
	NumRounds int
	// LearningRate shrinks every tree's output. Default 0.1.
	LearningRate float64
	// NumLeaves is the maximum number of leaves per tree (leaf-wise growth:
	// the leaf with the largest gain is split first). Default 31.
	NumLeaves int
	// MaxDepth limits the depth of a tree; 0 means no limit. Default 0.
	MaxDepth int
	// MinDataInLeaf is the minimum number of training rows in a leaf. Default 20.
	MinDataInLeaf int
	// MinSumHessianInLeaf is the minimum sum of hessians in a leaf (XGBoost's
	// min_child_weight). Default 1e-3.
	MinSumHessianInLeaf float64
	// MinGainToSplit is the minimum gain of a split. Default 0.
	MinGainToSplit float64
	// LambdaL1 and LambdaL2 regularize leaf outputs. Defaults 0 and 0.
	LambdaL1, LambdaL2 float64
	// MaxDeltaStep bounds every leaf's output before the learning rate, as
	// LightGBM's max_delta_step and XGBoost's (which sets 0.7 for its Poisson
	// objective): |output| <= MaxDeltaStep; 0 means no bound. Gamma needs it:
	// the Newton step of a leaf whose margin is far above log(label), about
	// 1 - 1/mean(y·exp(-f)), overshoots the exact step log(mean(y·exp(-f)))
	// without limit (-370 for a row at 1/370 of its prediction, where log says
	// -5.9), while a step up never exceeds 1; unbounded, a monotone split's
	// midpoint then caps a whole subtree at such a step. Default 0 for Binary
	// and Regression, 1 for Gamma (filled in by Train); negative turns it off.
	MaxDeltaStep float64
	// MaxBins is the maximum number of value bins per feature (2..255); missing
	// values always have a bin of their own. Default 255.
	MaxBins int
	// BinSampleRows is the number of rows sampled to find the bin boundaries;
	// 0 uses every row. Default 200000.
	BinSampleRows int
	// BaggingFraction is the fraction of rows drawn (without replacement) for
	// each tree; 1 uses every row. Default 1.
	BaggingFraction float64
	// FeatureFraction is the fraction of features drawn for each tree. Default 1.
	FeatureFraction float64
	// ScalePosWeight multiplies the gradient and hessian of positive rows of a
	// binary objective (class weighting). Default 1.
	ScalePosWeight float64
	// Monotone holds one constraint per feature: +1 (prediction never decreases
	// as the feature grows), -1 (never increases) or 0. Nil means none.
	Monotone []int8
	// Categorical marks the features that hold category codes rather than
	// ordered values: integers 0..MaxCategoryCode, NaN for missing. A split on
	// one sends a set of categories left and the rest right, with missing and
	// unseen categories always right, and is written as LightGBM's categorical
	// split (cat_threshold). Nil means no categorical features; otherwise one
	// entry per feature. A categorical feature takes no monotone constraint.
	Categorical []bool
	// MaxCatToOnehot: a categorical feature with at most this many categories
	// is split one category against the rest. Default 4.
	MaxCatToOnehot int
	// MaxCatThreshold is the most categories one split sends left. Default 32.
	MaxCatThreshold int
	// CatSmooth is added to each category's hessian when the categories are
	// ordered by gradient over hessian, so that rare ones do not lead. Default 10.
	CatSmooth float64
	// CatL2 is added to LambdaL2 for the outputs of a categorical split's
	// children, against overfitting the chosen subset. Default 10.
	CatL2 float64
	// MinDataPerGroup is the fewest training rows of the node a category needs
	// to take part in an ordered (many against many) split. Default 100.
	MinDataPerGroup int
	// EarlyStoppingRounds stops training when the validation metric has not
	// improved for this many rounds, and keeps the best round's trees. 0 turns
	// early stopping off. It needs a validation set.
	EarlyStoppingRounds int
	// Metric is the validation metric: "auc", "logloss", "l2" (of the
	// prediction) or "rmse_log". Default "auc" for Binary, "l2" for Regression
	// and "rmse_log" for Gamma.
	Metric string
	// Threads is the number of goroutines used for histograms and split search.
	// Default runtime.GOMAXPROCS(0). The model does not depend on it.
	Threads int
	// Seed drives bagging, feature sampling and bin sampling. The same seed,
	// data and parameters give an identical model.
	Seed uint64
	// BaseScore, when set, is the prediction every row starts from, on the
	// prediction scale (a probability in (0, 1) for Binary, a value for
	// Regression, a positive value for Gamma), as XGBoost's base_score. Nil
	// starts from the weighted training label mean (for Gamma the log of the
	// mean), as LightGBM does. Default nil.
	BaseScore *float64
	// Progress, when set, is called after every round with that round's
	// metrics. The training metric is computed only when Progress is set.
	Progress func(Round) `json:"-"`
}

// Round reports one boosting round to Params.Progress.
type Round struct {
	Iteration   int // 1-based
	Total       int // NumRounds
	Metric      string
	Train       float64 // training metric (NaN when not computed)
	Valid       float64 // validation metric (NaN without a validation set)
	BestValid   float64
	BestRound   int
	HasValidSet bool
}

// DefaultGammaMaxDeltaStep is the bound of a leaf's output (before the learning
// rate) that Train uses for the gamma objective when Params.MaxDeltaStep is 0.
const DefaultGammaMaxDeltaStep = 1.0

// capStep applies MaxDeltaStep to a leaf output.
func (p *Params) capStep(w float64) float64 {
	if m := p.MaxDeltaStep; m > 0 {
		return min(max(w, -m), m)
	}
	return w
}

// DefaultParams returns the documented defaults.
func DefaultParams() Params {
	return Params{
		Objective:           gbdt.Binary,
		NumRounds:           100,
		LearningRate:        0.1,
		NumLeaves:           31,
		MinDataInLeaf:       20,
		MinSumHessianInLeaf: 1e-3,
		MaxBins:             255,
		BinSampleRows:       200000,
		BaggingFraction:     1,
		FeatureFraction:     1,
		ScalePosWeight:      1,
		MaxCatToOnehot:      4,
		MaxCatThreshold:     32,
		CatSmooth:           10,
		CatL2:               10,
		MinDataPerGroup:     100,
		Seed:                42,
	}
}

// validate checks p against a data set with nfeat features and fills the
// defaults that depend on other fields (Metric, Threads).
func (p *Params) validate(nfeat int) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidParams, fmt.Sprintf(format, a...))
	}
	switch p.Objective {
	case gbdt.Binary, gbdt.Regression, gbdt.Gamma:
	default:
		return bad("objective %q (want %q, %q or %q)", p.Objective, gbdt.Binary, gbdt.Regression, gbdt.Gamma)
	}
	if p.Metric == "" {
		switch p.Objective {
		case gbdt.Binary:
			p.Metric = MetricAUC
		case gbdt.Gamma:
			p.Metric = MetricRMSELog
		default:
			p.Metric = MetricL2
		}
	}
	if p.MaxDeltaStep == 0 && p.Objective == gbdt.Gamma {
		p.MaxDeltaStep = DefaultGammaMaxDeltaStep
	}
	if p.BaseScore != nil {
		b := *p.BaseScore
		if math.IsNaN(b) || math.IsInf(b, 0) || (p.Objective == gbdt.Binary && (b <= 0 || b >= 1)) || (p.Objective == gbdt.Gamma && b <= 0) {
			return bad("base score %v (want a finite value, in (0, 1) for the binary objective, > 0 for gamma)", b)
		}
	}
	switch p.Metric {
	case MetricAUC, MetricLogLoss:
		if p.Objective != gbdt.Binary {
			return bad("metric %q needs the binary objective", p.Metric)
		}
	case MetricRMSELog:
		if p.Objective != gbdt.Gamma {
			return bad("metric %q needs the gamma objective", p.Metric)
		}
	case MetricL2:
	default:
		return bad("metric %q (want auc, logloss, l2 or rmse_log)", p.Metric)
	}
	if p.Threads == 0 {
		p.Threads = runtime.GOMAXPROCS(0)
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case p.NumRounds < 1:
		return bad("NumRounds %d < 1", p.NumRounds)
	case !finite(p.LearningRate) || p.LearningRate <= 0:
		return bad("LearningRate %v must be > 0", p.LearningRate)
	case p.NumLeaves < 2 || p.NumLeaves > 1<<16:
		return bad("NumLeaves %d outside 2..65536", p.NumLeaves)
	case p.MaxDepth < 0:
		return bad("MaxDepth %d < 0", p.MaxDepth)
	case p.MinDataInLeaf < 1:
		return bad("MinDataInLeaf %d < 1", p.MinDataInLeaf)
	case !finite(p.MinSumHessianInLeaf) || p.MinSumHessianInLeaf < 0:
		return bad("MinSumHessianInLeaf %v < 0", p.MinSumHessianInLeaf)
	case !finite(p.MaxDeltaStep):
		return bad("MaxDeltaStep %v is not finite", p.MaxDeltaStep)
	case !finite(p.MinGainToSplit) || p.MinGainToSplit < 0:
		return bad("MinGainToSplit %v < 0", p.MinGainToSplit)
	case !finite(p.LambdaL1) || p.LambdaL1 < 0:
		return bad("LambdaL1 %v < 0", p.LambdaL1)
	case !finite(p.LambdaL2) || p.LambdaL2 < 0:
		return bad("LambdaL2 %v < 0", p.LambdaL2)
	case p.MaxBins < 2 || p.MaxBins > 255:
		return bad("MaxBins %d outside 2..255", p.MaxBins)
	case p.BinSampleRows < 0:
		return bad("BinSampleRows %d < 0", p.BinSampleRows)
	case !(p.BaggingFraction > 0 && p.BaggingFraction <= 1):
		return bad("BaggingFraction %v outside (0, 1]", p.BaggingFraction)
	case !(p.FeatureFraction > 0 && p.FeatureFraction <= 1):
		return bad("FeatureFraction %v outside (0, 1]", p.FeatureFraction)
	case !finite(p.ScalePosWeight) || p.ScalePosWeight <= 0:
		return bad("ScalePosWeight %v must be > 0", p.ScalePosWeight)
	case p.EarlyStoppingRounds < 0:
		return bad("EarlyStoppingRounds %d < 0", p.EarlyStoppingRounds)
	case p.Threads < 1:
		return bad("Threads %d < 1", p.Threads)
	}
	if p.Categorical != nil {
		switch {
		case len(p.Categorical) != nfeat:
			return bad("Categorical has %d entries for %d features", len(p.Categorical), nfeat)
		case p.MaxCatToOnehot < 0:
			return bad("MaxCatToOnehot %d < 0", p.MaxCatToOnehot)
		case p.MaxCatThreshold < 1:
			return bad("MaxCatThreshold %d < 1", p.MaxCatThreshold)
		case !finite(p.CatSmooth) || p.CatSmooth < 0:
			return bad("CatSmooth %v < 0", p.CatSmooth)
		case !finite(p.CatL2) || p.CatL2 < 0:
			return bad("CatL2 %v < 0", p.CatL2)
		case p.MinDataPerGroup < 1:
			return bad("MinDataPerGroup %d < 1", p.MinDataPerGroup)
		}
		for i, c := range p.Categorical {
			if c && i < len(p.Monotone) && p.Monotone[i] != 0 {
				return bad("feature %d is categorical and has a monotone constraint", i)
			}
		}
	}
	if p.Monotone != nil && len(p.Monotone) != nfeat {
		return bad("Monotone has %d entries for %d features", len(p.Monotone), nfeat)
	}
	for i, m := range p.Monotone {
		if m < -1 || m > 1 {
			return bad("Monotone[%d] = %d (want -1, 0 or +1)", i, m)
		}
	}
	return nil
}
