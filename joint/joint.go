package joint

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/registry"
	"github.com/xinyi-platform/xinyi/training"
)

// Errors of the service, wrapped with context.
var (
	// ErrNotFound: no such sample in the caller's institution (another
	// institution's is not found either). HTTP 404.
	ErrNotFound = errors.New("joint: not found")
	// ErrRefused: the label file was refused; the report says why. HTTP 422.
	ErrRefused = errors.New("joint: label file refused")
	// ErrForbidden: the caller's role does not allow it. HTTP 403.
	ErrForbidden = errors.New("joint: forbidden")
	// ErrInvalid: a malformed request (a name, a missing file). HTTP 400.
	ErrInvalid = errors.New("joint: invalid request")
)

// Consents lists the companies that consented to a bank; *access.Store
// implements it.
type Consents interface {
	ConsentedCompanies(ctx context.Context, bank int64, scope string, at time.Time) ([]string, error)
}

// Options configure a Service.
type Options struct {
	// Store is the platform's object store: snapshots at its root, each
	// institution's samples and label files under banks/<id>/. Required.
	Store blob.Store
	// Registry registers trained models (nil: Register is refused).
	Registry *registry.Registry
	// Consents decides which companies row-level outputs name (nil: none is
	// named; every code is pseudonymised).
	Consents Consents
	// Authorizer decides roles and records refusals (internal/access). Required.
	Authorizer *access.Authorizer
	// PseudonymKey keys the pseudonyms (at least 32 bytes; see PseudonymKey).
	// Required.
	PseudonymKey []byte
	// Catalog is the indicator library. Default features.DefaultCatalog().
	Catalog *features.Catalog
	// The label-file policy; zero fields take features' defaults
	// (DefaultMinRows 200, DefaultMinPositives 20, DefaultMinCompanies 100,
	// DefaultMinChangedRows 50, DefaultMaxStaleDays 92).
	MinRows, MinPositives, MinCompanies, MinChangedRows, MaxStaleDays int
	// Release is the disclosure policy of evaluations (training.DefaultReleaseOptions:
	// cells of at least 50 rows and 10 positives and negatives).
	Release training.ReleaseOptions
	// MaxRounds bounds a training run's rounds. Default 500.
	MaxRounds int
	// Threads for training and scoring. Default 0: GOMAXPROCS.
	Threads int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Service is joint modelling for the banks of one platform. It is safe for
// concurrent use.
type Service struct {
	o Options
}

// New returns the service over o.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Authorizer == nil {
		return nil, fmt.Errorf("%w: Options.Store and Options.Authorizer are required", ErrInvalid)
	}
	if len(o.PseudonymKey) < 32 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, access.ErrPseudonymKey)
	}
	if o.Catalog == nil {
		c, err := features.DefaultCatalog()
		if err != nil {
			return nil, err
		}
		o.Catalog = c
	}
	o.Release.EnsureDefaults()
	if o.MaxRounds <= 0 {
		o.MaxRounds = 500
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o}, nil
}

// PseudonymKeyObject is where PseudonymKey keeps the platform's key.
const PseudonymKeyObject = "platform/joint/pseudonym.key"

// PseudonymKey reads the platform's pseudonymisation key from store, making
// a random one on first use. Two processes making it at once both end with
// the key that landed last (each reads it back after writing).
func PseudonymKey(ctx context.Context, store blob.Store) ([]byte, error) {
	data, _, err := blob.ReadAll(ctx, store, PseudonymKeyObject)
	if err == nil && len(data) >= 32 {
		return data, nil
	}
	if err != nil && !errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("joint: read %s: %w", PseudonymKeyObject, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if _, err := store.Put(ctx, PseudonymKeyObject, bytes.NewReader(key)); err != nil {
		return nil, fmt.Errorf("joint: write %s: %w", PseudonymKeyObject, err)
	}
	data, _, err = blob.ReadAll(ctx, store, PseudonymKeyObject)
	if err != nil {
		return nil, fmt.Errorf("joint: read %s: %w", PseudonymKeyObject, err)
	}
	return data, nil
}

// Prefix is the private prefix of institution id in the object store.
func Prefix(id int64) string { return "banks/" + strconv.FormatInt(id, 10) + "/" }

// bank authorizes p to work with samples (the data_scientist or admin role of
// its institution; refusals audited) and returns the institution's store.
func (s *Service) bank(ctx context.Context, p access.Principal, what string) (blob.Store, error) {
	if err := s.o.Authorizer.Authorize(ctx, p, access.ActionBuildSample, access.Resource{Kind: "sample", ID: what, Operation: "joint." + what}); err != nil {
		if errors.Is(err, access.ErrUnavailable) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrForbidden, err)
	}
	if p.InstitutionID <= 0 {
		return nil, fmt.Errorf("%w: %s belongs to no institution", ErrForbidden, p.Actor())
	}
	return blob.WithPrefix(s.o.Store, Prefix(p.InstitutionID))
}

