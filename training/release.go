package training

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// ReleaseOptions is the disclosure policy of an evaluation released to a bank
// whose model was trained on indicators it may not see (joint modelling):
// only aggregates, and only over cells large enough not to describe single
// companies.
type ReleaseOptions struct {
	// MinCellRows is the fewest rows a released cell (a decile of the lift or
	// calibration table, or the whole split) may hold. Default 50.
	MinCellRows int
	// MinCellPositives is the fewest positive and the fewest negative
	// outcomes a released cell may hold: a cell of 99 defaults in 100 rows
	// names the one repaid loan as surely as a cell of one default names it.
	// Default 10.
	MinCellPositives int
}

// DefaultReleaseOptions returns the documented defaults.
func DefaultReleaseOptions() ReleaseOptions {
	return ReleaseOptions{MinCellRows: 50, MinCellPositives: 10}
}

// EnsureDefaults fills zero fields with the defaults.
func (o *ReleaseOptions) EnsureDefaults() {
	d := DefaultReleaseOptions()
	if o.MinCellRows <= 0 {
		o.MinCellRows = d.MinCellRows
	}
	if o.MinCellPositives <= 0 {
		o.MinCellPositives = d.MinCellPositives
	}
}

// ReleasedCell is one decile of a released table. A suppressed cell carries
// its number only.
type ReleasedCell struct {
	Decile     int      `json:"decile"`
	Suppressed bool     `json:"suppressed,omitempty"`
	Rows       int      `json:"rows,omitempty"`
	Positives  int      `json:"positives,omitempty"`
	MeanScore  *float64 `json:"mean_score,omitempty"`
	Rate       *float64 `json:"rate,omitempty"`
	Lift       *float64 `json:"lift,omitempty"`
}

// ReleasedEvaluation is the evaluation of a model on one split as released:
// the split's totals and headline figures, and lift and calibration by decile
// with small cells suppressed. No score of a single row (no minimum, maximum,
// ROC point or cumulative figure) is in it.
type ReleasedEvaluation struct {
	Split string `json:"split"`
	// Suppressed: the whole split is below the policy; nothing else is set.
	Suppressed bool     `json:"suppressed,omitempty"`
	Rows       int      `json:"rows,omitempty"`
	Positives  int      `json:"positives,omitempty"`
	AUC        *float64 `json:"auc,omitempty"`
	KS         *float64 `json:"ks,omitempty"`
	Gini       *float64 `json:"gini,omitempty"`
	// Lift groups rows by descending score (decile 1 the riskiest),
	// Calibration by ascending predicted probability.
	Lift        []ReleasedCell `json:"lift,omitempty"`
	Calibration []ReleasedCell `json:"calibration,omitempty"`
	// SuppressedCells counts the cells withheld, some only so that the
	// split's totals do not give a single withheld cell away.
	SuppressedCells int            `json:"suppressed_cells"`
	Policy          ReleaseOptions `json:"policy"`
}

// Release evaluates scores (probabilities of the positive class) against
// labels y (0 or 1) on split and keeps what opts allows. When exactly one cell
// of a table falls below the policy, the next smallest is withheld too, since
// the released totals minus the other cells would give it away.
func Release(split string, y, prob []float64, opts ReleaseOptions) (*ReleasedEvaluation, error) {
	opts.EnsureDefaults()
	pos, err := checkScored(y, prob)
	if err != nil {
		return nil, err
	}
	out := &ReleasedEvaluation{Split: split, Policy: opts}
	small := func(rows, positives int) bool {
		return rows < opts.MinCellRows || positives < opts.MinCellPositives || rows-positives < opts.MinCellPositives
	}
	if small(len(y), pos) {
		out.Suppressed = true
		return out, nil
	}
	out.Rows, out.Positives = len(y), pos
	auc, err := AUC(y, prob)
	if err != nil {
		return nil, err
	}
	ks, err := KS(y, prob)
	if err != nil {
		return nil, err
	}
	gini := 2*auc - 1
	out.AUC, out.KS, out.Gini = &auc, &ks, &gini
	lift, err := Lift(y, prob)
	if err != nil {
		return nil, err
	}
	cal, err := Calibration(y, prob)
	if err != nil {
		return nil, err
	}
	for _, t := range []struct {
		in  []Decile
		out *[]ReleasedCell
	}{{lift, &out.Lift}, {cal, &out.Calibration}} {
		cells, n := releaseCells(t.in, small)
		*t.out = cells
		out.SuppressedCells += n
	}
	return out, nil
}

