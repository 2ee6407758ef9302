package financing_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// TestExpiredOfferCannotBeAccepted: a pushed pre-credit offer past its expiry is
// refused, and the refusal is audited; within it, one click accepts.
func TestExpiredOfferCannotBeAccepted(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		w := newWorld(t, db, assessments, directory)
		c1 := w.user(t, "Keqiao Bank", access.KindBank, "c1", access.RoleBank)
		firm := w.company(t, "firm-c-delegate", firmC)
		other := w.company(t, "firm-a-delegate", firmA)
		p := must3(t)(w.fin.CreateProduct(ctx, c1, financing.ProductInput{Name: "预授信", Rule: `rating_rank(rating) <= 2`, LimitCap: 600_000, MaxTerm: 12, Rate: 0.042}))
		res := must(w.fin.PushPreCredit(ctx, c1, p.ID, []string{firmC, firmB}))(t)
		if len(res.Offers) != 0 || len(res.NoConsent) != 2 {
			t.Fatalf("push without consent %+v", res)
		}
		w.consent(t, firmC, c1.InstitutionID)
		w.consent(t, firmB, c1.InstitutionID)
		res = must(w.fin.PushPreCredit(ctx, c1, p.ID, []string{firmC, firmB}))(t)
		if len(res.Offers) != 1 || len(res.Ineligible) != 1 || res.Ineligible[0] != firmB {
			t.Fatalf("push %+v", res)
		}
		o := res.Offers[0]
		if o.Amount != 600_000 || o.Term != 12 || o.Kind != financing.OfferPreCredit {
			t.Fatalf("pre-credit offer %+v: want the product cap (below the platform's limit 900,000)", o)
		}
		if _, err := w.fin.AcceptOffer(ctx, other, o.ID); !errors.Is(err, access.ErrForbidden) {
			t.Fatalf("another company accepts: %v", err)
		}
		w.clk.Add(30*24*time.Hour + time.Second)
		if _, err := w.fin.AcceptOffer(ctx, firm, o.ID); !errors.Is(err, financing.ErrExpired) || !access.Audited(err) {
			t.Fatalf("expired offer accepted: %v", err)
		}
		recs := must(w.log.List(ctx, audit.Filter{Action: "financing.offer.accept", Actor: firm.Actor()}))(t)
		if len(recs) != 1 || recs[0].Outcome != audit.OutcomeRefused || !strings.Contains(recs[0].Reason, "expired") {
			t.Fatalf("expired acceptance audit %+v", recs)
		}
		rep := must(w.fin.Sweep(ctx))(t)
		if rep.OffersExpired != 1 {
			t.Fatalf("sweep %+v", rep)
		}
		if _, err := w.fin.AcceptOffer(ctx, firm, o.ID); !errors.Is(err, financing.ErrState) {
			t.Fatalf("swept offer accepted: %v", err)
		}

		// A fresh push, accepted in one click within its expiry.
		o2 := must(w.fin.PushPreCredit(ctx, c1, p.ID, []string{firmC}))(t).Offers[0]
		if l := must(w.fin.AcceptOffer(ctx, firm, o2.ID))(t); l.Amount != 600_000 || l.RequestID != 0 {
			t.Fatalf("loan %+v", l)
		}
	})
}

// TestAutoApprovalNeedsTwoPeople: switching auto-approval on, and changing the
// rule of an auto-approving product, wait for a second approver of the bank.
func TestAutoApprovalNeedsTwoPeople(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		w := newWorld(t, db, assessments, directory)
		officer := w.user(t, "Shangyu Rural Bank", access.KindBank, "officer", access.RoleBank, access.RoleApprover)
		approver := w.user(t, "Shangyu Rural Bank", access.KindBank, "approver", access.RoleApprover)
		foreign := w.user(t, "Keqiao Bank", access.KindBank, "foreign", access.RoleBank, access.RoleApprover)
		p := must3(t)(w.fin.CreateProduct(ctx, officer, financing.ProductInput{Name: "快贷", Rule: `pd < 0.05`, LimitCap: 2e6, MaxTerm: 12, Rate: 0.04}))
		on, cap := true, 5e5
		after, prop, err := w.fin.ChangeProduct(ctx, officer, p.ID, financing.ProductChange{AutoApprove: &on, AutoCap: &cap})
		if err != nil || prop == nil || after.AutoApprove {
			t.Fatalf("switch on by one person: %+v %+v %v", after, prop, err)
		}
		tests := []struct {
			name string
			p    access.Principal
			want error
		}{
			{"the proposer", officer, financing.ErrFourEyes},
			{"another bank's approver", foreign, access.ErrForbidden},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := w.fin.ApproveProposal(ctx, tt.p, prop.ID); !errors.Is(err, tt.want) || !access.Audited(err) {
					t.Fatalf("got %v, want %v (audited)", err, tt.want)
				}
			})
		}
		if got := must(w.fin.Product(ctx, p.ID))(t); got.AutoApprove {
			t.Fatal("auto-approval on after refusals")
		}
		if got := must(w.fin.ApproveProposal(ctx, approver, prop.ID))(t); !got.AutoApprove || got.AutoCap != cap {
			t.Fatalf("approved %+v", got)
		}
		// A rule change of the auto-approving product is a proposal too.
		rule := `pd < 0.5`
		after, prop, err = w.fin.ChangeProduct(ctx, officer, p.ID, financing.ProductChange{Rule: &rule})
		if err != nil || prop == nil || after.Rule != `pd < 0.05` {
			t.Fatalf("rule change of an auto product applied at once: %+v %+v %v", after, prop, err)
		}
		if _, err := w.fin.ApproveProposal(ctx, officer, prop.ID); !errors.Is(err, financing.ErrFourEyes) {
			t.Fatalf("proposer approves: %v", err)
		}
		got := must(w.fin.ApproveProposal(ctx, approver, prop.ID))(t)
		if got.Rule != rule || got.RuleVer != 2 {
			t.Fatalf("after approval %+v", got)
		}
		if _, err := w.fin.ApproveProposal(ctx, approver, prop.ID); !errors.Is(err, financing.ErrState) {
			t.Fatalf("approved twice: %v", err)
		}
	})
}

