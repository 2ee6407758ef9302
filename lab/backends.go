package lab

import (
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/lab/svg"
	"github.com/xinyi-platform/xinyi/training"
)

// Sentinel errors. Backends (the adapters to features, training, registry, serving and
// access) wrap one of these with %w so that the console can show the right page;
// errors.Is decides the HTTP status in one place (statusOf).
var (
	// ErrUnauthenticated: no session, an expired one, or an unknown API key.
	ErrUnauthenticated = errors.New("lab: not signed in")
	// ErrForbidden: the signed-in role may not see or do this.
	ErrForbidden = errors.New("lab: forbidden")
	// ErrConsentRequired: the company has not granted the user's institution an
	// active consent (never, expired or revoked). HTTP 403.
	ErrConsentRequired = errors.New("lab: company consent required")
	// ErrCSRF: a form arrived without the session's anti-forgery token.
	ErrCSRF = errors.New("lab: form token missing or wrong")
	// ErrNotFound: no indicator, sample, model, job or company has that name.
	ErrNotFound = errors.New("lab: not found")
	// ErrInvalidInput: a form value or uploaded file is unusable; the message says why.
	ErrInvalidInput = errors.New("lab: invalid input")
	// ErrConflict: the request contradicts the current state (approving one's own
	// promotion request, deciding twice).
	ErrConflict = errors.New("lab: conflict")
	// ErrNotConnected: the library behind a page is not configured in this process.
	ErrNotConnected = errors.New("lab: library not connected")
)

// Clearance is the highest indicator sensitivity a principal may see.
type Clearance string

// The clearances, in increasing order; they match the indicator sensitivities.
const (
	ClearPublic       Clearance = "public"
	ClearRestricted   Clearance = "restricted"
	ClearConfidential Clearance = "confidential"
)

func (c Clearance) rank() int {
	switch c {
	case ClearRestricted:
		return 1
	case ClearConfidential:
		return 2
	}
	return 0
}

// Allows reports whether an indicator of the given sensitivity is visible.
func (c Clearance) Allows(sensitivity string) bool {
	return Clearance(sensitivity).rank() <= c.rank()
}

// Principal is a signed-in user: internal/access's principal, which every backend
// passes on as it is, and the indicator clearance it holds.
type Principal struct {
	access.Principal
	Clearance Clearance
}

// Name is the user's display name.
func (p Principal) Name() string { return p.User }

// May reports whether internal/access's rule lets p take action at all (ignoring
// ownership and consent, which the page itself asks about). Pages use it only to
// show or hide links; every route and backend call is authorized for real.
func (p Principal) May(action string) bool {
	// Ownership ignored: as if the resource were the principal's institution's
	// (a department's own source, a regulator's own plan).
	_, err := access.Decide(p.Principal, access.Action(action), access.Resource{Owner: p.InstitutionID})
	return err == nil
}

// Authenticator turns an API key into a principal (backed by internal/access). An
// unknown or revoked key is an error wrapping ErrUnauthenticated.
type Authenticator interface {
	Authenticate(ctx context.Context, apiKey string) (Principal, error)
}

// Authorizer is internal/access's one Authorize: role, ownership and consent, with
// every refusal audited. Its errors wrap access.ErrForbidden, access.ErrConsentRequired,
// access.ErrInvalid or access.ErrUnavailable.
type Authorizer interface {
	Authorize(ctx context.Context, p access.Principal, action access.Action, res access.Resource) error
}

// Indicator is one entry of the indicator library as the console shows it.
type Indicator struct {
	ID          string
	NameZH      string
	NameEN      string
	Description string
	// DescriptionZH is the definition in Chinese (features.Indicator.DefinitionZH).
	DescriptionZH string
	Dimension     string // capital, operating, profitability, solvency, growth, compliance, network
	Source        string // primary source table
	SourceZH      string
	Department    string
	Aggregation   string
	Window        int // months; 0 for static and graph indicators
	Unit          string
	Direction     string // higher_better, higher_worse, none
	Sensitivity   string // public, restricted, confidential
}

