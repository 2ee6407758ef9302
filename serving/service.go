package serving

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/reqid"
	"github.com/xinyi-platform/xinyi/serving/policy"
)

// Principal is an authenticated caller. internal/access owns it: serving names it
// only for brevity.
type Principal = access.Principal

// ConsentScope is the scope a consent grant must cover for an assessment.
const ConsentScope = access.ScopeCreditAssessment

// Authorizer authenticates API keys and decides every request (internal/access,
// through serving/access).
type Authorizer interface {
	// Authenticate returns the principal of an API key, or an error wrapping
	// ErrUnauthenticated.
	Authenticate(ctx context.Context, apiKey string) (Principal, error)
	// Authorize returns nil when p may apply action to res, or an error of
	// internal/access (ErrForbidden, ErrConsentRequired, ErrInvalid, ErrUnavailable);
	// it records every refusal in the audit log itself.
	Authorize(ctx context.Context, p Principal, action access.Action, res access.Resource) error
}

// Auditor appends to the hash-chained audit log; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Record, error)
}

// Vector is one company's indicator values for one feature set, in the set's order.
type Vector struct {
	Values []float64 // NaN where missing; owned by the caller
	AsOf   time.Time
	// Late names the department sources behind these values that have not
	// delivered within their cadence: their values may be out of date.
	Late []string
}

// FeatureSource returns the latest vector of a company for a feature set (the online
// store). Errors wrap ErrUnknownCompany or ErrUnavailable.
type FeatureSource interface {
	Vector(ctx context.Context, set FeatureSet, code string) (Vector, error)
}

// Indicator is what reasons say about an indicator.
type Indicator struct {
	ID     string
	NameZH string
	NameEN string
	Unit   string
	// Growth marks a year-on-year growth ratio (-0.4 reads "fell 40%").
	Growth bool
}

// IndicatorCatalog names indicators (the feature store's catalog, through
// serving/featurestore). ok is false for an unknown id.
type IndicatorCatalog interface {
	Indicator(id string) (ind Indicator, ok bool)
}

// Averages gives the reference (industry or regional) average of an indicator, used in
// reason texts. ok is false when unknown.
type Averages interface {
	Average(indicator string) (avg float64, ok bool)
}

