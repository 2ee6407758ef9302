package training

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// checkScored validates a label/score pair: same non-zero length, labels 0 or
// 1, scores not NaN. It returns the number of positives.
func checkScored(y, score []float64) (pos int, err error) {
	if len(y) == 0 {
		return 0, fmt.Errorf("%w: no rows", ErrInvalidData)
	}
	if len(y) != len(score) {
		return 0, fmt.Errorf("%w: %d labels but %d scores", ErrInvalidData, len(y), len(score))
	}
	for i, v := range y {
		switch v {
		case 1:
			pos++
		case 0:
		default:
			return 0, fmt.Errorf("%w: label of row %d is %v, want 0 or 1", ErrInvalidData, i, v)
		}
		if math.IsNaN(score[i]) {
			return 0, fmt.Errorf("%w: score of row %d is NaN", ErrInvalidData, i)
		}
	}
	return pos, nil
}

func needBothClasses(pos, n int) error {
	if pos == 0 || pos == n {
		return fmt.Errorf("%w: %d positives among %d rows, need both classes", ErrInvalidData, pos, n)
	}
	return nil
}

// order returns the row indices sorted by ascending score (ties by index).
func order(score []float64) []int {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(score[a], score[b]); c != 0 {
			return c
		}
		return a - b
	})
	return idx
}

// scored is a row's score and whether it is positive.
type scored struct {
	s   float64
	pos bool
}

// sortedScores returns the rows' scores and labels sorted by ascending score.
// The order within ties is left open: AUC and KS treat a tie as one group.
func sortedScores(y, score []float64) []scored {
	v := make([]scored, len(y))
	for i := range v {
		v[i] = scored{score[i], y[i] == 1}
	}
	slices.SortFunc(v, func(a, b scored) int { return cmp.Compare(a.s, b.s) })
	return v
}

// AUC is the area under the ROC curve of score for labels y (0/1): the
// probability that a random positive scores above a random negative, a tie
// counting one half (the Mann-Whitney statistic with mid-ranks).
func AUC(y, score []float64) (float64, error) {
	pos, err := checkScored(y, score)
	if err != nil {
		return math.NaN(), err
	}
	if err := needBothClasses(pos, len(y)); err != nil {
		return math.NaN(), err
	}
	var sc aucScratch
	return sc.aucRadix(y, score, 1), nil
}

// Gini is the accuracy ratio 2*AUC - 1.
func Gini(y, score []float64) (float64, error) {
	a, err := AUC(y, score)
	return 2*a - 1, err
}

// KS is the Kolmogorov-Smirnov statistic: the largest gap between the
// cumulative score distributions of positives and negatives, evaluated only
// between distinct scores (tied rows move together).
func KS(y, score []float64) (float64, error) {
	pos, err := checkScored(y, score)
	if err != nil {
		return math.NaN(), err
	}
	if err := needBothClasses(pos, len(y)); err != nil {
		return math.NaN(), err
	}
	v := sortedScores(y, score)
	p, q := float64(pos), float64(len(y)-pos)
	var cp, cq, ks float64
	for i := 0; i < len(v); {
		j := i
		for j < len(v) && v[j].s == v[i].s {
			if v[j].pos {
				cp++
			} else {
				cq++
			}
			j++
		}
		ks = math.Max(ks, math.Abs(cp/p-cq/q))
		i = j
	}
	return ks, nil
}

// probEps bounds probabilities away from 0 and 1 in LogLoss.
const probEps = 1e-15

func logLossOne(y, p float64) float64 {
	p = min(max(p, probEps), 1-probEps)
	if y == 1 {
		return -math.Log(p)
	}
	return -math.Log(1 - p)
}

func checkProbs(prob []float64) error {
	for i, p := range prob {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("%w: probability of row %d is %v, want 0..1", ErrInvalidData, i, p)
		}
	}
	return nil
}

// LogLoss is the mean negative log-likelihood of probabilities prob for labels
// y, with probabilities clipped to [1e-15, 1-1e-15].
func LogLoss(y, prob []float64) (float64, error) {
	if _, err := checkScored(y, prob); err != nil {
		return math.NaN(), err
	}
	if err := checkProbs(prob); err != nil {
		return math.NaN(), err
	}
	var s float64
	for i, p := range prob {
		s += logLossOne(y[i], p)
	}
	return s / float64(len(y)), nil
}

// Brier is the mean squared difference between probabilities and labels.
func Brier(y, prob []float64) (float64, error) {
	if _, err := checkScored(y, prob); err != nil {
		return math.NaN(), err
	}
	if err := checkProbs(prob); err != nil {
		return math.NaN(), err
	}
	var s float64
	for i, p := range prob {
		d := p - y[i]
		s += d * d
	}
	return s / float64(len(y)), nil
}

// Decile is one group of a calibration or lift table.
type Decile struct {
	Decile    int     `json:"decile"` // 1-based
	Rows      int     `json:"rows"`
	Positives int     `json:"positives"`
	MinScore  float64 `json:"min_score"`
	MaxScore  float64 `json:"max_score"`
	MeanScore float64 `json:"mean_score"`
	Rate      float64 `json:"rate"` // observed positive rate
	// Lift is Rate over the overall positive rate; CumLift and CumCapture are
	// the lift and the share of all positives of deciles 1..Decile together.
	Lift       float64 `json:"lift"`
	CumLift    float64 `json:"cum_lift"`
	CumCapture float64 `json:"cum_capture"`
}