// Indicators lists the indicator library.
type Indicators interface {
	Indicators(ctx context.Context) ([]Indicator, error)
	Indicator(ctx context.Context, id string) (Indicator, error)
}

// Power is an indicator's predictive power against one label.
type Power struct {
	Label string
	IV    float64
	AUC   float64
}

// PSIPoint is the population stability of an indicator at one snapshot date against
// the reference snapshot.
type PSIPoint struct {
	AsOf string
	PSI  float64
}

// IndustryMean is an indicator's mean over the companies of one industry.
type IndustryMean struct {
	// Industry is the GB/T 4754 section letter; Name and NameEN its name.
	Industry, Name, NameEN string
	Mean                   float64
	Count                  int64
}

// IndicatorStats are the statistics of one indicator at a snapshot.
type IndicatorStats struct {
	AsOf      string
	Coverage  float64 // share of companies with a value, 0..1
	Companies int64
	Histogram []svg.Bin
	Power     []Power
	PSI       []PSIPoint
	Industry  []IndustryMean
}

// Statistics computes indicator statistics (features statistics). Optional.
type Statistics interface {
	IndicatorStats(ctx context.Context, id string) (IndicatorStats, error)
}

// Sample is one training sample of the sample library.
type Sample struct {
	Name       string
	Version    int
	FeatureSet string
	Label      string
	From, To   string // as-of date range
	Rows       int64
	Positives  int64
	Features   int
	Lineage    string
	LineageZH  string // the lineage in Chinese, when the library has it
}

// PositiveRate is Positives/Rows (0 for an empty sample).
func (s Sample) PositiveRate() float64 {
	if s.Rows == 0 {
		return 0
	}
	return float64(s.Positives) / float64(s.Rows)
}

// Samples lists the sample library.
type Samples interface {
	Samples(ctx context.Context) ([]Sample, error)
}

// JoinSamples lists the samples of every library in turn.
type JoinSamples []Samples

// Samples concatenates the lists.
func (j JoinSamples) Samples(ctx context.Context) ([]Sample, error) {
	var out []Sample
	for _, s := range j {
		l, err := s.Samples(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, l...)
	}
	return out, nil
}

// SampleRequest asks for a new training sample: the point-in-time join of a feature
// set's snapshots between From and To with a label.
type SampleRequest struct {
	Name       string
	FeatureSet string // "pd" or "pd/v1"
	Label      string // empty: the feature set's label
	From, To   time.Time
	By         Principal
}

// SampleJob is one sample build.
type SampleJob struct {
	Job
	Name       string
	FeatureSet string
	Result     string // "name/vN" once built
}

// SampleBuilder builds samples in the background (features). Optional.
type SampleBuilder interface {
	FeatureSets() []string
	Labels() []string
	BuildSample(ctx context.Context, req SampleRequest) (string, error)
	SampleJobs(ctx context.Context) ([]SampleJob, error)
}

// JobState is the state of a long-running job.
type JobState string

// The job states.
const (
	JobRunning JobState = "running"
	JobDone    JobState = "done"
	JobFailed  JobState = "failed"
)

// Job is the common part of training and screening jobs.
type Job struct {
	ID       string
	State    JobState
	Done     int64
	Total    int64
	Err      string
	Started  time.Time
	Finished time.Time
	By       string
}

// Percent is the progress in whole percent.
func (j Job) Percent() int {
	if j.Total <= 0 {
		return 0
	}
	return int(100 * j.Done / j.Total)
}

// Preset is a named set of trainer parameters with an explanation.
type Preset struct {
	ID        string
	NameZH    string
	NameEN    string
	ExplainZH string
	ExplainEN string
	Params    []Param
}

// Param is one displayed parameter of a preset.
type Param struct{ Name, Value string }

// TrainingJob is one training run.
type TrainingJob struct {
	Job
	Sample     string
	Preset     string
	Metric     string
	Train      []svg.Point // (round, training metric)
	Valid      []svg.Point // (round, validation metric)
	BestRound  int
	BestValid  float64
	Registered string // "model:version" once registered
}

