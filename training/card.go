package training

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/gbdt"
)

// Evaluation holds the metrics of a model on one labelled data set. For a
// Binary model every field but the amount errors is filled; for a Regression or
// Gamma model (an amount such as a limit in yuan) Rows, RMSE, MdAPE when every
// label is positive, and RMSELog for Gamma.
type Evaluation struct {
	Rows      int     `json:"rows"`
	Positives int     `json:"positives,omitempty"`
	AUC       float64 `json:"auc,omitempty"`
	Gini      float64 `json:"gini,omitempty"`
	KS        float64 `json:"ks,omitempty"`
	LogLoss   float64 `json:"logloss,omitempty"`
	Brier     float64 `json:"brier,omitempty"`
	// RMSE is the root mean squared error of the prediction, in the label's unit.
	RMSE float64 `json:"rmse,omitempty"`
	// RMSELog is the root mean squared error of log(prediction) against
	// log(label) (Gamma models): exp(RMSELog) is the typical factor by which a
	// prediction misses.
	RMSELog *float64 `json:"rmse_log,omitempty"`
	// MdAPE is the median over rows of |prediction - label| / label, a share
	// (0.2 is 20%); nil when a label is 0 or less.
	MdAPE       *float64   `json:"mdape,omitempty"`
	Calibration []Decile   `json:"calibration,omitempty"`
	Lift        []Decile   `json:"lift,omitempty"`
	Confusion   *Confusion `json:"confusion,omitempty"`
	// Curves are the ROC and KS curves (binary models).
	Curves *Curves `json:"curves,omitempty"`
}

// EvalOptions configures Evaluate.
type EvalOptions struct {
	// Cutoff is the probability at and above which a row counts as predicted
	// positive in the confusion matrix. Default 0.5.
	Cutoff float64
	// Threads evaluates the model on up to this many goroutines. Default 1.
	Threads int
}

// Evaluate scores d with m and computes the credit metrics.
func Evaluate(m *gbdt.Model, d *Dataset, opts EvalOptions) (*Evaluation, error) {
	if opts.Cutoff == 0 {
		opts.Cutoff = 0.5
	}
	if err := d.Validate(m.Objective); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	mg, err := Margins(m, d, opts.Threads)
	if err != nil {
		return nil, err
	}
	ev := &Evaluation{Rows: d.Rows()}
	if m.Objective != gbdt.Binary {
		amountErrors(ev, m, mg, d.Label)
		return ev, nil
	}
	prob := make([]float64, len(mg))
	for i, v := range mg {
		prob[i] = m.Transform(v)
		ev.Positives += int(d.Label[i])
	}
	y := d.Label
	steps := []struct {
		name string
		f    func() error
	}{
		{"auc", func() (err error) { ev.AUC, err = AUC(y, mg); return }},
		{"gini", func() (err error) { ev.Gini, err = Gini(y, mg); return }},
		{"ks", func() (err error) { ev.KS, err = KS(y, mg); return }},
		{"logloss", func() (err error) { ev.LogLoss, err = LogLoss(y, prob); return }},
		{"brier", func() (err error) { ev.Brier, err = Brier(y, prob); return }},
		{"calibration", func() (err error) { ev.Calibration, err = Calibration(y, prob); return }},
		{"lift", func() (err error) { ev.Lift, err = Lift(y, prob); return }},
		{"confusion", func() error {
			c, err := ConfusionAt(y, prob, opts.Cutoff)
			ev.Confusion = &c
			return err
		}},
		// The margin ranks rows as the probability does.
		{"curves", func() error { ev.Curves = CurvesOf(y, mg); return nil }},
	}
	for _, s := range steps {
		if err := s.f(); err != nil {
			return nil, fmt.Errorf("evaluate %s: %w", s.name, err)
		}
	}
	return ev, nil
}

