// Package labtest builds the lab console over real access, catalog, trainer and registry
// packages (SQLite in a temporary folder) for handler and browser tests; only the
// screening, company-profile and statistics backends are in-memory stand-ins, and
// their real adapters have tests of their own in lab/serving and lab/features.
package labtest

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/cases"
	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/financing"
	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
	xjoint "github.com/xinyi-platform/xinyi/joint"
	"github.com/xinyi-platform/xinyi/joint/jointtest"
	"github.com/xinyi-platform/xinyi/lab"
	labaccess "github.com/xinyi-platform/xinyi/lab/access"
	labfeatures "github.com/xinyi-platform/xinyi/lab/features"
	labjoint "github.com/xinyi-platform/xinyi/lab/joint"
	labregistry "github.com/xinyi-platform/xinyi/lab/registry"
	labserving "github.com/xinyi-platform/xinyi/lab/serving"
	"github.com/xinyi-platform/xinyi/lab/svg"
	labtraining "github.com/xinyi-platform/xinyi/lab/training"
	xregistry "github.com/xinyi-platform/xinyi/registry"
	regfeatures "github.com/xinyi-platform/xinyi/registry/features"
	"github.com/xinyi-platform/xinyi/reports"
	"github.com/xinyi-platform/xinyi/serving/portfolio"
	"github.com/xinyi-platform/xinyi/serving/scores"
	"github.com/xinyi-platform/xinyi/serving/warnings"
	"github.com/xinyi-platform/xinyi/training"
)

// The users of a test environment, by the name their API key is stored under.
const (
	Scientist = "chen" // data_scientist at the bank
	Approver  = "wang" // approver and data_scientist at the bank
	Approver2 = "liu"  // approver at the bank
	Regulator = "zhao" // regulator at the market regulation bureau
	Banker    = "sun"  // bank role at the bank
	Viewer    = "zhou" // lab viewer at the bank
	Operator  = "qian" // administrator of the platform itself
	BankName  = "上虞农商银行"
	RegName   = "上虞区市场监督管理局"
	// CompanyRep is the account of Focus's legal representative, bound by the
	// platform's verification of the electronic business licence; Staff and
	// Newcomer are company accounts bound to nothing yet.
	CompanyRep  = "he"
	Staff       = "ma"
	Newcomer    = "lin"
	CompanyName = "上虞企业用户"
	// Bank2Name is a second bank, a grantee of consent.
	Bank2Name = "绍兴银行上虞支行"
	// Enforcer reviews the penalty source's cases at the department DeptName.
	Enforcer = "xu"
	DeptName = "上虞区市场监管局执法大队"
)

// Env is a console wired to real access control (SQLite), the real indicator catalog,
// the real model registry (SQLite, local blob folder, audit log), the real trainer on
// public data, and the in-memory screenings, company profiles and statistics of this
// package.
type Env struct {
	Server     *lab.Server
	Handler    http.Handler // the console mounted at /lab/
	Keys       map[string]string
	Access     *xaccess.Store
	Audit      *audit.Log // the chain every refusal of the console lands in
	BankID     int64
	Registry   *xregistry.Registry
	Models     *labregistry.Models
	Auth       *labaccess.Adapter
	Screenings *Screenings
	Trainer    *labtraining.Trainer
	Built      *labfeatures.Samples // samples of the offline store (empty) and their builds
	Companies  Companies
	// Portal is the companies' door and banks' requests over Access; SMS holds
	// the one-time codes sent to legal representatives.
	Portal *labaccess.Portal
	SMS    *Outbox
	Codes  []string // screening population, highest risk first is not implied
	Focus  string   // the company with a full profile and guarantee graph
	// ReportCompany is a company of a small generated region (raw department
	// tables in a store of its own) that CompanyRep is bound to too: its credit
	// reports have real sections. ReportPenalty is the decision number of one of
	// its penalties.
	ReportCompany, ReportPenalty string
	// JointLabels is a label file of 2,000 of the bank's loans over the joint
	// region (EnvOptions.Joint).
	JointLabels *jointtest.Labels
	// Warned are the warnings open in the region: firings of three rules over
	// the screening population, applied to the real warning store at 2025-12-31.
	Warned []warnings.Firing
}

