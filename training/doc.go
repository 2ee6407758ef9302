// Package training is the in-platform gradient-boosted tree trainer and the
// credit model evaluation toolkit.
//
// The trainer is histogram based, like LightGBM and XGBoost's "hist": every
// feature is cut into at most 255 quantile bins (missing values get a bin of
// their own) and stored as uint8 columns; trees grow leaf-wise (the leaf with
// the largest gain splits first) from per-leaf gradient histograms, building
// the smaller child's histogram and subtracting it from the parent's for the
// sibling. A feature whose most common bin holds most rows (zeros, missing
// values) gets its histogram over every row from its other rows alone, the
// common bin taking the remainder of the totals. Each split learns the
// direction of missing values. Monotone constraints (the catalog's "higher is
// better / worse") bound every leaf output by the midpoint of its constrained
// ancestors' children, so the prediction is monotone in the feature for every
// input, not only on the training data. Histogram building and split search
// run in parallel over features; a model depends only on the data, the
// parameters and the seed (not on the number of threads). Models leave as
// gbdt.Model values and so as canonical LightGBM text.
//
// Objectives: binary log loss (default and violation), L2, and gamma with a log
// link for positive amounts such as the pre-credit limit in yuan: the margin is
// the log of the prediction (gradient 1 - y·exp(-f), hessian y·exp(-f), start
// log(mean y)), errors count relative to the label so the few largest limits do
// not decide the fit, and the model file says objective=gamma, so LightGBM and
// leaves return yuan. A label of 0 or less is refused with its row named; a
// limit sample leaves such rows out (LoadSample, Sample.LeftOut). A limit model is
// evaluated in relative terms: RMSE of log, median absolute percentage error, and
// RMSE in yuan.
//
// Evaluation of a risk model covers AUC (ties counted one half; ranked with a radix sort, so
// that the per-round metric of a large training or validation set stays
// cheap), Gini, KS, log loss, Brier, calibration and lift by decile, PSI and
// confusion at a cut-off; a Card bundles data, parameters, metrics,
// importances and monotonicity checks as JSON and Markdown.
//
//	d, err := training.FromArrow(table.Record, table.Features, table.Target)
//	trainRows, validRows, err := training.StratifiedSplit(d.Label, 0.2, 42)
//	p := training.DefaultParams()
//	p.Monotone = []int8{+1, 0, -1}
//	p.EarlyStoppingRounds = 20
//	model, result, err := training.Train(ctx, d.Subset(trainRows), d.Subset(validRows), p)
//	err = model.WriteLightGBM(w)
package training