// amountErrors fills the errors of a regression or gamma model from its margins.
func amountErrors(ev *Evaluation, m *gbdt.Model, mg, y []float64) {
	var sq, sqLog float64
	ape := make([]float64, 0, len(y))
	for i, v := range mg {
		pred := m.Transform(v)
		sq += (pred - y[i]) * (pred - y[i])
		if y[i] > 0 {
			ape = append(ape, math.Abs(pred-y[i])/y[i])
			if m.Objective == gbdt.Gamma {
				d := v - math.Log(y[i])
				sqLog += d * d
			}
		}
	}
	n := float64(len(y))
	ev.RMSE = math.Sqrt(sq / n)
	if len(ape) < len(y) {
		return // a label of 0 or less: relative errors are not defined
	}
	slices.Sort(ape)
	md := ape[len(ape)/2]
	if len(ape)%2 == 0 {
		md = (ape[len(ape)/2-1] + md) / 2
	}
	ev.MdAPE = &md
	if m.Objective == gbdt.Gamma {
		r := math.Sqrt(sqLog / n)
		ev.RMSELog = &r
	}
}

// MarshalJSON writes the undefined ratios (NaN) as null.
func (c Confusion) MarshalJSON() ([]byte, error) {
	type plain Confusion
	return json.Marshal(struct {
		plain
		Precision *float64 `json:"precision"`
		Recall    *float64 `json:"recall"`
		FPR       *float64 `json:"fpr"`
	}{plain(c), finitePtr(c.Precision), finitePtr(c.Recall), finitePtr(c.FPR)})
}

func finitePtr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// MonotoneCheck is the result of checking one constrained feature.
type MonotoneCheck struct {
	Feature    string `json:"feature"`
	Direction  int8   `json:"direction"`
	BaseRows   int    `json:"base_rows"`
	GridPoints int    `json:"grid_points"`
	// Violations counts neighbouring grid points where the prediction moved
	// against Direction; MaxViolation is the largest such move of the margin.
	Violations   int     `json:"violations"`
	MaxViolation float64 `json:"max_violation"`
	OK           bool    `json:"ok"`
}

// CheckMonotone verifies the model's monotone constraints: for baseRows rows
// of d (evenly spaced), it varies each constrained feature over a grid holding
// every threshold of that feature in the model, the neighbouring float64 on
// either side of it, and the extremes of float64, and checks that the margin
// never moves against the constraint.
func CheckMonotone(m *gbdt.Model, d *Dataset, baseRows int) ([]MonotoneCheck, error) {
	if len(d.Columns) != m.NumFeatures() {
		return nil, fmt.Errorf("%w: data has %d features, model %d", ErrInvalidData, len(d.Columns), m.NumFeatures())
	}
	if baseRows < 1 || d.Rows() == 0 {
		return nil, fmt.Errorf("%w: monotonicity check needs rows (%d base rows of %d)", ErrInvalidData, baseRows, d.Rows())
	}
	baseRows = min(baseRows, d.Rows())
	pr, err := m.Compile()
	if err != nil {
		return nil, fmt.Errorf("training: check monotonicity: %w", err)
	}
	var out []MonotoneCheck
	row := make([]float64, m.NumFeatures())
	for f, dir := range m.Monotone {
		if dir == 0 {
			continue
		}
		grid := []float64{-math.MaxFloat64, math.MaxFloat64}
		for _, t := range m.Trees {
			for _, nd := range t.Nodes {
				if !nd.Leaf && !nd.Categorical && nd.Feature == f {
					th := nd.Threshold
					grid = append(grid, th, math.Nextafter(th, math.Inf(-1)), math.Nextafter(th, math.Inf(1)))
				}
			}
		}
		slices.Sort(grid)
		grid = slices.Compact(grid)
		c := MonotoneCheck{Feature: m.FeatureNames[f], Direction: dir, BaseRows: baseRows, GridPoints: len(grid)}
		for b := range baseRows {
			d.Row(b*d.Rows()/baseRows, row)
			prev := math.NaN()
			for _, v := range grid {
				if math.IsInf(v, 0) {
					continue
				}
				row[f] = v
				cur, err := pr.Margin(row)
				if err != nil {
					return nil, fmt.Errorf("training: check monotonicity: %w", err)
				}
				if move := float64(dir) * (prev - cur); move > 1e-12 {
					c.Violations++
					c.MaxViolation = math.Max(c.MaxViolation, move)
				}
				prev = cur
			}
		}
		c.OK = c.Violations == 0
		out = append(out, c)
	}
	return out, nil
}

