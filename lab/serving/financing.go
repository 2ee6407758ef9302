package serving

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"

	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/lab"
)

// Financing implements lab.Financing over the financing store, which decides
// every step (a company's bound account, a named bank, a regulator for the
// aggregates) and audits it.
type Financing struct {
	st    *financing.Store
	acc   *access.Store
	names func(code string) string
	// District names a district code of the statistics (nil: the code).
	District func(code string) string
	// Now is the financing store's clock, by which an open offer past its
	// expiry reads as expired (nil: time.Now).
	Now func() time.Time
}

// NewFinancing returns the console's financing pages over st; acc names the
// banks, names (optional) the companies.
func NewFinancing(st *financing.Store, acc *access.Store, names func(string) string) *Financing {
	return &Financing{st: st, acc: acc, names: names}
}

func finErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, financing.ErrFourEyes):
		return fmt.Errorf("%w: %w", lab.ErrFourEyes, err)
	case errors.Is(err, access.ErrForbidden), errors.Is(err, access.ErrConsentRequired):
		return fmt.Errorf("%w: %w", lab.ErrForbidden, err)
	case errors.Is(err, financing.ErrNotFound), errors.Is(err, access.ErrNotFound):
		return fmt.Errorf("%w: %w", lab.ErrNotFound, err)
	case errors.Is(err, financing.ErrExpired):
		return fmt.Errorf("%w: %w", lab.ErrExpired, err)
	case errors.Is(err, financing.ErrState):
		return fmt.Errorf("%w: %w", lab.ErrConflict, err)
	case errors.Is(err, financing.ErrInvalid), errors.Is(err, access.ErrInvalid):
		return fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	}
	return err
}

func (f *Financing) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Financing) bank(ctx context.Context, id int64) string {
	if in, err := f.acc.Institution(ctx, id); err == nil {
		return in.Name
	}
	return fmt.Sprint(id)
}

func (f *Financing) request(ctx context.Context, r financing.Request) lab.FinRequest {
	out := lab.FinRequest{ID: r.ID, Company: r.Company, Amount: r.Amount, Term: r.Term, Purpose: r.Purpose, Guarantee: string(r.Guarantee),
		Status: r.Status, CreatedAt: r.CreatedAt, Deadline: r.Deadline}
	if f.names != nil {
		out.CompanyName = f.names(r.Company)
	}
	now := f.now()
	for _, o := range r.Offers {
		if o.Status == financing.StatusOpen && !now.Before(o.ExpiresAt) {
			o.Status = financing.StatusExpired
		}
		out.Offers = append(out.Offers, lab.FinOffer{ID: o.ID, BankID: o.BankID, Bank: f.bank(ctx, o.BankID), Amount: o.Amount, Rate: o.Rate, Term: o.Term,
			Status: o.Status, Automated: o.Automated, ExpiresAt: o.ExpiresAt})
	}
	return out
}

// CompanyRequests implements lab.Financing.
func (f *Financing) CompanyRequests(ctx context.Context, p lab.Principal, code string) ([]lab.FinRequest, error) {
	rs, err := f.st.CompanyRequests(ctx, p.Principal, code)
	if err != nil {
		return nil, finErr(err)
	}
	out := make([]lab.FinRequest, len(rs))
	for i, r := range rs {
		out[i] = f.request(ctx, r)
	}
	return out, nil
}

// PostRequest implements lab.Financing.
func (f *Financing) PostRequest(ctx context.Context, p lab.Principal, code string, amount float64, term int, purpose, guarantee string, banks []int64) (lab.FinRequest, error) {
	g, err := financing.ParseGuarantee(guarantee)
	if err != nil {
		return lab.FinRequest{}, finErr(err)
	}
	r, err := f.st.PostRequest(ctx, p.Principal, financing.RequestInput{Company: code, Amount: amount, Term: term, Purpose: purpose, Guarantee: g, Banks: banks})
	if err != nil {
		return lab.FinRequest{}, finErr(err)
	}
	return f.request(ctx, r), nil
}

// AcceptOffer implements lab.Financing.
func (f *Financing) AcceptOffer(ctx context.Context, p lab.Principal, id int64) error {
	_, err := f.st.AcceptOffer(ctx, p.Principal, id)
	return finErr(err)
}

// DeclineOffer implements lab.Financing.
func (f *Financing) DeclineOffer(ctx context.Context, p lab.Principal, id int64) error {
	return finErr(f.st.DeclineOffer(ctx, p.Principal, id))
}

