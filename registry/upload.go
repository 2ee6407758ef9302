package registry

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// Upload is a model file and what the uploader states about it.
type Upload struct {
	// Data is the model file as produced by LightGBM or XGBoost (any format
	// gbdt.Parse reads).
	Data []byte `json:"-"`
	// FeatureSet and FeatureSetVersion bind the version to a feature-set version.
	// Version 0 is the latest version of the set (features.SetRef), resolved at
	// registration; the version records the exact one.
	FeatureSet        string `json:"feature_set"`
	FeatureSetVersion int    `json:"feature_set_version"`
	// Columns maps the model's columns, in the model's own order, onto features
	// of the set: Columns[i] is the feature that column i of the file reads. It
	// is required for files that carry no feature names (XGBoost legacy binary,
	// XGBoost JSON saved from unnamed arrays: f0, f1, ...; LightGBM's Column_N)
	// and overrides the names of files that do. When empty the file's names are
	// used. The model may use any subset of the set, in any order.
	Columns []string `json:"columns,omitempty"`
	// Features is the former name of Columns, still read when Columns is empty.
	Features  []string           `json:"features,omitempty"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	ModelCard json.RawMessage    `json:"model_card,omitempty"`
	Lineage   Lineage            `json:"lineage"`
	// Parity, when set, is checked before the version exists.
	Parity *ParityInput `json:"parity,omitempty"`
}

// SetRef is the feature-set reference of the upload.
func (up Upload) SetRef() features.SetRef {
	return features.SetRef{Name: up.FeatureSet, Version: up.FeatureSetVersion}
}

func (up Upload) columns() []string {
	if len(up.Columns) > 0 {
		return up.Columns
	}
	return up.Features
}

// ParityInput is a set of golden rows with the predictions the uploader's own
// tool made for them. Rows are in the model's own column order (the file's, or
// Upload.Columns); null (JSON) or NaN means missing.
//
// The comparison is on margins (raw scores): a row passes when
//
//	|margin - expected margin| <= Tolerance + ToleranceRel * scale
//
// where scale is the magnitude of the terms the margin sums for the row (|base
// score| plus the |value| of every leaf reached, at least |expected margin|): a
// predictor summing trees in float32, as XGBoost does, rounds on that scale.
// Expected probabilities of a binary model are turned into margins by the logit,
// allowing the two float32 ulps of rounding a probability written by a float32
// predictor carries. The platform sets the maximum of both tolerances
// (Options.MaxParityTolerance); an upload may ask for tighter ones, never looser.
type ParityInput struct {
	Rows     [][]*float64 `json:"rows"`
	Expected []float64    `json:"expected"`
	Output   string       `json:"output,omitempty"` // "prediction" (default; probability for binary, yuan for gamma) or "margin"
	// Tolerance and ToleranceRel are the absolute and relative tolerances on the
	// margin scale; zero means the platform maximum.
	Tolerance    float64 `json:"tolerance,omitempty"`
	ToleranceRel float64 `json:"tolerance_rel,omitempty"`
}

// ParityTolerance is an absolute plus a relative tolerance on margins.
type ParityTolerance struct {
	Abs float64 `json:"abs"`
	Rel float64 `json:"rel"`
}

// ParityReport is the outcome of a parity check, stored on the version.
type ParityReport struct {
	Rows   int    `json:"rows"`
	Output string `json:"output"`
	// Compared is the scale of the comparison: always "margin".
	Compared string `json:"compared"`
	// Tolerance and ToleranceRel are the tolerances used (absolute, and relative
	// to the magnitude of the summed terms, on margins); MaxTolerance is the
	// platform maximum in force.
	Tolerance    float64          `json:"tolerance"`
	ToleranceRel float64          `json:"tolerance_rel"`
	MaxTolerance *ParityTolerance `json:"max_tolerance,omitempty"`
	// MaxAbsDiff is the largest |margin - expected margin| over the rows.
	MaxAbsDiff  float64        `json:"max_abs_diff"`
	Passed      bool           `json:"passed"`
	Failures    int            `json:"failures"`
	FirstFailed []ParityMiss   `json:"first_failed,omitempty"` // at most 10
	CheckedOn   string         `json:"checked_on"`             // "canonical": the artifact serving loads
	Extra       map[string]any `json:"extra,omitempty"`
}

// ParityMiss is one row whose prediction differs beyond the tolerance.
type ParityMiss struct {
	Row  int     `json:"row"`
	Want float64 `json:"want"`
	Got  float64 `json:"got"`
}

// ParityError is returned (wrapping ErrValidation) when a parity check fails.
type ParityError struct{ Report ParityReport }

func (e *ParityError) Error() string {
	r := e.Report
	msg := fmt.Sprintf("%v: parity check failed: %d of %d rows differ by more than %g + %g×scale on the margin scale (max difference %g)",
		ErrValidation, r.Failures, r.Rows, r.Tolerance, r.ToleranceRel, r.MaxAbsDiff)
	if len(r.FirstFailed) > 0 {
		f := r.FirstFailed[0]
		msg += fmt.Sprintf("; first: row %d want %g got %g", f.Row, f.Want, f.Got)
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrValidation) hold.
func (e *ParityError) Unwrap() error { return ErrValidation }

// ReadUpload reads at most limit bytes from rd, returning ErrTooLarge beyond.
func ReadUpload(rd io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, fmt.Errorf("registry: read upload: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: model file exceeds %d bytes", ErrTooLarge, limit)
	}
	return data, nil
}

// MaxUploadBytes reports the configured upload limit.
func (r *Registry) MaxUploadBytes() int64 { return r.opts.MaxUploadBytes }

// Register validates an upload and, if it passes, stores it as the next version
// of model name. Nothing is stored when validation fails. The artifacts are
// written first (content-addressed, so a retry rewrites the same objects) and the
// version becomes visible only when the metadata commits; Cleanup removes
// artifacts a crash left unreferenced.
func (r *Registry) Register(ctx context.Context, p access.Principal, name string, up Upload) (Version, error) {
	const action = "model.version.create"
	v, err := r.register(ctx, p, name, nil, up)
	if err != nil {
		return Version{}, r.refuse(ctx, p, action, modelSubject(name), err, uploadDetail(up, err))
	}
	return v, nil
}

// CreateAndRegister creates model nm and registers up as its version 1 in one
// transaction: when the upload is refused (validation, parity, a name taken)
// neither the model nor the version nor any stored object is left behind.
func (r *Registry) CreateAndRegister(ctx context.Context, p access.Principal, nm NewModel, up Upload) (Model, Version, error) {
	const action = "model.create"
	m, err := r.newModel(ctx, p, nm)
	if err != nil {
		return Model{}, Version{}, r.refuse(ctx, p, action, modelSubject(nm.Name), err, nm)
	}
	v, err := r.register(ctx, p, m.Name, &m, up)
	if err != nil {
		return Model{}, Version{}, r.refuse(ctx, p, "model.version.create", modelSubject(m.Name), err, uploadDetail(up, err))
	}
	m.Latest = v.Version
	return m, v, nil
}

func uploadDetail(up Upload, err error) map[string]any {
	detail := map[string]any{"feature_set": up.FeatureSet, "feature_set_version": up.FeatureSetVersion, "bytes": len(up.Data)}
	var pe *ParityError
	if errors.As(err, &pe) {
		detail["parity"] = pe.Report
	}
	return detail
}

// prepared is a validated upload ready to store.
type prepared struct {
	canonical, original []byte
	digest, origDigest  string
	model               *gbdt.Model
	set                 features.SetRef // exact
	setFeatures         []string        // the set's features, in the set's order
	columns             []string        // the model's columns, in the model's order
	parity              *ParityReport
}

// register stores up as the next version of model name or, when create is set,
// creates that (not yet stored) model and its version 1 in one transaction.
func (r *Registry) register(ctx context.Context, p access.Principal, name string, create *Model, up Upload) (Version, error) {
	var m Model
	if create != nil {
		m = *create
	} else {
		var err error
		if m, err = r.visibleModel(ctx, p, name, "model.version.create"); err != nil {
			return Version{}, err
		}
		if err := r.authorize(ctx, p, access.ActionWriteModel, m, "model.version.create"); err != nil {
			return Version{}, err
		}
	}
	prep, err := r.validate(ctx, &p, m.Task, up)
	if err != nil {
		return Version{}, err
	}
	up.FeatureSet, up.FeatureSetVersion = prep.set.Name, prep.set.Version
	if err := checkMetadata(up); err != nil {
		return Version{}, err
	}
	if up.Lineage.Kind == "" {
		up.Lineage.Kind = "uploaded"
	}
	if up.Lineage.Kind != "uploaded" && up.Lineage.Kind != "trained" {
		return Version{}, fmt.Errorf("%w: lineage kind %q (want uploaded or trained)", ErrInvalid, up.Lineage.Kind)
	}
	up.Lineage.SampleManifestSHA256 = ""
	if key := up.Lineage.SampleManifest; key != "" {
		if err := blob.ValidateKey(key); err != nil {
			return Version{}, fmt.Errorf("%w: lineage sample manifest: %w", ErrInvalid, err)
		}
		info, err := r.blobs.Stat(ctx, key)
		if errors.Is(err, blob.ErrNotFound) {
			return Version{}, fmt.Errorf("%w: lineage sample manifest %s does not exist", ErrValidation, key)
		}
		if err != nil {
			return Version{}, fmt.Errorf("registry: lineage sample manifest %s: %w", key, err)
		}
		up.Lineage.SampleManifestSHA256 = info.SHA256
	}

	// A duplicate is refused before anything is written (and checked again
	// under the model lock below, which is authoritative). A model about to be
	// created has no versions; its name is checked here so a taken name
	// writes nothing either.
	if create == nil {
		if err := r.checkDuplicate(ctx, r.db.QueryRow, m, prep.digest, up.FeatureSet, up.FeatureSetVersion); err != nil {
			return Version{}, err
		}
	} else if err := r.checkNameFree(ctx, m.Name); err != nil {
		return Version{}, err
	}

	// Artifacts first: both objects are content-addressed and immutable, so
	// writing one that exists rewrites identical bytes.
	if _, err := blob.PutBytes(ctx, r.blobs, ArtifactKey(prep.origDigest), prep.original); err != nil {
		return Version{}, fmt.Errorf("registry: store original upload: %w", err)
	}
	if _, err := blob.PutBytes(ctx, r.blobs, ArtifactKey(prep.digest), prep.canonical); err != nil {
		return Version{}, fmt.Errorf("registry: store canonical artifact: %w", err)
	}
	if r.afterArtifacts != nil {
		if err := r.afterArtifacts(); err != nil {
			return Version{}, err
		}
	}

	v := Version{
		Model: m.Name, ArtifactDigest: prep.digest, ArtifactKey: ArtifactKey(prep.digest), ArtifactSize: int64(len(prep.canonical)),
		OriginalDigest: prep.origDigest, OriginalKey: ArtifactKey(prep.origDigest), OriginalSize: int64(len(prep.original)),
		SourceFormat: prep.model.Source, FeatureSet: up.FeatureSet, FeatureSetVersion: up.FeatureSetVersion,
		Features: prep.setFeatures, Columns: prep.columns, Objective: string(prep.model.Objective), NumTrees: len(prep.model.Trees),
		Metrics: up.Metrics, ModelCard: up.ModelCard, Lineage: up.Lineage, Parity: prep.parity,
		CreatedBy: p.User, CreatedAt: r.now(),
	}
	card := []byte(v.ModelCard)
	if len(card) == 0 {
		card = []byte("null")
	}
	var encoded [5][]byte
	for i, x := range []any{v.Metrics, v.Features, v.Lineage, v.Parity, v.Columns} {
		if encoded[i], err = json.Marshal(x); err != nil {
			return Version{}, fmt.Errorf("%w: encode version metadata: %v", ErrInvalid, err)
		}
	}
	metrics, features, lineage, parity, columns := encoded[0], encoded[1], encoded[2], encoded[3], encoded[4]
	err = r.db.Tx(ctx, func(tx *metadb.Tx) error {
		if create != nil {
			if err := r.insertModel(ctx, tx, p, &m); err != nil {
				return err
			}
		}
		locked, err := r.lockModel(ctx, tx, m.ID)
		if err != nil {
			return err
		}
		if err := r.checkDuplicate(ctx, tx.QueryRow, m, v.ArtifactDigest, v.FeatureSet, v.FeatureSetVersion); err != nil {
			return err
		}
		v.Version = locked.Latest + 1
		if _, err := tx.Exec(ctx, `INSERT INTO registry_versions (model_id, version, artifact_digest, artifact_size, original_digest, original_size,
			source_format, feature_set, feature_set_version, features_json, columns_json, objective, num_trees, metrics_json, model_card_json, lineage_json, parity_json,
			created_by, created_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, v.Version, v.ArtifactDigest, v.ArtifactSize, v.OriginalDigest, v.OriginalSize, v.SourceFormat, v.FeatureSet, v.FeatureSetVersion,
			string(features), string(columns), v.Objective, v.NumTrees, string(metrics), string(card), string(lineage), string(parity), v.CreatedBy, v.CreatedAt.UnixNano()); err != nil {
			return fmt.Errorf("registry: insert version: %w", err)
		}
		if err := r.appendChange(ctx, tx, m, "version.created", v.Version, "", p.User); err != nil {
			return err
		}
		_, err = r.log.AppendTx(ctx, tx, audit.Entry{Actor: p.User, Action: "model.version.create", Subject: versionSubject(m.Name, v.Version), After: v})
		return err
	})
	if err != nil {
		return Version{}, err
	}
	if create != nil {
		*create = m // with its ID
	}
	r.notify()
	return v, nil
}