// TrainingRequest asks for a training run.
type TrainingRequest struct {
	Sample string
	Preset string
	By     Principal
}

// Trainer runs training jobs (training). Optional.
type Trainer interface {
	Presets() []Preset
	StartTraining(ctx context.Context, req TrainingRequest) (string, error)
	TrainingJob(ctx context.Context, id string) (TrainingJob, error)
	TrainingJobs(ctx context.Context) ([]TrainingJob, error)
	// RegisterTraining registers the finished job's model as a new version of model.
	RegisterTraining(ctx context.Context, id, model string, by Principal) (string, error)
}

// ModelSummary is one registered model.
type ModelSummary struct {
	Name        string
	Task        string
	Description string
	Versions    int
	Aliases     map[string]string // alias → version
}

// Metric is a named evaluation figure.
type Metric struct {
	Name  string
	Value float64
}

// Importance is a feature's share of the model's total gain.
type Importance struct {
	Feature string
	Gain    float64
}

// Evaluation is how a model did on held-out data, ready to chart.
type Evaluation struct {
	Metrics     []Metric
	AUC         float64
	ROC         []svg.Point // (false positive rate, true positive rate)
	KS          *svg.KSCurve
	Calibration []svg.CalibrationBin
	Importance  []Importance // by descending gain share
}

// Version is one immutable model version with its evaluation.
type Version struct {
	Model       string
	Version     string
	Format      string
	FeatureSet  string
	Sample      string
	CodeVersion string
	// LabelFileSHA256 is the digest of the bank's label file a joint model's
	// sample was built from (empty for other models).
	LabelFileSHA256 string
	SHA256          string
	Trees           int
	Features        int
	Created         time.Time
	CreatedBy       string
	Golden          int // golden rows checked at upload
	// Card is a free-text card (the console wrote these for its runs before it
	// registered training.Card), or with CardJSON a structured card of another
	// maker, shown as it is.
	Card     string
	CardZH   string // the free-text card in Chinese
	CardJSON bool
	// Doc is a training.Card (from xinyi train or a console run) read as a document.
	Doc *CardDoc
	// Released is a joint model's evaluation as released to its bank (its card
	// holds nothing else).
	Released *JointEvaluation
	Evaluation
}

// Promotion is a request to point an alias at a version; a second user decides it.
type Promotion struct {
	ID          string
	Model       string
	Version     string
	Alias       string
	State       string // pending, approved, rejected
	RequestedBy string
	Requested   time.Time
	DecidedBy   string
	Decided     time.Time
	Reason      string
	// Candidate is the requested version and Current the version the alias
	// points at now (nil when none), for the approver to compare; Pending
	// fills them.
	Candidate, Current *Version
}

// MetricNamed returns the first of names among the version's metrics.
func (e Evaluation) MetricNamed(names ...string) (float64, bool) {
	for _, n := range names {
		for _, m := range e.Metrics {
			if strings.EqualFold(m.Name, n) {
				return m.Value, true
			}
		}
	}
	return 0, false
}

// Evidence says what a version's figures rest on: "sample" (evaluated by the
// platform on the hold-out split of a registered sample), "file" (scored by
// the platform on a labelled evaluation file sent with the upload),
// "reported" (metrics sent with the upload) or "none".
func (v Version) Evidence() string {
	_, scored := v.MetricNamed("eval_auc")
	switch {
	case scored:
		return "file"
	case v.Sample != "" && (v.AUC > 0 || len(v.Metrics) > 0):
		return "sample"
	case v.AUC > 0 || len(v.Metrics) > 0:
		return "reported"
	}
	return "none"
}

// KSValue is the version's KS statistic (test split first), NaN when unknown.
func (v Version) KSValue() float64 {
	if x, ok := v.MetricNamed("test_ks", "eval_ks", "ks", "valid_ks"); ok {
		return x
	}
	return math.NaN()
}

