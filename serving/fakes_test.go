package serving

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/serving/policy"
)

// memFeatures is an in-memory FeatureSource: one row per company for every set.
type memFeatures struct {
	mu   sync.Mutex
	rows map[string][]float64
	asOf time.Time
	down bool
}

func (m *memFeatures) Vector(_ context.Context, set FeatureSet, code string) (Vector, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return Vector{}, fmt.Errorf("%w: online store down", ErrUnavailable)
	}
	r, ok := m.rows[code]
	if !ok {
		return Vector{}, fmt.Errorf("%w: %s", ErrUnknownCompany, code)
	}
	if len(r) != len(set.Indicators) {
		return Vector{}, fmt.Errorf("%w: row of %d for %s", ErrFeatureSetMismatch, len(r), set.Key())
	}
	return Vector{Values: append([]float64(nil), r...), AsOf: m.asOf}, nil
}

// Test principals, as internal/access authenticates them.
var (
	bankP = Principal{UserID: 1, User: "officer", InstitutionID: 1, Institution: "weihai-bank",
		InstitutionKind: access.KindBank, Roles: []access.Role{access.RoleBank}, KeyID: "k1"}
	regulatorP = Principal{UserID: 2, User: "inspector", InstitutionID: 2, Institution: "amr-shangyu",
		InstitutionKind: access.KindRegulator, Roles: []access.Role{access.RoleRegulator}, KeyID: "k2"}
	labP = Principal{UserID: 3, User: "viewer", InstitutionID: 3, Institution: "platform",
		InstitutionKind: access.KindPlatform, Roles: []access.Role{access.RoleLab}, KeyID: "k3"}
	otherBankP = Principal{UserID: 9, User: "other", InstitutionID: 9, Institution: "other-bank",
		InstitutionKind: access.KindBank, Roles: []access.Role{access.RoleBank}, KeyID: "k9"}
	otherRegulatorP = Principal{UserID: 8, User: "other-inspector", InstitutionID: 8, Institution: "another-amr",
		InstitutionKind: access.KindRegulator, Roles: []access.Role{access.RoleRegulator}, KeyID: "k8"}
)

// fakeAuth knows API keys and consent grants "bank id|company"; it decides with
// internal/access's Authorizer over that table and audits into audit.
type fakeAuth struct {
	keys     map[string]Principal
	consents map[string]bool
	audit    access.Auditor
}

func (f *fakeAuth) Authenticate(_ context.Context, key string) (Principal, error) {
	p, ok := f.keys[key]
	if !ok {
		return Principal{}, fmt.Errorf("%w: unknown key", ErrUnauthenticated)
	}
	return p, nil
}

func (f *fakeAuth) Authorize(ctx context.Context, p Principal, action access.Action, res access.Resource) error {
	a := access.Authorizer{Consents: f, Audit: f.audit}
	return a.Authorize(ctx, p, action, res)
}

func (f *fakeAuth) CheckConsent(_ context.Context, company string, bankID int64, scope string, at time.Time) (access.Consent, error) {
	if scope != ConsentScope || !f.consents[fmt.Sprint(bankID, "|", company)] {
		return access.Consent{}, fmt.Errorf("%w: institution %d has no consent from %s", access.ErrConsentRequired, bankID, company)
	}
	return access.Consent{CompanyCode: company, BankID: bankID, Scope: scope, GrantedAt: at}, nil
}

// memAudit records entries.
type memAudit struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (m *memAudit) Append(_ context.Context, e audit.Entry) (audit.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = append(m.entries, e)
	return audit.Record{Seq: int64(len(m.entries))}, nil
}

func (m *memAudit) all() []audit.Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]audit.Entry(nil), m.entries...)
}

// fakeCatalog names the three test indicators.
type fakeCatalog map[string]Indicator

func (c fakeCatalog) Indicator(id string) (Indicator, bool) {
	ind, ok := c[id]
	return ind, ok
}

type mapAverages map[string]float64

func (m mapAverages) Average(id string) (float64, bool) { v, ok := m[id]; return v, ok }

const servicePolicy = `
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

// testCode builds a valid company code from a 8-character organization body.
func testCode(t testing.TB, body string) string {
	t.Helper()
	c, err := creditcode.New('9', '1', "330604", body)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type env struct {
	svc      *Service
	models   *Models
	features *memFeatures
	auth     *fakeAuth
	audit    *memAudit
	good     string // tax 150, clean
	bad      string // tax 80, dishonest debtor, circle with a defaulted member
	bank     Principal
}

func loadStumps(t testing.TB, version string, edit func(task Task, text string) string) []*Scorer {
	t.Helper()
	var out []*Scorer
	for _, task := range Tasks {
		text := string(readTestdata(t, "stump_"+string(task)+".txt"))
		if edit != nil {
			text = edit(task, text)
		}
		ref := ModelRef{Task: task, Name: "xinyi-" + string(task), Version: version, FeatureSet: testSet.Name, FeatureSetVersion: testSet.Version}
		sc, err := LoadScorer([]byte(text), ref, testSet)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sc)
	}
	return out
}

func newEnv(t testing.TB) *env {
	t.Helper()
	m, err := NewModels(map[Task]FeatureSet{TaskPD: testSet, TaskViolation: testSet, TaskLimit: testSet})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Install(loadStumps(t, "1", nil)...); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse([]byte(servicePolicy))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{models: m, good: testCode(t, "MA4UJ7K2"), bad: testCode(t, "MA2BCD3E")}
	e.features = &memFeatures{rows: map[string][]float64{e.good: {150, 0, 0}, e.bad: {80, 1, 1}}, asOf: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)}
	e.bank = bankP
	e.auth = &fakeAuth{
		keys:     map[string]Principal{"bank-secret": bankP, "regulator-secret": regulatorP, "lab-secret": labP},
		consents: map[string]bool{fmt.Sprint(bankP.InstitutionID, "|", e.good): true, fmt.Sprint(bankP.InstitutionID, "|", e.bad): true},
	}
	e.audit = &memAudit{}
	e.auth.audit = e.audit
	cat := fakeCatalog{
		"tax.paid.sum_12m":         {ID: "tax.paid.sum_12m", NameZH: "近12个月纳税总额", NameEN: "tax paid over 12 months", Unit: "元"},
		"court.dishonest_debtor":   {ID: "court.dishonest_debtor", NameZH: "失信被执行人", NameEN: "dishonest debtor", Unit: "0/1"},
		"network.circle_defaulted": {ID: "network.circle_defaulted", NameZH: "担保圈内违约企业", NameEN: "defaulted member in guarantee circle", Unit: "0/1"},
	}
	e.svc, err = New(Options{Models: m, Features: e.features, Policy: pol, Authorizer: e.auth, Auditor: e.audit,
		Catalog: cat, Averages: mapAverages{"tax.paid.sum_12m": 100, "court.dishonest_debtor": 0.02}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func lastEntry(t *testing.T, a *memAudit) audit.Entry {
	t.Helper()
	all := a.all()
	if len(all) == 0 {
		t.Fatal("nothing audited")
	}
	return all[len(all)-1]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
