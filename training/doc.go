// Package training is the in-platform gradient-boosted tree trainer (histogram based,
// leaf-wise, with monotone constraints for credit explainability) and the credit model
// evaluation toolkit: AUC, KS, Gini, log loss, Brier, calibration, lift, PSI and model
// cards. Trained models leave as gbdt.Model values and so as canonical LightGBM text.
package training
