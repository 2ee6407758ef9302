package serving

import (
	"bufio"
	"bytes"
	"fmt"
	"math"

	"github.com/dmitryikh/leaves"

	"github.com/xinyi-platform/xinyi/gbdt"
)

// Task names one of the three models behind a credit decision.
type Task string

// The three tasks a decision runs.
const (
	// TaskPD is the probability-of-default model (binary).
	TaskPD Task = "pd"
	// TaskViolation is the violation / dishonesty probability model (binary).
	TaskViolation Task = "violation"
	// TaskLimit is the pre-credit limit model (regression, CNY).
	TaskLimit Task = "limit"
)

// Tasks lists the tasks in the order decisions report them.
var Tasks = []Task{TaskPD, TaskViolation, TaskLimit}

// Valid reports whether t is one of the known tasks.
func (t Task) Valid() bool { return t == TaskPD || t == TaskViolation || t == TaskLimit }

// FeatureSet is a named, versioned, ordered list of indicator ids. A model is bound to
// exactly one feature-set version and its input columns are the indicators in order.
type FeatureSet struct {
	Name       string
	Version    int
	Indicators []string
}

// Key is the "name/vN" form the feature store, logs, audit records and responses use.
func (f FeatureSet) Key() string { return fmt.Sprintf("%s/v%d", f.Name, f.Version) }

// Validate checks that the set is named, versioned and has unique, non-empty indicators.
func (f FeatureSet) Validate() error {
	if f.Name == "" || f.Version <= 0 {
		return fmt.Errorf("%w: feature set needs a name and a positive version (got %q v%d)", ErrInvalidModel, f.Name, f.Version)
	}
	if len(f.Indicators) == 0 {
		return fmt.Errorf("%w: feature set %s has no indicators", ErrInvalidModel, f.Key())
	}
	seen := make(map[string]struct{}, len(f.Indicators))
	for i, id := range f.Indicators {
		if id == "" {
			return fmt.Errorf("%w: feature set %s: indicator %d is empty", ErrInvalidModel, f.Key(), i)
		}
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%w: feature set %s lists %q twice", ErrInvalidModel, f.Key(), id)
		}
		seen[id] = struct{}{}
	}
	return nil
}

// ModelRef identifies one immutable registered model version and the feature set it
// was trained on (as recorded in the registry).
type ModelRef struct {
	Task              Task
	Name              string
	Version           string
	SHA256            string
	FeatureSet        string
	FeatureSetVersion int
	// Owner is the institution that registered the model and Shared whether every
	// institution may see it: OIP answers only those who may read the model.
	Owner  int64
	Shared bool
}

// String is "name:version" for logs and audit.
func (r ModelRef) String() string { return r.Name + ":" + r.Version }

// Explainer computes TreeSHAP contributions of one row on the margin scale:
// sum(out) + expected == margin. *gbdt.Explainer (a compiled model) implements it.
type Explainer interface {
	Contributions(row []float64, out []float64) (expected float64, err error)
}

// Scorer is one model version loaded with leaves and bound to its feature set. It is
// immutable and safe for concurrent use.
type Scorer struct {
	ref        ModelRef
	set        FeatureSet
	binary     bool
	model      *gbdt.Model
	predict    *leaves.Ensemble // with the objective's transformation
	margin     *leaves.Ensemble // raw margin
	explainer  Explainer
	explainErr error // why the model cannot be explained, when explainer is nil
}

// LoadScorer parses a model file (any format gbdt reads; canonical LightGBM text in
// the registry), validates it, loads its canonical LightGBM text with leaves and binds it
// to set. It refuses the model when the registry's binding (ref.FeatureSet,
// ref.FeatureSetVersion) names another feature set, when the model's feature names are
// not exactly the set's indicators in order, or when its objective does not fit the task.
func LoadScorer(text []byte, ref ModelRef, set FeatureSet) (*Scorer, error) {
	if !ref.Task.Valid() {
		return nil, fmt.Errorf("%w: model %s has unknown task %q", ErrInvalidModel, ref, ref.Task)
	}
	if err := set.Validate(); err != nil {
		return nil, err
	}
	if ref.FeatureSet != set.Name || ref.FeatureSetVersion != set.Version {
		return nil, fmt.Errorf("%w: model %s is bound to %s/v%d, serving expects %s",
			ErrFeatureSetMismatch, ref, ref.FeatureSet, ref.FeatureSetVersion, set.Key())
	}
	model, err := gbdt.Parse(text, gbdt.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("%w: model %s: %w", ErrInvalidModel, ref, err)
	}
	names := model.FeatureNames
	if len(names) != len(set.Indicators) {
		return nil, fmt.Errorf("%w: model %s has %d features, feature set %s has %d",
			ErrFeatureSetMismatch, ref, len(names), set.Key(), len(set.Indicators))
	}
	for i, n := range names {
		if n != set.Indicators[i] {
			return nil, fmt.Errorf("%w: model %s feature %d is %q, feature set %s has %q",
				ErrFeatureSetMismatch, ref, i, n, set.Key(), set.Indicators[i])
		}
	}
	binary := model.Objective == gbdt.Binary
	switch ref.Task {
	case TaskPD, TaskViolation:
		if !binary {
			return nil, fmt.Errorf("%w: %s model %s must be binary, has objective %q", ErrInvalidModel, ref.Task, ref, model.Objective)
		}
	case TaskLimit:
		if model.Objective != gbdt.Regression {
			return nil, fmt.Errorf("%w: limit model %s must be a regression, has objective %q", ErrInvalidModel, ref, model.Objective)
		}
	}
	var canonical bytes.Buffer
	if err := model.WriteLightGBM(&canonical); err != nil {
		return nil, fmt.Errorf("%w: model %s: canonical text: %w", ErrInvalidModel, ref, err)
	}
	ens, err := loadLeaves(canonical.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%w: model %s: %v", ErrInvalidModel, ref, err)
	}
	if ens.NFeatures() != len(names) || ens.NOutputGroups() != 1 {
		return nil, fmt.Errorf("%w: model %s: leaves sees %d features and %d outputs, want %d and 1",
			ErrInvalidModel, ref, ens.NFeatures(), ens.NOutputGroups(), len(names))
	}
	s := &Scorer{ref: ref, set: set, binary: binary, model: model, predict: ens, margin: ens.EnsembleWithRawPredictions()}
	// TreeSHAP is compiled once per version (paths and covers precomputed). A model
	// without covers cannot be explained: it serves without reasons.
	if ex, err := model.CompileExplainer(); err == nil {
		s.explainer = ex
	} else {
		s.explainErr = err
	}
	if err := s.smoke(); err != nil {
		return nil, fmt.Errorf("%w: model %s: %v", ErrInvalidModel, ref, err)
	}
	return s, nil
}