// UploadRequest is a bank's label file and the sample to build from it.
type UploadRequest struct {
	// Name of the sample (a new version when it exists). Required.
	Name string
	// Set is the feature set joined ("pd", "pd/v1"). Required.
	Set string
	// File is the file's name as the bank calls it (kept in the report).
	File string
	// Data is the file: CSV with code, date and label columns (see
	// features.ReadObservations). At most features.MaxLabelFileBytes.
	Data []byte
	// Label, Kind and Horizon describe the outcome (features.ObservedOptions).
	Label, Kind string
	Horizon     int
}

// Upload is an accepted label file.
type Upload struct {
	Manifest *features.SampleManifest `json:"manifest"`
	Report   *features.ObservedReport `json:"report"`
	// LabelKey is where the file is kept (under the bank's prefix), SHA256
	// its digest: the lineage of every model trained on the sample.
	LabelKey string `json:"label_key"`
	SHA256   string `json:"sha256"`
}

// Upload reads a label file and builds the bank's private sample from it. A
// refused file wraps ErrRefused (and features.ErrObservations) with a report
// of what was wrong, is recorded in the audit log (a probing attempt is worth
// seeing), and leaves nothing behind.
func (s *Service) Upload(ctx context.Context, p access.Principal, req UploadRequest) (*Upload, *features.ObservedReport, error) {
	dest, err := s.bank(ctx, p, "upload")
	if err != nil {
		return nil, nil, err
	}
	if req.Name == "" || strings.ContainsAny(req.Name, "/\\ ") || len(req.Name) > 64 {
		return nil, nil, fmt.Errorf("%w: sample name %q (1 to 64 characters, no slashes or spaces)", ErrInvalid, req.Name)
	}
	if len(req.Data) == 0 {
		return nil, nil, fmt.Errorf("%w: no label file", ErrInvalid)
	}
	refuse := func(rep *features.ObservedReport, err error) (*Upload, *features.ObservedReport, error) {
		err = fmt.Errorf("%w: %w", ErrRefused, err)
		_ = s.o.Authorizer.Refused(ctx, p, access.ActionBuildSample, access.Resource{Kind: "sample", ID: req.Name, Operation: "joint.upload"}, err)
		return nil, rep, err
	}
	if len(req.Data) > features.MaxLabelFileBytes {
		return refuse(&features.ObservedReport{Refusal: "size", Limit: features.MaxLabelFileBytes >> 20, ChangedRows: -1}, fmt.Errorf("%w: the file has %d bytes; a label file may have %d MiB at most", features.ErrObservations, len(req.Data), features.MaxLabelFileBytes>>20))
	}
	obs, err := features.ReadObservations(bytes.NewReader(req.Data))
	if err != nil {
		return refuse(&features.ObservedReport{Refusal: "format", ChangedRows: -1}, err)
	}
	sum := blob.SHA256Hex(req.Data)
	labelKey := "labels/" + sum + ".csv"
	src := features.FileRef{Key: Prefix(p.InstitutionID) + labelKey, SHA256: sum, Size: int64(len(req.Data))}
	m, rep, err := features.BuildObservedSample(ctx, s.o.Store, dest, features.ObservedOptions{Name: req.Name, Set: req.Set,
		Label: req.Label, Kind: req.Kind, Horizon: req.Horizon, Observations: obs, Source: src, Catalog: s.o.Catalog, Now: s.o.Now,
		MinRows: s.o.MinRows, MinPositives: s.o.MinPositives, MinCompanies: s.o.MinCompanies, MinChangedRows: s.o.MinChangedRows, MaxStaleDays: s.o.MaxStaleDays})
	if errors.Is(err, features.ErrObservations) {
		return refuse(rep, err)
	}
	if err != nil {
		return nil, rep, err
	}
	if _, err := dest.Put(ctx, labelKey, bytes.NewReader(req.Data)); err != nil {
		return nil, rep, fmt.Errorf("joint: keep the label file: %w", err)
	}
	return &Upload{Manifest: m, Report: rep, LabelKey: src.Key, SHA256: sum}, rep, nil
}