// EnvOptions tunes NewEnv.
type EnvOptions struct {
	// DataDir is the shared data folder. Default: ../shared/data from the module root.
	DataDir string
	// DataSets names the public data sets offered as samples. Default lightgbm-binary.
	DataSets []string
	// Now is the console clock. Nil means time.Now.
	Now func() time.Time
	// ScreeningStep is the delay per tenth of a screening. Default 30ms.
	ScreeningStep time.Duration
	// FinancingNow is the financing loop's clock. Nil means time.Now.
	FinancingNow func() time.Time
	// Joint generates a region of 4,000 companies into the registry's store,
	// materializes the pd set and connects joint modelling; Env.JointLabels is
	// a label file of the bank's over it. Default false (a few seconds more).
	Joint bool
}

// ModuleRoot returns the folder holding go.mod, found from this source file.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// DataDir returns the shared data folder, skipping the test when it is absent.
func DataDir(t testing.TB) string {
	d := filepath.Join(ModuleRoot(), "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(d, "lightgbm-binary", "binary.train")); err != nil {
		t.Skipf("shared data folder %s is absent: %v", d, err)
	}
	return d
}

// Code returns the i-th company code of the test region (上虞, division 330604),
// with both check characters computed by creditcode.
func Code(t testing.TB, i int) string {
	c, err := creditcode.New('9', '1', "330604", fmt.Sprintf("%08d", 31415926+i*7919))
	if err != nil {
		t.Fatalf("company code %d: %v", i, err)
	}
	return c
}

// ShortNames are the short names the fixture's companies go by (on the
// guarantee graph, for instance): data, shown as they are in either language.
func ShortNames() []string { return slices.Clone(companyNames) }

var companyNames = []string{"卧龙电气", "晶盛机电", "闰土化工", "龙盛纺织", "盛达五金", "华宇塑业", "越秀食品", "曹娥印染", "舜江建材", "东关物流"}

