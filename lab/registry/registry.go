// Package registry adapts the model registry to the lab console's model library:
// models, versions with their evaluation, aliases, four-eyes promotions and history.
// Every call runs as the signed-in user's access principal, so internal/access
// decides each one in the registry as on every other surface.
//
// A model trained in the console is registered with the training.Card that
// training.NewCard made of its run (as xinyi train registers one), plus the ROC
// and KS curves the version page draws under "curves"; the page reads any
// training.Card as a document with its calibration and importance charts.
// Free-text cards the console registered before (text, text_zh, evaluation)
// are still shown as they are. The registry stores every card as given.
//
//	models := labregistry.New(reg)
//	srv, _ := lab.New(lab.Options{Models: models, ...})
package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/gbdt"
	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/lab/svg"
	xregistry "github.com/xinyi-platform/xinyi/registry"
	"github.com/xinyi-platform/xinyi/training"
)

// ErrNoPrincipal reports a lab principal with no signed-in user.
var ErrNoPrincipal = errors.New("lab/registry: no signed-in user")

// Models implements lab.Models over a registry.
type Models struct {
	r *xregistry.Registry
}

// New wraps r.
func New(r *xregistry.Registry) *Models { return &Models{r: r} }

// principal is the access principal the registry authorizes; an anonymous one is
// refused before the registry is asked.
func principal(p lab.Principal) (xaccess.Principal, error) {
	if p.User == "" {
		return xaccess.Principal{}, fmt.Errorf("%w: %w", lab.ErrForbidden, ErrNoPrincipal)
	}
	return p.Principal, nil
}

// mapErr turns registry errors into the console's; the message is kept.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, xregistry.ErrNotFound):
		return fmt.Errorf("%w: %w", lab.ErrNotFound, err)
	case errors.Is(err, xregistry.ErrForbidden), errors.Is(err, xaccess.ErrForbidden):
		return fmt.Errorf("%w: %w", lab.ErrForbidden, err)
	case errors.Is(err, xregistry.ErrConflict):
		return fmt.Errorf("%w: %w", lab.ErrConflict, err)
	case errors.Is(err, xregistry.ErrInvalid), errors.Is(err, xregistry.ErrValidation), errors.Is(err, xregistry.ErrTooLarge),
		errors.Is(err, xregistry.ErrUnknownFeatureSet):
		return fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	}
	return err
}

func versionName(n int) string { return "v" + strconv.Itoa(n) }

// parseVersion reads "v3" or "3".
func parseVersion(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "v"))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: version %q is not v1, v2, ...", lab.ErrNotFound, s)
	}
	return n, nil
}

func summary(m xregistry.Model) lab.ModelSummary {
	s := lab.ModelSummary{Name: m.Name, Task: string(m.Task), Description: m.Description, Versions: m.Latest, Aliases: map[string]string{}}
	for a, v := range m.Aliases {
		s.Aliases[a] = versionName(v)
	}
	return s
}

// Models lists the models the user may see.
func (a *Models) Models(ctx context.Context, p lab.Principal) ([]lab.ModelSummary, error) {
	ap, err := principal(p)
	if err != nil {
		return nil, err
	}
	ms, err := a.r.Models(ctx, ap)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]lab.ModelSummary, len(ms))
	for i, m := range ms {
		out[i] = summary(m)
	}
	return out, nil
}