// validate runs every check of an upload for a model of task without storing
// anything: size, parse, objective, the binding of the model's columns to
// features of the set by name, canonical round trip and the optional parity
// check. The set is a built-in one or a run-time set p may read (p nil: built-in
// sets only). Errors wrap ErrTooLarge, ErrInvalid or ErrValidation.
func (r *Registry) validate(ctx context.Context, p *access.Principal, task Task, up Upload) (*prepared, error) {
	if int64(len(up.Data)) > r.opts.MaxUploadBytes {
		return nil, fmt.Errorf("%w: model file is %d bytes, limit %d", ErrTooLarge, len(up.Data), r.opts.MaxUploadBytes)
	}
	if len(up.Data) == 0 {
		return nil, fmt.Errorf("%w: empty model file", ErrInvalid)
	}
	if up.FeatureSet == "" || up.FeatureSetVersion < 0 {
		return nil, fmt.Errorf("%w: feature_set is required and feature_set_version must be >= 1 (or 0 for the latest)", ErrInvalid)
	}
	wantObjectives, err := task.Objectives()
	if err != nil {
		return nil, err
	}
	model, err := gbdt.Parse(up.Data, r.opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrValidation, err)
	}
	if !slices.Contains(wantObjectives, model.Objective) {
		return nil, fmt.Errorf("%w: a %s model needs objective %s, the file has %s", ErrValidation, task, objectiveList(wantObjectives), model.Objective)
	}
	def, err := r.resolveSet(ctx, p, up.SetRef())
	ref, set := def.Ref(), def.Columns()
	if err != nil {
		if errors.Is(err, ErrUnknownFeatureSet) {
			return nil, fmt.Errorf("%w: %w", ErrValidation, err)
		}
		return nil, fmt.Errorf("registry: feature set %s: %w", up.SetRef(), err)
	}
	names := model.FeatureNames
	if cols := up.columns(); len(cols) > 0 {
		if len(cols) != model.NumFeatures() {
			return nil, fmt.Errorf("%w: %d columns given for a model with %d features", ErrValidation, len(cols), model.NumFeatures())
		}
		names = make([]string, len(cols))
		for i, c := range cols {
			names[i] = strings.TrimSpace(c)
		}
	} else if unnamed(names) && !allIn(names, set) {
		return nil, fmt.Errorf("%w: the file does not name its columns (it calls them %s): give the feature each column reads, in the file's order (columns; --columns a,b,c on the command line)",
			ErrValidation, listNames(names))
	}
	if _, err := matchFeatures(names, set, ref); err != nil {
		return nil, err
	}
	// The model keeps its own column order; its columns now carry the names of
	// the features they read.
	model.FeatureNames = slices.Clone(names)

	var buf bytes.Buffer
	if err := model.WriteLightGBM(&buf); err != nil {
		return nil, fmt.Errorf("%w: write canonical LightGBM text: %w", ErrValidation, err)
	}
	canonical := buf.Bytes()
	// Serving loads the canonical text, so every further check runs on it.
	served, err := gbdt.Parse(canonical, r.opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("%w: canonical text does not parse back: %w", ErrValidation, err)
	}
	if !slices.Equal(served.FeatureNames, names) {
		return nil, fmt.Errorf("%w: canonical text names its columns %s, want %s", ErrValidation, listNames(served.FeatureNames), listNames(names))
	}
	prep := &prepared{
		canonical: canonical, original: up.Data,
		digest: blob.SHA256Hex(canonical), origDigest: blob.SHA256Hex(up.Data),
		model: model, set: ref, setFeatures: set, columns: slices.Clone(names),
	}
	if up.Parity != nil {
		rep, err := r.checkParity(served, *up.Parity)
		if err != nil {
			return nil, err
		}
		prep.parity = &rep
		if !rep.Passed {
			return nil, &ParityError{Report: rep}
		}
	}
	return prep, nil
}