// TestGuaranteedProduct: a guarantee institution's rule and whitelist gate the
// product, it guarantees in a batch before disbursement, and a loss is split by
// its share (80/20 as 威海's fund).
func TestGuaranteedProduct(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		w := newWorld(t, db, assessments, directory)
		bank := w.user(t, "Weihai Bank", access.KindBank, "w1", access.RoleBank)
		g := w.user(t, "Weihai Credit Guarantee Fund", access.KindGuarantor, "g1", access.RoleGuarantor)
		firm := w.company(t, "firm-c-rep", firmC)
		if err := w.fin.SetGuarantorPolicy(ctx, bank, financing.GuarantorPolicy{Rule: "true"}); !errors.Is(err, access.ErrForbidden) {
			t.Fatalf("a bank sets a guarantor's policy: %v", err)
		}
		if err := w.fin.SetGuarantorPolicy(ctx, g, financing.GuarantorPolicy{Rule: `pd < 0.1`, Whitelist: []string{firmC}}); err != nil {
			t.Fatal(err)
		}
		p := must3(t)(w.fin.CreateProduct(ctx, bank, financing.ProductInput{Name: "信财银保", Rule: `pd < 0.1`, LimitCap: 2e6, MaxTerm: 12, Rate: 0.04,
			GuarantorID: g.InstitutionID, GuarantorShare: 0.8}))
		// Pre-credit pushes pass the guarantor's whitelist: firm A (not on it) is ineligible.
		w.consent(t, firmA, bank.InstitutionID)
		w.consent(t, firmC, bank.InstitutionID)
		res := must(w.fin.PushPreCredit(ctx, bank, p.ID, []string{firmA, firmC}))(t)
		if len(res.Offers) != 1 || res.Offers[0].Company != firmC || len(res.Ineligible) != 1 {
			t.Fatalf("push %+v", res)
		}
		loan := must(w.fin.AcceptOffer(ctx, firm, res.Offers[0].ID))(t)
		if loan.GuarantorID != g.InstitutionID || loan.GuarantorShare != 0.8 || loan.Guarantee != financing.Guaranteed {
			t.Fatalf("loan %+v", loan)
		}
		if _, err := w.fin.Disburse(ctx, bank, loan.ID, w.clk.Now()); !errors.Is(err, financing.ErrState) {
			t.Fatalf("disbursed before the guarantee: %v", err)
		}
		b := must(w.fin.GuaranteeLoans(ctx, g, []int64{loan.ID}))(t)
		if b.Amount != 0.8*loan.Amount {
			t.Fatalf("batch %+v", b)
		}
		loan = must(w.fin.Disburse(ctx, bank, loan.ID, w.clk.Now()))(t)
		// Default in the fifth month.
		w.clk.Add(200 * 24 * time.Hour)
		var reps []financing.Repayment
		start := loan.DisbursedAt
		for m := range 6 {
			r := financing.Repayment{LoanID: loan.ID, Month: start.AddDate(0, m, 0).Format("2006-01"), Status: "performing", Balance: loan.Amount}
			if m == 4 {
				r.Status, r.DaysOverdue = "overdue", 95
			}
			if m == 5 {
				r.Status, r.DaysOverdue = "default", 125
			}
			reps = append(reps, r)
		}
		must(w.fin.RecordRepayments(ctx, bank, reps))(t)
		if l := must(w.fin.Loan(ctx, bank, loan.ID))(t); l.Status != financing.LoanDefault || l.DaysOverdue != 125 {
			t.Fatalf("loan after repayments %+v", l)
		}
		got := must(w.fin.RecordLoss(ctx, bank, loan.ID, 400_000))(t)
		if got.Loss != 400_000 || got.GuarantorLoss != 320_000 || got.BankLoss != 80_000 {
			t.Fatalf("loss shares %+v, want 320,000 / 80,000", got)
		}
		if gl := must(w.fin.GuarantorLoans(ctx, g))(t); len(gl) != 1 || gl[0].GuarantorLoss != 320_000 {
			t.Fatalf("guarantor's loans %+v", gl)
		}
		lf := must(w.fin.BuildLabels(ctx, bank))(t)
		if lf.Rows != 1 || lf.Positives != 1 {
			t.Fatalf("labels %+v: a 90+ day overdue in month 5 is a 1", lf)
		}
		// The defaults file is in the labels table's format samples join.
		rows := must(datasets.ReadRaw[datasets.LabelRow](ctx, w.blob, lf.Parquet))(t)
		if len(rows) != 1 || rows[0].Code != firmC || rows[0].Kind != datasets.LabelDefault ||
			rows[0].EventDate != datasets.MonthOf(start.AddDate(0, 4, 0)).LastDay() || rows[0].Amount != loan.Amount {
			t.Fatalf("label rows %+v", rows)
		}
	})
}