// Model returns a model with its versions, promotions and audit history.
func (a *Models) Model(ctx context.Context, p lab.Principal, name string) (lab.ModelDetail, error) {
	ap, err := principal(p)
	if err != nil {
		return lab.ModelDetail{}, err
	}
	m, err := a.r.Model(ctx, ap, name)
	if err != nil {
		return lab.ModelDetail{}, mapErr(err)
	}
	d := lab.ModelDetail{ModelSummary: summary(m)}
	vs, err := a.r.Versions(ctx, ap, name)
	if err != nil {
		return lab.ModelDetail{}, mapErr(err)
	}
	for _, v := range vs {
		d.Versions = append(d.Versions, convertVersion(v))
	}
	ps, err := a.r.Promotions(ctx, ap, name, "")
	if err != nil {
		return lab.ModelDetail{}, mapErr(err)
	}
	for _, pr := range ps {
		d.Promotions = append(d.Promotions, convertPromotion(pr))
	}
	hist, err := a.r.History(ctx, ap, name, 100)
	if err != nil {
		return lab.ModelDetail{}, mapErr(err)
	}
	for _, h := range hist {
		e := lab.HistoryEntry{Time: h.Time, Actor: h.Actor, Action: h.Action, Outcome: h.Outcome, Reason: h.Reason}
		// The changed record names the version and alias (promotions, aliases,
		// versions); a model record's own fields are not a version.
		var after struct {
			Version int    `json:"version"`
			Alias   string `json:"alias"`
			Reason  string `json:"reason"`
		}
		if len(h.After) > 0 && h.Action != "model.create" && h.Action != "model.update" && json.Unmarshal(h.After, &after) == nil {
			e.Version, e.Alias = after.Version, after.Alias
			if e.Reason == "" {
				e.Reason = after.Reason
			}
		}
		d.History = append(d.History, e)
	}
	return d, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func convertPromotion(pr xregistry.Promotion) lab.Promotion {
	reason := pr.Reason
	if reason == "" {
		reason = pr.Note
	}
	return lab.Promotion{ID: strconv.FormatInt(pr.ID, 10), Model: pr.Model, Version: versionName(pr.Version), Alias: pr.Alias, State: pr.State,
		RequestedBy: pr.RequestedBy, Requested: pr.RequestedAt, DecidedBy: pr.DecidedBy, Decided: pr.DecidedAt, Reason: reason}
}

// legacyCard is the free-text card the console registered for its runs before
// it registered training.Card; versions that carry one still show it.
type legacyCard struct {
	Text       string          `json:"text,omitempty"`
	TextZH     string          `json:"text_zh,omitempty"`
	Evaluation *lab.Evaluation `json:"evaluation,omitempty"`
}

// trainedCard is the card of a model trained in the console: the training.Card
// that training.NewCard made, as xinyi train registers it, with the ROC and KS
// curves the version page draws beside it. Read as a training.Card it is one.
type trainedCard struct {
	*training.Card
	Curves *lab.Curves `json:"curves,omitempty"`
}

func convertVersion(v xregistry.Version) lab.Version {
	out := lab.Version{Model: v.Model, Version: versionName(v.Version), Format: v.SourceFormat,
		FeatureSet: features.SetRef{Name: v.FeatureSet, Version: v.FeatureSetVersion}.String(), Sample: v.Lineage.Sample, CodeVersion: v.Lineage.CodeVersion, LabelFileSHA256: v.Lineage.LabelFileSHA256,
		SHA256: v.ArtifactDigest, Trees: v.NumTrees, Features: len(v.Columns), Created: v.CreatedAt, CreatedBy: v.CreatedBy}
	if v.Parity != nil {
		out.Golden = v.Parity.Rows
	}
	if len(v.ModelCard) > 0 {
		var c legacyCard
		var rel training.ReleasedEvaluation
		if err := json.Unmarshal(v.ModelCard, &rel); err == nil && rel.Split != "" && rel.Policy.MinCellRows > 0 {
			// A joint model's card: the evaluation released to its bank.
			ev := ReleasedEvaluation(&rel)
			out.Released = &ev
			for _, cell := range rel.Calibration {
				if !cell.Suppressed {
					out.Evaluation.Calibration = append(out.Evaluation.Calibration, svg.CalibrationBin{Predicted: *cell.MeanScore, Observed: *cell.Rate, Count: int64(cell.Rows)})
				}
			}
		} else if err := json.Unmarshal(v.ModelCard, &c); err == nil && (c.Text != "" || c.Evaluation != nil) {
			out.Card, out.CardZH = c.Text, c.TextZH
			if c.Evaluation != nil {
				out.Evaluation = *c.Evaluation
			}
		} else if doc, ev := cardDoc(v.ModelCard); doc != nil {
			out.Doc, out.Evaluation = doc, ev
		} else {
			var pretty bytes.Buffer
			if json.Indent(&pretty, v.ModelCard, "", "  ") == nil {
				out.Card, out.CardJSON = pretty.String(), true
			}
		}
	}
	if len(out.Metrics) == 0 {
		names := make([]string, 0, len(v.Metrics))
		for n := range v.Metrics {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			out.Metrics = append(out.Metrics, lab.Metric{Name: n, Value: v.Metrics[n]})
			// An upload names its AUC "auc"; a model trained on a sample reports its
			// out-of-time test split as "test_auc" (and "valid_auc"), which wins.
			if (strings.EqualFold(n, "auc") || n == "eval_auc") && out.AUC == 0 || strings.EqualFold(n, "test_auc") {
				out.AUC = v.Metrics[n]
			}
		}
	}
	return out
}

// Version returns one version ("v3").
func (a *Models) Version(ctx context.Context, p lab.Principal, name, version string) (lab.Version, error) {
	ap, err := principal(p)
	if err != nil {
		return lab.Version{}, err
	}
	n, err := parseVersion(version)
	if err != nil {
		return lab.Version{}, err
	}
	v, err := a.r.Version(ctx, ap, name, n)
	if err != nil {
		return lab.Version{}, mapErr(err)
	}
	return convertVersion(v), nil
}

// ParseFeatureSet reads a feature-set reference with features.ParseSetRef:
// "name/vN", or a bare name for the latest version (0).
func ParseFeatureSet(s string) (string, int, error) {
	r, err := features.ParseSetRef(s)
	if err != nil {
		return "", 0, fmt.Errorf("%w: feature set %q must be written name/vN (e.g. pd/v1) or name for its latest version", lab.ErrInvalidInput, s)
	}
	return r.Name, r.Version, nil
}

// MaxGoldenRows bounds the golden rows of one upload.
const MaxGoldenRows = 10000

// ParseGolden reads golden rows as CSV: the model's feature values in order
// (empty or NaN for missing), then the expected prediction. A first line whose
// first field is not a number is a header. Every row must have the same width.
func ParseGolden(data []byte) (*xregistry.ParityInput, error) {
	rows, last, err := parseRows(data, "golden rows", "the expected prediction", MaxGoldenRows)
	if err != nil {
		return nil, err
	}
	return &xregistry.ParityInput{Rows: rows, Expected: last}, nil
}

// parseRows reads a CSV of model inputs (in the model's column order, an
// empty or NaN field missing) followed by one number per line, at most
// maxRows lines; a first line that does not start with a number is a header.
func parseRows(data []byte, what, lastName string, maxRows int) ([][]*float64, []float64, error) {
	rd := csv.NewReader(bytes.NewReader(data))
	rd.FieldsPerRecord = 0
	rd.ReuseRecord = true
	var rows [][]*float64
	var last []float64
	for line := 1; ; line++ {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", lab.ErrInvalidInput, what, err)
		}
		if len(rec) < 2 {
			return nil, nil, fmt.Errorf("%w: %s line %d has %d field(s); want feature values and %s", lab.ErrInvalidInput, what, line, len(rec), lastName)
		}
		if line == 1 && !numeric(rec[0]) {
			continue
		}
		if len(rows) == maxRows {
			return nil, nil, fmt.Errorf("%w: %s: more than %d rows", lab.ErrInvalidInput, what, maxRows)
		}
		row := make([]*float64, len(rec)-1)
		for i, f := range rec[:len(rec)-1] {
			f = strings.TrimSpace(f)
			if f == "" || strings.EqualFold(f, "nan") || strings.EqualFold(f, "na") {
				continue
			}
			v, err := strconv.ParseFloat(f, 64)
			if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, nil, fmt.Errorf("%w: %s line %d field %d: %q is not a finite number", lab.ErrInvalidInput, what, line, i+1, truncate(f, 40))
			}
			row[i] = &v
		}
		want, err := strconv.ParseFloat(strings.TrimSpace(rec[len(rec)-1]), 64)
		if err != nil || math.IsInf(want, 0) || math.IsNaN(want) {
			return nil, nil, fmt.Errorf("%w: %s line %d: %s %q is not a finite number", lab.ErrInvalidInput, what, line, lastName, truncate(rec[len(rec)-1], 40))
		}
		rows = append(rows, row)
		last = append(last, want)
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("%w: %s: the file has no rows", lab.ErrInvalidInput, what)
	}
	return rows, last, nil
}

