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
	"strings"
	"time"

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
	FeatureSet        string `json:"feature_set"`
	FeatureSetVersion int    `json:"feature_set_version"`
	// Features optionally names the model's columns in the model's own order,
	// for files that carry no names (XGBoost without feature_names, LightGBM's
	// Column_N). When empty the names in the file are used.
	Features  []string           `json:"features,omitempty"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	ModelCard json.RawMessage    `json:"model_card,omitempty"`
	Lineage   Lineage            `json:"lineage"`
	// Parity, when set, is checked before the version exists.
	Parity *ParityInput `json:"parity,omitempty"`
}

// ParityInput is a set of golden rows with the predictions the uploader's own
// tool made for them. Rows are in the model's column order (the file's, or
// Upload.Features); null (JSON) or NaN means missing.
type ParityInput struct {
	Rows      [][]*float64 `json:"rows"`
	Expected  []float64    `json:"expected"`
	Output    string       `json:"output,omitempty"`    // "prediction" (default; probability for binary) or "margin"
	Tolerance float64      `json:"tolerance,omitempty"` // absolute; default Options.DefaultTolerance
}

// ParityReport is the outcome of a parity check, stored on the version.
type ParityReport struct {
	Rows        int            `json:"rows"`
	Output      string         `json:"output"`
	Tolerance   float64        `json:"tolerance"`
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
	msg := fmt.Sprintf("%v: parity check failed: %d of %d rows differ by more than %g (max %g)", ErrValidation, r.Failures, r.Rows, r.Tolerance, r.MaxAbsDiff)
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
	v, err := r.register(ctx, p, name, up)
	if err != nil {
		detail := map[string]any{"feature_set": up.FeatureSet, "feature_set_version": up.FeatureSetVersion, "bytes": len(up.Data)}
		var pe *ParityError
		if errors.As(err, &pe) {
			detail["parity"] = pe.Report
		}
		return Version{}, r.refuse(ctx, p, action, modelSubject(name), err, detail)
	}
	return v, nil
}

// prepared is a validated upload ready to store.
type prepared struct {
	canonical, original []byte
	digest, origDigest  string
	model               *gbdt.Model
	features            []string
	parity              *ParityReport
}

func (r *Registry) register(ctx context.Context, p access.Principal, name string, up Upload) (Version, error) {
	m, err := r.visibleModel(ctx, p, name, "model.version.create")
	if err != nil {
		return Version{}, err
	}
	if err := r.authorize(ctx, p, access.ActionWriteModel, m, "model.version.create"); err != nil {
		return Version{}, err
	}
	prep, err := r.validate(ctx, m.Task, up)
	if err != nil {
		return Version{}, err
	}
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
	// under the model lock below, which is authoritative).
	if err := r.checkDuplicate(ctx, r.db.QueryRow, m, prep.digest, up.FeatureSet, up.FeatureSetVersion); err != nil {
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
		Features: prep.features, Objective: string(prep.model.Objective), NumTrees: len(prep.model.Trees),
		Metrics: up.Metrics, ModelCard: up.ModelCard, Lineage: up.Lineage, Parity: prep.parity,
		CreatedBy: p.User, CreatedAt: r.now(),
	}
	card := []byte(v.ModelCard)
	if len(card) == 0 {
		card = []byte("null")
	}
	var encoded [4][]byte
	for i, x := range []any{v.Metrics, v.Features, v.Lineage, v.Parity} {
		if encoded[i], err = json.Marshal(x); err != nil {
			return Version{}, fmt.Errorf("%w: encode version metadata: %v", ErrInvalid, err)
		}
	}
	metrics, features, lineage, parity := encoded[0], encoded[1], encoded[2], encoded[3]
	err = r.db.Tx(ctx, func(tx *metadb.Tx) error {
		locked, err := r.lockModel(ctx, tx, m.ID)
		if err != nil {
			return err
		}
		if err := r.checkDuplicate(ctx, tx.QueryRow, m, v.ArtifactDigest, v.FeatureSet, v.FeatureSetVersion); err != nil {
			return err
		}
		v.Version = locked.Latest + 1
		if _, err := tx.Exec(ctx, `INSERT INTO registry_versions (model_id, version, artifact_digest, artifact_size, original_digest, original_size,
			source_format, feature_set, feature_set_version, features_json, objective, num_trees, metrics_json, model_card_json, lineage_json, parity_json,
			created_by, created_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, v.Version, v.ArtifactDigest, v.ArtifactSize, v.OriginalDigest, v.OriginalSize, v.SourceFormat, v.FeatureSet, v.FeatureSetVersion,
			string(features), v.Objective, v.NumTrees, string(metrics), string(card), string(lineage), string(parity), v.CreatedBy, v.CreatedAt.UnixNano()); err != nil {
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
	r.notify()
	return v, nil
}