// TestSweep: an expired request ends its consents; a named bank's silence raises
// one warning; a loan nearing maturity gets one renewal notice to the company
// and one to the bank, with a fresh assessment.
func TestSweep(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		w := newWorld(t, db, assessments, directory)
		bank := w.user(t, "Shangyu Rural Bank", access.KindBank, "a1", access.RoleBank)
		firm := w.company(t, "firm-a", firmA)
		must3(t)(w.fin.CreateProduct(ctx, bank, financing.ProductInput{Name: "经营贷", Rule: ``, LimitCap: 2e6, MaxTerm: 12, Rate: 0.04}))
		req := must(w.fin.PostRequest(ctx, firm, financing.RequestInput{Company: firmA, Amount: 1e5, Term: 6, Guarantee: financing.Mortgage}))(t)
		if !req.ToAll || len(req.Targets) != 1 {
			t.Fatalf("request to all %+v", req)
		}
		w.clk.Add(4 * 24 * time.Hour)
		rep := must(w.fin.Sweep(ctx))(t)
		if rep.Unanswered != 1 || len(w.notices.got) != 1 || w.notices.got[0].Kind != financing.NoticeUnanswered || w.notices.got[0].Institution != bank.InstitutionID {
			t.Fatalf("sweep %+v notices %+v", rep, w.notices.got)
		}
		if rep := must(w.fin.Sweep(ctx))(t); rep.Unanswered != 0 {
			t.Fatalf("warned twice: %+v", rep)
		}
		w.clk.Add(30 * 24 * time.Hour)
		if rep := must(w.fin.Sweep(ctx))(t); rep.RequestsExpired != 1 {
			t.Fatalf("sweep %+v", rep)
		}
		if c := consentOf(t, w, firmA, req.Targets[0].ConsentID); c.RevokedAt.IsZero() {
			t.Fatalf("expired request's consent %+v", c)
		}

		// Renewal.
		req = must(w.fin.PostRequest(ctx, firm, financing.RequestInput{Company: firmA, Amount: 1e5, Term: 6, Guarantee: financing.Credit}))(t)
		p := must(w.fin.Products(ctx, bank))(t)[0]
		o := must(w.fin.MakeOffer(ctx, bank, req.ID, financing.OfferInput{ProductID: p.ID, Amount: 1e5, Rate: 0.04, Term: 6}))(t)
		l := must(w.fin.AcceptOffer(ctx, firm, o.ID))(t)
		l = must(w.fin.Disburse(ctx, bank, l.ID, w.clk.Now()))(t)
		w.notices.got = nil
		w.clk.Set(l.Maturity.Add(-31 * 24 * time.Hour))
		if rep := must(w.fin.Sweep(ctx))(t); rep.Renewals != 0 {
			t.Fatalf("renewal too early: %+v", rep)
		}
		w.clk.Set(l.Maturity.Add(-29 * 24 * time.Hour))
		if rep := must(w.fin.Sweep(ctx))(t); rep.Renewals != 1 || len(w.notices.got) != 2 {
			t.Fatalf("renewal sweep %+v notices %+v", rep, w.notices.got)
		}
		for i, want := range []int64{0, bank.InstitutionID} {
			n := w.notices.got[i]
			if n.Kind != financing.NoticeRenewal || n.Institution != want || n.Assessment == nil || n.Assessment.Rating != "A" || !n.Due.Equal(l.Maturity) {
				t.Fatalf("notice %d %+v", i, n)
			}
		}
		if rep := must(w.fin.Sweep(ctx))(t); rep.Renewals != 0 {
			t.Fatalf("renewal notified twice: %+v", rep)
		}
	})
}