// AUCValue is the version's AUC, NaN when unknown.
func (v Version) AUCValue() float64 {
	if v.AUC > 0 {
		return v.AUC
	}
	return math.NaN()
}

// HistoryEntry is one change in a model's audit trail: the audited action
// ("model.promotion.request"), its outcome ("ok", "refused", "failed") and the
// version and alias it concerned, for Lang.History to say in a sentence.
type HistoryEntry struct {
	Time    time.Time
	Actor   string
	Action  string
	Outcome string
	Version int    // 0 when the action concerns no version
	Alias   string // "" when it concerns no alias
	Reason  string // the approver's or the refusal's words
}

// ModelDetail is a model with its versions, promotions and history.
type ModelDetail struct {
	ModelSummary
	Versions   []Version
	Promotions []Promotion
	History    []HistoryEntry
}

// Upload is a model file sent through the console.
type Upload struct {
	Model    string
	Task     string // pd, violation or limit; used when the upload creates the model
	FileName string
	Data     []byte
	Golden   []byte // optional CSV of feature values and the expected prediction
	// EvalFile is an optional labelled evaluation file (the model's inputs,
	// then the 0/1 outcome) that the platform scores to give the version its
	// evidence; EvalFileName names it.
	EvalFile     []byte
	EvalFileName string
	FeatureSet   string
	By           Principal
	// Set by the trainer when it registers a run; empty for files sent by users.
	Sample string
	// SampleVersion and SampleManifest name a feature-store sample's version and the
	// object key of its manifest (the registry records the manifest's sha256).
	SampleVersion  int
	SampleManifest string
	CodeVersion    string
	// Note describes the lineage in words: a store sample's label and population
	// (training.Sample.LabelNote), or a public data set's source.
	Note string
	// Card is the run's model card, made by training.NewCard as xinyi train
	// makes it; Curves are drawn beside it on the version page.
	Card   *training.Card
	Curves *Curves
}

// Curves are a trained model's ROC and KS curves on the split its card
// evaluates last (test, else valid), for the version page to draw; the figures
// themselves (AUC, KS, calibration) are the card's.
type Curves struct {
	Split string       `json:"split"`
	ROC   []svg.Point  `json:"roc"` // (false positive rate, true positive rate)
	KS    *svg.KSCurve `json:"ks,omitempty"`
}

// Models is the model library (registry).
// ModelDrift reads how far a model in production has moved from what it was
// trained on (serving/modeldrift): the PSI of its score and top indicators on
// every scored date against its training sample.
type ModelDrift interface {
	ModelDrift(ctx context.Context, p Principal, model string) (DriftView, error)
}

// DriftView is one model's drift. Dates are the scored dates, oldest first;
// each series has a PSI per date (NaN where it has none). No dates: the model
// has not scored in production yet.
type DriftView struct {
	Version string
	// Baseline is the training sample ("name/vN") or, for a model without one,
	// its first production date; BaselineKind is "training_sample" or
	// "first_production_date".
	Baseline, BaselineKind string
	Dates                  []string
	// Series are the score first, then the indicators by gain.
	Series []DriftSeries
}

// DriftSeries is the drift of the score (Kind "score") or of one indicator.
type DriftSeries struct {
	Kind, Indicator string
	NameZH, NameEN  string
	// Gain is the indicator's share of the model's split gain.
	Gain float64
	PSI  []float64
	// Latest is the PSI on the newest date, Level its "stable", "watch" or "act".
	Latest float64
	Level  string
}

type Models interface {
	Models(ctx context.Context, p Principal) ([]ModelSummary, error)
	Model(ctx context.Context, p Principal, name string) (ModelDetail, error)
	Version(ctx context.Context, p Principal, name, version string) (Version, error)
	Upload(ctx context.Context, u Upload) (Version, error)
	RequestPromotion(ctx context.Context, name, version, alias string, by Principal) (Promotion, error)
	Decide(ctx context.Context, promotionID string, approve bool, reason string, by Principal) error
	Pending(ctx context.Context, p Principal) ([]Promotion, error)
}

