package riskindex

// Spearman exposes the rank correlation to the tests.
var Spearman = spearman