// deciles groups rows sorted by idx into 10 groups: the k-th row (0-based)
// of the order goes to group floor(10k/n).
func deciles(y, score []float64, idx []int, pos int) []Decile {
	n := len(idx)
	out := make([]Decile, 0, 10)
	overall := float64(pos) / float64(n)
	var cumRows, cumPos int
	for g := range 10 {
		lo, hi := (g*n+9)/10, ((g+1)*n+9)/10 // rows k with floor(10k/n) == g
		if lo >= hi {
			continue
		}
		d := Decile{Decile: g + 1, Rows: hi - lo, MinScore: math.Inf(1), MaxScore: math.Inf(-1)}
		var sum float64
		for _, r := range idx[lo:hi] {
			if y[r] == 1 {
				d.Positives++
			}
			s := score[r]
			sum += s
			d.MinScore = math.Min(d.MinScore, s)
			d.MaxScore = math.Max(d.MaxScore, s)
		}
		d.MeanScore = sum / float64(d.Rows)
		d.Rate = float64(d.Positives) / float64(d.Rows)
		cumRows += d.Rows
		cumPos += d.Positives
		if overall > 0 {
			d.Lift = d.Rate / overall
			d.CumLift = float64(cumPos) / float64(cumRows) / overall
		}
		if pos > 0 {
			d.CumCapture = float64(cumPos) / float64(pos)
		}
		out = append(out, d)
	}
	return out
}

// Calibration groups rows by ascending predicted probability into deciles and
// compares the mean prediction (MeanScore) with the observed rate (Rate) of each.
func Calibration(y, prob []float64) ([]Decile, error) {
	pos, err := checkScored(y, prob)
	if err != nil {
		return nil, err
	}
	return deciles(y, prob, order(prob), pos), nil
}

// Lift groups rows by descending score into deciles (decile 1 holds the
// highest scores; ties broken by row order) with each decile's rate, lift and
// the cumulative share of positives captured.
func Lift(y, score []float64) ([]Decile, error) {
	pos, err := checkScored(y, score)
	if err != nil {
		return nil, err
	}
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(score[b], score[a]); c != 0 {
			return c
		}
		return a - b
	})
	return deciles(y, score, idx, pos), nil
}

// psiFloor replaces an empty share in PSI so that the logarithm stays finite.
const psiFloor = 1e-4

// PSI is the population stability index of actual against expected over bins
// groups cut at expected's quantiles: with e and a the shares of expected and
// actual in a group (an empty share counting as 1e-4),
// PSI = sum (a - e) * ln(a / e). The cut points are the expected values at
// sorted positions floor(k*n/bins), k = 1..bins-1 (duplicates merged); a value
// belongs to the group numbered by how many cut points are <= it.
func PSI(expected, actual []float64, bins int) (float64, error) {
	if bins < 2 {
		return math.NaN(), fmt.Errorf("%w: PSI needs at least 2 bins, got %d", ErrInvalidParams, bins)
	}
	if len(expected) == 0 || len(actual) == 0 {
		return math.NaN(), fmt.Errorf("%w: PSI needs two non-empty distributions (%d and %d values)", ErrInvalidData, len(expected), len(actual))
	}
	for name, vs := range map[string][]float64{"expected": expected, "actual": actual} {
		for i, v := range vs {
			if math.IsNaN(v) {
				return math.NaN(), fmt.Errorf("%w: %s value %d is NaN", ErrInvalidData, name, i)
			}
		}
	}
	sorted := slices.Clone(expected)
	slices.Sort(sorted)
	n := len(sorted)
	var cuts []float64
	for k := 1; k < bins; k++ {
		c := sorted[k*n/bins]
		if len(cuts) == 0 || c > cuts[len(cuts)-1] {
			cuts = append(cuts, c)
		}
	}
	share := func(vs []float64) []float64 {
		cnt := make([]float64, len(cuts)+1)
		for _, v := range vs {
			g, _ := slices.BinarySearch(cuts, v) // first cut >= v
			if g < len(cuts) && cuts[g] == v {
				g++ // cut points <= v
			}
			cnt[g]++
		}
		for i := range cnt {
			cnt[i] /= float64(len(vs))
			if cnt[i] == 0 {
				cnt[i] = psiFloor
			}
		}
		return cnt
	}
	e, a := share(expected), share(actual)
	var psi float64
	for i := range e {
		psi += (a[i] - e[i]) * math.Log(a[i]/e[i])
	}
	return psi, nil
}

// Confusion is the confusion matrix at a cut-off: a row is predicted positive
// when its score is >= Cutoff.
type Confusion struct {
	Cutoff    float64 `json:"cutoff"`
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	TN        int     `json:"tn"`
	FN        int     `json:"fn"`
	Accuracy  float64 `json:"accuracy"`
	Precision float64 `json:"precision"` // NaN when nothing is predicted positive
	Recall    float64 `json:"recall"`    // true positive rate; NaN without positives
	FPR       float64 `json:"fpr"`       // false positive rate; NaN without negatives
}

// ConfusionAt computes the confusion matrix of score at cutoff.
func ConfusionAt(y, score []float64, cutoff float64) (Confusion, error) {
	if _, err := checkScored(y, score); err != nil {
		return Confusion{}, err
	}
	c := Confusion{Cutoff: cutoff}
	for i, s := range score {
		predPos := s >= cutoff
		switch {
		case predPos && y[i] == 1:
			c.TP++
		case predPos:
			c.FP++
		case y[i] == 1:
			c.FN++
		default:
			c.TN++
		}
	}
	ratio := func(a, b int) float64 {
		if b == 0 {
			return math.NaN()
		}
		return float64(a) / float64(b)
	}
	c.Accuracy = ratio(c.TP+c.TN, len(y))
	c.Precision = ratio(c.TP, c.TP+c.FP)
	c.Recall = ratio(c.TP, c.TP+c.FN)
	c.FPR = ratio(c.FP, c.FP+c.TN)
	return c, nil
}