// unnamed reports whether names are the placeholders a file without feature
// names gets: XGBoost's f0, f1, ... or LightGBM's Column_0, Column_1, ... (or
// empty).
func unnamed(names []string) bool {
	for i, n := range names {
		s := strconv.Itoa(i)
		if n != "" && n != "f"+s && n != "Column_"+s {
			return false
		}
	}
	return true
}

func allIn(names, set []string) bool {
	for _, n := range names {
		if !slices.Contains(set, n) {
			return false
		}
	}
	return true
}

// checkDuplicate refuses a model whose canonical artifact and feature-set binding
// a version of m already has.
func (r *Registry) checkDuplicate(ctx context.Context, queryRow func(context.Context, string, ...any) *sql.Row, m Model, digest, set string, setVersion int) error {
	var dup int
	err := metadb.ScanOne(queryRow(ctx, "SELECT version FROM registry_versions WHERE model_id = ? AND artifact_digest = ? AND feature_set = ? AND feature_set_version = ?",
		m.ID, digest, set, setVersion), &dup)
	if err == nil {
		return fmt.Errorf("%w: model %s version %d already holds this model (sha256 %s)", ErrConflict, m.Name, dup, digest)
	}
	if !errors.Is(err, metadb.ErrNotFound) {
		return fmt.Errorf("registry: check duplicate: %w", err)
	}
	return nil
}

