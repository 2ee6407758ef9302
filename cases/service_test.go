package cases_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/cases"
	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	ingesthttp "github.com/xinyi-platform/xinyi/datasets/ingest/httpapi"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// The fixture penalties and court listing the tests add to a generated universe
// (24 months from 2023-01), each arriving two days after its decision.
const (
	penRepair   = "绍市监罚〔2024〕11号"    // company A, fine (general), 2024-03-05: repairable from 2024-06-05 to 2025-03-05
	penEarly    = "绍市监罚〔2024〕95号"    // company A, fine (general), 2024-09-01: repairable only from 2024-12-01
	penDisputed = "绍市监罚〔2024〕42号"    // company B, confiscation (general), 2024-05-10, 5,000 yuan
	penExpired  = "绍市监罚〔2023〕07号"    // company B, fine (general), 2023-06-01: publicity ended 2024-06-01
	courtCase   = "(2024)浙0602执123号" // company A, dishonest-debtor listing
)

// now is the day the tests act on: 10:00 China Standard Time, 2024-10-15.
var now = time.Date(2024, 10, 15, 2, 0, 0, 0, time.UTC)

type env struct {
	ctx      context.Context
	blobs    blob.Store
	log      *audit.Log
	acc      *access.Store
	store    *cases.Store
	svc      *cases.Service
	clock    time.Time
	a, b     string // company codes
	compA    access.Principal
	compB    access.Principal
	unbound  access.Principal
	dept     access.Principal // the market regulator's department (owns penalty)
	dept2    access.Principal
	court    access.Principal // the court (owns court)
	auth1    access.Principal // the credit authority
	auth2    access.Principal
	refreshs []string
}

func (e *env) Refresh(_ context.Context, company, source string, from time.Time) error {
	e.refreshs = append(e.refreshs, company+"/"+source+"/"+from.Format(time.DateOnly))
	return nil
}

var universe struct {
	dir string
}