// validate runs every check of an upload for a model of task without storing
// anything: size, parse, objective, feature names against the bound feature set
// (remapped to its column order), canonical round trip and the optional parity
// check. Errors wrap ErrTooLarge, ErrInvalid or ErrValidation.
func (r *Registry) validate(ctx context.Context, task Task, up Upload) (*prepared, error) {
	if int64(len(up.Data)) > r.opts.MaxUploadBytes {
		return nil, fmt.Errorf("%w: model file is %d bytes, limit %d", ErrTooLarge, len(up.Data), r.opts.MaxUploadBytes)
	}
	if len(up.Data) == 0 {
		return nil, fmt.Errorf("%w: empty model file", ErrInvalid)
	}
	if up.FeatureSet == "" || up.FeatureSetVersion <= 0 {
		return nil, fmt.Errorf("%w: feature_set and feature_set_version (>= 1) are required", ErrInvalid)
	}
	wantObjective, err := task.Objective()
	if err != nil {
		return nil, err
	}
	model, err := gbdt.Parse(up.Data, r.opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrValidation, err)
	}
	if model.Objective != wantObjective {
		return nil, fmt.Errorf("%w: a %s model needs objective %s, the file has %s", ErrValidation, task, wantObjective, model.Objective)
	}
	names := model.FeatureNames
	if len(up.Features) > 0 {
		if len(up.Features) != model.NumFeatures() {
			return nil, fmt.Errorf("%w: %d feature names given for a model with %d features", ErrValidation, len(up.Features), model.NumFeatures())
		}
		names = slices.Clone(up.Features)
	}
	set, err := r.features.FeatureSet(ctx, up.FeatureSet, up.FeatureSetVersion)
	if err != nil {
		if errors.Is(err, ErrUnknownFeatureSet) {
			return nil, fmt.Errorf("%w: %w", ErrValidation, err)
		}
		return nil, fmt.Errorf("registry: feature set %s v%d: %w", up.FeatureSet, up.FeatureSetVersion, err)
	}
	perm, err := matchFeatures(names, set, up.FeatureSet, up.FeatureSetVersion)
	if err != nil {
		return nil, err
	}
	remapFeatures(model, perm, set)

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
	prep := &prepared{
		canonical: canonical, original: up.Data,
		digest: blob.SHA256Hex(canonical), origDigest: blob.SHA256Hex(up.Data),
		model: model, features: set,
	}
	if up.Parity != nil {
		rep, err := r.checkParity(served, perm, *up.Parity)
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

// matchFeatures returns perm with perm[i] = the feature-set column of model
// column i, or an error naming every missing, extra and duplicated name.
func matchFeatures(names, set []string, setName string, setVersion int) ([]int, error) {
	pos := make(map[string]int, len(set))
	for i, n := range set {
		pos[n] = i
	}
	seen := make(map[string]bool, len(names))
	var extra, dups []string
	perm := make([]int, len(names))
	for i, n := range names {
		if seen[n] {
			dups = append(dups, n)
		}
		seen[n] = true
		j, ok := pos[n]
		if !ok {
			extra = append(extra, n)
		}
		perm[i] = j
	}
	var missing []string
	for _, n := range set {
		if !seen[n] {
			missing = append(missing, n)
		}
	}
	if len(extra)+len(missing)+len(dups) == 0 {
		return perm, nil
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("missing %s", listNames(missing)))
	}
	if len(extra) > 0 {
		parts = append(parts, fmt.Sprintf("extra %s", listNames(extra)))
	}
	if len(dups) > 0 {
		parts = append(parts, fmt.Sprintf("duplicated %s", listNames(dups)))
	}
	return nil, fmt.Errorf("%w: model features do not match feature set %s v%d: %s", ErrValidation, setName, setVersion, strings.Join(parts, "; "))
}