// FeatureImportance is one feature's row of the importance table.
type FeatureImportance struct {
	Feature   string  `json:"feature"`
	Splits    int     `json:"splits"`
	Gain      float64 `json:"gain"`
	GainShare float64 `json:"gain_share"`
	Monotone  int8    `json:"monotone,omitempty"`
}

// CardData describes the data a model was trained and evaluated on.
type CardData struct {
	Name              string   `json:"name"`
	Target            string   `json:"target"`
	Features          []string `json:"features"`
	TrainRows         int      `json:"train_rows"`
	ValidRows         int      `json:"valid_rows,omitempty"`
	TestRows          int      `json:"test_rows,omitempty"`
	TrainPositiveRate float64  `json:"train_positive_rate,omitempty"`
}

// CardTraining summarizes the training run.
type CardTraining struct {
	Rounds         int      `json:"rounds"`
	RoundsRun      int      `json:"rounds_run"`
	EarlyStopped   bool     `json:"early_stopped"`
	Metric         string   `json:"metric"`
	BestValid      *float64 `json:"best_valid"`
	InitScore      float64  `json:"init_score"`
	ElapsedSeconds float64  `json:"elapsed_seconds"`
}

// Card is a model card: what a model was trained on, how, how well it does and
// whether its monotone constraints hold.
type Card struct {
	Name         string                 `json:"name"`
	Created      time.Time              `json:"created,omitzero"`
	Objective    gbdt.Objective         `json:"objective"`
	Trees        int                    `json:"trees"`
	Leaves       int                    `json:"leaves"`
	Data         CardData               `json:"data"`
	Params       Params                 `json:"params"`
	Training     CardTraining           `json:"training"`
	Metrics      map[string]*Evaluation `json:"metrics"`
	Importance   []FeatureImportance    `json:"importance"`
	Monotonicity []MonotoneCheck        `json:"monotonicity,omitempty"`
}

// CardInput is what NewCard describes. Valid and Test are optional; metrics
// are computed on every set given, and the monotonicity check runs on Test
// (or Valid, or Train).
type CardInput struct {
	Name     string
	DataName string
	Target   string
	Created  time.Time
	Model    *gbdt.Model
	Result   *Result
	Train    *Dataset
	Valid    *Dataset
	Test     *Dataset
	Eval     EvalOptions
	// MonotoneRows is the number of base rows of the monotonicity check. Default 200.
	MonotoneRows int
}