// Bounds of a labelled evaluation file sent with an upload.
const (
	MaxEvaluationRows = 200000
	// MinEvaluationRows and MinEvaluationClass are the fewest rows, and the
	// fewest rows of each class, whose AUC and KS are worth showing an approver.
	MinEvaluationRows  = 200
	MinEvaluationClass = 20
)

// EvaluateFile scores a labelled evaluation file (the model's inputs in its
// own column order, then the 0/1 outcome) with the model in data and returns
// the platform's metrics: eval_auc, eval_ks, eval_rows and eval_positives.
func EvaluateFile(data, file []byte, limits gbdt.Limits) (map[string]float64, error) {
	rows, labels, err := parseRows(file, "evaluation file", "the outcome (0 or 1)", MaxEvaluationRows)
	if err != nil {
		return nil, err
	}
	m, err := gbdt.Parse(data, limits)
	if err != nil {
		return nil, fmt.Errorf("%w: the model file is not a usable LightGBM or XGBoost model: %w", lab.ErrInvalidInput, err)
	}
	n := m.NumFeatures()
	pos := 0
	for i, r := range rows {
		if len(r) != n {
			return nil, fmt.Errorf("%w: evaluation file row %d has %d inputs; the model takes %d (its own column order) and then the outcome", lab.ErrInvalidInput, i+1, len(r), n)
		}
		if y := labels[i]; y != 0 && y != 1 {
			return nil, fmt.Errorf("%w: evaluation file row %d: outcome %v is not 0 or 1", lab.ErrInvalidInput, i+1, y)
		}
		pos += int(labels[i])
	}
	if len(rows) < MinEvaluationRows || pos < MinEvaluationClass || len(rows)-pos < MinEvaluationClass {
		return nil, fmt.Errorf("%w: evaluation file has %d rows, %d with outcome 1: at least %d rows and %d of each outcome are needed",
			lab.ErrInvalidInput, len(rows), pos, MinEvaluationRows, MinEvaluationClass)
	}
	score := make([]float64, len(rows))
	x := make([]float64, n)
	for i, r := range rows {
		for j, v := range r {
			x[j] = math.NaN()
			if v != nil {
				x[j] = *v
			}
		}
		if score[i], err = m.Predict(x); err != nil {
			return nil, fmt.Errorf("%w: evaluation file row %d: %w", lab.ErrInvalidInput, i+1, err)
		}
	}
	auc, err := training.AUC(labels, score)
	if err != nil {
		return nil, fmt.Errorf("%w: evaluation file: %w", lab.ErrInvalidInput, err)
	}
	ks, err := training.KS(labels, score)
	if err != nil {
		return nil, fmt.Errorf("%w: evaluation file: %w", lab.ErrInvalidInput, err)
	}
	return map[string]float64{"eval_auc": auc, "eval_ks": ks, "eval_rows": float64(len(rows)), "eval_positives": float64(pos)}, nil
}