func listNames(ns []string) string {
	if len(ns) > 10 {
		return fmt.Sprintf("%q and %d more", ns[:10], len(ns)-10)
	}
	return fmt.Sprintf("%q", ns)
}

// remapFeatures rewrites m so that its columns are the feature set's, in the
// feature set's order: column i of the old model becomes column perm[i].
func remapFeatures(m *gbdt.Model, perm []int, set []string) {
	identity := true
	for i, j := range perm {
		if i != j {
			identity = false
			break
		}
	}
	if identity {
		m.FeatureNames = slices.Clone(set)
		return
	}
	if len(m.Monotone) > 0 {
		mono := make([]int8, len(set))
		for i, c := range m.Monotone {
			mono[perm[i]] = c
		}
		m.Monotone = mono
	}
	for ti := range m.Trees {
		nodes := m.Trees[ti].Nodes
		for ni := range nodes {
			if !nodes[ni].Leaf {
				nodes[ni].Feature = perm[nodes[ni].Feature]
			}
		}
	}
	m.FeatureNames = slices.Clone(set)
}

const maxParityRows = 100_000

// checkParity predicts the golden rows with the canonical model (rows permuted
// into feature-set order) and compares with the uploader's predictions.
func (r *Registry) checkParity(m *gbdt.Model, perm []int, in ParityInput) (ParityReport, error) {
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
	tol := in.Tolerance
	if tol == 0 {
		tol = r.opts.DefaultTolerance
	}
	if tol < 0 || math.IsNaN(tol) || math.IsInf(tol, 0) {
		return ParityReport{}, fmt.Errorf("%w: parity tolerance %g must be a finite number >= 0", ErrInvalid, in.Tolerance)
	}
	rep := ParityReport{Rows: len(in.Rows), Output: output, Tolerance: tol, CheckedOn: "canonical"}
	row := make([]float64, len(perm))
	for i, src := range in.Rows {
		if len(src) != len(perm) {
			return ParityReport{}, fmt.Errorf("%w: parity row %d has %d values, the model has %d features", ErrInvalid, i, len(src), len(perm))
		}
		for j, v := range src {
			if v == nil {
				row[perm[j]] = math.NaN()
			} else {
				row[perm[j]] = *v
			}
		}
		got, err := m.Margin(row)
		if err != nil {
			return ParityReport{}, fmt.Errorf("%w: parity row %d: %w", ErrValidation, i, err)
		}
		if output == "prediction" {
			got = m.Transform(got)
		}
		want := in.Expected[i]
		diff := math.Abs(got - want)
		if math.IsNaN(diff) {
			diff = math.Inf(1)
		}
		rep.MaxAbsDiff = max(rep.MaxAbsDiff, diff)
		if diff > tol {
			rep.Failures++
			if len(rep.FirstFailed) < 10 {
				rep.FirstFailed = append(rep.FirstFailed, ParityMiss{Row: i, Want: want, Got: got})
			}
		}
	}
	if math.IsInf(rep.MaxAbsDiff, 1) {
		rep.MaxAbsDiff = math.MaxFloat64 // JSON has no infinity
	}
	rep.Passed = rep.Failures == 0
	return rep, nil
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
	features_json, objective, num_trees, metrics_json, model_card_json, lineage_json, parity_json, created_by, created_at_ns`

func scanVersion(s scanner, model string) (Version, error) {
	v := Version{Model: model}
	var features, metrics, card, lineage, parity string
	var ns int64
	if err := s.Scan(&v.Version, &v.ArtifactDigest, &v.ArtifactSize, &v.OriginalDigest, &v.OriginalSize, &v.SourceFormat, &v.FeatureSet,
		&v.FeatureSetVersion, &features, &v.Objective, &v.NumTrees, &metrics, &card, &lineage, &parity, &v.CreatedBy, &ns); err != nil {
		return Version{}, err
	}
	v.ArtifactKey, v.OriginalKey, v.CreatedAt = ArtifactKey(v.ArtifactDigest), ArtifactKey(v.OriginalDigest), time.Unix(0, ns).UTC()
	if card != "null" {
		v.ModelCard = json.RawMessage(card)
	}
	for _, f := range []struct {
		src string
		dst any
	}{{features, &v.Features}, {metrics, &v.Metrics}, {lineage, &v.Lineage}, {parity, &v.Parity}} {
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
