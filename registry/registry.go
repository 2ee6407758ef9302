package registry

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// Sentinel errors, wrapped with context. Access failures wrap access.ErrForbidden
// (and this package's ErrForbidden) so one mapping serves every surface.
var (
	// ErrNotFound: unknown model, version, alias or promotion, or a model the
	// caller may not see. HTTP 404.
	ErrNotFound = errors.New("registry: not found")
	// ErrForbidden: the caller lacks the role or does not own the model. HTTP 403.
	ErrForbidden = errors.New("registry: forbidden")
	// ErrInvalid: malformed request (bad name, task, alias, parity rows). HTTP 400.
	ErrInvalid = errors.New("registry: invalid request")
	// ErrConflict: name taken, duplicate upload, promotion no longer pending,
	// alias that needs approval, deleting an immutable version. HTTP 409.
	ErrConflict = errors.New("registry: conflict")
	// ErrTooLarge: the upload exceeds Options.MaxUploadBytes. HTTP 413.
	ErrTooLarge = errors.New("registry: upload too large")
	// ErrValidation: the model file failed validation (parse, features,
	// objective, parity). HTTP 422.
	ErrValidation = errors.New("registry: model validation failed")
	// ErrCorruptArtifact: a registered version's artifact is missing from the store
	// or fails its sha256 check. Retrying does not help (artifacts are immutable);
	// an operator restores the object from a backup. HTTP 500, named.
	ErrCorruptArtifact = errors.New("registry: corrupt artifact")
)

// Task is what a model predicts.
type Task string

// Tasks and the objectives each takes.
const (
	TaskPD        Task = "pd"        // probability of default: binary
	TaskViolation Task = "violation" // probability of a violation: binary
	TaskLimit     Task = "limit"     // pre-credit limit in yuan: gamma (log link) or regression
)

// Objectives returns the gbdt objectives a model of task t may have, the one the
// trainer uses first. A limit model predicts yuan either way: a gamma model (the
// trainer's, LightGBM gamma, XGBoost reg:gamma) through exp of its margin, a
// regression model (L2, as uploaded from elsewhere) directly.
func (t Task) Objectives() ([]gbdt.Objective, error) {
	switch t {
	case TaskPD, TaskViolation:
		return []gbdt.Objective{gbdt.Binary}, nil
	case TaskLimit:
		return []gbdt.Objective{gbdt.Gamma, gbdt.Regression}, nil
	}
	return nil, fmt.Errorf("%w: unknown task %q (want pd, violation or limit)", ErrInvalid, t)
}

// Model is a registered model.
type Model struct {
	ID          int64          `json:"id"`
	Name        string         `json:"name"`
	Task        Task           `json:"task"`
	OwnerID     int64          `json:"owner_id"`
	Description string         `json:"description"`
	Shared      bool           `json:"shared"`
	CreatedBy   string         `json:"created_by"`
	CreatedAt   time.Time      `json:"created_at"`
	Aliases     map[string]int `json:"aliases,omitempty"`
	Latest      int            `json:"latest_version"`
}

// Lineage says where a version came from.
type Lineage struct {
	// Kind is "uploaded" (a file trained elsewhere) or "trained" (the lab trainer).
	Kind string `json:"kind"`
	// Sample and SampleVersion name the training sample. SampleManifest is the
	// object key of its manifest; when given it must exist in the store, and its
	// sha256 is recorded in SampleManifestSHA256 at registration.
	Sample               string `json:"sample,omitempty"`
	SampleVersion        int    `json:"sample_version,omitempty"`
	SampleManifest       string `json:"sample_manifest,omitempty"`
	SampleManifestSHA256 string `json:"sample_manifest_sha256,omitempty"`
	// CodeVersion is the trainer's or uploader's code revision.
	CodeVersion string `json:"code_version,omitempty"`
	// Filename is the name of the uploaded file.
	Filename string `json:"filename,omitempty"`
	// LabelFile and LabelFileSHA256 name the bank's own label file a joint
	// model's sample was built from (features.SampleManifest.Labels), with the
	// digest of its content.
	LabelFile       string `json:"label_file,omitempty"`
	LabelFileSHA256 string `json:"label_file_sha256,omitempty"`
	Note            string `json:"note,omitempty"`
}