// Inbox implements lab.Financing.
func (f *Financing) Inbox(ctx context.Context, p lab.Principal) ([]lab.FinInboxItem, error) {
	items, err := f.st.Inbox(ctx, p.Principal)
	if err != nil {
		return nil, finErr(err)
	}
	products, err := f.st.Products(ctx, p.Principal)
	if err != nil {
		return nil, finErr(err)
	}
	byID := map[int64]financing.Product{}
	for _, pr := range products {
		byID[pr.ID] = pr
	}
	out := make([]lab.FinInboxItem, len(items))
	for i, it := range items {
		x := lab.FinInboxItem{Request: f.request(ctx, it.Request), Answered: it.Answered, PD: it.Assessment.PD, Limit: it.Assessment.Limit,
			Rating: it.Assessment.Rating, Colour: it.Assessment.Colour, ReasonsZH: it.Assessment.ReasonsZH, ReasonsEN: it.Assessment.ReasonsEN}
		for _, id := range it.Products {
			if pr, ok := byID[id]; ok {
				x.Products = append(x.Products, lab.FinProduct{ID: pr.ID, Name: pr.Name, Rule: pr.Rule, LimitCap: pr.LimitCap, MaxTerm: pr.MaxTerm,
					Rate: pr.Rate, AutoApprove: pr.AutoApprove})
			}
		}
		out[i] = x
	}
	return out, nil
}

// MakeOffer implements lab.Financing.
func (f *Financing) MakeOffer(ctx context.Context, p lab.Principal, request, product int64, amount, rate float64, term int) error {
	_, err := f.st.MakeOffer(ctx, p.Principal, request, financing.OfferInput{ProductID: product, Amount: amount, Rate: rate, Term: term})
	return finErr(err)
}

// Decline implements lab.Financing.
func (f *Financing) Decline(ctx context.Context, p lab.Principal, request int64, reason string) error {
	return finErr(f.st.Decline(ctx, p.Principal, request, []string{reason}))
}

// Reasons implements lab.Financing.
func (f *Financing) Reasons() []lab.FinReason {
	out := make([]lab.FinReason, len(financing.DeclineReasons))
	for i, r := range financing.DeclineReasons {
		out[i] = lab.FinReason{Code: r.Code, NameZH: r.NameZH, NameEN: r.NameEN}
	}
	return out
}

// Stats implements lab.Financing.
func (f *Financing) Stats(ctx context.Context, p lab.Principal, by string) (lab.FinStats, error) {
	st, err := f.st.Stats(ctx, p.Principal, financing.StatsQuery{By: by})
	if err != nil {
		return lab.FinStats{}, finErr(err)
	}
	row := func(g financing.Group) lab.FinStatsRow {
		key, keyEN := g.Key, ""
		switch {
		case by == "industry" && key != "total":
			if n := datasets.IndustryNameEN(key); n != "" {
				keyEN = key + " " + n
			}
			if n := datasets.IndustryName(key); n != "" {
				key = key + " " + n
			}
		case by == "size" && key == "":
			key = "unknown"
		case by == "district" && f.District != nil && key != "total":
			if n := f.District(key); n != "" {
				key = n
			}
		}
		return lab.FinStatsRow{Key: key, KeyEN: keyEN, Requests: g.Requests, Answered: g.Answered, Approved: g.Approved, Demand: g.Demand, Granted: g.Granted,
			ApprovalRate: g.ApprovalRate, HoursToDecide: g.MeanHoursToDecision, Loans: g.Loans, FirstLoans: g.FirstLoans, UnsecuredShare: g.UnsecuredShare}
	}
	out := lab.FinStats{By: st.By, Total: row(st.Total), Unanswered: st.Unanswered}
	for _, g := range st.Groups {
		out.Rows = append(out.Rows, row(g))
	}
	return out, nil
}

// CompanyName implements lab.Financing.
func (f *Financing) CompanyName(code string) string {
	if f.names == nil {
		return ""
	}
	return f.names(code)
}

// Banks implements lab.Financing: the participating banks.
func (f *Financing) Banks(ctx context.Context) ([]lab.FinBank, error) {
	ids, err := f.st.ParticipatingBanks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]lab.FinBank, len(ids))
	for i, id := range ids {
		out[i] = lab.FinBank{ID: id, Name: f.bank(ctx, id)}
	}
	return out, nil
}

func (f *Financing) loan(ctx context.Context, l financing.Loan, until map[int64]time.Time) lab.FinLoan {
	out := lab.FinLoan{ID: l.ID, Company: l.Company, Bank: f.bank(ctx, l.BankID), Amount: l.Amount, Rate: l.Rate, Term: l.Term,
		Guarantee: string(l.Guarantee), FirstLoan: l.FirstLoan, AcceptedAt: l.AcceptedAt, Disbursed: l.DisbursedAt, Maturity: l.Maturity,
		ConsentID: l.ConsentID, ConsentUntil: until[l.ConsentID], Status: l.Status, DaysOverdue: l.DaysOverdue}
	if f.names != nil {
		out.CompanyName = f.names(l.Company)
	}
	return out
}

// CompanyLoans implements lab.Financing: the company's loans with the consent
// each lending bank holds because of them.
func (f *Financing) CompanyLoans(ctx context.Context, p lab.Principal, code string) ([]lab.FinLoan, error) {
	ls, err := f.st.CompanyLoans(ctx, p.Principal, code)
	if err != nil {
		return nil, finErr(err)
	}
	until := map[int64]time.Time{}
	if len(ls) > 0 {
		cs, err := f.acc.Consents(ctx, code)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			until[c.ID] = c.ExpiresAt
		}
	}
	out := make([]lab.FinLoan, len(ls))
	for i, l := range ls {
		out[i] = f.loan(ctx, l, until)
	}
	return out, nil
}