// Tier is one risk tier of a screening with its company count.
type Tier struct {
	Name  string
	Color string
	Count int64
}

// Ranked is one company in a screening ranking.
type Ranked struct {
	Rank        int
	Code        string
	Name        string
	Probability float64
	Tier        string
	// ReasonsZH and ReasonsEN are the reasons as sentences, most first.
	ReasonsZH, ReasonsEN []string
}

// Screening is one screening job and, once done, its result.
type Screening struct {
	Job
	Model string
	Tiers []Tier
	Top   []Ranked
}

// Screenings runs regional screenings (serving). Optional.
type Screenings interface {
	ScreeningModels(ctx context.Context) ([]string, error)
	StartScreening(ctx context.Context, model string, by Principal) (string, error)
	Screening(ctx context.Context, p Principal, id string) (Screening, error)
	Screenings(ctx context.Context, p Principal) ([]Screening, error)
	ExportCSV(ctx context.Context, p Principal, id string, w io.Writer) error
}

// IndicatorValue is one indicator of a company against its industry's average.
type IndicatorValue struct {
	ID           string
	NameZH       string
	NameEN       string
	Unit         string
	Value        float64 // NaN when missing
	IndustryMean float64 // NaN when unknown
}

// DimensionValues groups a company's indicators by dimension.
type DimensionValues struct {
	Dimension  string
	Indicators []IndicatorValue
}

// ScorePoint is a company's score at one month.
type ScorePoint struct {
	Month string
	PD    float64
}

// Reason is one reason code behind a company's score.
type Reason struct {
	Code   string
	TextZH string
	TextEN string
	Impact float64 // contribution to the margin; positive raises risk
}

// SourceName is a department source by name.
type SourceName struct{ Name, NameZH string }

// Company is the profile of one company.
type Company struct {
	Code string
	Name string
	// Industry and Region in Chinese, IndustryEN and RegionEN in English ("":
	// the Chinese is shown).
	Industry, IndustryEN string
	Region, RegionEN     string
	// Late are the department sources behind the figures that have not
	// delivered within their cadence, by name in each language.
	Late       []SourceName
	AsOf       string
	PD         float64
	Rating     string // A, B, C, D
	Colour     string // green, yellow, orange, red
	Limit      float64
	Models     []string // model versions behind the figures
	Reasons    []Reason
	Dimensions []DimensionValues
	History    []ScorePoint
	Graph      svg.Graph
}

// GuaranteeGraphs draws the guarantee circle around a company (features guarantee
// network). Optional: it fills a profile whose Companies backend drew no graph.
type GuaranteeGraphs interface {
	GuaranteeGraph(ctx context.Context, code string) (svg.Graph, error)
}

// Companies serves company profiles (features online store, serving assessments and
// the guarantee network). Optional.
type Companies interface {
	Company(ctx context.Context, p Principal, code string) (Company, error)
}

// QueuedJob is one durable job (a screening, a materialization shard, …) as the
// platform's job list shows it.
type QueuedJob struct {
	ID int64
	// Kind is the job kind (screening, materialize_plan, materialize_shard, …);
	// Subject says what it works on (a task, a feature set and shard), when known.
	Kind, Subject string
	Queue         string
	// State is River's: available, scheduled, running, retryable, completed,
	// cancelled, discarded or pending.
	State                string
	Attempt, MaxAttempts int
	// Done of Total is the live progress its worker last reported; Note names the
	// stage.
	Done, Total int64
	Note        string
	Created     time.Time
	Finished    time.Time // zero while it is not finished
	// By names the processes that ran its attempts, the last one last.
	By    []string
	Error string
}

// Percent is the progress in whole percent (0 when the total is unknown).
func (j QueuedJob) Percent() int {
	if j.Total <= 0 {
		return 0
	}
	return int(min(100, 100*j.Done/j.Total))
}

// Jobs lists the platform's durable jobs, newest first; state "" means any.
type Jobs interface {
	Jobs(ctx context.Context, p Principal, state string, limit int) ([]QueuedJob, error)
}