func numeric(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "nan") || strings.EqualFold(s, "na") {
		return true
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// Upload registers a file (or a trained model) as the next version of u.Model,
// creating the model with u.Task when it does not exist yet.
func (a *Models) Upload(ctx context.Context, u lab.Upload) (lab.Version, error) {
	ap, err := principal(u.By)
	if err != nil {
		return lab.Version{}, err
	}
	if u.FeatureSet == "" {
		return lab.Version{}, fmt.Errorf("%w: name the feature set the model is bound to (name/vN)", lab.ErrInvalidInput)
	}
	set, setVersion, err := ParseFeatureSet(u.FeatureSet)
	if err != nil {
		return lab.Version{}, err
	}
	up := xregistry.Upload{Data: u.Data, FeatureSet: set, FeatureSetVersion: setVersion,
		Lineage: xregistry.Lineage{Kind: "uploaded", Filename: u.FileName, Sample: u.Sample, SampleVersion: u.SampleVersion,
			SampleManifest: u.SampleManifest, CodeVersion: u.CodeVersion}}
	if u.Card != nil {
		// A run of the console's trainer: its card and headline figures as
		// xinyi train registers them.
		up.Lineage.Kind, up.Lineage.Note = "trained", u.Note
		if up.ModelCard, err = json.Marshal(trainedCard{Card: u.Card, Curves: u.Curves}); err != nil {
			return lab.Version{}, fmt.Errorf("encode model card: %w", err)
		}
		up.Metrics = training.CardMetrics(u.Card)
	}
	if len(u.Golden) > 0 {
		if up.Parity, err = ParseGolden(u.Golden); err != nil {
			return lab.Version{}, err
		}
	}
	if len(u.EvalFile) > 0 {
		metrics, err := EvaluateFile(u.Data, u.EvalFile, gbdt.DefaultLimits())
		if err != nil {
			return lab.Version{}, err
		}
		if up.Metrics == nil {
			up.Metrics = map[string]float64{}
		}
		maps.Copy(up.Metrics, metrics)
		sum := sha256.Sum256(u.EvalFile)
		up.Lineage.Note = fmt.Sprintf("evaluated by the platform on %s (sha256 %x): %d rows, %d with outcome 1",
			u.EvalFileName, sum, int(metrics["eval_rows"]), int(metrics["eval_positives"]))
	}
	var v xregistry.Version
	if _, err := a.r.Model(ctx, ap, u.Model); errors.Is(err, xregistry.ErrNotFound) {
		task := xregistry.Task(u.Task)
		if task == "" {
			task = xregistry.TaskPD
		}
		// A file that is not a model is refused naming the file. The model is
		// created with its first version in one transaction: a refused file
		// leaves no empty model behind.
		if _, err := gbdt.Parse(u.Data, gbdt.DefaultLimits()); err != nil {
			return lab.Version{}, fmt.Errorf("%w: %s is not a usable LightGBM or XGBoost model: %w", lab.ErrInvalidInput, u.FileName, err)
		}
		if _, v, err = a.r.CreateAndRegister(ctx, ap, xregistry.NewModel{Name: u.Model, Task: task}, up); err != nil {
			return lab.Version{}, mapErr(err)
		}
	} else if err != nil {
		return lab.Version{}, mapErr(err)
	} else if v, err = a.r.Register(ctx, ap, u.Model, up); err != nil {
		return lab.Version{}, mapErr(err)
	}
	return convertVersion(v), nil
}

// RequestPromotion asks for alias to point at version.
func (a *Models) RequestPromotion(ctx context.Context, name, version, alias string, by lab.Principal) (lab.Promotion, error) {
	ap, err := principal(by)
	if err != nil {
		return lab.Promotion{}, err
	}
	n, err := parseVersion(version)
	if err != nil {
		return lab.Promotion{}, err
	}
	pr, err := a.r.RequestPromotion(ctx, ap, name, alias, n, "")
	if err != nil {
		return lab.Promotion{}, mapErr(err)
	}
	return convertPromotion(pr), nil
}

// Decide approves or rejects a pending promotion.
func (a *Models) Decide(ctx context.Context, id string, approve bool, reason string, by lab.Principal) error {
	ap, err := principal(by)
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: promotion %q", lab.ErrNotFound, id)
	}
	if approve {
		_, err = a.r.Approve(ctx, ap, n, reason)
	} else {
		_, err = a.r.Reject(ctx, ap, n, reason)
	}
	return mapErr(err)
}

