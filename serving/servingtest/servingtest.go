// Package servingtest builds a complete, in-memory serving environment for the tests of
// serving's transports: three hand-written stump models (whose outputs are worked out by
// hand in serving's tests), an in-memory online store, API keys, consent grants and an
// audit log that records entries.
//
//	env := servingtest.New(t)
//	d, err := env.Service.Assess(ctx, env.Bank, serving.Request{Company: env.Good})
package servingtest

import (
	"context"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/policy"
)

//go:embed models/*.txt
var modelFS embed.FS

// Set is the feature set of the stump models.
var Set = serving.FeatureSet{Name: "credit", Version: 3, Indicators: []string{"tax.paid.sum_12m", "court.dishonest_debtor", "network.circle_defaulted"}}

// Policy is the decision policy of the environment.
const Policy = `
version: "svc-1"
score: {offset: 600, pdo: 20}
ratings:
  - {rating: A, max_pd: 0.02}
  - {rating: B, max_pd: 0.05}
  - {rating: C, max_pd: 0.15}
  - {rating: D, max_pd: 1}
colours:
  - {colour: blue, min_score: 680}
  - {colour: green, min_score: 650}
  - {colour: yellow, min_score: 620}
  - {colour: red}
rules:
  - {id: dishonest, indicator: court.dishonest_debtor, op: ">=", threshold: 1, colour: red, description: on the dishonest-debtor list}
  - {id: circle, indicator: network.circle_defaulted, op: ">=", threshold: 1, colour: yellow}
limit:
  rating_scale: {A: 1, B: 0.8, C: 0.5, D: 0}
  cap: 2000000
  round: 10000
  products: {working_capital: 1, tax_loan: 0.3}
inspection:
  - {tier: high, min_probability: 0.3, sampling_ratio: 1}
  - {tier: medium, min_probability: 0.1, sampling_ratio: 0.3}
  - {tier: low, min_probability: 0, sampling_ratio: 0.1}
`

// API keys of the environment.
const (
	BankKey      = "bank-secret"
	OtherBankKey = "other-bank-secret"
	RegulatorKey = "regulator-secret"
	LabKey       = "lab-secret"
)

// ModelText returns the stump model text of a task.
func ModelText(t testing.TB, task serving.Task) []byte {
	t.Helper()
	b, err := modelFS.ReadFile("models/stump_" + string(task) + ".txt")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Scorers loads the three stump models as version; edit may change a task's text.
func Scorers(t testing.TB, version string, edit func(task serving.Task, text string) string) []*serving.Scorer {
	t.Helper()
	var out []*serving.Scorer
	for _, task := range serving.Tasks {
		text := string(ModelText(t, task))
		if edit != nil {
			text = edit(task, text)
		}
		ref := serving.ModelRef{Task: task, Name: "xinyi-" + string(task), Version: version, FeatureSet: Set.Name, FeatureSetVersion: Set.Version,
			Owner: WeihaiBank.InstitutionID} // private to the bank of BankKey
		sc, err := serving.LoadScorer([]byte(text), ref, Set)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sc)
	}
	return out
}

// Features is an in-memory FeatureSource with one row per company.
type Features struct {
	mu   sync.Mutex
	Rows map[string][]float64
	AsOf time.Time
	Down bool
}

// Vector implements serving.FeatureSource.
func (m *Features) Vector(_ context.Context, set serving.FeatureSet, code string) (serving.Vector, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Down {
		return serving.Vector{}, fmt.Errorf("%w: online store down", serving.ErrUnavailable)
	}
	r, ok := m.Rows[code]
	if !ok {
		return serving.Vector{}, fmt.Errorf("%w: %s", serving.ErrUnknownCompany, code)
	}
	return serving.Vector{Values: append([]float64(nil), r...), AsOf: m.AsOf}, nil
}

// The principals of the test institutions, as internal/access would authenticate
// them.
var (
	WeihaiBank = access.Principal{UserID: 1, User: "officer", InstitutionID: 1, Institution: "weihai-bank",
		InstitutionKind: access.KindBank, Roles: []access.Role{access.RoleBank}, KeyID: "k1"}
	Regulator = access.Principal{UserID: 2, User: "inspector", InstitutionID: 2, Institution: "amr-shangyu",
		InstitutionKind: access.KindRegulator, Roles: []access.Role{access.RoleRegulator}, KeyID: "k2"}
	LabUser = access.Principal{UserID: 3, User: "viewer", InstitutionID: 3, Institution: "platform",
		InstitutionKind: access.KindPlatform, Roles: []access.Role{access.RoleLab}, KeyID: "k3"}
	OtherBank = access.Principal{UserID: 4, User: "other-officer", InstitutionID: 4, Institution: "other-bank",
		InstitutionKind: access.KindBank, Roles: []access.Role{access.RoleBank}, KeyID: "k4"}
)

// Auth knows API keys and consent grants "bank institution id|company". Its
// decisions are internal/access's own Authorizer over that consent table, so tests
// exercise the platform's one rule; only the tables are in memory.
type Auth struct {
	mu       sync.Mutex
	Keys     map[string]serving.Principal
	Consents map[string]bool
	// Audit, when set, receives the refusals.
	Audit access.Auditor
}

// Authenticate implements serving.Authorizer.
func (f *Auth) Authenticate(_ context.Context, key string) (serving.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.Keys[key]
	if !ok {
		return serving.Principal{}, fmt.Errorf("%w: unknown API key", serving.ErrUnauthenticated)
	}
	return p, nil
}