// SourceStatus is one department source's freshness and quality.
type SourceStatus struct {
	// Source is the source's id; NameZH its Chinese name. DepartmentZH and
	// DepartmentEN name the department that delivers it.
	Source, NameZH             string
	DepartmentZH, DepartmentEN string
	CadenceDays, Batches       int
	Rows, Rejected             int64
	LastArrival                time.Time // zero: never delivered
	Late                       bool
}

// RejectRate is the share of delivered rows rejected.
func (s SourceStatus) RejectRate() float64 {
	if s.Rows == 0 {
		return 0
	}
	return float64(s.Rejected) / float64(s.Rows)
}

// Sources reports every department source's status (datasets/ingest).
type Sources interface {
	SourceStatus(ctx context.Context) ([]SourceStatus, error)
}

// ExploreQuery filters, sorts and pages a finished screening's whole ranking.
type ExploreQuery struct {
	District, Industry, Tier string // "" : any
	// Text keeps companies whose code or name contains it.
	Text string
	// Sort is "rank" (default, riskiest first), "-rank", "name" or "district".
	Sort string
	// Page counts from 1; PerPage defaults to 50 (at most 500).
	Page, PerPage int
}

// ExploreRow is one company of a screening with where it is and why.
type ExploreRow struct {
	Rank                           int
	Code, Name, District, Industry string
	// IndustryName and IndustryNameEN are the industry's section name (GB/T 4754).
	IndustryName, IndustryNameEN string
	Probability                  float64
	Tier                         string
	// ReasonsZH and ReasonsEN are the reasons as sentences (reason tier only).
	ReasonsZH, ReasonsEN []string
}

// Facet is one value of a filter with its count in the whole screening.
type Facet struct {
	Value, Label string
	// LabelEN is the English label, when it differs.
	LabelEN string
	Count   int
}

// ExplorePage is one page of a filtered screening.
type ExplorePage struct {
	Rows                         []ExploreRow
	Total, Page, Pages           int
	Districts, Industries, Tiers []Facet
}

// ScreeningExplorer pages through a finished screening (optional; a Screenings
// backend that implements it gets the explorer page).
type ScreeningExplorer interface {
	Explore(ctx context.Context, p Principal, id string, q ExploreQuery) (ExplorePage, error)
}

// RiskCell is one group's regional risk index as of one date.
type RiskCell struct {
	Index      float64
	Companies  int
	Suppressed bool // too few companies: no figures shown
}

// RiskRow is one district's or industry's index over the dates.
type RiskRow struct {
	// Name is the district's or industry's name; NameEN its English name when
	// there is one.
	Name, NameEN string
	Cells        []RiskCell // one per RiskView.Dates
	// Change is the index's change over the last two dates (NaN: not comparable).
	Change float64
}

// RiskView is the regional risk index over time: the region as a whole, each
// district and each industry, with the method that made it.
type RiskView struct {
	Dates                 []string
	Region                []RiskCell
	Districts, Industries []RiskRow
	MethodVersion         string
	ExplainZH, ExplainEN  string
	// Map places the region's districts on its tile map (none: no map). A
	// tile's Name matches a Districts row's.
	Map []MapTile
}

// MapTile is one district's place on the region's tile map: column from the
// west, row from the north.
type MapTile struct {
	Name, NameEN string
	Col, Row     int
}

// RiskIndex reads the regional risk index (serving/riskindex). Optional.
type RiskIndex interface {
	RiskIndex(ctx context.Context, p Principal) (RiskView, error)
}

// Binding is an enterprise account's binding to a company: how it was proven and
// whether it is in force.
type Binding struct {
	ID int64
	// Code is the company's unified social credit code; Name its registered name
	// (the code when the registry is not connected).
	Code, Name string
	// Capacity is legal_rep or delegate; Method sms, operator or delegation; State
	// pending, active or revoked.
	Capacity, Method, State string
	// Contact is where the one-time code went, masked ("138****5678").
	Contact string
	// User is the bound account's name (listed for a company's own accounts).
	User                        string
	Created, Activated, Revoked time.Time
	CodeExpires                 time.Time
}