// checkMetadata refuses metrics that are not finite and a model card that is not
// a JSON object, before anything is stored.
func checkMetadata(up Upload) error {
	for k, v := range up.Metrics {
		if k == "" || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: metric %q = %g: names must be non-empty and values finite", ErrInvalid, k, v)
		}
	}
	if len(up.ModelCard) > 0 {
		var obj map[string]any
		if err := json.Unmarshal(up.ModelCard, &obj); err != nil || obj == nil {
			return fmt.Errorf("%w: model card must be a JSON object", ErrInvalid)
		}
	}
	if len(up.ModelCard) > 1<<20 {
		return fmt.Errorf("%w: model card is %d bytes, limit 1 MiB", ErrInvalid, len(up.ModelCard))
	}
	return nil
}

// matchFeatures returns pos with pos[i] = the feature-set column that model
// column i reads, or an error naming every unknown and duplicated name. A model
// may read any subset of the set.
func matchFeatures(names, set []string, ref features.SetRef) ([]int, error) {
	idx := make(map[string]int, len(set))
	for i, n := range set {
		idx[n] = i
	}
	seen := make(map[string]bool, len(names))
	var extra, dups []string
	pos := make([]int, len(names))
	for i, n := range names {
		if seen[n] {
			dups = append(dups, n)
		}
		seen[n] = true
		j, ok := idx[n]
		if !ok {
			extra = append(extra, n)
		}
		pos[i] = j
	}
	if len(extra)+len(dups) == 0 {
		return pos, nil
	}
	var parts []string
	if len(extra) > 0 {
		parts = append(parts, fmt.Sprintf("not in the set %s", listNames(extra)))
	}
	if len(dups) > 0 {
		parts = append(parts, fmt.Sprintf("duplicated %s", listNames(dups)))
	}
	return nil, fmt.Errorf("%w: model columns do not bind to feature set %s: %s", ErrValidation, ref, strings.Join(parts, "; "))
}