// Pending lists the undecided promotions of every model the user may see.
func (a *Models) Pending(ctx context.Context, p lab.Principal) ([]lab.Promotion, error) {
	ap, err := principal(p)
	if err != nil {
		return nil, err
	}
	ms, err := a.r.Models(ctx, ap)
	if err != nil {
		return nil, mapErr(err)
	}
	var out []lab.Promotion
	for _, m := range ms {
		ps, err := a.r.Promotions(ctx, ap, m.Name, xregistry.StatePending)
		if err != nil {
			return nil, mapErr(err)
		}
		for _, pr := range ps {
			lp := convertPromotion(pr)
			if v, err := a.r.Version(ctx, ap, m.Name, pr.Version); err == nil {
				c := convertVersion(v)
				lp.Candidate = &c
			} else {
				return nil, mapErr(err)
			}
			switch v, err := a.r.Resolve(ctx, ap, m.Name, pr.Alias); {
			case err == nil:
				c := convertVersion(v)
				lp.Current = &c
			case !errors.Is(err, xregistry.ErrNotFound):
				return nil, mapErr(err)
			}
			out = append(out, lp)
		}
	}
	slices.SortStableFunc(out, func(x, y lab.Promotion) int { return x.Requested.Compare(y.Requested) })
	return out, nil
}