// releaseCells turns deciles into released cells, suppressing the small ones
// and, when that is one cell only, the next smallest.
func releaseCells(ds []Decile, small func(rows, positives int) bool) ([]ReleasedCell, int) {
	hide := make([]bool, len(ds))
	n := 0
	for i, d := range ds {
		if small(d.Rows, d.Positives) {
			hide[i] = true
			n++
		}
	}
	if n == 1 && len(ds) > 1 {
		// The smallest other cell by its smaller class.
		best := -1
		for i, d := range ds {
			if hide[i] {
				continue
			}
			if best < 0 || minClass(d) < minClass(ds[best]) {
				best = i
			}
		}
		hide[best] = true
		n++
	}
	out := make([]ReleasedCell, len(ds))
	for i, d := range ds {
		c := ReleasedCell{Decile: d.Decile}
		if hide[i] {
			c.Suppressed = true
		} else {
			mean, rate, lift := d.MeanScore, d.Rate, d.Lift
			c.Rows, c.Positives, c.MeanScore, c.Rate, c.Lift = d.Rows, d.Positives, &mean, &rate, &lift
		}
		out[i] = c
	}
	return out, n
}

func minClass(d Decile) int { return min(d.Positives, d.Rows-d.Positives) }

// String is a one-line summary of e for a terminal.
func (e *ReleasedEvaluation) String() string {
	if e.Suppressed {
		return fmt.Sprintf("%s: withheld (fewer than %d rows, or %d positives or negatives)", e.Split, e.Policy.MinCellRows, e.Policy.MinCellPositives)
	}
	shown := slices.IndexFunc(e.Lift, func(c ReleasedCell) bool { return !c.Suppressed })
	top := math.NaN()
	if shown >= 0 && e.Lift[shown].Lift != nil {
		top = *e.Lift[shown].Lift
	}
	return fmt.Sprintf("%s: %d rows, %d positives, auc %.4f, ks %.4f, lift of the first released decile %.2f; %d of %d cells withheld (< %d rows or < %d positives or negatives)",
		e.Split, e.Rows, e.Positives, *e.AUC, *e.KS, top, e.SuppressedCells, len(e.Lift)+len(e.Calibration), e.Policy.MinCellRows, e.Policy.MinCellPositives)
}

// Text is e as a model card for people: the totals and figures, then the
// lift and calibration tables with withheld cells marked.
func (e *ReleasedEvaluation) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Released evaluation (aggregates only) on the %s split\n", e.Split)
	fmt.Fprintf(&b, "Policy: cells of at least %d rows, %d positives and %d negatives; %d cells withheld\n\n",
		e.Policy.MinCellRows, e.Policy.MinCellPositives, e.Policy.MinCellPositives, e.SuppressedCells)
	if e.Suppressed {
		b.WriteString("The split is below the policy: nothing is released.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "Rows %d, positives %d, AUC %.4f, KS %.4f, Gini %.4f\n", e.Rows, e.Positives, *e.AUC, *e.KS, *e.Gini)
	for _, t := range []struct {
		title string
		cells []ReleasedCell
	}{{"Lift by decile (1 = highest scores)", e.Lift}, {"Calibration by decile (1 = lowest predictions)", e.Calibration}} {
		fmt.Fprintf(&b, "\n%s\ndecile   rows  positives   mean score   rate     lift\n", t.title)
		for _, c := range t.cells {
			if c.Suppressed {
				fmt.Fprintf(&b, "%6d   withheld\n", c.Decile)
				continue
			}
			fmt.Fprintf(&b, "%6d %6d %10d %12.4f %7.2f%% %7.2f\n", c.Decile, c.Rows, c.Positives, *c.MeanScore, 100**c.Rate, *c.Lift)
		}
	}
	return b.String()
}