// objectiveList is "binary" or "gamma or regression".
func objectiveList(objs []gbdt.Objective) string {
	s := make([]string, len(objs))
	for i, o := range objs {
		s[i] = string(o)
	}
	return strings.Join(s, " or ")
}

func listNames(ns []string) string {
	if len(ns) > 10 {
		return fmt.Sprintf("%q and %d more", ns[:10], len(ns)-10)
	}
	return fmt.Sprintf("%q", ns)
}

const maxParityRows = 100_000

// probSlack is the rounding a probability written by a float32 predictor carries,
// in float32 ulps of the probability.
const probSlack = 2

// checkParity predicts the golden rows (in the model's own column order) with
// the canonical model and compares margins with the uploader's outputs.
func (r *Registry) checkParity(m *gbdt.Model, in ParityInput) (ParityReport, error) {
	if len(in.Rows) == 0 || len(in.Rows) != len(in.Expected) {
		return ParityReport{}, fmt.Errorf("%w: parity needs rows and as many expected values (got %d rows, %d expected)", ErrInvalid, len(in.Rows), len(in.Expected))
	}
	if len(in.Rows) > maxParityRows {
		return ParityReport{}, fmt.Errorf("%w: %d parity rows, limit %d", ErrInvalid, len(in.Rows), maxParityRows)
	}
	output := in.Output
	if output == "" {
		output = "prediction"
	}
	if output != "prediction" && output != "margin" {
		return ParityReport{}, fmt.Errorf("%w: parity output %q (want prediction or margin)", ErrInvalid, in.Output)
	}
	limit := r.opts.MaxParityTolerance
	tol, rel := in.Tolerance, in.ToleranceRel
	for _, t := range []struct {
		name     string
		v, limit float64
		dst      *float64
	}{{"tolerance", tol, limit.Abs, &tol}, {"relative tolerance", rel, limit.Rel, &rel}} {
		if t.v < 0 || math.IsNaN(t.v) || math.IsInf(t.v, 0) {
			return ParityReport{}, fmt.Errorf("%w: parity %s %g must be a finite number >= 0", ErrInvalid, t.name, t.v)
		}
		if t.v > t.limit {
			return ParityReport{}, fmt.Errorf("%w: parity %s %g is looser than the platform maximum %g (absolute %g plus relative %g, on margins); an upload may only tighten it",
				ErrInvalid, t.name, t.v, t.limit, limit.Abs, limit.Rel)
		}
		if t.v == 0 {
			*t.dst = t.limit
		}
	}
	probabilities := output == "prediction" && m.Objective == gbdt.Binary
	amounts := output == "prediction" && m.Objective == gbdt.Gamma
	rep := ParityReport{Rows: len(in.Rows), Output: output, Compared: "margin", Tolerance: tol, ToleranceRel: rel,
		MaxTolerance: &ParityTolerance{Abs: limit.Abs, Rel: limit.Rel}, CheckedOn: "canonical"}
	row := make([]float64, m.NumFeatures())
	for i, src := range in.Rows {
		if len(src) != len(row) {
			return ParityReport{}, fmt.Errorf("%w: parity row %d has %d values, the model has %d columns", ErrInvalid, i, len(src), len(row))
		}
		for j, v := range src {
			if v == nil {
				row[j] = math.NaN()
			} else {
				row[j] = *v
			}
		}
		got, scale, err := m.MarginTerms(row)
		if err != nil {
			return ParityReport{}, fmt.Errorf("%w: parity row %d: %w", ErrValidation, i, err)
		}
		want := in.Expected[i]
		var diff float64
		ok := false
		switch {
		case probabilities:
			diff, ok = probabilityParity(got, want, tol, rel*scale)
		case amounts:
			diff, ok = amountParity(got, want, tol, rel*scale)
		default:
			diff = math.Abs(got - want)
			ok = diff <= tol+rel*max(scale, math.Abs(want))
		}
		if math.IsNaN(diff) {
			diff, ok = math.Inf(1), false
		}
		rep.MaxAbsDiff = max(rep.MaxAbsDiff, diff)
		if !ok {
			rep.Failures++
			if len(rep.FirstFailed) < 10 {
				g := got
				if output == "prediction" {
					g = m.Transform(got)
				}
				rep.FirstFailed = append(rep.FirstFailed, ParityMiss{Row: i, Want: want, Got: g})
			}
		}
	}
	if math.IsInf(rep.MaxAbsDiff, 1) {
		rep.MaxAbsDiff = math.MaxFloat64 // JSON has no infinity
	}
	rep.Passed = rep.Failures == 0
	return rep, nil
}

