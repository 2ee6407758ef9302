package financing_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// Codes with valid GB 32100-2015 check characters.
const (
	firmA = "91350100M000100Y43"
	firmB = "914403001922038216"
	firmC = "91330604MA4UJ7K283"
)

var assessments = fakeAssessor{
	firmA: {PD: 0.021, Rating: "A", Colour: "blue", Limit: 1_800_000, Reasons: []string{"tax.paid.sum_12m"},
		Models: []string{"pd:pd-smb/7", "limit:limit-smb/3"}, PolicyVersion: "policy-2027.01"},
	firmB: {PD: 0.31, Rating: "D", Colour: "red", Limit: 0, Models: []string{"pd:pd-smb/7"}, PolicyVersion: "policy-2027.01"},
	firmC: {PD: 0.06, Rating: "B", Colour: "green", Limit: 900_000, Models: []string{"pd:pd-smb/7"}, PolicyVersion: "policy-2027.01"},
}

var directory = fakeDirectory{
	firmA: {Code: firmA, Industry: "C", District: "330604", Size: "small", Founded: time.Date(2015, 3, 1, 0, 0, 0, 0, time.UTC)},
	firmB: {Code: firmB, Industry: "F", District: "330602", Size: "micro", Founded: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), HadLoan: true},
	firmC: {Code: firmC, Industry: "C", District: "330604", Size: "medium", Founded: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)},
}

// must returns v, failing the test on err: must(f(...))(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func consentOf(t *testing.T, w *world, code string, id int64) access.Consent {
	t.Helper()
	cs := must(w.access.Consents(context.Background(), code))(t)
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("consent %d of %s not found", id, code)
	return access.Consent{}
}