// NewCard evaluates the model and assembles its card.
func NewCard(in CardInput) (*Card, error) {
	m, res := in.Model, in.Result
	if m == nil || res == nil || in.Train == nil {
		return nil, fmt.Errorf("%w: a card needs the model, the training result and the training set", ErrInvalidData)
	}
	if in.MonotoneRows == 0 {
		in.MonotoneRows = 200
	}
	c := &Card{Name: in.Name, Created: in.Created, Objective: m.Objective, Trees: len(m.Trees),
		Leaves: m.NumLeaves(), Params: res.Params, Metrics: map[string]*Evaluation{}}
	c.Data = CardData{Name: in.DataName, Target: in.Target, Features: m.FeatureNames, TrainRows: in.Train.Rows()}
	if m.Objective == gbdt.Binary {
		var pos float64
		for _, y := range in.Train.Label {
			pos += y
		}
		c.Data.TrainPositiveRate = pos / float64(in.Train.Rows())
	}
	c.Training = CardTraining{Rounds: res.Rounds, RoundsRun: res.RoundsRun, EarlyStopped: res.EarlyStopped,
		Metric: res.Metric, BestValid: finitePtr(res.BestValid), InitScore: res.InitScore, ElapsedSeconds: res.Elapsed.Seconds()}
	check := in.Train
	for _, s := range []struct {
		name string
		d    *Dataset
	}{{"train", in.Train}, {"valid", in.Valid}, {"test", in.Test}} {
		if s.d == nil {
			continue
		}
		ev, err := Evaluate(m, s.d, in.Eval)
		if err != nil {
			return nil, fmt.Errorf("model card, %s set: %w", s.name, err)
		}
		c.Metrics[s.name] = ev
		check = s.d
		switch s.name {
		case "valid":
			c.Data.ValidRows = s.d.Rows()
		case "test":
			c.Data.TestRows = s.d.Rows()
		}
	}
	splits, gains := Importance(m)
	var total float64
	for _, g := range gains {
		total += g
	}
	for f, name := range m.FeatureNames {
		fi := FeatureImportance{Feature: name, Splits: splits[f], Gain: gains[f]}
		if total > 0 {
			fi.GainShare = gains[f] / total
		}
		if f < len(m.Monotone) {
			fi.Monotone = m.Monotone[f]
		}
		c.Importance = append(c.Importance, fi)
	}
	slices.SortStableFunc(c.Importance, func(a, b FeatureImportance) int {
		switch {
		case a.Gain > b.Gain:
			return -1
		case a.Gain < b.Gain:
			return 1
		}
		return 0
	})
	if len(m.Monotone) > 0 {
		mc, err := CheckMonotone(m, check, in.MonotoneRows)
		if err != nil {
			return nil, fmt.Errorf("model card: %w", err)
		}
		c.Monotonicity = mc
	}
	return c, nil
}

func pctOrDash(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100**v)
}

func numOrDash(v *float64, format string) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf(format, *v)
}

// factorOrDash is exp(RMSE of log) as "×1.52".
func factorOrDash(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("×%.2f", math.Exp(*v))
}

// WriteJSON writes the card as indented JSON.
func (c *Card) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("training: write model card JSON: %w", err)
	}
	return nil
}