// NewEnv builds the environment; everything it opens is closed by t.Cleanup.
func NewEnv(t testing.TB, o EnvOptions) *Env {
	t.Helper()
	ctx := context.Background()
	if o.DataDir == "" {
		o.DataDir = DataDir(t)
	}
	if len(o.DataSets) == 0 {
		o.DataSets = []string{"lightgbm-binary"}
	}
	if o.ScreeningStep == 0 {
		o.ScreeningStep = 30 * time.Millisecond
	}
	e := &Env{Keys: map[string]string{}}
	db := metadbtest.SQLite(t)
	log, err := audit.Open(ctx, db, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.Audit = log
	e.SMS = &Outbox{}
	if e.Access, err = xaccess.Open(ctx, db, xaccess.Options{Audit: log, Contacts: Contacts{}, Sender: e.SMS}); err != nil {
		t.Fatal(err)
	}
	bank, err := e.Access.CreateInstitution(ctx, "setup", BankName, xaccess.KindBank)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := e.Access.CreateInstitution(ctx, "setup", RegName, xaccess.KindRegulator)
	if err != nil {
		t.Fatal(err)
	}
	e.BankID = bank.ID
	platform, err := e.Access.CreateInstitution(ctx, "setup", "信易平台运维中心", xaccess.KindPlatform)
	if err != nil {
		t.Fatal(err)
	}
	firms, err := e.Access.CreateInstitution(ctx, "setup", CompanyName, xaccess.KindEnterprise)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Access.CreateInstitution(ctx, "setup", Bank2Name, xaccess.KindBank); err != nil {
		t.Fatal(err)
	}
	dept, err := e.Access.CreateInstitution(ctx, "setup", DeptName, xaccess.KindDepartment)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name  string
		inst  int64
		roles []xaccess.Role
	}{
		{Scientist, bank.ID, []xaccess.Role{xaccess.RoleDataScientist}},
		{Approver, bank.ID, []xaccess.Role{xaccess.RoleApprover, xaccess.RoleDataScientist}},
		{Approver2, bank.ID, []xaccess.Role{xaccess.RoleApprover}},
		{Regulator, reg.ID, []xaccess.Role{xaccess.RoleRegulator}},
		{Banker, bank.ID, []xaccess.Role{xaccess.RoleBank}},
		{Viewer, bank.ID, []xaccess.Role{xaccess.RoleLab}},
		{Operator, platform.ID, []xaccess.Role{xaccess.RoleAdmin}},
		{CompanyRep, firms.ID, []xaccess.Role{xaccess.RoleEnterprise}},
		{Staff, firms.ID, []xaccess.Role{xaccess.RoleEnterprise}},
		{Newcomer, firms.ID, []xaccess.Role{xaccess.RoleEnterprise}},
		{Enforcer, dept.ID, []xaccess.Role{xaccess.RoleDepartment}},
	} {
		usr, err := e.Access.CreateUser(ctx, "setup", u.name, u.inst, u.roles...)
		if err != nil {
			t.Fatal(err)
		}
		key, _, err := e.Access.IssueKey(ctx, "setup", usr.ID, "lab", 0)
		if err != nil {
			t.Fatal(err)
		}
		e.Keys[u.name] = key
	}
	auth := labaccess.New(e.Access, log)
	e.Auth = auth

	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var sets xregistry.FeatureSets = xregistry.StaticFeatureSets{"lightgbm-binary": {1: numbered("f", 0, 28)}, "breast-cancer": {1: numbered("Column_", 0, 30)}}
	sets = chainSets{sets, regfeatures.New(cat)}
	if e.Registry, err = xregistry.Open(ctx, db, blobs, sets, log, xregistry.Options{}); err != nil {
		t.Fatal(err)
	}
	e.Models = labregistry.New(e.Registry)
	var data []labtraining.DataSet
	for _, d := range labtraining.PublicDataSets(o.DataDir) {
		for _, n := range o.DataSets {
			if d.Name == n {
				data = append(data, d)
			}
		}
	}
	e.Trainer = labtraining.New(labtraining.Options{Data: data, Store: blobs, Catalog: cat, Models: e.Models, Threads: 2})
	t.Cleanup(func() { e.Trainer.Close() })

	var pop []Scored
	for i := range 40 {
		code := Code(t, i)
		e.Codes = append(e.Codes, code)
		// A fixed spread of probabilities: a few high, most low.
		p := math.Pow(float64((i*37)%40)/40, 3)
		pop = append(pop, Scored{Code: code, Name: fmt.Sprintf("上虞%s有限公司 %02d", companyNames[i%len(companyNames)], i), Probability: p,
			Reasons: []string{"近12个月行政处罚次数多", "社保欠费", "担保圈内有违约企业"}[:1+i%3]})
	}
	e.Screenings = &Screenings{Population: pop, Models: []string{"violation:champion", "violation:challenger"}, StepDelay: o.ScreeningStep}
	e.Focus = e.Codes[0]
	e.Companies = Companies{e.Focus: focusCompany(e.Codes)}
	rep, err := e.Access.UserByName(ctx, CompanyRep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Access.BindByOperator(ctx, "setup", rep.ID, e.Focus, "电子营业执照 licence 330604-0001"); err != nil {
		t.Fatal(err)
	}
	e.Portal = auth.Portal(e.Screenings)
	reps, cs, fin := reportsFixture(t, e, db, log, o.FinancingNow)

	e.Built = labfeatures.NewSamples(blobs, cat)
	t.Cleanup(func() { e.Built.Close() })
	// Alert delivery over the real endpoint and subscription stores (loopback
	// endpoints allowed, as a test's operator would).
	eps, err := webhooks.OpenEndpoints(ctx, db, webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, InsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	wstore, err := warnings.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	wsubs, err := warnings.OpenSubscriptions(ctx, db, warnings.SubscriptionOptions{Consent: e.Access, Endpoints: eps})
	if err != nil {
		t.Fatal(err)
	}
	// Open warnings over the population: a red, a yellow or a blue rule by
	// company, spread over the generated region's districts and three sections.
	rules := []struct {
		id  string
		sev warnings.Severity
	}{{"tax.arrears.large", warnings.Red}, {"tax.arrears.new", warnings.Yellow}, {"tax.sales.falling", warnings.Blue}}
	districts := datasets.Districts()
	for i, code := range e.Codes {
		r := rules[(i/2)%3]
		e.Warned = append(e.Warned, warnings.Firing{Rule: r.id, Severity: r.sev, Area: "tax", Company: code,
			District: districts[i%len(districts)].Code, Industry: []string{"C", "F", "E"}[i%3],
			Evidence: warnings.Evidence{AsOf: "2025-12-31", Values: []warnings.Value{{Name: "tax.arrears.max_12m", Now: float64(i)}}}})
	}
	if _, err := wstore.Apply(ctx, &warnings.Evaluation{AsOf: "2025-12-31", Version: "labtest", Companies: len(e.Codes), Firings: e.Warned}); err != nil {
		t.Fatal(err)
	}
	wlib, err := warnings.DefaultLibrary()
	if err != nil {
		t.Fatal(err)
	}
	popNames := map[string]string{}
	for _, s := range pop {
		popNames[s.Code] = s.Name
	}
	regionWarnings := labserving.NewRegionWarnings(wstore, wlib, func(code string) string { return popNames[code] })
	subs := labserving.NewSubscriptions(eps, wsubs, portfolio.Sources{Consents: e.Access, Warnings: wstore, Runs: scores.NewReader(blobs, 0),
		Manifests: func(ctx context.Context) ([]*scores.Manifest, error) { return scores.Runs(ctx, blobs) }}, auth, nil)
	var jointOpt lab.Joint
	if o.Joint {
		if e.JointLabels, err = jointtest.Region(ctx, blobs, 4000, 2000); err != nil {
			t.Fatal(err)
		}
		svc, err := xjoint.New(xjoint.Options{Store: blobs, Registry: e.Registry, Consents: e.Access, Authorizer: xaccess.NewAuthorizer(e.Access, log),
			PseudonymKey: []byte("labtest pseudonym key, 32 bytes+"), Catalog: cat, Threads: 2,
			// A small region's test split has deciles of some 37 rows: the
			// platform's policy is a setting, looser here than its default.
			Release: training.ReleaseOptions{MinCellRows: 30, MinCellPositives: 5}})
		if err != nil {
			t.Fatal(err)
		}
		if jointOpt, err = labjoint.New(svc, labjoint.Options{Catalog: cat, Rounds: 80}); err != nil {
			t.Fatal(err)
		}
	}
	e.Server, err = lab.New(lab.Options{Joint: jointOpt, Auth: auth, Authorizer: auth, Indicators: labfeatures.NewIndicators(cat), Statistics: Fixtures(),
		Samples: lab.JoinSamples{e.Trainer, e.Built}, Builder: e.Built, Trainer: e.Trainer, Models: e.Models, FeatureSets: e.Models, Drift: labserving.NewDrift(DriftReport, cat), Screenings: e.Screenings, Companies: e.Companies, Jobs: Jobs(), Sources: Sources(), Risk: RiskFixture{}, Portal: e.Portal, ConsentAsks: e.Portal,
		Portfolio: &PortfolioFixture{Codes: e.Codes}, RegionWarnings: regionWarnings, Subscriptions: subs, Reports: reps, Cases: cs, Financing: fin, Now: o.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/lab/", e.Server)
	e.Handler = mux
	return e
}

// chainSets asks each feature-set source in turn.
type chainSets []xregistry.FeatureSets

func (c chainSets) FeatureSet(ctx context.Context, ref features.SetRef) (features.SetRef, []string, error) {
	var err error
	for _, s := range c {
		var got features.SetRef
		var cols []string
		if got, cols, err = s.FeatureSet(ctx, ref); err == nil {
			return got, cols, nil
		}
	}
	return features.SetRef{}, nil, err
}

// Known says whether an id is a catalog indicator (registry.IndicatorCatalog).
func (c chainSets) Known(id string) bool {
	for _, s := range c {
		if ic, ok := s.(xregistry.IndicatorCatalog); ok && ic.Known(id) {
			return true
		}
	}
	return false
}

// Definitions lists the built-in sets of every source (registry.BuiltInSets).
func (c chainSets) Definitions() []features.SetDefinition {
	var out []features.SetDefinition
	for _, s := range c {
		if b, ok := s.(xregistry.BuiltInSets); ok {
			out = append(out, b.Definitions()...)
		}
	}
	return out
}

// Principal signs user in through access control, as the console does.
func (e *Env) Principal(t testing.TB, user string) lab.Principal {
	t.Helper()
	p, err := e.Auth.Authenticate(context.Background(), e.Keys[user])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func numbered(prefix string, from, to int) []string {
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

// PublicIndicator is a public indicator of the catalog with fixture statistics;
// ConfidentialIndicator a confidential one.
const (
	PublicIndicator       = "court.amount.count_12m"
	ConfidentialIndicator = "tax.sales.sum_12m"
)

// Fixtures returns fixed statistics for PublicIndicator and ConfidentialIndicator.
func Fixtures() Statistics {
	return Statistics{
		PublicIndicator: {AsOf: "2025-12-31", Coverage: 0.62, Companies: 118452,
			Histogram: []svg.Bin{{Lo: 0, Hi: 1, Count: 45012}, {Lo: 1, Hi: 2, Count: 17320}, {Lo: 2, Hi: 3, Count: 6410}, {Lo: 3, Hi: 5, Count: 3120}, {Lo: 5, Hi: 10, Count: 1034}},
			Power:     []lab.Power{{Label: "default_12m", IV: 0.21, AUC: 0.61}, {Label: "violation_12m", IV: 0.34, AUC: 0.66}},
			PSI:       []lab.PSIPoint{{AsOf: "2025-06-30", PSI: 0.01}, {AsOf: "2025-09-30", PSI: 0.03}, {AsOf: "2025-12-31", PSI: 0.08}},
			Industry: []lab.IndustryMean{{Industry: "C", Name: "制造业", NameEN: "Manufacturing", Mean: 0.9, Count: 40210},
				{Industry: "F", Name: "批发和零售业", NameEN: "Wholesale and retail trades", Mean: 0.6, Count: 30112}, {Industry: "E", Name: "建筑业", NameEN: "Construction", Mean: 1.4, Count: 9120}}},
		ConfidentialIndicator: {AsOf: "2025-12-31", Coverage: 0.91, Companies: 118452,
			Histogram: []svg.Bin{{Lo: 0, Hi: 1e6, Count: 60000}, {Lo: 1e6, Hi: 1e7, Count: 40000}, {Lo: 1e7, Hi: 1e8, Count: 7000}}},
	}
}

func focusCompany(codes []string) lab.Company {
	nan := math.NaN()
	c := lab.Company{Code: codes[0], Name: "上虞卧龙电气有限公司 00", Industry: "制造业 C38 电气机械", IndustryEN: "C38 Manufacture of electrical machinery and equipment",
		Region: "浙江省绍兴市上虞区", RegionEN: "Shangyu District, Shaoxing, Zhejiang", Late: []lab.SourceName{{Name: "tax", NameZH: "税务"}}, AsOf: "2025-12-31",
		PD: 0.083, Rating: "B", Colour: "yellow", Limit: 3500000,
		Reasons: []lab.Reason{{Code: "R12", TextZH: "担保圈内有违约企业", TextEN: "a guarantee-circle member defaulted", Impact: 0.42},
			{Code: "R03", TextZH: "近12个月纳税额下降", TextEN: "tax paid fell over 12 months", Impact: 0.31},
			{Code: "R20", TextZH: "社保参保人数稳定", TextEN: "insured headcount is stable", Impact: -0.12}},
		Dimensions: []lab.DimensionValues{
			{Dimension: "operating", Indicators: []lab.IndicatorValue{{ID: "tax.sales.sum_12m", NameZH: "近12个月开票销售额合计", NameEN: "invoiced sales, 12 months", Unit: "元", Value: 48200000, IndustryMean: 36100000}}},
			{Dimension: "compliance", Indicators: []lab.IndicatorValue{{ID: PublicIndicator, NameZH: "近12个月涉诉案件数", NameEN: "court cases, 12 months", Value: 2, IndustryMean: 0.9}, {ID: "penalty.count_12m", NameZH: "近12个月行政处罚次数", NameEN: "penalties, 12 months", Value: 0, IndustryMean: nan}}},
		},
		Graph: svg.Graph{Nodes: []svg.Node{{ID: codes[0], Label: "卧龙电气", Focus: true, Color: svg.ColorYellow}}},
	}
	for i, pd := range []float64{0.05, 0.052, 0.055, 0.06, 0.058, 0.064, 0.07, 0.071, 0.075, 0.08, 0.079, 0.083} {
		c.History = append(c.History, lab.ScorePoint{Month: fmt.Sprintf("2025-%02d", i+1), PD: pd})
	}
	neighbours := []struct {
		i      int
		label  string
		color  string
		toward bool
	}{{3, "闰土化工", svg.ColorRed, true}, {5, "华宇塑业", svg.ColorGreen, false}, {7, "曹娥印染", svg.ColorOrange, true}, {9, "东关物流", svg.ColorGreen, false}, {11, "晶盛机电", svg.ColorGreen, true}}
	for _, n := range neighbours {
		c.Graph.Nodes = append(c.Graph.Nodes, svg.Node{ID: codes[n.i], Label: n.label, Color: n.color})
		e := svg.Edge{From: codes[n.i], To: codes[0], Label: "担保 guarantee"}
		if !n.toward {
			e.From, e.To = codes[0], codes[n.i]
		}
		c.Graph.Edges = append(c.Graph.Edges, e)
	}
	c.Graph.Edges = append(c.Graph.Edges, svg.Edge{From: codes[3], To: codes[7], Label: "担保 guarantee"})
	return c
}

// reportsFixture is the credit report and case services over a generated region
// of 60 companies × 13 months; CompanyRep is bound to its first company with a
// penalty, and Enforcer's department owns the penalty source.
func reportsFixture(t testing.TB, e *Env, db *metadb.DB, log *audit.Log, finNow func() time.Time) (lab.Reports, lab.Cases, lab.Financing) {
	t.Helper()
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: 60, Months: 13, Seed: 5, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	dir, err := datasets.LoadDirectory(ctx, store, datasets.DayOf(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	records := cases.RawRecords{Store: store}
	if err := records.Each(ctx, "penalty", func(f cases.Fact) error {
		if e.ReportCompany == "" {
			e.ReportCompany, e.ReportPenalty = f.Company, f.Ref.Key["penalty_id"]
		}
		return nil
	}); err != nil || e.ReportCompany == "" {
		t.Fatalf("no penalty in the generated region: %v", err)
	}
	rep, err := e.Access.UserByName(ctx, CompanyRep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Access.BindByOperator(ctx, "setup", rep.ID, e.ReportCompany, "电子营业执照 licence 330604-0002"); err != nil {
		t.Fatal(err)
	}
	key, err := reports.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := reports.Open(ctx, db, reports.Options{Store: store, Signer: key, Authorizer: xaccess.NewAuthorizer(e.Access, log), Audit: log,
		BaseURL: "https://xinyi.example"})
	if err != nil {
		t.Fatal(err)
	}
	cstore, err := cases.OpenStore(ctx, db, log)
	if err != nil {
		t.Fatal(err)
	}
	deptInst, err := e.Access.InstitutionByName(ctx, DeptName)
	if err != nil {
		t.Fatal(err)
	}
	csvc, err := cases.New(cases.Options{Store: cstore, Ingest: ingest.New(store), Records: records, Authorizer: xaccess.NewAuthorizer(e.Access, log),
		Audit: log, Owner: func(_ context.Context, source string) (int64, error) {
			if source == "penalty" {
				return deptInst.ID, nil
			}
			return 0, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	names := func(code string) string { r, _ := dir.Company(code); return r.Name }
	// Financing over the same region, with a fixed assessment (serving's own is
	// tested where it is built) and one product of the bank.
	fst, err := financing.Open(ctx, db, financing.Options{Authorizer: xaccess.NewAuthorizer(e.Access, log), Audit: log,
		Consents: financing.AccessConsents(e.Access), Assessor: fixedAssessor{}, Directory: financing.RegistryDirectory(dir), Blob: store, Now: finNow})
	if err != nil {
		t.Fatal(err)
	}
	banker, err := e.Access.Authenticate(ctx, e.Keys[Banker])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := fst.CreateProduct(ctx, banker, financing.ProductInput{Name: "经营快贷", Rule: `amount <= 2000000 && rating in ["A", "B", "C"]`,
		LimitCap: 2_000_000, MaxTerm: 36, Rate: 0.045}); err != nil {
		t.Fatal(err)
	}
	fin := labserving.NewFinancing(fst, e.Access, names)
	fin.Now = finNow
	fin.District = func(code string) string {
		for _, c := range dir.Codes() {
			if r, _ := dir.Company(c); r.District == code {
				return r.DistrictName
			}
		}
		return ""
	}
	return labserving.NewReports(svc), labserving.NewCaseRecords(labserving.NewCases(csvc, names), records, xaccess.NewAuthorizer(e.Access, log)), fin
}

// fixedAssessor answers every company with the same assessment.
type fixedAssessor struct{}

func (fixedAssessor) Assess(context.Context, xaccess.Principal, string) (financing.Assessment, error) {
	return financing.Assessment{PD: 0.032, Rating: "B", Colour: "green", Limit: 3_500_000, PolicyVersion: "2026.1",
		Models:    []string{"pd:xinyi-pd/3"},
		Reasons:   []string{"tax_arrears", "guarantee_circle"},
		ReasonsZH: []string{"近 12 个月有 1 次欠税记录", "所在担保圈有 1 家企业逾期"},
		ReasonsEN: []string{"one tax arrears record in the last 12 months", "a firm in its guarantee circle is overdue"}}, nil
}