// probabilityParity compares margin got with an expected probability p on the
// margin scale: the difference is |got - logit(p)| and the allowance tol + relAbs
// plus what probSlack float32 ulps of p are worth in margin. A probability of
// exactly 0 or 1 (a saturated float32 sigmoid) has no finite logit: it passes when
// the model's own probability is within the slack of it.
func probabilityParity(got, p, tol, relAbs float64) (float64, bool) {
	if math.IsNaN(p) || p < 0 || p > 1 {
		return math.Inf(1), false
	}
	slack := probSlack * ulp32(p)
	if p == 0 || p == 1 {
		d := math.Abs(1/(1+math.Exp(-got)) - p)
		if d <= slack {
			return 0, true
		}
		return math.Inf(1), false
	}
	want := math.Log(p) - math.Log1p(-p)
	diff := math.Abs(got - want)
	return diff, diff <= tol+relAbs+slack/(p*(1-p))
}

// amountParity compares margin got of a gamma (log-link) model with an expected
// prediction a > 0 on the margin scale: the difference is |got - log(a)| and the
// allowance tol + relAbs plus what probSlack float32 ulps of a are worth in margin
// (a predictor that sums in float32 and writes float32 amounts, as XGBoost). An
// amount of 0 or less, or not finite, is no gamma prediction: it fails.
func amountParity(got, a, tol, relAbs float64) (float64, bool) {
	if !(a > 0) || math.IsInf(a, 0) {
		return math.Inf(1), false
	}
	diff := math.Abs(got - math.Log(a))
	return diff, diff <= tol+relAbs+probSlack*ulp32(a)/a
}

