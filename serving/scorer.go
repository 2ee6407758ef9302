package serving

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/dmitryikh/leaves"

	"github.com/xinyi-platform/xinyi/features"
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
	// TaskLimit is the pre-credit limit model, predicting CNY: gamma (log link,
	// the trainer's) or a regression.
	TaskLimit Task = "limit"
)

// Tasks lists the tasks in the order decisions report them.
var Tasks = []Task{TaskPD, TaskViolation, TaskLimit}

// Valid reports whether t is one of the known tasks.
func (t Task) Valid() bool { return t == TaskPD || t == TaskViolation || t == TaskLimit }

// FeatureSet is a named, versioned, ordered list of feature names. A model is bound
// to exactly one feature-set version and reads some of its features, by name, in
// an order of its own.
//
// Indicators lists every feature of the set in the set's published order: catalog
// indicator ids (which serving takes from the online store) and the names of the
// request features (which the caller sends with each request). Requests describes
// the request features, in the set's order; a built-in set has none.
type FeatureSet struct {
	Name       string
	Version    int
	Indicators []string
	Requests   []features.SetFeature
}

// Key is the "name/vN" form the feature store, logs, audit records and responses use.
func (f FeatureSet) Key() string { return f.Ref().String() }

// Ref is the set's reference.
func (f FeatureSet) Ref() features.SetRef { return features.SetRef{Name: f.Name, Version: f.Version} }

// Request returns the request feature called name, if the set has one.
func (f FeatureSet) Request(name string) (*features.SetFeature, bool) {
	for i := range f.Requests {
		if f.Requests[i].Name == name {
			return &f.Requests[i], true
		}
	}
	return nil, false
}

// RequestNames lists the names of the set's request features in order.
func (f FeatureSet) RequestNames() []string {
	out := make([]string, len(f.Requests))
	for i, r := range f.Requests {
		out[i] = r.Name
	}
	return out
}

// Validate checks that the set is named, versioned and has unique, non-empty
// features, and that each request feature is one of them and well formed.
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
	if len(f.Requests) > 0 {
		for _, r := range f.Requests {
			if !r.Request() {
				return fmt.Errorf("%w: feature set %s: indicator %q listed as a request feature", ErrInvalidModel, f.Key(), r.Indicator)
			}
			if _, ok := seen[r.Name]; !ok {
				return fmt.Errorf("%w: feature set %s: request feature %q is not one of its features", ErrInvalidModel, f.Key(), r.Name)
			}
		}
		def := features.SetDefinition{Name: f.Name, Version: f.Version, Features: f.Requests}
		if err := def.Validate(nil); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidModel, err)
		}
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
//
// A model reads a subset of its feature set in its own column order (the order it
// was trained in, recorded by the registry). Predict, Margin and Contributions take
// a row in the feature set's order (the online store's vector) and build the
// model's row from it through an index map computed at load; PredictColumns and
// MarginColumns take a row already in the model's order (OIP).
type Scorer struct {
	ref        ModelRef
	set        FeatureSet
	columns    []string       // the model's columns, in its order
	column     map[string]int // column name → its index in columns
	pos        []int          // pos[i]: the set's column that model column i reads
	identity   bool           // the model reads the whole set in the set's order
	rows       *sync.Pool     // *[]float64 of len(columns), for gathered rows
	binary     bool
	model      *gbdt.Model
	predict    *leaves.Ensemble // with the objective's transformation
	margin     *leaves.Ensemble // raw margin
	explainer  Explainer
	explainErr error // why the model cannot be explained, when explainer is nil
}

