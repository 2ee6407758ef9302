package cases_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/cases"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

func TestStore(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		log, err := audit.Open(ctx, db, audit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := cases.OpenStore(ctx, db, log)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2024, 10, 15, 2, 0, 0, 0, time.UTC)
		open := func(kind cases.Kind, company, id string) *cases.Case {
			return &cases.Case{Kind: kind, State: cases.StateReview, Company: company, Record: penalty(id), Owner: 7,
				OpenedBy: "ent-a@enterprises", OpenedAt: at, Deadline: at.AddDate(0, 0, 15), Statement: "金额有误",
				Original: map[string]string{"penalty_id": id, "amount": "5000"},
				Steps:    []cases.Entry{{Step: cases.StepOpen, State: cases.StateReview, By: "ent-a@enterprises", UserID: 1, At: at}}}
		}
		c1 := open(cases.KindObjection, "A", "P-1")
		if err := s.Insert(ctx, c1); err != nil {
			t.Fatal(err)
		}
		if err := s.Insert(ctx, open(cases.KindObjection, "A", "P-1")); !errors.Is(err, cases.ErrState) {
			t.Fatalf("second open objection of a record: %v", err)
		}
		rep := open(cases.KindRepair, "A", "P-1") // a repair of the same record is another case
		rep.Repair = &cases.Repair{Fulfilled: true, Evidence: "paid", Commitment: "承诺", Class: "general", RulesVersion: "v"}
		if err := s.Insert(ctx, rep); err != nil {
			t.Fatal(err)
		}
		c3 := open(cases.KindObjection, "B", "P-2")
		if err := s.Insert(ctx, c3); err != nil {
			t.Fatal(err)
		}
		d, err := s.Disputed(ctx, "A")
		if err != nil || len(d) != 1 || d[0].Case != c1.ID || !d[0].Deadline.Equal(at.AddDate(0, 0, 15)) {
			t.Fatalf("disputed %+v %v", d, err)
		}
		// A step from a state the case has left is refused; nothing is written.
		step := cases.Entry{Step: cases.StepCorrect, State: cases.StateCorrected, By: "mr-1@market-regulation", UserID: 3,
			At: at.Add(time.Hour), Values: map[string]string{"amount": "2000"}, Batch: "case-1-correct-x"}
		if _, err := s.Advance(ctx, c1.ID, cases.StateAuthority, step, time.Time{}); !errors.Is(err, cases.ErrState) {
			t.Fatalf("advance from the wrong state: %v", err)
		}
		got, err := s.Advance(ctx, c1.ID, cases.StateReview, step, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if got.State != cases.StateCorrected || !got.DecidedAt.Equal(step.At) || len(got.Steps) != 2 || got.Steps[1].Values["amount"] != "2000" ||
			got.Steps[1].Batch != step.Batch {
			t.Fatalf("advanced: %+v", got)
		}
		if d, _ := s.Disputed(ctx, "A"); len(d) != 0 {
			t.Fatalf("decided but disputed: %+v", d)
		}
		if _, err := s.Advance(ctx, 999, cases.StateReview, step, time.Time{}); !errors.Is(err, cases.ErrNotFound) {
			t.Fatalf("unknown case: %v", err)
		}
		// Decided, the record may be disputed again.
		c5 := open(cases.KindObjection, "A", "P-1")
		if err := s.Insert(ctx, c5); err != nil {
			t.Fatal(err)
		}
		ids := func(cs []*cases.Case) []int64 {
			var out []int64
			for _, c := range cs {
				out = append(out, c.ID)
			}
			return out
		}
		for _, tt := range []struct {
			name string
			f    cases.Filter
			want []int64
		}{
			{"company", cases.Filter{Company: "A"}, []int64{c5.ID, rep.ID, c1.ID}},
			{"open objections", cases.Filter{Kind: cases.KindObjection, States: []cases.State{cases.StateReview}}, []int64{c5.ID, c3.ID}},
			{"owner", cases.Filter{Owner: 7, Limit: 2}, []int64{c5.ID, c3.ID}},
			{"other owner", cases.Filter{Owner: 8}, nil},
		} {
			cs, err := s.List(ctx, tt.f)
			if err != nil || !slices.Equal(ids(cs), tt.want) {
				t.Errorf("%s: %v %v, want %v", tt.name, ids(cs), err, tt.want)
			}
		}
		r, err := s.Get(ctx, rep.ID)
		if err != nil || r.Repair == nil || r.Repair.Commitment != "承诺" || r.Original["amount"] != "5000" {
			t.Fatalf("repair case %+v %v", r, err)
		}
		// Every change is in the audit chain, which verifies.
		recs, err := log.List(ctx, audit.Filter{})
		var actions []string
		for _, r := range recs {
			actions = append(actions, r.Action)
		}
		want := []string{"case.objection.open", "case.repair.open", "case.objection.open", "case.objection.correct", "case.objection.open"}
		if err != nil || !slices.Equal(actions, want) {
			t.Fatalf("audit records %v %v, want %v", actions, err, want)
		}
		if _, err := log.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNext(t *testing.T) {
	tests := []struct {
		kind cases.Kind
		from cases.State
		step cases.Step
		want cases.State // "" for refused
	}{
		{cases.KindObjection, cases.StateReview, cases.StepCorrect, cases.StateCorrected},
		{cases.KindObjection, cases.StateReview, cases.StepReject, cases.StateRejected},
		{cases.KindObjection, cases.StateReview, cases.StepWithdraw, cases.StateWithdrawn},
		{cases.KindObjection, cases.StateReview, cases.StepApprove, ""},
		{cases.KindObjection, cases.StateCorrected, cases.StepWithdraw, ""},
		{cases.KindRepair, cases.StateReview, cases.StepApprove, cases.StateAuthority},
		{cases.KindRepair, cases.StateReview, cases.StepFinal, ""},
		{cases.KindRepair, cases.StateReview, cases.StepCorrect, ""},
		{cases.KindRepair, cases.StateAuthority, cases.StepFinal, cases.StateRepaired},
		{cases.KindRepair, cases.StateAuthority, cases.StepReject, cases.StateRejected},
		{cases.KindRepair, cases.StateAuthority, cases.StepDeadline, ""},
		{cases.KindRepair, cases.StateRepaired, cases.StepWithdraw, ""},
	}
	for _, tt := range tests {
		got, err := cases.Next(tt.kind, tt.from, tt.step)
		if got != tt.want || (tt.want == "") != errors.Is(err, cases.ErrState) {
			t.Errorf("%s %s %s: %q %v, want %q", tt.kind, tt.from, tt.step, got, err, tt.want)
		}
	}
}

func TestRules(t *testing.T) {
	r, err := cases.DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	decided := time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)
	// The national rules written out by hand: classes by severity, months.
	tests := []struct {
		severity   int
		class      string
		from, till string
	}{
		{1, "minor", "2024-01-31", "2024-01-31"},
		{2, "general", "2024-05-01", "2025-01-31"}, // 3 months after 31 January: Go normalises 31 April to 1 May
		{3, "general", "2024-05-01", "2025-01-31"},
		{4, "serious", "2025-01-31", "2027-01-31"},
		{5, "serious", "2025-01-31", "2027-01-31"},
	}
	for _, tt := range tests {
		c, err := r.ClassOfSeverity(tt.severity)
		if err != nil || c.ID != tt.class || c.RepairFrom(decided).Format(time.DateOnly) != tt.from ||
			c.PublicityUntil(decided).Format(time.DateOnly) != tt.till {
			t.Errorf("severity %d: %+v %v, want %s %s–%s", tt.severity, c, err, tt.class, tt.from, tt.till)
		}
	}
	if _, err := r.ClassOfSeverity(6); !errors.Is(err, cases.ErrInvalid) {
		t.Errorf("severity 6: %v", err)
	}
	bad := []string{
		"classes: []\n",
		"version: v\nclasses: [{id: a, publicised: true, repair_after_months: 13, publicity_months: 12}]\npenalty_severity: {1: a, 2: a, 3: a, 4: a, 5: a}\n",
		"version: v\nclasses: [{id: a}]\npenalty_severity: {1: a, 2: a, 3: a, 4: a}\n",
		"version: v\nclasses: [{id: a}]\npenalty_severity: {1: a, 2: a, 3: a, 4: a, 5: b}\n",
		"version: v\nclasses: [{id: a, colour: red}]\n",
	}
	for _, y := range bad {
		if _, err := cases.ParseRules([]byte(y)); !errors.Is(err, cases.ErrInvalid) {
			t.Errorf("%q: %v", y, err)
		}
	}
}

func TestParseRecordRef(t *testing.T) {
	tests := []struct {
		in   cases.RecordRef
		want string // "" for refused
	}{
		{penalty(" P-1 "), "penalty:penalty_id=P-1"},
		{cases.RecordRef{Source: "tax", Key: map[string]string{"code": "91330604ma4uj7k283", "event_date": "2024-05"}}, "tax:code=91330604MA4UJ7K283,event_date=2024-05-31"},
		{cases.RecordRef{Source: "tax", Key: map[string]string{"code": "91330604MA4UJ7K283"}}, ""},
		{cases.RecordRef{Source: "tax", Key: map[string]string{"code": "91330604MA4UJ7K284", "event_date": "2024-05-31"}}, ""},
		{cases.RecordRef{Source: "tax", Key: map[string]string{"code": "91330604MA4UJ7K283", "event_date": "May"}}, ""},
		{cases.RecordRef{Source: "penalty", Key: map[string]string{"penalty_id": "P-1", "amount": "1"}}, ""},
		{cases.RecordRef{Source: "labels", Key: map[string]string{"code": "x"}}, ""},
	}
	for _, tt := range tests {
		got, err := cases.ParseRecordRef(tt.in)
		if tt.want == "" {
			if !errors.Is(err, cases.ErrInvalid) {
				t.Errorf("%v: %v, want refused", tt.in, err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("%v: %s %v, want %s", tt.in, got, err, tt.want)
		}
	}
}

// FuzzParseRecordRef: any reference is parsed or refused with ErrInvalid, and a
// parsed one parses again to itself.
func FuzzParseRecordRef(f *testing.F) {
	f.Add("penalty", "penalty_id", "P-1", "", "")
	f.Add("tax", "code", "91330604MA4UJ7K283", "event_date", "2024-05")
	f.Fuzz(func(t *testing.T, source, k1, v1, k2, v2 string) {
		ref := cases.RecordRef{Source: source, Key: map[string]string{k1: v1, k2: v2}}
		got, err := cases.ParseRecordRef(ref)
		if err != nil {
			if !errors.Is(err, cases.ErrInvalid) {
				t.Fatalf("%v: %v", ref, err)
			}
			return
		}
		again, err := cases.ParseRecordRef(got)
		if err != nil || again.String() != got.String() {
			t.Fatalf("%s parsed again: %s %v", got, again, err)
		}
	})
}

// BenchmarkDisputed is the look-up every profile and report makes: one
// company's disputed records among 10,000 cases of 1,000 companies.
func BenchmarkDisputed(b *testing.B) {
	ctx := context.Background()
	db := metadbtest.SQLite(b)
	log, err := audit.Open(ctx, db, audit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s, err := cases.OpenStore(ctx, db, log)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2024, 10, 15, 2, 0, 0, 0, time.UTC)
	for i := range 10_000 {
		c := &cases.Case{Kind: cases.KindObjection, State: cases.StateReview, Company: fmt.Sprintf("C%04d", i%1000),
			Record: penalty(fmt.Sprintf("P-%d", i)), Owner: 7, OpenedBy: "x", OpenedAt: at, Deadline: at, Original: map[string]string{},
			Steps: []cases.Entry{{Step: cases.StepOpen, State: cases.StateReview, By: "x", At: at}}}
		if err := s.Insert(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; b.Loop(); i++ {
		d, err := s.Disputed(ctx, fmt.Sprintf("C%04d", i%1000))
		if err != nil || len(d) != 10 {
			b.Fatalf("%d disputed, %v", len(d), err)
		}
	}
}