// TestLoop is the whole loop: a request, two banks with assessments, one
// auto-approving under its rules and the other declining with reasons, the
// company accepting, disbursement, twelve repayments, the bank's label file, the
// consents, and the audit chain.
func TestLoop(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		w := newWorld(t, db, assessments, directory)
		a1 := w.user(t, "Shangyu Rural Bank", access.KindBank, "a1", access.RoleBank, access.RoleApprover)
		a2 := w.user(t, "Shangyu Rural Bank", access.KindBank, "a2", access.RoleApprover)
		b1 := w.user(t, "Shaoxing City Bank", access.KindBank, "b1", access.RoleBank)
		c1 := w.user(t, "Keqiao Bank", access.KindBank, "c1", access.RoleBank)
		firm := w.company(t, "firm-a-legal-rep", firmA)

		// Bank A: a product that auto-approves credit loans to A/B-rated, low-PD,
		// two-year-old firms up to 1 million; switching it on takes two people.
		pa, prop, err := w.fin.CreateProduct(ctx, a1, financing.ProductInput{Name: "秒贷", Rule: `rating_rank(rating) <= 2 && pd < 0.05 && age >= 2 && guarantee == "credit"`,
			LimitCap: 3_000_000, MaxTerm: 24, Rate: 0.0385, AutoApprove: true, AutoCap: 1_000_000})
		if err != nil {
			t.Fatal(err)
		}
		if pa.AutoApprove || prop == nil {
			t.Fatalf("auto-approval applied by one person: product %+v, proposal %v", pa, prop)
		}
		if _, err := w.fin.ApproveProposal(ctx, a1, prop.ID); !errors.Is(err, financing.ErrFourEyes) || !errors.Is(err, access.ErrForbidden) {
			t.Fatalf("proposer approves own proposal: %v", err)
		}
		if _, err := w.fin.ApproveProposal(ctx, b1, prop.ID); !errors.Is(err, access.ErrForbidden) {
			t.Fatalf("another bank approves: %v", err)
		}
		pa = must(w.fin.ApproveProposal(ctx, a2, prop.ID))(t)
		if !pa.AutoApprove || pa.AutoCap != 1_000_000 {
			t.Fatalf("after approval: %+v", pa)
		}
		must3(t)(w.fin.CreateProduct(ctx, b1, financing.ProductInput{Name: "经营贷", Rule: `pd < 0.2`, LimitCap: 5_000_000, MaxTerm: 36, Rate: 0.045}))
		must3(t)(w.fin.CreateProduct(ctx, c1, financing.ProductInput{Name: "普惠贷", Rule: ``, LimitCap: 1_000_000, MaxTerm: 12, Rate: 0.05}))

		// The company asks banks A and B.
		req, err := w.fin.PostRequest(ctx, firm, financing.RequestInput{Company: firmA, Amount: 500_000, Term: 12, Purpose: "流动资金",
			Guarantee: financing.Credit, Banks: []int64{b1.InstitutionID, a1.InstitutionID}})
		if err != nil {
			t.Fatal(err)
		}
		if len(req.Targets) != 2 {
			t.Fatalf("targets %+v", req.Targets)
		}
		consentOfBank := map[int64]int64{}
		for _, tg := range req.Targets {
			c := consentOf(t, w, firmA, tg.ConsentID)
			if c.BankID != tg.BankID || !c.ExpiresAt.Equal(req.Deadline) || c.Scope != access.ScopeCreditAssessment || c.Purpose != financing.RequestPurpose(req.ID) {
				t.Fatalf("request consent %+v for target %+v, deadline %s", c, tg, req.Deadline)
			}
			consentOfBank[tg.BankID] = tg.ConsentID
		}

		// Both banks see it, with the platform's assessment; bank C does not.
		for _, p := range []access.Principal{a1, b1} {
			inbox := must(w.fin.Inbox(ctx, p))(t)
			if len(inbox) != 1 || inbox[0].Request.ID != req.ID || inbox[0].Assessment.Rating != "A" || inbox[0].Assessment.PD != 0.021 ||
				inbox[0].Answered != (p.InstitutionID == a1.InstitutionID) {
				t.Fatalf("%s inbox %+v", p.User, inbox)
			}
		}
		if inbox := must(w.fin.Inbox(ctx, c1))(t); len(inbox) != 0 {
			t.Fatalf("bank C sees a request not addressed to it: %+v", inbox)
		}
		if _, err := w.fin.MakeOffer(ctx, c1, req.ID, financing.OfferInput{Amount: 1, Rate: 0.05, Term: 12}); !errors.Is(err, financing.ErrNotFound) || !access.Audited(err) {
			t.Fatalf("bank C offers on a request not addressed to it: %v", err)
		}

		// Bank A answered automatically, recording what decided.
		reqs := must(w.fin.CompanyRequests(ctx, firm, firmA))(t)
		if len(reqs) != 1 || len(reqs[0].Offers) != 1 {
			t.Fatalf("company sees %+v", reqs)
		}
		auto := reqs[0].Offers[0]
		wantV := financing.Versions{Models: []string{"pd:pd-smb/7", "limit:limit-smb/3"}, Policy: "policy-2027.01", ProductID: pa.ID, RuleVersion: 1, Rule: pa.Rule}
		if !auto.Automated || auto.BankID != a1.InstitutionID || auto.Amount != 500_000 || !slices.Equal(auto.Versions.Models, wantV.Models) ||
			auto.Versions.Policy != wantV.Policy || auto.Versions.RuleVersion != 1 || auto.Versions.Rule != pa.Rule {
			t.Fatalf("automated offer %+v, want versions %+v", auto, wantV)
		}
		recs := must(w.log.List(ctx, audit.Filter{Action: "financing.offer.auto"}))(t)
		if len(recs) != 1 || !strings.Contains(string(recs[0].After), `"policy":"policy-2027.01"`) || !strings.Contains(string(recs[0].After), `"pd:pd-smb/7"`) {
			t.Fatalf("auto decision audit %+v", recs)
		}

		// Bank B declines with reasons; its request-scoped consent ends.
		if err := w.fin.Decline(ctx, b1, req.ID, []string{"no_such_reason"}); !errors.Is(err, financing.ErrInvalid) {
			t.Fatalf("unknown reason: %v", err)
		}
		if err := w.fin.Decline(ctx, b1, req.ID, []string{"credit_risk", "collateral"}); err != nil {
			t.Fatal(err)
		}
		if c := consentOf(t, w, firmA, consentOfBank[b1.InstitutionID]); c.RevokedAt.IsZero() {
			t.Fatalf("declining bank's consent still active: %+v", c)
		}
		if _, err := w.access.CheckConsent(ctx, firmA, b1.InstitutionID, access.ScopeCreditAssessment, w.clk.Now()); !errors.Is(err, access.ErrConsentRequired) {
			t.Fatalf("declining bank still holds consent: %v", err)
		}

		// The company accepts bank A's offer.
		w.clk.Add(2 * time.Hour)
		loan := must(w.fin.AcceptOffer(ctx, firm, auto.ID))(t)
		if !loan.FirstLoan || loan.Amount != 500_000 || loan.Guarantee != financing.Credit {
			t.Fatalf("loan %+v", loan)
		}
		if ls := must(w.fin.CompanyLoans(ctx, firm, firmA))(t); len(ls) != 1 || ls[0].ID != loan.ID {
			t.Fatalf("the company's loans %+v", ls)
		}
		if c := consentOf(t, w, firmA, consentOfBank[a1.InstitutionID]); c.RevokedAt.IsZero() {
			t.Fatalf("lender's request consent still active: %+v", c)
		}

		// Disbursement; the loan consent runs to maturity plus 90 days.
		disbursed := time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)
		w.clk.Set(disbursed.Add(10 * time.Hour))
		if _, err := w.fin.Disburse(ctx, b1, loan.ID, disbursed); !errors.Is(err, financing.ErrNotFound) {
			t.Fatalf("another bank disburses: %v", err)
		}
		loan = must(w.fin.Disburse(ctx, a1, loan.ID, disbursed))(t)
		if want := time.Date(2028, 1, 15, 0, 0, 0, 0, time.UTC); !loan.Maturity.Equal(want) {
			t.Fatalf("maturity %s, want %s", loan.Maturity, want)
		}
		lc := consentOf(t, w, firmA, loan.ConsentID)
		if want := loan.Maturity.Add(90 * 24 * time.Hour); !lc.ExpiresAt.Equal(want) || !lc.RevokedAt.IsZero() || lc.BankID != a1.InstitutionID ||
			lc.Purpose != "loan:"+itoa(loan.ID) {
			t.Fatalf("loan consent %+v, want expiry %s", lc, want)
		}
		if _, err := w.access.CheckConsent(ctx, firmA, a1.InstitutionID, access.ScopeCreditAssessment, loan.Maturity.Add(89*24*time.Hour)); err != nil {
			t.Fatalf("lender's consent within the renewal window: %v", err)
		}
		if _, err := w.access.CheckConsent(ctx, firmA, a1.InstitutionID, access.ScopeCreditAssessment, loan.Maturity.Add(91*24*time.Hour)); !errors.Is(err, access.ErrConsentRequired) {
			t.Fatalf("lender's consent past the renewal window: %v", err)
		}

		// Twelve monthly repayments, January to December 2027.
		w.clk.Set(time.Date(2028, 1, 5, 9, 0, 0, 0, time.UTC))
		var reps []financing.Repayment
		for m := 1; m <= 12; m++ {
			reps = append(reps, financing.Repayment{LoanID: loan.ID, Month: time.Date(2027, time.Month(m), 1, 0, 0, 0, 0, time.UTC).Format("2006-01"),
				Status: "performing", Balance: 500_000 - float64(m)*500_000/12, Paid: 500_000.0/12 + 1600})
		}
		if _, err := w.fin.RecordRepayments(ctx, b1, reps); !errors.Is(err, financing.ErrNotFound) {
			t.Fatalf("another bank records repayments of the loan: %v", err)
		}
		rep := must(w.fin.RecordRepayments(ctx, a1, reps))(t)
		if rep.Accepted != 12 || rep.Rejected != 0 {
			t.Fatalf("ingest report %+v", rep)
		}
		lf := must(w.fin.BuildLabels(ctx, a1))(t)
		if lf.Rows != 1 || lf.Positives != 0 || lf.Excluded != 0 {
			t.Fatalf("label file %+v", lf)
		}
		rc, _, err := w.blob.Get(ctx, lf.CSV)
		if err != nil {
			t.Fatal(err)
		}
		csv, _ := io.ReadAll(rc)
		rc.Close()
		if got, want := string(csv), "code,date,label,loan_id\n"+firmA+",2027-01-15,0,"+itoa(loan.ID)+"\n"; got != want {
			t.Fatalf("label CSV\n%s\nwant\n%s", got, want)
		}

		// The bank's own file corrects December (a revision through ingestion):
		// 30 days overdue is not a default, so the label stays 0.
		csvFile := "贷款编号,报告期,统一社会信用代码,还款状态,逾期天数,贷款余额,当月还款\n" + itoa(loan.ID) + ",2027-12," + firmA + ",逾期,30,0,0\n"
		rep = must(w.fin.UploadRepayments(ctx, a1, "bank-a-2027-12.csv", strings.NewReader(csvFile)))(t)
		if rep.Corrected != 1 || rep.Rejected != 0 {
			t.Fatalf("correction report %+v", rep)
		}
		if l := must(w.fin.Loan(ctx, a1, loan.ID))(t); l.Status != financing.LoanOverdue || l.DaysOverdue != 30 {
			t.Fatalf("loan after the correction %+v", l)
		}
		if lf := must(w.fin.BuildLabels(ctx, a1))(t); lf.Rows != 1 || lf.Positives != 0 {
			t.Fatalf("labels after the correction %+v", lf)
		}
		// A retraction of December voids it: the loan then has eleven months
		// recorded, its label is not mature, and its status is November's.
		rep = must(w.fin.UploadRepayments(ctx, a1, "retract.csv", strings.NewReader("loan_id,month,code,记录类型\n"+itoa(loan.ID)+",2027-12,"+firmA+",撤销\n")))(t)
		if rep.Retracted != 1 {
			t.Fatalf("retraction report %+v", rep)
		}
		if lf := must(w.fin.BuildLabels(ctx, a1))(t); lf.Rows != 0 || lf.Excluded != 1 {
			t.Fatalf("labels after retracting December %+v, want the loan not yet mature", lf)
		}
		if l := must(w.fin.Loan(ctx, a1, loan.ID))(t); l.Status != financing.LoanPerforming || l.DaysOverdue != 0 {
			t.Fatalf("loan after the retraction %+v", l)
		}
		// Bank B's file naming bank A's loan lands in bank B's folder and changes
		// nothing of bank A's.
		must(w.fin.UploadRepayments(ctx, b1, "b.csv", strings.NewReader("loan_id,month,code,status,days_overdue\n"+itoa(loan.ID)+",2027-12,"+firmA+",default,400\n")))(t)
		if l := must(w.fin.Loan(ctx, a1, loan.ID))(t); l.Status != financing.LoanPerforming || l.DaysOverdue != 0 {
			t.Fatalf("another bank's file changed the loan: %+v", l)
		}
		if infos := must(w.blob.List(ctx, financing.BankPrefix(a1.InstitutionID)+"raw/repayment/_batches/"))(t); len(infos) != 3 {
			t.Fatalf("bank A's batches %v, want its 3", infos)
		}

		// Public materialization never reads a bank's repayments.
		if infos := must(w.blob.List(ctx, "raw/"))(t); len(infos) != 0 {
			t.Fatalf("repayments visible at the root: %v", infos)
		}
		// One bank's outcomes are never visible to another.
		if _, err := w.fin.Loan(ctx, b1, loan.ID); !errors.Is(err, financing.ErrNotFound) || !access.Audited(err) {
			t.Fatalf("another bank reads the loan: %v", err)
		}
		if ls := must(w.fin.Loans(ctx, b1))(t); len(ls) != 0 {
			t.Fatalf("another bank lists loans %+v", ls)
		}
		if lfb := must(w.fin.BuildLabels(ctx, b1))(t); lfb.Rows != 0 || strings.Contains(lfb.CSV, financing.BankPrefix(a1.InstitutionID)) {
			t.Fatalf("another bank's labels %+v", lfb)
		}
		if _, err := w.fin.Loans(ctx, firm); !errors.Is(err, access.ErrForbidden) {
			t.Fatalf("a company lists a bank's loans: %v", err)
		}
		if _, err := w.fin.Stats(ctx, b1, financing.StatsQuery{}); !errors.Is(err, access.ErrForbidden) {
			t.Fatalf("a bank reads the regulator's statistics: %v", err)
		}

		// Every step is in the audit chain, and the chain verifies.
		for _, action := range []string{"financing.product.create", "financing.product.propose", "financing.product.approve",
			"financing.request.create", "access.consent.grant", "financing.offer.auto", "financing.request.decline",
			"access.consent.revoke", "financing.offer.accept", "financing.loan.disburse", "financing.repayments.ingest",
			"financing.labels.build"} {
			if recs := must(w.log.List(ctx, audit.Filter{Action: action}))(t); len(recs) == 0 {
				t.Errorf("no audit record of %s", action)
			}
		}
		refused := 0
		for _, r := range must(w.log.List(ctx, audit.Filter{Limit: 10000}))(t) {
			if r.Outcome == audit.OutcomeRefused {
				refused++
			}
		}
		if refused < 6 {
			t.Errorf("%d refusals audited, want at least 6", refused)
		}
		if _, err := w.log.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func must3(t *testing.T) func(financing.Product, *financing.Proposal, error) financing.Product {
	return func(p financing.Product, _ *financing.Proposal, err error) financing.Product {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}