// Options configure a Service. Models, Features and Policy are required.
type Options struct {
	Models   *Models
	Features FeatureSource
	Policy   *policy.Policy
	// Authorizer checks consent. Nil: every caller is treated as having consent
	// (only for tests and the embedded single-user demo).
	Authorizer Authorizer
	// Auditor records every assessment. Nil: nothing is audited.
	Auditor Auditor
	// Catalog names indicators in reasons. Nil: reasons carry only indicator ids.
	Catalog IndicatorCatalog
	// Averages gives the averages in reasons. Nil: reasons carry no average.
	Averages Averages
	// Metrics receives each model's scoring time per decision. Nil: none.
	Metrics *Metrics
	// MaxReasons is the number of reason codes per model. Default 4.
	MaxReasons int
	// ExplainCache is how many TreeSHAP decompositions are remembered, keyed by model
	// version and the exact feature values (a decomposition costs about 150
	// predictions). Default 30,000; negative disables.
	ExplainCache int
	// MaxBatch is the largest batch of companies in one call. Default 100.
	MaxBatch int
	// Logger receives warnings (audit failures); a line logged for a request carries
	// its request id and trace id (internal/reqid). Nil: slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// History reads the score history (nil: Service.History is unavailable).
	History ScoreHistory
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxReasons <= 0 {
		o.MaxReasons = 4
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 100
	}
	if o.ExplainCache == 0 {
		o.ExplainCache = 30000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// loc is where an indicator sits: which task's vector and which column.
type loc struct {
	task Task
	col  int
}

// Service makes credit decisions. It is safe for concurrent use.
type Service struct {
	opts   Options
	policy atomic.Pointer[policy.Policy]
	index  map[string]loc // indicator id → first vector holding it
	sets   []Task         // tasks whose feature set is fetched (one per distinct set)
	fetch  map[Task]Task  // task → task whose vector it shares
	cache  *explainCache  // nil when disabled
}

// New checks the options and builds a Service.
func New(opts Options) (*Service, error) {
	opts.EnsureDefaults()
	opts.Logger = reqid.Logger(opts.Logger)
	if opts.Models == nil || opts.Features == nil || opts.Policy == nil {
		return nil, fmt.Errorf("%w: serving needs models, features and a policy", ErrInvalidInput)
	}
	s := &Service{opts: opts, index: map[string]loc{}, fetch: map[Task]Task{}, cache: newExplainCache(opts.ExplainCache)}
	seen := map[string]Task{}
	for _, t := range Tasks {
		set := opts.Models.FeatureSet(t)
		if first, ok := seen[set.Key()]; ok {
			s.fetch[t] = first
			continue
		}
		seen[set.Key()] = t
		s.fetch[t] = t
		s.sets = append(s.sets, t)
		for i, id := range set.Indicators {
			if _, ok := s.index[id]; !ok {
				s.index[id] = loc{t, i}
			}
		}
	}
	if err := s.SetPolicy(opts.Policy); err != nil {
		return nil, err
	}
	return s, nil
}

// SetPolicy swaps the decision policy after checking that every indicator it names is
// in one of the served feature sets.
func (s *Service) SetPolicy(p *policy.Policy) error {
	if p == nil {
		return fmt.Errorf("%w: nil policy", ErrInvalidInput)
	}
	for _, r := range p.Rules {
		if _, ok := s.index[r.Indicator]; !ok {
			return fmt.Errorf("%w: policy %s rule %s names indicator %q, which no served feature set holds", policy.ErrInvalid, p.Version, r.ID, r.Indicator)
		}
	}
	for _, c := range p.Limits.IndicatorCaps {
		if _, ok := s.index[c.Indicator]; !ok {
			return fmt.Errorf("%w: policy %s limit cap names indicator %q, which no served feature set holds", policy.ErrInvalid, p.Version, c.Indicator)
		}
	}
	s.policy.Store(p)
	return nil
}

// Policy is the policy in force.
func (s *Service) Policy() *policy.Policy { return s.policy.Load() }

// Models is the model holder.
func (s *Service) Models() *Models { return s.opts.Models }

// Request asks for one company's decision.
type Request struct {
	Company  string   `json:"company_code"`
	Products []string `json:"products,omitempty"`
	// Explain adds every model's full contribution vector to the decision.
	Explain bool `json:"explain,omitempty"`
	// Features are the request features the served models' feature sets ask the
	// caller for ("collateral_ratio": 1.2, "loan_purpose": "equipment"): a
	// number for a numeric feature, the category's text for a categorical one.
	// Checked by Snapshot.CheckRequestFeatures.
	Features map[string]any `json:"features,omitempty"`
}

// Reason is one reason code.
type Reason struct {
	Code      string `json:"code"`
	Model     Task   `json:"model"`
	Indicator string `json:"indicator"` // the indicator id, or the request feature's name
	// RequestFeature marks a reason about a feature the caller sent; Category
	// is the category it sent for a categorical one (Value is then its code).
	RequestFeature  bool     `json:"request_feature,omitempty"`
	Category        string   `json:"category,omitempty"`
	NameZH          string   `json:"name_zh,omitempty"`
	NameEN          string   `json:"name_en,omitempty"`
	Value           *float64 `json:"value"`            // nil when missing
	IndustryAverage *float64 `json:"industry_average"` // nil when unknown
	Contribution    float64  `json:"contribution"`
	Direction       string   `json:"direction"`
	TextEN          string   `json:"text_en"`
	TextZH          string   `json:"text_zh"`
}

// Explanation is one model's full TreeSHAP decomposition: sum(Contributions)+Expected == Margin.
type Explanation struct {
	Model         Task      `json:"model"`
	Margin        float64   `json:"margin"`
	Expected      float64   `json:"expected"`
	Indicators    []string  `json:"indicators"`
	Contributions []float64 `json:"contributions"`
}

// ProductLimit is the limit of one product.
type ProductLimit struct {
	Product string  `json:"product"`
	Limit   float64 `json:"limit"`
}

// ModelVersion names a model behind a decision.
type ModelVersion struct {
	Task    Task   `json:"task"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Decision is the answer for one company.
type Decision struct {
	ID             string          `json:"assessment_id"`
	Company        string          `json:"company_code"`
	PD             float64         `json:"pd"`
	Score          float64         `json:"score"`
	Rating         policy.Rating   `json:"rating"`
	Colour         policy.Colour   `json:"colour"`
	ColourRules    []string        `json:"colour_rules,omitempty"`
	Limit          float64         `json:"limit"`
	Products       []ProductLimit  `json:"products"`
	Violation      float64         `json:"violation_probability"`
	InspectionTier policy.Tier     `json:"inspection_tier"`
	SamplingRatio  float64         `json:"sampling_ratio"`
	Reasons        []Reason        `json:"reasons"`
	Explanations   []Explanation   `json:"explanations,omitempty"`
	Models         []ModelVersion  `json:"models"`
	Generation     uint64          `json:"-"`
	PolicyVersion  string          `json:"policy_version"`
	FeatureSets    map[Task]string `json:"feature_sets"`
	// FeaturesAsOf is the as-of date ("2006-01-02") of the vector each model was
	// given: the snapshot the online store actually served, older than the newest
	// stored one while it falls back.
	FeaturesAsOf map[Task]string `json:"features_as_of"`
	// AsOf is the oldest of those dates: the decision is no fresher than it.
	AsOf time.Time `json:"as_of"`
	// LateSources are the department sources behind the figures that have not
	// delivered within their contract's cadence (sorted): what they say of the
	// company may be out of date.
	LateSources []string `json:"late_sources,omitempty"`
}

// ValidateCompany checks a company code with the GB 32100-2015 check characters.
func ValidateCompany(code string) error {
	if err := creditcode.Validate(code); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCompanyCode, err)
	}
	return nil
}

// authorize asks the Authorizer whether p may see company's decision (role and,
// for banks, consent); the Authorizer audits a refusal. Without an Authorizer the
// role rule still applies and consent is assumed (tests and the embedded demo).
func (s *Service) authorize(ctx context.Context, p Principal, company string) error {
	return s.allow(ctx, p, access.ActionAssess, access.Resource{Kind: "company", ID: company})
}

// allow applies the Authorizer (or, without one, the rule alone) and translates
// its errors to serving's.
func (s *Service) allow(ctx context.Context, p Principal, action access.Action, res access.Resource) error {
	if s.opts.Authorizer == nil {
		_, err := access.Decide(p, action, res)
		return accessErr(err)
	}
	return accessErr(s.opts.Authorizer.Authorize(ctx, p, action, res))
}

func (s *Service) audit(ctx context.Context, e audit.Entry) error {
	if s.opts.Auditor == nil {
		return nil
	}
	// The record must land even when the caller has gone away.
	if _, err := s.opts.Auditor.Append(context.WithoutCancel(ctx), e); err != nil {
		s.opts.Logger.ErrorContext(ctx, "audit append failed", "action", e.Action, "subject", e.Subject, "err", err)
		return fmt.Errorf("%w: audit: %w", ErrUnavailable, err)
	}
	return nil
}

// Assess decides for one company on behalf of p: it validates the code, checks role
// and consent, fetches the vectors, runs the three models of one snapshot, applies the
// policy, explains, and audits. A decision is returned only once its audit record is
// written.
//
// Called under a recording span, it is one "assess" span with a child per step:
// "authorize", "features", "score", "explain" and "audit". The spans carry the
// assessment id (which the audit record ties to the company), never the company code.
func (s *Service) Assess(ctx context.Context, p Principal, req Request) (d *Decision, err error) {
	ctx, span := startSpan(ctx, "assess")
	defer func() { endSpan(span, err) }()
	if err := ValidateCompany(req.Company); err != nil {
		return nil, err
	}
	pol := s.policy.Load()
	products, err := pol.Products(req.Products)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	sctx, step := startSpan(ctx, "authorize")
	err = s.authorize(sctx, p, req.Company)
	endSpan(step, err)
	if err != nil {
		return nil, err
	}
	if d, err = s.decide(ctx, req, pol, products); err != nil {
		return nil, err
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String("xinyi.assessment_id", d.ID), attribute.String("xinyi.policy_version", d.PolicyVersion),
			attribute.Int64("xinyi.model_generation", int64(d.Generation)))
	}
	sctx, step = startSpan(ctx, "audit")
	summary := auditSummary(d)
	if len(req.Features) > 0 {
		summary["request_features"] = req.Features // as the caller declared them, checked
	}
	err = s.audit(sctx, audit.Entry{Actor: p.Actor(), Action: "assessment", Subject: "company:" + req.Company,
		Outcome: audit.OutcomeOK, After: summary})
	endSpan(step, err)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// AssessBatch decides for several companies; each item has a decision or an error.
func (s *Service) AssessBatch(ctx context.Context, p Principal, reqs []Request) ([]*Decision, []error, error) {
	if len(reqs) == 0 || len(reqs) > s.opts.MaxBatch {
		return nil, nil, fmt.Errorf("%w: a batch holds 1 to %d companies, got %d", ErrInvalidInput, s.opts.MaxBatch, len(reqs))
	}
	out := make([]*Decision, len(reqs))
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		out[i], errs[i] = s.Assess(ctx, p, r)
	}
	return out, errs, nil
}

func auditSummary(d *Decision) map[string]any {
	models := make([]string, len(d.Models))
	for i, m := range d.Models {
		models[i] = string(m.Task) + "=" + m.Name + ":" + m.Version
	}
	after := map[string]any{
		"assessment_id": d.ID, "models": models, "policy": d.PolicyVersion,
		"pd": d.PD, "rating": d.Rating, "colour": d.Colour, "limit": d.Limit,
		"violation": d.Violation, "tier": d.InspectionTier,
		"as_of": d.AsOf.Format(time.DateOnly), "features_as_of": d.FeaturesAsOf,
	}
	if len(d.LateSources) > 0 {
		after["late_sources"] = d.LateSources
	}
	return after
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// decide runs the models and the policy without authorization or audit. Traced, its
// steps are the spans "features", "score" (the three predictions and the policy)
// and "explain" (TreeSHAP, from the cache or computed, and the reasons).
func (s *Service) decide(ctx context.Context, req Request, pol *policy.Policy, products map[string]float64) (_ *Decision, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err // the caller's deadline passed: do no work
	}
	snap := s.opts.Models.Current()
	if !snap.Complete() {
		return nil, fmt.Errorf("%w: models loaded: %v", ErrNotReady, snap.Refs())
	}
	reqVals, err := snap.CheckRequestFeatures(req.Features)
	if err != nil {
		return nil, err
	}
	// step is the span of the step under way; a failure ends it with the error.
	fctx, step := startSpan(ctx, "features")
	defer func() {
		if err != nil {
			endSpan(step, err)
		}
	}()
	vecs := make(map[Task][]float64, len(s.sets))
	asOfs := make(map[Task]time.Time, len(s.sets))
	var asOf time.Time
	var late []string
	for _, t := range s.sets {
		v, err := s.opts.Features.Vector(fctx, s.opts.Models.FeatureSet(t), req.Company)
		if err != nil {
			return nil, fmt.Errorf("features %s for %s: %w", s.opts.Models.FeatureSet(t).Key(), req.Company, err)
		}
		vecs[t] = v.Values
		asOfs[t] = v.AsOf
		for _, src := range v.Late {
			if !slices.Contains(late, src) {
				late = append(late, src)
			}
		}
		if asOf.IsZero() || v.AsOf.Before(asOf) {
			asOf = v.AsOf
		}
	}
	if step.IsRecording() {
		sets := make([]string, len(s.sets))
		for i, t := range s.sets {
			sets[i] = s.opts.Models.FeatureSet(t).Key()
		}
		step.SetAttributes(attribute.StringSlice("xinyi.feature_sets", sets), attribute.String("xinyi.features_as_of", asOf.Format(time.DateOnly)))
	}
	step.End()
	_, step = startSpan(ctx, "score")
	// A model bound to its task's online set reads the online vector as is; one
	// bound to a published set gets its row built from the online vectors and
	// the request features.
	var rows [3][]float64
	for i, t := range Tasks {
		if fd := snap.feeds[i]; fd != nil {
			rows[i] = fd.build(vecs, reqVals[snap.Scorer(t).FeatureSet().Key()])
		} else {
			rows[i] = vecs[s.fetch[t]]
		}
	}
	row := func(t Task) []float64 { return rows[taskIndex(t)] }
	lookup := func(id string) (float64, bool) {
		l, ok := s.index[id]
		if !ok {
			return 0, false
		}
		v := vecs[l.task][l.col]
		return v, !math.IsNaN(v)
	}

	// took is each model's scoring time: its prediction, then its reasons.
	var took [3]time.Duration
	d, err := figures(snap, pol, row, lookup, &took)
	if err != nil {
		return nil, err
	}
	d.ID, d.Company, d.AsOf = newID(), req.Company, asOf
	slices.Sort(late)
	d.LateSources = late
	d.FeatureSets, d.FeaturesAsOf = map[Task]string{}, make(map[Task]string, len(Tasks))
	names := make([]string, 0, len(products))
	for n := range products {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		l := d.Limit * products[n]
		if pol.Limits.Round > 0 {
			l = math.Floor(l/pol.Limits.Round) * pol.Limits.Round
		}
		d.Products = append(d.Products, ProductLimit{Product: n, Limit: l})
	}
	if step.IsRecording() {
		step.SetAttributes(attribute.StringSlice("xinyi.models", snapModels(snap)), attribute.String("xinyi.policy_version", pol.Version))
	}
	step.End()
	_, step = startSpan(ctx, "explain")
	// TreeSHAP is most of a decision's work: decompositions the cache holds are
	// copied from it, and the others computed in parallel.
	type explained struct {
		expected float64
		contrib  []float64
		err      error
		entry    *explainEntry // the cache's, on a hit
	}
	var ex [3]explained
	var misses []int
	for i, t := range Tasks {
		sc := snap.Scorer(t)
		d.Models = append(d.Models, ModelVersion{Task: t, Name: sc.Ref().Name, Version: sc.Ref().Version})
		d.FeatureSets[t] = sc.FeatureSet().Key()
		d.FeaturesAsOf[t] = asOfOf(snap, t, asOfs, s.fetch).Format(time.DateOnly)
		if !sc.Explains() {
			continue
		}
		x := row(t)
		ex[i].contrib = make([]float64, len(x))
		start := time.Now()
		if ex[i].entry = s.cache.lookup(sc, x, ex[i].contrib); ex[i].entry != nil {
			ex[i].expected = ex[i].entry.expected
		} else {
			misses = append(misses, i)
		}
		took[i] += time.Since(start)
	}
	explain := func(i int) {
		start := time.Now()
		sc := snap.Scorer(Tasks[i])
		// A miss: compute and remember, keeping the entry so the reasons the
		// decision writes are remembered with it.
		ex[i].expected, ex[i].entry, ex[i].err = s.cache.compute(sc, row(Tasks[i]), ex[i].contrib)
		took[i] += time.Since(start)
	}
	var wg sync.WaitGroup
	for j, i := range misses {
		if j == len(misses)-1 {
			explain(i)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			explain(i)
		}()
	}
	wg.Wait()
	if s.opts.Metrics != nil {
		for i, t := range Tasks {
			s.opts.Metrics.ObserveScoring(snap.Scorer(t), took[i])
		}
	}
	for i, t := range Tasks {
		sc := snap.Scorer(t)
		if ex[i].contrib == nil {
			continue
		}
		if ex[i].err != nil {
			return nil, ex[i].err
		}
		x := row(t)
		d.Reasons = append(d.Reasons, s.cachedReasons(ex[i].entry, t, sc.FeatureSet(), x, ex[i].contrib)...)
		if req.Explain {
			margin, err := sc.Margin(x)
			if err != nil {
				return nil, err
			}
			d.Explanations = append(d.Explanations, Explanation{Model: t, Margin: margin, Expected: ex[i].expected,
				Indicators: sc.FeatureSet().Indicators, Contributions: ex[i].contrib})
		}
	}
	for _, id := range d.ColourRules {
		r, _ := pol.Rule(id)
		d.Reasons = append(d.Reasons, s.ruleReason(r, lookup))
	}
	if step.IsRecording() {
		step.SetAttributes(attribute.Int("xinyi.explain.computed", len(misses)), attribute.Int("xinyi.reasons", len(d.Reasons)))
	}
	step.End()
	return d, nil
}

// figures computes a decision's figures from the three models' rows: PD, score,
// rating, colour (with the rules that set it), limit, violation probability and
// inspection tier, under pol. took, when set, receives each model's prediction
// time. The decision has no id, company, dates, products or reasons yet.
func figures(snap *Snapshot, pol *policy.Policy, row func(Task) []float64, lookup func(string) (float64, bool), took *[3]time.Duration) (*Decision, error) {
	t0 := time.Now()
	pd, err := snap.PD.Predict(row(TaskPD))
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	vio, err := snap.Violation.Predict(row(TaskViolation))
	if err != nil {
		return nil, err
	}
	t2 := time.Now()
	lim, err := snap.Limit.Predict(row(TaskLimit))
	if err != nil {
		return nil, err
	}
	if took != nil {
		took[0], took[1], took[2] = t1.Sub(t0), t2.Sub(t1), time.Since(t2)
	}
	d := &Decision{PD: pd, Violation: vio, PolicyVersion: pol.Version, Generation: snap.Generation}
	if d.Score, err = pol.Score(pd); err != nil {
		return nil, err
	}
	if d.Rating, err = pol.Rating(pd); err != nil {
		return nil, err
	}
	d.Colour, d.ColourRules = pol.Colour(d.Score, lookup)
	if d.Limit, err = pol.Limit(lim, d.Rating, d.Colour, lookup); err != nil {
		return nil, err
	}
	if d.InspectionTier, d.SamplingRatio, err = pol.Inspection(vio); err != nil {
		return nil, err
	}
	return d, nil
}

// asOfOf is the as-of date of the vector the model of t read: its online set's,
// or for a model bound to a published set the oldest of the online sets it reads.
func asOfOf(snap *Snapshot, t Task, asOfs map[Task]time.Time, fetch map[Task]Task) time.Time {
	fd := snap.feeds[taskIndex(t)]
	if fd == nil || len(fd.tasks) == 0 {
		return asOfs[fetch[t]]
	}
	var out time.Time
	for _, ft := range fd.tasks {
		if a := asOfs[ft]; out.IsZero() || a.Before(out) {
			out = a
		}
	}
	return out
}

// snapModels names the models of snap as task=name:version.
func snapModels(snap *Snapshot) []string {
	refs := snap.Refs()
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = string(r.Task) + "=" + r.Name + ":" + r.Version
	}
	return out
}

// cachedReasons returns the reasons of a decomposition, from its cache entry when
// a decision has already written them there (e nil: computed each time). The
// caller copies the slice's elements and must not change what their pointers
// point to.
func (s *Service) cachedReasons(e *explainEntry, t Task, set FeatureSet, x, contrib []float64) []Reason {
	if e == nil {
		return s.reasons(t, set, x, contrib)
	}
	if rs := e.reasons.Load(); rs != nil {
		return *rs
	}
	rs := s.reasons(t, set, x, contrib)
	e.reasons.Store(&rs)
	return rs
}