// Model is the parsed model (read only).
func (s *Scorer) Model() *gbdt.Model { return s.model }

// Ref is the model version the scorer runs.
func (s *Scorer) Ref() ModelRef { return s.ref }

// FeatureSet is the feature set the scorer is bound to.
func (s *Scorer) FeatureSet() FeatureSet { return s.set }

// NumFeatures is the row length every call needs.
func (s *Scorer) NumFeatures() int { return len(s.set.Indicators) }

// Binary reports whether Predict returns a probability.
func (s *Scorer) Binary() bool { return s.binary }

// Explains reports whether the scorer can compute contributions.
func (s *Scorer) Explains() bool { return s.explainer != nil }

func (s *Scorer) check(row []float64) error {
	if len(row) != len(s.set.Indicators) {
		return fmt.Errorf("%w: model %s needs %d features (%s), row has %d",
			ErrFeatureCount, s.ref, len(s.set.Indicators), s.set.Key(), len(row))
	}
	for i, v := range row {
		if math.IsInf(v, 0) {
			return fmt.Errorf("%w: feature %d (%s) is infinite", ErrInvalidInput, i, s.set.Indicators[i])
		}
	}
	return nil
}

// Predict returns the model output for one row: a probability for binary models, the
// regression value otherwise. NaN means missing. The row length is checked first.
func (s *Scorer) Predict(row []float64) (float64, error) {
	if err := s.check(row); err != nil {
		return 0, err
	}
	var out [1]float64
	if err := s.predict.Predict(row, 0, out[:]); err != nil {
		return 0, fmt.Errorf("model %s: %w", s.ref, err)
	}
	return out[0], nil
}

// Margin returns the raw margin (log-odds for binary models) for one row.
func (s *Scorer) Margin(row []float64) (float64, error) {
	if err := s.check(row); err != nil {
		return 0, err
	}
	var out [1]float64
	if err := s.margin.Predict(row, 0, out[:]); err != nil {
		return 0, fmt.Errorf("model %s: %w", s.ref, err)
	}
	return out[0], nil
}

// Contributions writes the TreeSHAP contribution of every feature to out (len(out) must
// be NumFeatures) and returns the expected margin; sum(out)+expected equals Margin(row).
func (s *Scorer) Contributions(row, out []float64) (float64, error) {
	if s.explainer == nil {
		return 0, fmt.Errorf("%w: model %s: %v", ErrNoExplainer, s.ref, s.explainErr)
	}
	if err := s.check(row); err != nil {
		return 0, err
	}
	if len(out) != len(row) {
		return 0, fmt.Errorf("%w: contributions buffer has %d slots, model %s needs %d", ErrFeatureCount, len(out), s.ref, len(row))
	}
	e, err := s.explainer.Contributions(row, out)
	if err != nil {
		return 0, fmt.Errorf("model %s: contributions: %w", s.ref, err)
	}
	return e, nil
}

// loadLeaves parses text with leaves, turning a panic on malformed input (leaves indexes
// its arrays without bounds checks) into an error.
func loadLeaves(text []byte) (ens *leaves.Ensemble, err error) {
	defer func() {
		if r := recover(); r != nil {
			ens, err = nil, fmt.Errorf("leaves: malformed model: %v", r)
		}
	}()
	ens, err = leaves.LGEnsembleFromReader(bufio.NewReader(bytes.NewReader(text)), true)
	if err != nil {
		return nil, fmt.Errorf("leaves: %w", err)
	}
	return ens, nil
}

// smoke evaluates the model on an all-missing and an all-zero row so a model whose trees
// point outside their arrays is refused at load rather than at the first request.
func (s *Scorer) smoke() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("leaves: malformed trees: %v", r)
		}
	}()
	row := make([]float64, len(s.set.Indicators))
	var out [1]float64
	for _, fill := range []float64{0, math.NaN()} {
		for i := range row {
			row[i] = fill
		}
		if err := s.predict.Predict(row, 0, out[:]); err != nil {
			return err
		}
	}
	return nil
}