// CompanyConsent is one consent a company granted: who holds it, for what and
// until when.
type CompanyConsent struct {
	ID int64
	// Institution names the bank or guarantee institution holding it.
	Institution string
	// Scope is what it allows ("credit_assessment"); Purpose what it was given for
	// ("portal", "consent_request:3", "" for a grant recorded by the platform).
	Scope, Purpose            string
	Granted, Expires, Revoked time.Time
	Active                    bool
}

// ConsentRequest is a bank's request for a company's consent.
type ConsentRequest struct {
	ID int64
	// Code and Name are the company's; Institution the asking bank's name.
	Code, Name, Institution string
	Scope, Note             string
	Until                   time.Time
	RequestedBy             string
	Requested               time.Time
	// State is pending, accepted, declined or withdrawn.
	State      string
	AnsweredBy string
	Answered   time.Time
}

// CardDoc is a model card from xinyi train, as the version page shows it.
type CardDoc struct {
	Data                            string // the data set's name
	Target                          string
	Features                        int
	TrainRows, ValidRows, TestRows  int
	PositiveRate                    float64 // of the training rows; NaN for regression
	Objective                       string
	Trees, Leaves                   int // Leaves in all trees
	NumLeaves                       int // the most leaves a tree may have (a parameter)
	Rounds, RoundsRun               int
	EarlyStopped                    bool
	Metric                          string
	ElapsedSeconds                  float64
	LearningRate, LambdaL2          float64
	MaxDepth, MinDataInLeaf, MaxBin int
	Bagging, FeatureFraction        float64
	Sets                            []CardSet
	Monotone                        []CardMonotone
}

// CardSet is one evaluated split of a card (NaN for a metric it lacks).
type CardSet struct {
	Split                               string // train, valid or test
	Rows, Positives                     int
	AUC, KS, Gini, LogLoss, Brier, RMSE float64
	// MdAPE (median |prediction - label| / label, a share) and RMSELog (RMSE of
	// the log, a gamma model's) judge an amount such as a limit; NaN when not given.
	MdAPE, RMSELog float64
}

// CardMonotone is one monotone constraint's check.
type CardMonotone struct {
	Feature    string
	Direction  int
	OK         bool
	Violations int
}

// FeatureSets publishes and lists run-time feature sets (the registry): a
// set names catalog indicators and request features; a published version is
// immutable, private to its institution or shared. Optional.
type FeatureSets interface {
	// FeatureSets lists the sets the user may see, built-in ones included.
	FeatureSets(ctx context.Context, p Principal) ([]FeatureSet, error)
	// PublishFeatureSet publishes the YAML definition as the set's next version.
	PublishFeatureSet(ctx context.Context, p Principal, yaml []byte) (FeatureSet, error)
}

// FeatureSet is one published version of a feature set.
type FeatureSet struct {
	Ref           string // name/vN
	Description   string
	DescriptionZH string // the Chinese description (the publisher's own text for a bank's set)
	BuiltIn       bool
	Shared        bool
	Owner         string // the owning institution's name ("" for built-in sets)
	Features      []SetFeature
}

// SetFeature is one feature of a set: a catalog indicator or a request feature.
type SetFeature struct {
	Name       string // indicator id, or the request feature's name
	Request    bool
	Type       string // numeric or categorical (request features)
	Unit       string
	Range      string // "0 – 3" for a bounded numeric request feature
	Categories []string
	Zh, En     string
}

// Indicators and Requests count the set's two kinds of features.
func (f FeatureSet) Indicators() int { return len(f.Features) - f.Requests() }

func (f FeatureSet) Requests() int {
	n := 0
	for _, x := range f.Features {
		if x.Request {
			n++
		}
	}
	return n
}

// CompanyFinder is an optional ability of Companies: finding companies by
// name or credit code in the business registry. Names, codes, districts and
// industries are public registration data, so any user who may reach profiles
// may search; each profile still asks for consent. Without it the search box
// takes credit codes only.
type CompanyFinder interface {
	FindCompanies(ctx context.Context, query string, limit int) ([]CompanyHit, error)
}