// deref is *v, or NaN for nil.
func deref(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

// cardDoc reads a training.Card (xinyi train's, or a console run's with its
// curves) as the document the version page shows, and the charts beside it:
// the calibration by decile and the AUC of the split the card evaluates last,
// the gain shares and the run's ROC and KS curves when it has them. It returns
// nil for any other card.
func cardDoc(raw []byte) (*lab.CardDoc, lab.Evaluation) {
	var tc trainedCard
	if err := json.Unmarshal(raw, &tc); err != nil || tc.Card == nil || tc.Data.TrainRows == 0 || tc.Training.Rounds == 0 {
		return nil, lab.Evaluation{}
	}
	c := tc.Card
	d := &lab.CardDoc{Data: c.Data.Name, Target: c.Data.Target, Features: len(c.Data.Features), TrainRows: c.Data.TrainRows,
		ValidRows: c.Data.ValidRows, TestRows: c.Data.TestRows, PositiveRate: math.NaN(), Objective: string(c.Objective),
		Trees: c.Trees, Leaves: c.Leaves, Rounds: c.Training.Rounds, RoundsRun: c.Training.RoundsRun, EarlyStopped: c.Training.EarlyStopped,
		Metric: c.Training.Metric, ElapsedSeconds: c.Training.ElapsedSeconds, LearningRate: c.Params.LearningRate, LambdaL2: c.Params.LambdaL2,
		NumLeaves: c.Params.NumLeaves, MaxDepth: c.Params.MaxDepth, MinDataInLeaf: c.Params.MinDataInLeaf, MaxBin: c.Params.MaxBins, Bagging: c.Params.BaggingFraction,
		FeatureFraction: c.Params.FeatureFraction}
	if c.Objective == gbdt.Binary {
		d.PositiveRate = c.Data.TrainPositiveRate
	}
	nan := func(x float64) float64 {
		if x == 0 {
			return math.NaN()
		}
		return x
	}
	for _, split := range []string{"train", "valid", "test"} {
		e := c.Metrics[split]
		if e == nil {
			continue
		}
		d.Sets = append(d.Sets, lab.CardSet{Split: split, Rows: e.Rows, Positives: e.Positives, AUC: nan(e.AUC), KS: nan(e.KS),
			Gini: nan(e.Gini), LogLoss: nan(e.LogLoss), Brier: nan(e.Brier), RMSE: nan(e.RMSE), MdAPE: deref(e.MdAPE), RMSELog: deref(e.RMSELog)})
	}
	for _, m := range c.Monotonicity {
		d.Monotone = append(d.Monotone, lab.CardMonotone{Feature: m.Feature, Direction: int(m.Direction), OK: m.OK, Violations: m.Violations})
	}
	var ev lab.Evaluation
	if n := len(d.Sets); n > 0 {
		e := c.Metrics[d.Sets[n-1].Split]
		if c.Objective == gbdt.Binary {
			ev.AUC = e.AUC
		}
		for _, b := range e.Calibration {
			ev.Calibration = append(ev.Calibration, svg.CalibrationBin{Predicted: b.MeanScore, Observed: b.Rate, Count: int64(b.Rows)})
		}
	}
	for _, fi := range c.Importance { // by descending gain
		if fi.GainShare > 0 {
			ev.Importance = append(ev.Importance, lab.Importance{Feature: fi.Feature, Gain: fi.GainShare})
		}
	}
	switch {
	case tc.Curves != nil: // a console run's card before cards held their curves
		ev.ROC, ev.KS = tc.Curves.ROC, tc.Curves.KS
	case len(d.Sets) > 0 && c.Metrics[d.Sets[len(d.Sets)-1].Split].Curves != nil:
		cv := c.Metrics[d.Sets[len(d.Sets)-1].Split].Curves
		ev.ROC = make([]svg.Point, len(cv.FPR))
		for i := range cv.FPR {
			ev.ROC[i] = svg.Point{X: cv.FPR[i], Y: cv.TPR[i]}
		}
		ev.KS = &svg.KSCurve{Fraction: cv.Share, CumPos: cv.CumPos, CumNeg: cv.CumNeg}
	}
	return d, ev
}

// ReleasedEvaluation is e for the console: an evaluation as released to a
// bank, aggregates only.
func ReleasedEvaluation(e *training.ReleasedEvaluation) lab.JointEvaluation {
	out := lab.JointEvaluation{Split: e.Split, Suppressed: e.Suppressed, Rows: e.Rows, Positives: e.Positives,
		SuppressedCells: e.SuppressedCells, MinRows: e.Policy.MinCellRows, MinClass: e.Policy.MinCellPositives}
	if !e.Suppressed && e.AUC != nil && e.KS != nil && e.Gini != nil {
		out.AUC, out.KS, out.Gini = *e.AUC, *e.KS, *e.Gini
	}
	out.Lift, out.Calibration = releasedCells(e.Lift), releasedCells(e.Calibration)
	return out
}

func releasedCells(cs []training.ReleasedCell) []lab.JointCell {
	out := make([]lab.JointCell, len(cs))
	for i, c := range cs {
		out[i] = lab.JointCell{Decile: c.Decile, Suppressed: c.Suppressed, Rows: c.Rows, Positives: c.Positives}
		if !c.Suppressed && c.Rate != nil && c.Lift != nil && c.MeanScore != nil {
			out[i].Rate, out[i].Lift, out[i].MeanScore = *c.Rate, *c.Lift, *c.MeanScore
		}
	}
	return out
}