// Authorize implements serving.Authorizer with internal/access's Authorizer.
func (f *Auth) Authorize(ctx context.Context, p serving.Principal, action access.Action, res access.Resource) error {
	a := access.Authorizer{Consents: f, Audit: f.Audit}
	return a.Authorize(ctx, p, action, res)
}

// CheckConsent implements access.ConsentChecker over the in-memory table.
func (f *Auth) CheckConsent(_ context.Context, company string, bankID int64, scope string, at time.Time) (access.Consent, error) {
	if err := creditcode.Validate(company); err != nil {
		return access.Consent{}, fmt.Errorf("%w: company code: %w", access.ErrInvalid, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if scope != serving.ConsentScope || !f.Consents[consentKey(bankID, company)] {
		return access.Consent{}, fmt.Errorf("%w: institution %d has no consent from %s", access.ErrConsentRequired, bankID, company)
	}
	return access.Consent{CompanyCode: company, BankID: bankID, Scope: scope, GrantedAt: at, ExpiresAt: at.Add(time.Hour)}, nil
}

func consentKey(bankID int64, company string) string {
	return strconv.FormatInt(bankID, 10) + "|" + company
}

// Grant records a consent grant of company for the bank institution.
func (f *Auth) Grant(bankID int64, company string) {
	f.mu.Lock()
	f.Consents[consentKey(bankID, company)] = true
	f.mu.Unlock()
}

// Audit records audit entries in memory.
type Audit struct {
	mu      sync.Mutex
	entries []audit.Entry
	fail    error
}

// Fail makes every later Append fail with err (nil: succeed again).
func (m *Audit) Fail(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

// Append implements serving.Auditor.
func (m *Audit) Append(_ context.Context, e audit.Entry) (audit.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return audit.Record{}, m.fail
	}
	m.entries = append(m.entries, e)
	return audit.Record{Seq: int64(len(m.entries))}, nil
}

// Entries returns a copy of the recorded entries.
func (m *Audit) Entries() []audit.Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]audit.Entry(nil), m.entries...)
}

// Catalog names the three indicators.
type Catalog map[string]serving.Indicator

// Indicator implements serving.IndicatorCatalog.
func (c Catalog) Indicator(id string) (serving.Indicator, bool) {
	ind, ok := c[id]
	return ind, ok
}

// Averages is a fixed map of averages.
type Averages map[string]float64

// Average implements serving.Averages.
func (m Averages) Average(id string) (float64, bool) { v, ok := m[id]; return v, ok }

// Env is a complete serving environment.
type Env struct {
	Service  *serving.Service
	Models   *serving.Models
	Features *Features
	Auth     *Auth
	Audit    *Audit
	Good     string // tax 150, clean: pd = sigmoid(-3), rating B, blue, limit 960,000
	Bad      string // tax 80, dishonest debtor, circle with a default: rating D, red, limit 0
	Unknown  string // valid code the online store does not hold
	Bank     serving.Principal
}

// Code builds a valid company code from an 8-character organization body.
func Code(t testing.TB, body string) string {
	t.Helper()
	c, err := creditcode.New('9', '1', "330604", body)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// New builds the environment with version "1" of the models installed. The bank
// (key BankKey) has consent from Good and Bad; the other bank has none. mods change
// the service's options before it is built.
func New(t testing.TB, mods ...func(*serving.Options)) *Env {
	t.Helper()
	m, err := serving.NewModels(map[serving.Task]serving.FeatureSet{serving.TaskPD: Set, serving.TaskViolation: Set, serving.TaskLimit: Set})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Install(Scorers(t, "1", nil)...); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse([]byte(Policy))
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Models: m, Good: Code(t, "MA4UJ7K2"), Bad: Code(t, "MA2BCD3E"), Unknown: Code(t, "MA9XYW7Q")}
	e.Features = &Features{Rows: map[string][]float64{e.Good: {150, 0, 0}, e.Bad: {80, 1, 1}}, AsOf: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)}
	e.Bank = WeihaiBank
	e.Auth = &Auth{
		Keys:     map[string]serving.Principal{BankKey: WeihaiBank, OtherBankKey: OtherBank, RegulatorKey: Regulator, LabKey: LabUser},
		Consents: map[string]bool{consentKey(WeihaiBank.InstitutionID, e.Good): true, consentKey(WeihaiBank.InstitutionID, e.Bad): true},
	}
	e.Audit = &Audit{}
	e.Auth.Audit = e.Audit
	cat := Catalog{
		"tax.paid.sum_12m":         {ID: "tax.paid.sum_12m", NameZH: "近12个月纳税总额", NameEN: "tax paid over 12 months", Unit: "元"},
		"court.dishonest_debtor":   {ID: "court.dishonest_debtor", NameZH: "失信被执行人", NameEN: "dishonest debtor", Unit: "0/1"},
		"network.circle_defaulted": {ID: "network.circle_defaulted", NameZH: "担保圈内违约企业", NameEN: "defaulted member in guarantee circle", Unit: "0/1"},
	}
	opts := serving.Options{Models: m, Features: e.Features, Policy: pol, Authorizer: e.Auth, Auditor: e.Audit,
		Catalog: cat, Averages: Averages{"tax.paid.sum_12m": 100}}
	for _, mod := range mods {
		mod(&opts)
	}
	e.Service, err = serving.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Replace returns text with the first old replaced by new, failing when old is absent.
func Replace(t testing.TB, text, old, new string) string {
	t.Helper()
	if !strings.Contains(text, old) {
		t.Fatalf("%q not in model text", old)
	}
	return strings.Replace(text, old, new, 1)
}