// WriteMarkdown writes the card as a Markdown document.
func (c *Card) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Model card: %s\n\n", c.Name)
	if !c.Created.IsZero() {
		p("Created %s. ", c.Created.UTC().Format(time.RFC3339))
	}
	p("Objective `%s`, %d trees, %d leaves in all.\n\n", c.Objective, c.Trees, c.Leaves)
	p("## Data\n\n| item | value |\n| --- | --- |\n")
	p("| data set | %s |\n| target | `%s` |\n| features | %d |\n| training rows | %d |\n", c.Data.Name, c.Data.Target, len(c.Data.Features), c.Data.TrainRows)
	if c.Data.ValidRows > 0 {
		p("| validation rows | %d |\n", c.Data.ValidRows)
	}
	if c.Data.TestRows > 0 {
		p("| test rows | %d |\n", c.Data.TestRows)
	}
	if c.Objective == gbdt.Binary {
		p("| training positive rate | %.4f |\n", c.Data.TrainPositiveRate)
	}
	q := c.Params
	p("\n## Parameters\n\n| parameter | value |\n| --- | --- |\n")
	p("| rounds | %d |\n| learning rate | %g |\n| leaves | %d |\n| max depth | %d |\n", q.NumRounds, q.LearningRate, q.NumLeaves, q.MaxDepth)
	p("| min data in leaf | %d |\n| min hessian in leaf | %g |\n| lambda L1 / L2 | %g / %g |\n", q.MinDataInLeaf, q.MinSumHessianInLeaf, q.LambdaL1, q.LambdaL2)
	p("| max bins | %d |\n| bagging / feature fraction | %g / %g |\n| scale pos weight | %g |\n", q.MaxBins, q.BaggingFraction, q.FeatureFraction, q.ScalePosWeight)
	if q.MaxDeltaStep > 0 {
		p("| max delta step | %g |\n", q.MaxDeltaStep)
	}
	p("| early stopping rounds | %d |\n| metric | %s |\n| seed | %d |\n| threads | %d |\n", q.EarlyStoppingRounds, q.Metric, q.Seed, q.Threads)
	t := c.Training
	p("\nTrained %d rounds, kept %d", t.RoundsRun, t.Rounds)
	if t.EarlyStopped {
		p(" (early stopping)")
	}
	if t.BestValid != nil {
		p("; best validation %s %.5f", t.Metric, *t.BestValid)
	}
	p("; %.2f s.\n", t.ElapsedSeconds)
	p("\n## Metrics\n\n")
	sets := []string{"train", "valid", "test"}
	if c.Objective == gbdt.Binary {
		p("| set | rows | positives | AUC | Gini | KS | log loss | Brier |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, s := range sets {
			if e := c.Metrics[s]; e != nil {
				p("| %s | %d | %d | %.4f | %.4f | %.4f | %.4f | %.4f |\n", s, e.Rows, e.Positives, e.AUC, e.Gini, e.KS, e.LogLoss, e.Brier)
			}
		}
		last := ""
		for _, s := range sets {
			if c.Metrics[s] != nil {
				last = s
			}
		}
		if e := c.Metrics[last]; e != nil {
			p("\n### Lift by decile (%s set, highest scores first)\n\n| decile | rows | positives | rate | lift | cumulative lift | captured |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n", last)
			for _, d := range e.Lift {
				p("| %d | %d | %d | %.4f | %.2f | %.2f | %.1f%% |\n", d.Decile, d.Rows, d.Positives, d.Rate, d.Lift, d.CumLift, 100*d.CumCapture)
			}
			p("\n### Calibration by decile (%s set)\n\n| decile | rows | mean predicted | observed |\n| ---: | ---: | ---: | ---: |\n", last)
			for _, d := range e.Calibration {
				p("| %d | %d | %.4f | %.4f |\n", d.Decile, d.Rows, d.MeanScore, d.Rate)
			}
			if cf := e.Confusion; cf != nil {
				p("\n### Confusion at %.2f (%s set)\n\n| | predicted positive | predicted negative |\n| --- | ---: | ---: |\n", cf.Cutoff, last)
				p("| positive | %d | %d |\n| negative | %d | %d |\n", cf.TP, cf.FN, cf.FP, cf.TN)
			}
		}
	} else {
		p("| set | rows | RMSE (label unit) | median abs. error | RMSE of log | typical factor |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, s := range sets {
			if e := c.Metrics[s]; e != nil {
				p("| %s | %d | %.6g | %s | %s | %s |\n", s, e.Rows, e.RMSE, pctOrDash(e.MdAPE), numOrDash(e.RMSELog, "%.4f"), factorOrDash(e.RMSELog))
			}
		}
	}
	p("\n## Importance\n\n| feature | splits | gain | share | monotone |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, fi := range c.Importance {
		p("| %s | %d | %.4g | %.1f%% | %+d |\n", fi.Feature, fi.Splits, fi.Gain, 100*fi.GainShare, fi.Monotone)
	}
	if len(c.Monotonicity) > 0 {
		p("\n## Monotonicity checks\n\n| feature | direction | base rows | grid points | violations | result |\n| --- | ---: | ---: | ---: | ---: | --- |\n")
		for _, mc := range c.Monotonicity {
			res := "holds"
			if !mc.OK {
				res = fmt.Sprintf("VIOLATED (max %.3g)", mc.MaxViolation)
			}
			p("| %s | %+d | %d | %d | %d | %s |\n", mc.Feature, mc.Direction, mc.BaseRows, mc.GridPoints, mc.Violations, res)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("training: write model card Markdown: %w", err)
	}
	return nil
}