// LoadScorer parses a model file (any format gbdt reads; canonical LightGBM text in
// the registry), validates it, loads its canonical LightGBM text with leaves and binds it
// to set by name: each of the model's columns must be named by an indicator of the set
// (a subset, in any order, each at most once). It refuses the model when the registry's
// binding (ref.FeatureSet, ref.FeatureSetVersion) names another feature set, when a
// column names no indicator of the set, or when its objective does not fit the task.
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
	pos, identity, err := bindColumns(names, set)
	if err != nil {
		return nil, fmt.Errorf("%w: model %s: %v", ErrFeatureSetMismatch, ref, err)
	}
	binary := model.Objective == gbdt.Binary
	switch ref.Task {
	case TaskPD, TaskViolation:
		if !binary {
			return nil, fmt.Errorf("%w: %s model %s must be binary, has objective %q", ErrInvalidModel, ref.Task, ref, model.Objective)
		}
	case TaskLimit:
		// Yuan either way: leaves applies exp to a gamma (log-link) model's
		// margin, and a regression's margin is the amount itself.
		if model.Objective != gbdt.Gamma && model.Objective != gbdt.Regression {
			return nil, fmt.Errorf("%w: limit model %s must be gamma or a regression, has objective %q", ErrInvalidModel, ref, model.Objective)
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
	s := &Scorer{ref: ref, set: set, columns: slices.Clone(names), pos: pos, identity: identity,
		binary: binary, model: model, predict: ens, margin: ens.EnsembleWithRawPredictions()}
	n := len(names)
	s.column = make(map[string]int, n)
	for i, name := range names {
		s.column[name] = i
	}
	s.rows = &sync.Pool{New: func() any { r := make([]float64, n); return &r }}
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

// NumFeatures is the length of a row in the feature set's order (Predict, Margin,
// Contributions).
func (s *Scorer) NumFeatures() int { return len(s.set.Indicators) }

// Columns are the model's input columns in its own order, named by the indicators
// they read: the order of PredictColumns and MarginColumns rows (and of OIP
// tensors). The slice is shared: do not modify it.
func (s *Scorer) Columns() []string { return s.columns }

// ColumnIndex is where the column called name sits in the model's order.
func (s *Scorer) ColumnIndex(name string) (int, bool) {
	i, ok := s.column[name]
	return i, ok
}

// NumColumns is the length of a row in the model's order.
func (s *Scorer) NumColumns() int { return len(s.columns) }

// bindColumns maps each model column onto the set's column of the same name.
func bindColumns(names []string, set FeatureSet) (pos []int, identity bool, err error) {
	idx := make(map[string]int, len(set.Indicators))
	for i, id := range set.Indicators {
		idx[id] = i
	}
	if len(names) == 0 {
		return nil, false, fmt.Errorf("no columns")
	}
	pos = make([]int, len(names))
	seen := make(map[int]bool, len(names))
	identity = len(names) == len(set.Indicators)
	for i, n := range names {
		j, ok := idx[n]
		if !ok {
			return nil, false, fmt.Errorf("column %d is %q, which feature set %s does not have", i, n, set.Key())
		}
		if seen[j] {
			return nil, false, fmt.Errorf("column %d reads %q, which an earlier column reads", i, n)
		}
		seen[j] = true
		pos[i] = j
		identity = identity && i == j
	}
	return pos, identity, nil
}

// gather returns the model's row built from a row in the set's order and the
// pooled buffer holding it, which the caller gives back with release. For a model
// that reads the whole set in its order it is row itself (and no buffer).
func (s *Scorer) gather(row []float64) ([]float64, *[]float64) {
	if s.identity {
		return row, nil
	}
	bp := s.rows.Get().(*[]float64)
	b := *bp
	for i, j := range s.pos {
		b[i] = row[j]
	}
	return b, bp
}

func (s *Scorer) release(bp *[]float64) {
	if bp != nil {
		s.rows.Put(bp)
	}
}

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

// Predict returns the model output for one row in the feature set's order: a
// probability for binary models, exp(margin) for gamma models (a limit in yuan),
// the regression value otherwise. NaN means missing.
// The row length is checked first.
func (s *Scorer) Predict(row []float64) (float64, error) {
	if err := s.check(row); err != nil {
		return 0, err
	}
	r, bp := s.gather(row)
	defer s.release(bp)
	return s.run(s.predict, r)
}

// Margin returns the raw margin (log-odds for binary models, log yuan for a gamma
// limit model; contributions add up to it) for one row in the
// feature set's order.
func (s *Scorer) Margin(row []float64) (float64, error) {
	if err := s.check(row); err != nil {
		return 0, err
	}
	r, bp := s.gather(row)
	defer s.release(bp)
	return s.run(s.margin, r)
}

// PredictColumns is Predict for a row in the model's own column order (Columns).
func (s *Scorer) PredictColumns(row []float64) (float64, error) {
	if err := s.checkColumns(row); err != nil {
		return 0, err
	}
	return s.run(s.predict, row)
}

// MarginColumns is Margin for a row in the model's own column order (Columns).
func (s *Scorer) MarginColumns(row []float64) (float64, error) {
	if err := s.checkColumns(row); err != nil {
		return 0, err
	}
	return s.run(s.margin, row)
}

func (s *Scorer) run(e *leaves.Ensemble, row []float64) (float64, error) {
	var out [1]float64
	if err := e.Predict(row, 0, out[:]); err != nil {
		return 0, fmt.Errorf("model %s: %w", s.ref, err)
	}
	return out[0], nil
}

func (s *Scorer) checkColumns(row []float64) error {
	if len(row) != len(s.columns) {
		return fmt.Errorf("%w: model %s reads %d columns, row has %d", ErrFeatureCount, s.ref, len(s.columns), len(row))
	}
	for i, v := range row {
		if math.IsInf(v, 0) {
			return fmt.Errorf("%w: column %d (%s) is infinite", ErrInvalidInput, i, s.columns[i])
		}
	}
	return nil
}

// Contributions writes the TreeSHAP contribution of every feature of the set to out
// (in the set's order; len(out) must be NumFeatures) for a row in the set's order,
// and returns the expected margin; sum(out)+expected equals Margin(row). A feature
// the model does not read contributes 0.
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
	if s.identity {
		e, err := s.explainer.Contributions(row, out)
		if err != nil {
			return 0, fmt.Errorf("model %s: contributions: %w", s.ref, err)
		}
		return e, nil
	}
	r, bp := s.gather(row)
	defer s.release(bp)
	cp := s.rows.Get().(*[]float64)
	defer s.rows.Put(cp)
	c := *cp
	e, err := s.explainer.Contributions(r, c)
	if err != nil {
		return 0, fmt.Errorf("model %s: contributions: %w", s.ref, err)
	}
	clear(out)
	for i, j := range s.pos {
		out[j] = c[i]
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
	row := make([]float64, len(s.columns))
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