// Samples lists the latest version of each of the caller's institution's
// samples, by name.
func (s *Service) Samples(ctx context.Context, p access.Principal) ([]*features.SampleManifest, error) {
	dest, err := s.bank(ctx, p, "list")
	if err != nil {
		return nil, err
	}
	infos, err := dest.List(ctx, "samples/")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, in := range infos {
		rest := strings.TrimPrefix(in.Key, "samples/")
		if n, _, ok := strings.Cut(rest, "/"); ok && strings.HasSuffix(in.Key, "/manifest.json") && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	out := make([]*features.SampleManifest, 0, len(names))
	for _, n := range names {
		m, err := features.OpenSample(ctx, dest, n)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Sample opens ref ("name" or "name/vN") among the caller's institution's
// samples. Any other name, another institution's included, is ErrNotFound, and
// the refusal is audited.
func (s *Service) Sample(ctx context.Context, p access.Principal, ref string) (*features.SampleManifest, blob.Store, error) {
	dest, err := s.bank(ctx, p, ref)
	if err != nil {
		return nil, nil, err
	}
	m, err := features.OpenSample(ctx, dest, ref)
	if errors.Is(err, features.ErrUnknownSample) || errors.Is(err, features.ErrInvalidOptions) {
		err = fmt.Errorf("%w: sample %q", ErrNotFound, ref)
		return nil, nil, s.o.Authorizer.Refused(ctx, p, access.ActionBuildSample, access.Resource{Kind: "sample", ID: ref, Operation: "joint.sample"}, err)
	}
	if err != nil {
		return nil, nil, err
	}
	return m, dest, nil
}

// names is how the caller's row-level outputs name companies.
func (s *Service) names(ctx context.Context, p access.Principal) (*access.Pseudonyms, error) {
	var consented []string
	if s.o.Consents != nil {
		var err error
		if consented, err = s.o.Consents.ConsentedCompanies(ctx, p.InstitutionID, "", s.o.Now()); err != nil {
			return nil, err
		}
	}
	return access.NewPseudonyms(s.o.PseudonymKey, p.InstitutionID, consented)
}

// Export writes the caller's sample ref as CSV (features.ExportSample): the
// indicators within the caller's clearance, companies that did not consent
// to its institution pseudonymised.
func (s *Service) Export(ctx context.Context, p access.Principal, ref string, w io.Writer) (*features.ExportReport, error) {
	m, dest, err := s.Sample(ctx, p, ref)
	if err != nil {
		return nil, err
	}
	names, err := s.names(ctx, p)
	if err != nil {
		return nil, err
	}
	return features.ExportSample(ctx, dest, m, w, features.ExportOptions{Clearance: access.ClearanceOf(p), Names: names.Name, Catalog: s.o.Catalog})
}

// TrainRequest asks for a training run on one of the caller's samples.
type TrainRequest struct {
	Sample string
	// Rounds of boosting (early stopping on the valid split). Default 200.
	Rounds int
}

// Run is a finished training run. Its evaluation is released (aggregates only);
// the model itself stays on the platform until registered.
type Run struct {
	Sample    *features.SampleManifest
	Model     *gbdt.Model
	Result    *training.Result
	Evaluated string // the split evaluated: test, or valid without a test split
	Released  *training.ReleasedEvaluation
	// codes, asofs and scores of the evaluated split, for ScoredRows.
	codes, asofs  []string
	labels, probs []float64
	task          string
	note          string
	institution   int64
}

// Train trains a model on the caller's sample ref: train split to fit, valid
// to stop early, test (else valid) to evaluate; the evaluation is released
// under Options.Release.
func (s *Service) Train(ctx context.Context, p access.Principal, req TrainRequest) (*Run, error) {
	m, dest, err := s.Sample(ctx, p, req.Sample)
	if err != nil {
		return nil, err
	}
	smp, err := training.LoadSample(ctx, dest, m.Ref(), training.SampleOptions{Catalog: s.o.Catalog})
	if err != nil {
		return nil, err
	}
	if smp.Objective != gbdt.Binary {
		return nil, fmt.Errorf("%w: sample %s has a regression label; joint models are binary", ErrInvalid, m.Ref())
	}
	params := training.DefaultParams()
	params.NumRounds = 200
	if req.Rounds > 0 {
		params.NumRounds = min(req.Rounds, s.o.MaxRounds)
	}
	params.EarlyStoppingRounds = 20
	params.Threads = s.o.Threads
	params.Monotone = smp.Monotone
	if smp.Valid == nil {
		params.EarlyStoppingRounds = 0
	}
	model, res, err := training.Train(ctx, smp.Train, smp.Valid, params)
	if err != nil {
		return nil, err
	}
	eval, split := smp.Test, "test"
	if eval == nil {
		eval, split = smp.Valid, "valid"
	}
	if eval == nil {
		return nil, fmt.Errorf("%w: sample %s has neither a test nor a valid split to evaluate on (observations on three snapshot dates or more make both)", ErrInvalid, m.Ref())
	}
	margins, err := training.Margins(model, eval, s.o.Threads)
	if err != nil {
		return nil, err
	}
	probs := make([]float64, len(margins))
	for i, v := range margins {
		probs[i] = 1 / (1 + math.Exp(-v))
	}
	rel, err := training.Release(split, eval.Label, probs, s.o.Release)
	if err != nil {
		return nil, err
	}
	rec, err := features.ReadSampleSplit(ctx, dest, m, split)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	codes, asofs := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
	if int(rec.NumRows()) != len(probs) {
		return nil, fmt.Errorf("joint: split %s has %d rows, scored %d", split, rec.NumRows(), len(probs))
	}
	run := &Run{Sample: m, Model: model, Result: res, Evaluated: split, Released: rel, labels: eval.Label, probs: probs,
		note: smp.LabelNote(), institution: p.InstitutionID}
	for i := range int(rec.NumRows()) {
		run.codes = append(run.codes, codes.Value(i))
		run.asofs = append(run.asofs, asofs.Value(i))
	}
	if run.task, err = smp.Task(); err != nil {
		return nil, err
	}
	return run, nil
}

// ScoredRows writes the evaluated split's rows as scored by run's model: company
// (pseudonymised unless it consented to the caller's institution), asof,
// probability and outcome. Only the institution that trained run may have them.
func (s *Service) ScoredRows(ctx context.Context, p access.Principal, run *Run, w io.Writer) (int, error) {
	if _, err := s.bank(ctx, p, "scores"); err != nil {
		return 0, err
	}
	if run == nil || run.institution != p.InstitutionID {
		return 0, s.o.Authorizer.Refused(ctx, p, access.ActionBuildSample, access.Resource{Kind: "training", Operation: "joint.scores"}, fmt.Errorf("%w: training run", ErrNotFound))
	}
	names, err := s.names(ctx, p)
	if err != nil {
		return 0, err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"company", "asof", "probability", run.Sample.Label.Name}); err != nil {
		return 0, err
	}
	named := 0
	for i, c := range run.codes {
		n := names.Name(c)
		if n == c {
			named++
		}
		if err := cw.Write([]string{n, run.asofs[i], strconv.FormatFloat(run.probs[i], 'f', 6, 64), strconv.FormatFloat(run.labels[i], 'g', -1, 64)}); err != nil {
			return 0, err
		}
	}
	cw.Flush()
	return named, cw.Error()
}

// Register registers run's model as the next version of the caller's private
// model name (created with the label's task when missing): lineage names the
// sample, its manifest and the label file with its digest; the model card is
// the released evaluation.
func (s *Service) Register(ctx context.Context, p access.Principal, run *Run, name string) (registry.Version, error) {
	if s.o.Registry == nil {
		return registry.Version{}, fmt.Errorf("%w: no registry is connected", ErrInvalid)
	}
	if run == nil || run.institution != p.InstitutionID {
		return registry.Version{}, s.o.Authorizer.Refused(ctx, p, access.ActionWriteModel, access.Resource{Kind: "training", Operation: "joint.register"}, fmt.Errorf("%w: training run", ErrNotFound))
	}
	m := run.Sample
	card, err := json.Marshal(run.Released)
	if err != nil {
		return registry.Version{}, err
	}
	lin := registry.Lineage{Kind: "trained", Sample: m.Name, SampleVersion: m.Version,
		SampleManifest: Prefix(p.InstitutionID) + m.ManifestKey(), Note: run.note}
	if len(m.Labels) > 0 {
		lin.LabelFile, lin.LabelFileSHA256 = m.Labels[0].Key, m.Labels[0].SHA256
	}
	metrics := map[string]float64{}
	if r := run.Released; !r.Suppressed {
		metrics[r.Split+"_auc"], metrics[r.Split+"_ks"] = *r.AUC, *r.KS
	}
	if _, err := s.o.Registry.Model(ctx, p, name); errors.Is(err, registry.ErrNotFound) {
		if _, err := s.o.Registry.CreateModel(ctx, p, registry.NewModel{Name: name, Task: registry.Task(run.task),
			Description: "joint model on " + m.Ref() + " of the institution's own label file"}); err != nil {
			return registry.Version{}, err
		}
	} else if err != nil {
		return registry.Version{}, err
	}
	return s.o.Registry.RegisterModel(ctx, p, name, run.Model, registry.Upload{FeatureSet: m.Set, FeatureSetVersion: m.SetVersion,
		Metrics: metrics, ModelCard: card, Lineage: lin})
}