// Version is one immutable version of a model.
type Version struct {
	Model             string `json:"model"`
	Version           int    `json:"version"`
	ArtifactDigest    string `json:"artifact_sha256"`
	ArtifactKey       string `json:"artifact_key"`
	ArtifactSize      int64  `json:"artifact_size"`
	OriginalDigest    string `json:"original_sha256"`
	OriginalKey       string `json:"original_key"`
	OriginalSize      int64  `json:"original_size"`
	SourceFormat      string `json:"source_format"`
	FeatureSet        string `json:"feature_set"`
	FeatureSetVersion int    `json:"feature_set_version"`
	// Features are the features of the bound feature-set version, in the set's
	// order. Columns are the model's input columns in the model's own order,
	// each named by the feature it reads (a subset of Features): parity rows,
	// OIP tensors and the rows serving builds from online indicators are all in
	// this order.
	Features  []string           `json:"features"`
	Columns   []string           `json:"columns"`
	Objective string             `json:"objective"`
	NumTrees  int                `json:"num_trees"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	ModelCard json.RawMessage    `json:"model_card,omitempty"`
	Lineage   Lineage            `json:"lineage"`
	Parity    *ParityReport      `json:"parity,omitempty"`
	CreatedBy string             `json:"created_by"`
	CreatedAt time.Time          `json:"created_at"`
}

// ArtifactKey returns the object key of a content-addressed model artifact.
func ArtifactKey(digest string) string { return "models/sha256/" + digest }

// Options configures a Registry. The zero value is valid; EnsureDefaults fills it.
type Options struct {
	// MaxUploadBytes is the largest model file accepted. Default 64 MiB.
	MaxUploadBytes int64
	// Limits bounds the parser (zero fields take gbdt.DefaultLimits).
	Limits gbdt.Limits
	// GatedAliases move only through an approved promotion. Default ["champion"].
	GatedAliases []string
	// OrphanGrace is how old an unreferenced artifact must be before Cleanup
	// removes it, so uploads in flight are not collected. Default 1h.
	OrphanGrace time.Duration
	// TempGrace is how long since its last write a temporary upload file of the
	// object store (a write killed mid-way) must be before Cleanup removes it, so
	// writes in progress are not touched. Default 1h.
	TempGrace time.Duration
	// PollInterval is how often a change-feed wait re-reads the database for
	// changes made by other processes. On PostgreSQL those changes arrive at once
	// by LISTEN/NOTIFY and polling is the fallback while the listening connection
	// is down. Default 1s.
	PollInterval time.Duration
	// MaxWait caps a change-feed wait. Default 60s.
	MaxWait time.Duration
	// MaxParityTolerance is the loosest parity check the platform accepts,
	// absolute plus relative on margins (see ParityInput): the tolerance of an
	// upload that states none, and the bound of one that does. Default 1e-4
	// absolute and 1e-5 relative: a float32 XGBoost model passes (its margins are
	// float32 sums), a model off by 0.02 in probability (at least 0.08 in margin)
	// does not.
	MaxParityTolerance ParityTolerance
	// Sensitivity is the disclosure level of a feature a model reads (public,
	// restricted, confidential), "" for a feature that is not an indicator (a
	// bank's own request feature). A version's file is downloaded only by a
	// principal cleared for its most sensitive feature (access
	// ActionDownloadModel). Default: the sensitivity in the indicator catalog
	// (features.DefaultCatalog).
	Sensitivity func(feature string) string
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Logger receives operational messages; nil means silent.
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = 64 << 20
	}
	if o.GatedAliases == nil {
		o.GatedAliases = []string{"champion"}
	}
	if o.OrphanGrace <= 0 {
		o.OrphanGrace = time.Hour
	}
	if o.TempGrace <= 0 {
		o.TempGrace = time.Hour
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 60 * time.Second
	}
	if o.MaxParityTolerance.Abs <= 0 || math.IsNaN(o.MaxParityTolerance.Abs) {
		o.MaxParityTolerance.Abs = 1e-4
	}
	if o.MaxParityTolerance.Rel <= 0 || math.IsNaN(o.MaxParityTolerance.Rel) {
		o.MaxParityTolerance.Rel = 1e-5
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Sensitivity == nil {
		o.Sensitivity = catalogSensitivity
	}
}

// catalogSensitivity is the sensitivity of an indicator of the default catalog;
// "" for any other name. A catalog that does not load makes every name
// confidential, so nothing leaves on a broken build.
func catalogSensitivity(feature string) string {
	c, err := features.DefaultCatalog()
	if err != nil {
		return access.SensitivityConfidential
	}
	ind, err := c.Indicator(feature)
	if err != nil {
		return ""
	}
	return string(ind.Sensitivity)
}

// Sensitivity is the highest sensitivity of the features v reads ("" when it
// reads no indicator); a sensitivity the platform does not know is returned as
// it is, and access clears nobody for it.
func (r *Registry) Sensitivity(v Version) string {
	top := ""
	for _, f := range v.Columns {
		s := r.opts.Sensitivity(f)
		if s != "" && access.SensitivityRank(s) == 0 {
			return s
		}
		if access.SensitivityRank(s) > access.SensitivityRank(top) {
			top = s
		}
	}
	return top
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the schema migrations of the registry tables.
func Migrations() ([]metadb.Migration, error) {
	return metadb.LoadMigrations(migrationFS, "migrations")
}

// Registry is the model registry. It is safe for concurrent use, and several
// processes may share one PostgreSQL database and one object store.
type Registry struct {
	db       *metadb.DB
	blobs    blob.Store
	features FeatureSets
	log      *audit.Log
	authz    *access.Authorizer // model rules need no consent table
	opts     Options

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after every local commit and every notification

	listenOnce sync.Once

	// afterArtifacts, when set (tests), runs between the artifact writes and the
	// metadata commit of an upload; an error aborts the upload there.
	afterArtifacts func() error
}

// Open migrates the registry schema and returns a registry over db (metadata),
// blobs (artifacts), features (feature-set lookup) and log (audit trail).
func Open(ctx context.Context, db *metadb.DB, blobs blob.Store, features FeatureSets, log *audit.Log, opts Options) (*Registry, error) {
	if db == nil || blobs == nil || features == nil || log == nil {
		return nil, fmt.Errorf("%w: Open needs a database, a blob store, feature sets and an audit log", ErrInvalid)
	}
	opts.EnsureDefaults()
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, "registry", ms); err != nil {
		return nil, fmt.Errorf("registry: open: %w", err)
	}
	return &Registry{db: db, blobs: blobs, features: features, log: log, authz: &access.Authorizer{Audit: log}, opts: opts,
		changed: make(chan struct{})}, nil
}

func (r *Registry) now() time.Time { return time.Unix(0, r.opts.Now().UnixNano()).UTC() }

// notify wakes every change-feed waiter of this process.
func (r *Registry) notify() {
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *Registry) changedChan() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	aliasRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
)

func checkModelName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: model name %q must be 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalid, name)
	}
	return nil
}

func checkAlias(alias string) error {
	if !aliasRE.MatchString(alias) {
		return fmt.Errorf("%w: alias %q must be 1-32 lower-case letters, digits, '_' or '-', starting with a letter", ErrInvalid, alias)
	}
	return nil
}

// forbidden wraps both registry.ErrForbidden and access.ErrForbidden.
func forbidden(format string, args ...any) error {
	return fmt.Errorf("%w (%w): %s", ErrForbidden, access.ErrForbidden, fmt.Sprintf(format, args...))
}

// modelResource is a model as internal/access's rules see it; op names the
// registry operation in the audit record of a refusal.
func modelResource(m Model, op string) access.Resource {
	return access.Resource{Kind: "model", ID: m.Name, Owner: m.OwnerID, Shared: m.Shared, Operation: op}
}

// canSee filters listings and feeds (a listing leaves out, it does not refuse):
// internal/access's read rule, unaudited.
func canSee(p access.Principal, m Model) bool {
	_, err := access.Decide(p, access.ActionReadModel, modelResource(m, ""))
	return err == nil
}

// authorize asks internal/access whether p may apply action to m (the registry
// operation op); a refusal is audited there and wraps ErrForbidden here.
func (r *Registry) authorize(ctx context.Context, p access.Principal, action access.Action, m Model, op string) error {
	err := r.authz.Authorize(ctx, p, action, modelResource(m, op))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, access.ErrUnavailable):
		return fmt.Errorf("registry: authorize: %w", err)
	}
	return fmt.Errorf("%w: %w", ErrForbidden, err)
}

// refuse records a refused attempt in the audit log and returns err. Errors of
// the infrastructure (database, storage) are returned without a record.
func (r *Registry) refuse(ctx context.Context, p access.Principal, action, subject string, err error, detail any) error {
	if !isRefusal(err) || access.Audited(err) {
		return err
	}
	if _, aerr := r.log.Append(ctx, audit.Entry{
		Actor: actorOf(p), Action: action, Subject: subject,
		Outcome: audit.OutcomeRefused, Reason: err.Error(), After: detail,
	}); aerr != nil {
		return errors.Join(err, fmt.Errorf("registry: audit refused %s: %w", action, aerr))
	}
	return err
}

func isRefusal(err error) bool {
	for _, e := range []error{ErrNotFound, ErrForbidden, ErrInvalid, ErrConflict, ErrTooLarge, ErrValidation} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func actorOf(p access.Principal) string {
	if p.User == "" {
		return "anonymous"
	}
	return p.User
}

func modelSubject(name string) string { return "model:" + name }

func versionSubject(name string, v int) string { return fmt.Sprintf("model:%s/%d", name, v) }

// gated reports whether alias moves only through promotion.
func (r *Registry) gated(alias string) bool { return slices.Contains(r.opts.GatedAliases, alias) }