// ulp32 is the gap between float32(x) and the next float32 above it.
func ulp32(x float64) float64 {
	f := float32(x)
	return float64(math.Nextafter32(f, float32(math.Inf(1))) - f)
}

// Versions lists the versions of a model, oldest first.
func (r *Registry) Versions(ctx context.Context, p access.Principal, name string) ([]Version, error) {
	m, err := r.visibleModel(ctx, p, name, "model.versions.read")
	if err != nil {
		return nil, err
	}
	rows, err := r.db.Query(ctx, "SELECT "+versionColumns+" FROM registry_versions WHERE model_id = ? ORDER BY version", m.ID)
	if err != nil {
		return nil, fmt.Errorf("registry: versions of %s: %w", name, err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v, err := scanVersion(rows, m.Name)
		if err != nil {
			return nil, fmt.Errorf("registry: versions of %s: %w", name, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Version returns one version of a model.
func (r *Registry) Version(ctx context.Context, p access.Principal, name string, version int) (Version, error) {
	m, err := r.visibleModel(ctx, p, name, "model.version.read")
	if err != nil {
		return Version{}, err
	}
	return r.version(ctx, m, version)
}

func (r *Registry) version(ctx context.Context, m Model, version int) (Version, error) {
	v, err := scanVersion(r.db.QueryRow(ctx, "SELECT "+versionColumns+" FROM registry_versions WHERE model_id = ? AND version = ?", m.ID, version), m.Name)
	if isNoRows(err) {
		return Version{}, fmt.Errorf("%w: model %s has no version %d", ErrNotFound, m.Name, version)
	}
	if err != nil {
		return Version{}, fmt.Errorf("registry: %s version %d: %w", m.Name, version, err)
	}
	return v, nil
}

const versionColumns = `version, artifact_digest, artifact_size, original_digest, original_size, source_format, feature_set, feature_set_version,
	features_json, columns_json, objective, num_trees, metrics_json, model_card_json, lineage_json, parity_json, created_by, created_at_ns`

func scanVersion(s scanner, model string) (Version, error) {
	v := Version{Model: model}
	var features, columns, metrics, card, lineage, parity string
	var ns int64
	if err := s.Scan(&v.Version, &v.ArtifactDigest, &v.ArtifactSize, &v.OriginalDigest, &v.OriginalSize, &v.SourceFormat, &v.FeatureSet,
		&v.FeatureSetVersion, &features, &columns, &v.Objective, &v.NumTrees, &metrics, &card, &lineage, &parity, &v.CreatedBy, &ns); err != nil {
		return Version{}, err
	}
	v.ArtifactKey, v.OriginalKey, v.CreatedAt = ArtifactKey(v.ArtifactDigest), ArtifactKey(v.OriginalDigest), time.Unix(0, ns).UTC()
	if card != "null" {
		v.ModelCard = json.RawMessage(card)
	}
	for _, f := range []struct {
		src string
		dst any
	}{{features, &v.Features}, {columns, &v.Columns}, {metrics, &v.Metrics}, {lineage, &v.Lineage}, {parity, &v.Parity}} {
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return Version{}, fmt.Errorf("decode stored version %d: %w", v.Version, err)
		}
	}
	return v, nil
}

// Artifact returns the bytes of a version's canonical artifact, or of the
// original upload when original is true, verified against the recorded digest.
func (r *Registry) Artifact(ctx context.Context, p access.Principal, name string, version int, original bool) ([]byte, Version, error) {
	v, err := r.Version(ctx, p, name, version)
	if err != nil {
		return nil, Version{}, err
	}
	key, digest := v.ArtifactKey, v.ArtifactDigest
	if original {
		key, digest = v.OriginalKey, v.OriginalDigest
	}
	data, info, err := blob.ReadAll(ctx, r.blobs, key)
	switch {
	case errors.Is(err, blob.ErrCorrupt):
		return nil, Version{}, fmt.Errorf("%w: model %s version %d: artifact sha256:%s fails verification in the store: %w", ErrCorruptArtifact, name, version, digest, err)
	case errors.Is(err, blob.ErrNotFound):
		return nil, Version{}, fmt.Errorf("%w: model %s version %d: artifact sha256:%s is missing from the store", ErrCorruptArtifact, name, version, digest)
	case err != nil:
		return nil, Version{}, fmt.Errorf("registry: model %s version %d: read artifact %s: %w", name, version, key, err)
	case info.SHA256 != digest || blob.SHA256Hex(data) != digest:
		return nil, Version{}, fmt.Errorf("%w: model %s version %d: artifact sha256:%s has content sha256:%s in the store", ErrCorruptArtifact, name, version, digest, blob.SHA256Hex(data))
	}
	return data, v, nil
}

// Download is Artifact for a principal who takes the file away (the registry
// API's artifact route): besides reading the model, p must be cleared for the
// most sensitive indicator the version reads (access ActionDownloadModel). A
// refusal is audited and wraps ErrForbidden; the model is still served to p.
// Another institution's private model is ErrNotFound, as for Version.
func (r *Registry) Download(ctx context.Context, p access.Principal, name string, version int, original bool) ([]byte, Version, error) {
	m, err := r.visibleModel(ctx, p, name, "model.download")
	if err != nil {
		return nil, Version{}, err
	}
	v, err := r.version(ctx, m, version)
	if err != nil {
		return nil, Version{}, err
	}
	res := modelResource(m, "model.download")
	res.ID, res.Sensitivity = fmt.Sprintf("%s/%d", name, v.Version), r.Sensitivity(v)
	if err := r.authz.Authorize(ctx, p, access.ActionDownloadModel, res); err != nil {
		if errors.Is(err, access.ErrUnavailable) {
			return nil, Version{}, fmt.Errorf("registry: authorize: %w", err)
		}
		return nil, Version{}, fmt.Errorf("%w: %w", ErrForbidden, err)
	}
	return r.Artifact(ctx, p, name, version, original)
}

// DeleteVersion always refuses: versions are immutable. The attempt is audited.
func (r *Registry) DeleteVersion(ctx context.Context, p access.Principal, name string, version int) error {
	const action = "model.version.delete"
	subject := versionSubject(name, version)
	m, err := r.visibleModel(ctx, p, name, "model.version.delete")
	if err == nil {
		if _, err = r.version(ctx, m, version); err == nil {
			err = fmt.Errorf("%w: model %s version %d is immutable and cannot be deleted; move its aliases instead", ErrConflict, name, version)
		}
	}
	return r.refuse(ctx, p, action, subject, err, nil)
}

// RegisterModel registers a model built in the platform (the lab's trainer): m is
// written as LightGBM text and goes through the same validation and storage as
// an upload. up.Data is ignored; up.Lineage should name the training sample, and
// its Kind defaults to "trained".
func (r *Registry) RegisterModel(ctx context.Context, p access.Principal, name string, m *gbdt.Model, up Upload) (Version, error) {
	if m == nil {
		return Version{}, r.refuse(ctx, p, "model.version.create", modelSubject(name), fmt.Errorf("%w: no model", ErrInvalid), nil)
	}
	var buf bytes.Buffer
	if err := m.WriteLightGBM(&buf); err != nil {
		return Version{}, r.refuse(ctx, p, "model.version.create", modelSubject(name), fmt.Errorf("%w: %w", ErrValidation, err), nil)
	}
	up.Data = buf.Bytes()
	if up.Lineage.Kind == "" {
		up.Lineage.Kind = "trained"
	}
	return r.Register(ctx, p, name, up)
}
