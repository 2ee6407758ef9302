package training

import (
	"math"
	"slices"
)

// MaxCurvePoints bounds the points of a stored ROC or KS curve (plus both ends
// and the point of the largest gap).
const MaxCurvePoints = 200

// Curves are a binary model's ROC and KS curves on one split, scores taken from
// the highest down with one point per distinct score (tied rows move together),
// thinned to at most MaxCurvePoints points plus both ends, always keeping the
// point of the largest gap so that the drawn KS is the statistic.
type Curves struct {
	// FPR and TPR are the ROC curve: false and true positive rates.
	FPR []float64 `json:"fpr"`
	TPR []float64 `json:"tpr"`
	// Share is the share of rows scored at or above each point; CumPos and
	// CumNeg the shares of positives and negatives among them (the KS curve).
	Share  []float64 `json:"share"`
	CumPos []float64 `json:"cum_pos"`
	CumNeg []float64 `json:"cum_neg"`
}

// CurvesOf computes the curves of scores against labels y (0 or 1); nil when
// only one class is present.
func CurvesOf(y, score []float64) *Curves {
	n := len(y)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case score[a] > score[b]:
			return -1
		case score[a] < score[b]:
			return 1
		}
		return 0
	})
	var P, N float64
	for _, v := range y {
		if v == 1 {
			P++
		} else {
			N++
		}
	}
	if P == 0 || N == 0 {
		return nil
	}
	c := &Curves{FPR: []float64{0}, TPR: []float64{0}, Share: []float64{0}, CumPos: []float64{0}, CumNeg: []float64{0}}
	var tp, fp float64
	for i := 0; i < n; {
		j := i
		for j < n && score[idx[j]] == score[idx[i]] {
			if y[idx[j]] == 1 {
				tp++
			} else {
				fp++
			}
			j++
		}
		c.FPR, c.TPR = append(c.FPR, fp/N), append(c.TPR, tp/P)
		c.Share = append(c.Share, float64(j)/float64(n))
		c.CumPos, c.CumNeg = append(c.CumPos, tp/P), append(c.CumNeg, fp/N)
		i = j
	}
	if len(c.FPR) <= MaxCurvePoints+1 {
		return c
	}
	keep := make([]int, 0, MaxCurvePoints+2)
	m := len(c.FPR)
	for i := range MaxCurvePoints {
		keep = append(keep, i*(m-1)/MaxCurvePoints)
	}
	keep = append(keep, m-1)
	best, gap := 0, -1.0
	for i := range c.Share {
		if g := math.Abs(c.CumPos[i] - c.CumNeg[i]); g > gap {
			best, gap = i, g
		}
	}
	if k, found := slices.BinarySearch(keep, best); !found {
		keep = slices.Insert(keep, k, best)
	}
	t := &Curves{}
	for _, i := range keep {
		t.FPR, t.TPR = append(t.FPR, c.FPR[i]), append(t.TPR, c.TPR[i])
		t.Share, t.CumPos, t.CumNeg = append(t.Share, c.Share[i]), append(t.CumPos, c.CumPos[i]), append(t.CumNeg, c.CumNeg[i])
	}
	return t
}