// Products implements lab.Financing: the bank's products and its pending
// changes.
func (f *Financing) Products(ctx context.Context, p lab.Principal) ([]lab.FinProduct, []lab.FinProposal, error) {
	ps, err := f.st.Products(ctx, p.Principal)
	if err != nil {
		return nil, nil, finErr(err)
	}
	props, err := f.st.Proposals(ctx, p.Principal)
	if err != nil {
		return nil, nil, finErr(err)
	}
	names := map[int64]string{}
	out := make([]lab.FinProduct, len(ps))
	for i, pr := range ps {
		names[pr.ID] = pr.Name
		out[i] = lab.FinProduct{ID: pr.ID, Name: pr.Name, Rule: pr.Rule, LimitCap: pr.LimitCap, MaxTerm: pr.MaxTerm, Rate: pr.Rate,
			AutoApprove: pr.AutoApprove, AutoCap: pr.AutoCap}
	}
	pout := make([]lab.FinProposal, len(props))
	for i, pr := range props {
		who, _, _ := strings.Cut(pr.Proposer, "@") // name@institution/key
		pout[i] = lab.FinProposal{ID: pr.ID, ProductID: pr.ProductID, Product: names[pr.ProductID], Proposer: who,
			AutoApprove: pr.Change.AutoApprove, AutoCap: pr.Change.AutoCap, Rule: pr.Change.Rule, Mine: pr.Proposer == p.Actor()}
	}
	return out, pout, nil
}

// ProposeAuto implements lab.Financing.
func (f *Financing) ProposeAuto(ctx context.Context, p lab.Principal, product int64, on bool, autoCap float64) (bool, error) {
	c := financing.ProductChange{AutoApprove: &on}
	if on {
		c.AutoCap = &autoCap
	}
	_, prop, err := f.st.ChangeProduct(ctx, p.Principal, product, c)
	return prop != nil, finErr(err)
}

// ProposeRule implements lab.Financing.
func (f *Financing) ProposeRule(ctx context.Context, p lab.Principal, product int64, rule string) (bool, error) {
	_, prop, err := f.st.ChangeProduct(ctx, p.Principal, product, financing.ProductChange{Rule: &rule})
	return prop != nil, finErr(err)
}

// Approve implements lab.Financing.
func (f *Financing) Approve(ctx context.Context, p lab.Principal, proposal int64) error {
	_, err := f.st.ApproveProposal(ctx, p.Principal, proposal)
	return finErr(err)
}

// BankLoans implements lab.Financing.
func (f *Financing) BankLoans(ctx context.Context, p lab.Principal) ([]lab.FinLoan, error) {
	ls, err := f.st.Loans(ctx, p.Principal)
	if err != nil {
		return nil, finErr(err)
	}
	out := make([]lab.FinLoan, len(ls))
	for i, l := range ls {
		out[i] = f.loan(ctx, l, nil)
	}
	return out, nil
}

// Disburse implements lab.Financing.
func (f *Financing) Disburse(ctx context.Context, p lab.Principal, loan int64, at time.Time) error {
	if at.IsZero() {
		at = f.now()
	}
	_, err := f.st.Disburse(ctx, p.Principal, loan, at)
	return finErr(err)
}

// UploadRepayments implements lab.Financing.
func (f *Financing) UploadRepayments(ctx context.Context, p lab.Principal, name string, r io.Reader) (int, error) {
	rep, err := f.st.UploadRepayments(ctx, p.Principal, name, r)
	if err != nil {
		return 0, finErr(err)
	}
	return int(rep.Accepted), nil
}

// Labels implements lab.Financing: builds the bank's label files and returns
// the CSV rows.
func (f *Financing) Labels(ctx context.Context, p lab.Principal) (lab.FinLabels, error) {
	lf, err := f.st.BuildLabels(ctx, p.Principal)
	if err != nil {
		return lab.FinLabels{}, finErr(err)
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"code", "date", "label", "loan_id"})
	for _, r := range lf.Labels {
		_ = w.Write([]string{r.Code, r.Date.String(), strconv.Itoa(r.Label), strconv.FormatInt(r.LoanID, 10)})
	}
	w.Flush()
	return lab.FinLabels{Rows: lf.Rows, Positives: lf.Positives, Excluded: lf.Excluded, CSV: b.Bytes()}, w.Error()
}

// StatsCSV implements lab.Financing.
func (f *Financing) StatsCSV(ctx context.Context, p lab.Principal, by string, w io.Writer) error {
	st, err := f.st.Stats(ctx, p.Principal, financing.StatsQuery{By: by})
	if err != nil {
		return finErr(err)
	}
	return st.WriteCSV(w)
}