// newEnv generates a small universe (once per test binary, copied per test),
// adds the fixtures and opens the case service on SQLite.
func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("generates a universe")
	}
	ctx := context.Background()
	blobs, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts := datasets.DefaultGenerateOptions()
	opts.Companies, opts.Months, opts.Start = 200, 24, datasets.Month(2023*12)
	if _, err := datasets.Generate(ctx, blobs, opts); err != nil {
		t.Fatal(err)
	}
	src, _ := datasets.SourceByName(datasets.SourceCompanies)
	comps, err := datasets.ReadMonth[datasets.CompanyRow](ctx, blobs, src, opts.Start)
	if err != nil || len(comps) < 2 {
		t.Fatalf("companies: %v (%d)", err, len(comps))
	}
	e := &env{ctx: ctx, blobs: blobs, clock: now, a: comps[0].Code, b: comps[1].Code}
	g := ingest.New(blobs)
	deliver := func(source, header, line, day string) {
		t.Helper()
		at, _ := time.Parse(time.DateOnly, day)
		_, err := g.Ingest(ctx, source, []ingest.Input{{Name: "fixture.csv", R: strings.NewReader(header + "\n" + line + "\n")}},
			ingest.Options{Now: func() time.Time { return at.Add(2 * time.Hour) }, MaxBad: -1})
		if err != nil {
			t.Fatalf("fixture %s: %v", line, err)
		}
	}
	const penHeader = "code,event_date,penalty_id,department,severity,amount"
	deliver("penalty", penHeader, e.a+",2024-03-05,"+penRepair+",绍兴市市场监管局,2,20000", "2024-03-07")
	deliver("penalty", penHeader, e.a+",2024-09-01,"+penEarly+",绍兴市市场监管局,2,3000", "2024-09-03")
	deliver("penalty", penHeader, e.b+",2024-05-10,"+penDisputed+",绍兴市市场监管局,3,5000", "2024-05-12")
	deliver("penalty", penHeader, e.b+",2023-06-01,"+penExpired+",绍兴市市场监管局,2,800", "2023-06-03")
	deliver("court", "code,event_date,case_id,role,case_type,amount,stage,enforcement,dishonest,restricted",
		e.a+",2024-04-02,"+courtCase+",defendant,loan,120000,enforcement,true,true,true", "2024-04-04")

	db := metadbtest.SQLite(t)
	e.acc, e.log = accesstest.Open(t, db)
	e.compA = company(t, e.acc, "ent-a", e.a)
	e.compB = company(t, e.acc, "ent-b", e.b)
	_, e.unbound = accesstest.User(t, e.acc, "enterprises", access.KindEnterprise, "ent-unbound", access.RoleEnterprise)
	_, e.dept = accesstest.User(t, e.acc, "market-regulation", access.KindDepartment, "mr-1", access.RoleDepartment)
	_, e.dept2 = accesstest.User(t, e.acc, "market-regulation", access.KindDepartment, "mr-2", access.RoleDepartment)
	_, e.court = accesstest.User(t, e.acc, "court", access.KindDepartment, "court-1", access.RoleDepartment)
	_, e.auth1 = accesstest.User(t, e.acc, "credit-office", access.KindRegulator, "credit-1", access.RoleRegulator)
	_, e.auth2 = accesstest.User(t, e.acc, "credit-office", access.KindRegulator, "credit-2", access.RoleRegulator)
	if e.store, err = cases.OpenStore(ctx, db, e.log); err != nil {
		t.Fatal(err)
	}
	e.svc, err = cases.New(cases.Options{Store: e.store, Ingest: g, Records: cases.RawRecords{Store: blobs},
		Authorizer: access.NewAuthorizer(e.acc, e.log), Audit: e.log,
		Owner:     ingesthttp.OwnersByName(e.acc, map[string]string{"penalty": "market-regulation", "court": "court"}),
		Refresher: e, Now: func() time.Time { return e.clock }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// company signs in an enterprise account bound to code by an operator.
func company(t *testing.T, acc *access.Store, user, code string) access.Principal {
	t.Helper()
	_, p := accesstest.User(t, acc, "enterprises", access.KindEnterprise, user, access.RoleEnterprise)
	if _, err := acc.BindByOperator(context.Background(), "operator", p.UserID, code, "电子营业执照 verified"); err != nil {
		t.Fatal(err)
	}
	return p
}

func penalty(id string) cases.RecordRef {
	return cases.RecordRef{Source: "penalty", Key: map[string]string{"penalty_id": id}}
}

// snapshot materializes the full set as of days and returns each day's
// snapshot.
func (e *env) snapshot(t *testing.T, days ...string) []*features.Snapshot {
	t.Helper()
	var asof []time.Time
	for _, d := range days {
		at, _ := time.Parse(time.DateOnly, d)
		asof = append(asof, at)
	}
	if _, err := features.Materialize(e.ctx, e.blobs, features.Options{Set: "full", AsOf: asof, Force: true, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	var out []*features.Snapshot
	for _, d := range asof {
		s, _, err := features.ReadSnapshot(e.ctx, e.blobs, "full", 1, features.DayOf(d))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func value(t *testing.T, s *features.Snapshot, code, indicator string) float64 {
	t.Helper()
	ci, ni := slices.Index(s.Codes, code), slices.Index(s.Names, indicator)
	if ci < 0 || ni < 0 {
		t.Fatalf("company %s or indicator %s missing", code, indicator)
	}
	return s.Values[ci*len(s.Names)+ni]
}

// sameBits checks two snapshots hold the same companies, indicators and values,
// bit for bit.
func sameBits(t *testing.T, what string, a, b *features.Snapshot) {
	t.Helper()
	if !slices.Equal(a.Codes, b.Codes) || !slices.Equal(a.Names, b.Names) || len(a.Values) != len(b.Values) {
		t.Fatalf("%s: the snapshots differ in shape", what)
	}
	for i := range a.Values {
		if math.Float64bits(a.Values[i]) != math.Float64bits(b.Values[i]) {
			t.Fatalf("%s: %s %s was %v, now %v", what, a.Codes[i/len(a.Names)], a.Names[i%len(a.Names)], a.Values[i], b.Values[i])
		}
	}
}

// auditActions lists the actions of subject's audit records, oldest first.
func (e *env) auditActions(t *testing.T, subject string) []string {
	t.Helper()
	recs, err := e.log.List(e.ctx, audit.Filter{Subject: subject})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(recs) - 1; i >= 0; i-- {
		a := recs[i].Action
		if recs[i].Outcome == audit.OutcomeRefused {
			a += "!"
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

func TestObjectionRoundTrip(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot(t, "2024-10-14", "2024-10-31")

	c, err := e.svc.Object(e.ctx, e.compB, cases.Objection{Company: e.b, Record: penalty(penDisputed),
		Statement: "没收违法所得为 2,000 元，不是 5,000 元"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Deadline, now.AddDate(0, 0, 15); !got.Equal(want) || c.State != cases.StateReview || c.Original["amount"] != "5000" {
		t.Fatalf("opened case: deadline %v (want %v), state %s, original %v", got, want, c.State, c.Original)
	}
	d, err := e.svc.Disputed(e.ctx, e.b)
	if err != nil || len(d) != 1 || d[0].Record.Key["penalty_id"] != penDisputed || d[0].Case != c.ID {
		t.Fatalf("disputed while under review: %+v %v", d, err)
	}
	// The company cannot decide its own case; another department cannot either.
	if _, err := e.svc.Correct(e.ctx, e.compB, c.ID, map[string]string{"amount": "2000"}, ""); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("company corrects: %v", err)
	}
	if _, err := e.svc.Correct(e.ctx, e.court, c.ID, map[string]string{"amount": "2000"}, ""); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("court corrects a penalty: %v", err)
	}
	c, err = e.svc.Correct(e.ctx, e.dept, c.ID, map[string]string{"amount": "2000"}, "核实后更正")
	if err != nil {
		t.Fatal(err)
	}
	if c.State != cases.StateCorrected || !c.DecidedAt.Equal(now) || c.Steps[1].Batch == "" {
		t.Fatalf("decided case: %+v", c)
	}
	if d, _ := e.svc.Disputed(e.ctx, e.b); len(d) != 0 {
		t.Fatalf("still disputed after the decision: %+v", d)
	}
	// The original stays in the history; the correction is revision 1, arriving
	// on the decision day.
	src, _ := datasets.SourceByName(datasets.SourcePenalty)
	rows, err := datasets.ReadMonth[datasets.PenaltyRow](e.ctx, e.blobs, src, datasets.MonthOf(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	var history []string
	for _, r := range rows {
		if r.PenaltyID == penDisputed {
			history = append(history, fmt.Sprintf("rev %d arrived %s: %.0f", r.Revision, r.ArrivalDate, r.Amount))
		}
	}
	slices.Sort(history)
	if want := []string{"rev 0 arrived 2024-05-12: 5000", "rev 1 arrived 2024-10-15: 2000"}; !slices.Equal(history, want) {
		t.Fatalf("history %v, want %v", history, want)
	}

	after := e.snapshot(t, "2024-10-14", "2024-10-31")
	sameBits(t, "as of the day before the decision", before[0], after[0])
	const ind = "penalty.amount.sum_24m"
	if got, want := value(t, after[1], e.b, ind)-value(t, before[1], e.b, ind), -3000.0; got != want {
		t.Errorf("%s of B as of 2024-10-31 moved by %v, want %v", ind, got, want)
	}
	if got, want := e.refreshs, []string{e.b + "/penalty/2024-10-15"}; !slices.Equal(got, want) {
		t.Errorf("recomputation asked for %v, want %v", got, want)
	}
	if got, want := e.auditActions(t, fmt.Sprintf("case:%d", c.ID)),
		[]string{"case.objection.correct", "case.objection.correct!", "case.objection.correct!", "case.objection.open"}; !slices.Equal(got, want) {
		t.Errorf("audit of the case %v, want %v", got, want)
	}
}

func TestObjectionRefusals(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		p    access.Principal
		o    cases.Objection
		want error
	}{
		{"another company's record", e.compA, cases.Objection{Company: e.a, Record: penalty(penDisputed), Statement: "x"}, cases.ErrNotOwnRecord},
		{"a code not the account's own", e.compA, cases.Objection{Company: e.b, Record: penalty(penDisputed), Statement: "x"}, access.ErrNotBound},
		{"an account not bound", e.unbound, cases.Objection{Company: e.a, Record: penalty(penRepair), Statement: "x"}, access.ErrNotBound},
		{"a department", e.dept, cases.Objection{Company: e.a, Record: penalty(penRepair), Statement: "x"}, access.ErrForbidden},
		{"unknown record", e.compA, cases.Objection{Company: e.a, Record: penalty("绍市监罚〔1999〕1号"), Statement: "x"}, cases.ErrUnknownRecord},
		{"unknown source", e.compA, cases.Objection{Company: e.a, Record: cases.RecordRef{Source: "weather", Key: map[string]string{"id": "1"}}, Statement: "x"}, cases.ErrInvalid},
		{"wrong key column", e.compA, cases.Objection{Company: e.a, Record: cases.RecordRef{Source: "penalty", Key: map[string]string{"case_id": "1"}}, Statement: "x"}, cases.ErrInvalid},
		{"bad company code", e.compA, cases.Objection{Company: "91330000000000000X", Record: penalty(penRepair), Statement: "x"}, cases.ErrInvalid},
		{"no statement", e.compA, cases.Objection{Company: e.a, Record: penalty(penRepair), Statement: "  "}, cases.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Object(e.ctx, tt.p, tt.o)
			if !errors.Is(err, tt.want) || !access.Audited(err) {
				t.Fatalf("got %v (audited %v), want %v, audited", err, access.Audited(err), tt.want)
			}
			if strings.Contains(err.Error(), "20000") || (tt.want == cases.ErrNotOwnRecord && strings.Contains(err.Error(), e.b)) {
				t.Errorf("the refusal tells of the other company's record: %v", err)
			}
		})
	}
	for _, code := range []string{e.a, e.b} {
		if d, err := e.svc.Disputed(e.ctx, code); err != nil || len(d) != 0 {
			t.Fatalf("refusals changed something: %+v %v", d, err)
		}
	}
	if cs, err := e.store.List(e.ctx, cases.Filter{}); err != nil || len(cs) != 0 {
		t.Fatalf("refusals stored cases: %d %v", len(cs), err)
	}
	// One open objection per record; withdrawn, the record is no longer disputed
	// and may be disputed again.
	c, err := e.svc.Object(e.ctx, e.compA, cases.Objection{Company: e.a, Record: penalty(penRepair), Statement: "金额有误"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Object(e.ctx, e.compA, cases.Objection{Company: e.a, Record: penalty(penRepair), Statement: "again"}); !errors.Is(err, cases.ErrState) {
		t.Fatalf("second open objection: %v", err)
	}
	if _, err := e.svc.Withdraw(e.ctx, e.compB, c.ID, ""); !errors.Is(err, access.ErrNotBound) {
		t.Fatalf("another company withdraws: %v", err)
	}
	if _, err := e.svc.Reject(e.ctx, e.dept, c.ID, ""); !errors.Is(err, cases.ErrInvalid) {
		t.Fatalf("rejection without reasons: %v", err)
	}
	if _, err := e.svc.Correct(e.ctx, e.dept, c.ID, map[string]string{"penalty_id": "X"}, ""); !errors.Is(err, cases.ErrInvalid) {
		t.Fatalf("correcting the key: %v", err)
	}
	if _, err := e.svc.Correct(e.ctx, e.dept, c.ID, map[string]string{"amount": "20000"}, ""); !errors.Is(err, cases.ErrInvalid) {
		t.Fatalf("a correction equal to the record: %v", err)
	}
	if _, err := e.svc.Correct(e.ctx, e.dept, c.ID, map[string]string{"severity": "9"}, ""); !errors.Is(err, cases.ErrInvalid) {
		t.Fatalf("a correction the contract refuses: %v", err)
	}
	if w, err := e.svc.Withdraw(e.ctx, e.compA, c.ID, "已与执法部门沟通"); err != nil || w.State != cases.StateWithdrawn {
		t.Fatalf("withdraw: %v", err)
	}
	if _, err := e.svc.Reject(e.ctx, e.dept, c.ID, "无误"); !errors.Is(err, cases.ErrState) {
		t.Fatalf("rejecting a withdrawn case: %v", err)
	}
	if d, _ := e.svc.Disputed(e.ctx, e.a); len(d) != 0 {
		t.Fatalf("withdrawn but disputed: %+v", d)
	}
	f, err := cases.RawRecords{Store: e.blobs}.Fact(e.ctx, penalty(penRepair))
	if err != nil || f.Revision != 0 || f.Values["amount"] != "20000" {
		t.Fatalf("the refused corrections changed the record: %+v %v", f, err)
	}
	// A department sets its own deadline; a rejection ends the case with reasons.
	c, err = e.svc.Object(e.ctx, e.compA, cases.Objection{Company: e.a, Record: penalty(penRepair), Statement: "金额有误"})
	if err != nil {
		t.Fatal(err)
	}
	later := now.AddDate(0, 0, 30)
	if c, err = e.svc.SetDeadline(e.ctx, e.dept, c.ID, later, "需调取案卷"); err != nil || !c.Deadline.Equal(later) {
		t.Fatalf("deadline: %v %v", err, c)
	}
	if _, err := e.svc.SetDeadline(e.ctx, e.dept, c.ID, now.AddDate(0, 0, -1), ""); !errors.Is(err, cases.ErrInvalid) {
		t.Fatalf("a deadline in the past: %v", err)
	}
	e.clock = later.Add(time.Minute)
	if q, err := e.svc.List(e.ctx, e.dept, cases.ListRequest{Queue: cases.QueueReview, Open: true}); err != nil || len(q) != 1 || !q[0].Late {
		t.Fatalf("past its deadline the case is not shown overdue: %v", err)
	}
	if c, err = e.svc.Reject(e.ctx, e.dept2, c.ID, "处罚决定书载明金额为 20,000 元"); err != nil || c.State != cases.StateRejected {
		t.Fatalf("reject: %v", err)
	}
}

func TestRepair(t *testing.T) {
	e := newEnv(t)
	apply := func(p access.Principal, code, id string) (*cases.Case, error) {
		return e.svc.Apply(e.ctx, p, cases.Application{Company: code, Record: penalty(id), Fulfilled: true,
			Evidence: "罚款已于 2024-03-20 缴清（缴款书 3306-0001）", Commitment: "本企业承诺依法诚信经营，如有失信行为自愿接受惩戒。"})
	}
	refusals := []struct {
		name string
		p    access.Principal
		code string
		ref  cases.RecordRef
		want error
	}{
		{"before the minimum period", e.compA, e.a, penalty(penEarly), cases.ErrPeriod},
		{"after the maximum period (expired)", e.compB, e.b, penalty(penExpired), cases.ErrPeriod},
		{"court dishonest-debtor listing", e.compA, e.a, cases.RecordRef{Source: "court", Key: map[string]string{"case_id": courtCase}}, cases.ErrNotRepairable},
		{"another company's record", e.compB, e.b, penalty(penRepair), cases.ErrNotOwnRecord},
		{"unknown record", e.compA, e.a, penalty("nope"), cases.ErrUnknownRecord},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Apply(e.ctx, tt.p, cases.Application{Company: tt.code, Record: tt.ref, Fulfilled: true, Evidence: "paid", Commitment: "承诺"})
			if !errors.Is(err, tt.want) || !access.Audited(err) {
				t.Fatalf("got %v, want %v, audited", err, tt.want)
			}
		})
	}
	if _, err := e.svc.Apply(e.ctx, e.compA, cases.Application{Company: e.a, Record: penalty(penRepair), Fulfilled: true, Evidence: "paid"}); !errors.Is(err, cases.ErrInvalid) {
		t.Fatalf("no commitment: %v", err)
	}
	if _, err := e.svc.Apply(e.ctx, e.compA, cases.Application{Company: e.a, Record: penalty(penRepair), Evidence: "paid", Commitment: "承诺"}); !errors.Is(err, cases.ErrInvalid) {
		t.Fatalf("obligations not fulfilled: %v", err)
	}
	if cs, _ := e.store.List(e.ctx, cases.Filter{}); len(cs) != 0 {
		t.Fatalf("refusals stored %d cases", len(cs))
	}

	before := e.snapshot(t, "2024-10-14", "2024-10-15")
	c, err := apply(e.compA, e.a, penRepair)
	if err != nil {
		t.Fatal(err)
	}
	want := cases.Repair{Fulfilled: true, Class: "general", RulesVersion: e.svc.Rules().Version,
		RepairFrom: time.Date(2024, 6, 5, 0, 0, 0, 0, time.UTC), Until: time.Date(2025, 3, 5, 0, 0, 0, 0, time.UTC)}
	if got := *c.Repair; got.Class != want.Class || got.RulesVersion != want.RulesVersion || !got.RepairFrom.Equal(want.RepairFrom) ||
		!got.Until.Equal(want.Until) || !strings.Contains(got.Commitment, "诚信经营") {
		t.Fatalf("terms %+v, want %+v", got, want)
	}
	// The authority cannot take the first step; the department cannot take the
	// second; the same person cannot take both.
	if _, err := e.svc.Approve(e.ctx, e.auth1, c.ID, ""); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("authority first: %v", err)
	}
	if c, err = e.svc.Approve(e.ctx, e.dept, c.ID, "罚款已缴清，整改到位"); err != nil || c.State != cases.StateAuthority {
		t.Fatalf("department step: %v %v", err, c)
	}
	if _, err := e.svc.Approve(e.ctx, e.dept2, c.ID, ""); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("department again: %v", err)
	}
	same := e.auth1
	same.UserID, same.User = e.dept.UserID, e.dept.User // one person holding both roles
	if _, err := e.svc.Approve(e.ctx, same, c.ID, ""); !errors.Is(err, cases.ErrSamePerson) || !access.Audited(err) {
		t.Fatalf("same person twice: %v", err)
	}
	if got, _ := e.store.Get(e.ctx, c.ID); got.State != cases.StateAuthority {
		t.Fatalf("refusal changed the case to %s", got.State)
	}
	if c, err = e.svc.Approve(e.ctx, e.auth1, c.ID, "同意修复"); err != nil || c.State != cases.StateRepaired || !c.DecidedAt.Equal(now) {
		t.Fatalf("authority step: %v %+v", err, c)
	}
	f, err := cases.RawRecords{Store: e.blobs}.Fact(e.ctx, penalty(penRepair))
	if err != nil || f.Kind != datasets.RowEndOfPublicity || f.Arrival.String() != "2024-10-15" {
		t.Fatalf("after repair the record is %+v (%v), want ended on 2024-10-15", f, err)
	}
	// From the approval day on, and only from it, and only for A.
	after := e.snapshot(t, "2024-10-14", "2024-10-15")
	sameBits(t, "as of the day before the approval", before[0], after[0])
	for i := range after[1].Values {
		if after[1].Codes[i/len(after[1].Names)] != e.a && math.Float64bits(after[1].Values[i]) != math.Float64bits(before[1].Values[i]) {
			t.Fatalf("repairing A's record changed %s of %s", after[1].Names[i%len(after[1].Names)], after[1].Codes[i/len(after[1].Names)])
		}
	}
	for _, tt := range []struct {
		ind   string
		delta float64
	}{{"penalty.amount.count_12m", -1}, {"penalty.amount.sum_24m", -20000}} {
		if got := value(t, after[1], e.a, tt.ind) - value(t, before[1], e.a, tt.ind); got != tt.delta {
			t.Errorf("%s of A as of the approval day moved by %v, want %v", tt.ind, got, tt.delta)
		}
	}
	// Repaired, the record is no longer in force: nothing more to dispute or repair.
	if _, err := apply(e.compA, e.a, penRepair); !errors.Is(err, cases.ErrState) {
		t.Fatalf("repairing again: %v", err)
	}
}

func TestExpirePublicity(t *testing.T) {
	e := newEnv(t)
	// Expected by hand from the stored rows: the latest revision of every
	// penalty, publicised (severity 2–5), whose 12 or 36 months from the decision
	// date have passed by 2024-10-15.
	src, _ := datasets.SourceByName(datasets.SourcePenalty)
	months, err := datasets.Months(e.ctx, e.blobs, src)
	if err != nil {
		t.Fatal(err)
	}
	latest := map[string]datasets.PenaltyRow{}
	for _, m := range months {
		rows, err := datasets.ReadMonth[datasets.PenaltyRow](e.ctx, e.blobs, src, m)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if cur, ok := latest[r.PenaltyID]; !ok || r.Revision > cur.Revision {
				latest[r.PenaltyID] = r
			}
		}
	}
	want := 0
	day := datasets.DayOf(time.Date(2024, 10, 15, 0, 0, 0, 0, time.UTC))
	for _, r := range latest {
		months := map[int32]int{2: 12, 3: 12, 4: 36, 5: 36}[r.Severity]
		if months > 0 && datasets.DayOf(r.EventDate.Time().AddDate(0, months, 0)) <= day {
			want++
		}
	}
	if want == 0 {
		t.Fatal("no expired penalty in the universe")
	}
	if _, err := e.svc.ExpirePublicity(e.ctx, now.AddDate(0, 0, 2)); !errors.Is(err, cases.ErrInvalid) {
		t.Fatalf("expiry in the future: %v", err)
	}
	out, err := e.svc.ExpirePublicity(e.ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if out.Ended != want || out.Batch == "" {
		t.Fatalf("ended %d (batch %q), want %d", out.Ended, out.Batch, want)
	}
	recs := cases.RawRecords{Store: e.blobs}
	for id, kind := range map[string]datasets.RowKind{penExpired: datasets.RowEndOfPublicity, penRepair: datasets.RowRecord} {
		f, err := recs.Fact(e.ctx, penalty(id))
		if err != nil || f.Kind != kind {
			t.Errorf("%s: %v %v, want %s", id, f.Kind, err, kind)
		}
	}
	again, err := e.svc.ExpirePublicity(e.ctx, now)
	if err != nil || again.Ended != 0 {
		t.Fatalf("second run ended %d more (%v), want none", again.Ended, err)
	}
	if got, want := e.refreshs, []string{"/penalty/2024-10-15"}; !slices.Equal(got, want) {
		t.Errorf("recomputation asked for %v, want %v (once, for several companies)", got, want)
	}
	if got, want := e.auditActions(t, "source:penalty"), []string{"case.publicity.expire", "case.publicity.expire"}; !slices.Equal(got, want) {
		t.Errorf("audit %v, want %v", got, want)
	}
}

// BenchmarkFact is the look-up behind every objection and repair application:
// one penalty by its id, in a universe of 1,000 companies over 36 months.
func BenchmarkFact(b *testing.B) {
	ctx := context.Background()
	blobs, err := blob.OpenLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	opts := datasets.DefaultGenerateOptions()
	opts.Companies, opts.Months, opts.Start = 1000, 36, datasets.Month(2022*12)
	if _, err := datasets.Generate(ctx, blobs, opts); err != nil {
		b.Fatal(err)
	}
	src, _ := datasets.SourceByName(datasets.SourcePenalty)
	months, _ := datasets.Months(ctx, blobs, src)
	rows, err := datasets.ReadMonth[datasets.PenaltyRow](ctx, blobs, src, months[len(months)/2])
	if err != nil || len(rows) == 0 {
		b.Fatalf("penalties: %v", err)
	}
	recs := cases.RawRecords{Store: blobs}
	b.ReportMetric(float64(len(months)), "months")
	for b.Loop() {
		f, err := recs.Fact(ctx, penalty(rows[0].PenaltyID))
		if err != nil || f.Company != rows[0].Code {
			b.Fatalf("%+v %v", f, err)
		}
	}
}