// CompanyHit is one company a search found.
type CompanyHit struct {
	Code, Name, District         string
	Industry                     string // GB/T 4754 section letter
	IndustryName, IndustryNameEN string
}

// Portal is the companies' own door (internal/access): an enterprise account
// binds itself to a company by the one-time code sent to the legal
// representative's registered contact, the legal representative delegates to
// staff, and a bound account manages the company's consents and answers banks'
// requests. The console authorizes ActionActForCompany for the company before
// every call that names one; the backend records the refusals that the store
// decides (another account's binding, another company's consent). Optional.
type Portal interface {
	// CompanyName is the company's registered name ("" when unknown).
	CompanyName(ctx context.Context, code string) string
	// Bindings lists the signed-in account's bindings, newest first.
	Bindings(ctx context.Context, p Principal) ([]Binding, error)
	// StartBinding sends a one-time code to the registered contact of the
	// company's legal representative; the binding is pending until activated.
	StartBinding(ctx context.Context, p Principal, code string) (Binding, error)
	ActivateBinding(ctx context.Context, p Principal, id int64, otp string) (Binding, error)
	EndBinding(ctx context.Context, p Principal, id int64) error
	// Delegate lets the legal representative's account name a staff account.
	Delegate(ctx context.Context, p Principal, code, user string) (Binding, error)
	// CompanyBindings lists the accounts acting for a company.
	CompanyBindings(ctx context.Context, p Principal, code string) ([]Binding, error)
	Consents(ctx context.Context, p Principal, code string) ([]CompanyConsent, error)
	// Grantees names the institutions a company may grant consent to.
	Grantees(ctx context.Context) ([]string, error)
	GrantConsent(ctx context.Context, p Principal, code, institution string, until time.Time) (CompanyConsent, error)
	RevokeConsent(ctx context.Context, p Principal, code string, id int64) error
	ConsentRequests(ctx context.Context, p Principal, code string) ([]ConsentRequest, error)
	AnswerConsentRequest(ctx context.Context, p Principal, code string, id int64, accept bool) (ConsentRequest, error)
}

// ConsentAsks lets a bank ask a company for its consent and follow its own
// requests (internal/access). Optional.
type ConsentAsks interface {
	CompanyName(ctx context.Context, code string) string
	RequestConsent(ctx context.Context, p Principal, code, note string, until time.Time) (ConsentRequest, error)
	RequestsOf(ctx context.Context, p Principal) ([]ConsentRequest, error)
}

// ComparedCompany is one company of a comparison of two screenings. A company
// only in the later screening has an empty FromTier.
type ComparedCompany struct {
	Code, Name, District, Industry string
	// IndustryName and IndustryNameEN are the industry's section name.
	IndustryName, IndustryNameEN   string
	FromRank, ToRank               int
	FromProbability, ToProbability float64
	Change                         float64
	FromTier, ToTier               string
	// Steps is how many tiers the company moved towards the top (negative: away).
	Steps int
}

// ComparedList is a list of compared companies cut short, with its full count.
type ComparedList struct {
	Count     int
	Companies []ComparedCompany
}

// ScreeningComparison is how a later screening differs from an earlier one of
// the same task.
type ScreeningComparison struct {
	From, To Screening
	// Tiers orders the tiers, the top tier first; Table[i][j] counts the
	// companies in both screenings that went from Tiers[i] to Tiers[j].
	Tiers                 []string
	Table                 [][]int
	InBoth, New, Gone     int
	NewByTier, GoneByTier map[string]int
	Up, Down, Same        int
	EnteredTop, LeftTop   ComparedList
	Rose, Fell            ComparedList
}

// ScreeningComparer compares two finished screenings of the user's institution
// (optional; a Screenings backend that implements it gets the comparison page).
type ScreeningComparer interface {
	CompareScreenings(ctx context.Context, p Principal, from, to string) (ScreeningComparison, error)
}
