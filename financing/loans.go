package financing

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// Loan states.
const (
	LoanAccepted   = "accepted"   // offer accepted, not yet disbursed
	LoanPerforming = "performing" // disbursed, paid as agreed
	LoanOverdue    = "overdue"
	LoanDefault    = "default"
	LoanRepaid     = "repaid"
)

// Loan is an accepted offer and what became of it.
type Loan struct {
	ID             int64     `json:"id"`
	OfferID        int64     `json:"offer_id"`
	RequestID      int64     `json:"request_id,omitempty"`
	BankID         int64     `json:"bank_id"`
	ProductID      int64     `json:"product_id"`
	Company        string    `json:"company_code"`
	Amount         float64   `json:"amount"`
	Rate           float64   `json:"rate"`
	Term           int       `json:"term"`
	Guarantee      Guarantee `json:"guarantee"`
	FirstLoan      bool      `json:"first_loan"`
	AcceptedAt     time.Time `json:"accepted_at"`
	DisbursedAt    time.Time `json:"disbursed_at,omitzero"`
	Maturity       time.Time `json:"maturity"`
	ConsentID      int64     `json:"consent_id"`
	Status         string    `json:"status"`
	DaysOverdue    int       `json:"days_overdue"`
	GuarantorID    int64     `json:"guarantor_id,omitempty"`
	GuarantorShare float64   `json:"guarantor_share,omitempty"`
	GuaranteeBatch int64     `json:"guarantee_batch,omitempty"`
	Loss           float64   `json:"loss"`
	GuarantorLoss  float64   `json:"guarantor_loss"`
	BankLoss       float64   `json:"bank_loss"`
	District       string    `json:"-"`
	Industry       string    `json:"-"`
	Size           string    `json:"-"`
}

func loanSubject(id int64) string { return "financing.loan:" + strconv.FormatInt(id, 10) }

// AcceptOffer is the company's one-click acceptance: the offer becomes a loan,
// its request closes (every other bank's request-scoped consent ends), and the
// lending bank's consent becomes loan-scoped until maturity plus the renewal
// window. An offer past its expiry is refused (ErrExpired, audited).
func (s *Store) AcceptOffer(ctx context.Context, p access.Principal, id int64) (Loan, error) {
	o, err := s.offer(ctx, id)
	if err != nil {
		return Loan{}, err
	}
	res := companyRes(o.Company)
	res.Operation = "financing.offer.accept"
	if err := s.allow(ctx, p, access.ActionActForCompany, res); err != nil {
		return Loan{}, err
	}
	now := s.now()
	if o.Status == StatusOpen && !now.Before(o.ExpiresAt) {
		return Loan{}, s.refuse(ctx, p, access.ActionActForCompany, res,
			fmt.Errorf("%w: offer %d expired at %s", ErrExpired, id, o.ExpiresAt.Format(time.RFC3339)))
	}
	if o.Status != StatusOpen {
		return Loan{}, fmt.Errorf("%w: offer %d is %s", ErrState, id, o.Status)
	}
	pr, err := s.Product(ctx, o.ProductID)
	if err != nil {
		return Loan{}, err
	}
	info, err := s.companyInfo(ctx, o.Company)
	if err != nil {
		return Loan{}, err
	}
	g := Credit
	if o.RequestID != 0 {
		r, err := s.request(ctx, o.RequestID)
		if err != nil {
			return Loan{}, err
		}
		if r.Status == StatusOpen && !now.Before(r.Deadline) {
			return Loan{}, s.refuse(ctx, p, access.ActionActForCompany, res,
				fmt.Errorf("%w: request %d passed its deadline %s", ErrExpired, r.ID, r.Deadline.Format(time.RFC3339)))
		}
		g = r.Guarantee
	} else if pr.GuarantorID != 0 {
		g = Guaranteed
	}
	l := Loan{OfferID: o.ID, RequestID: o.RequestID, BankID: o.BankID, ProductID: o.ProductID, Company: o.Company, Amount: o.Amount,
		Rate: o.Rate, Term: o.Term, Guarantee: g, AcceptedAt: now, Maturity: addMonths(now, o.Term), Status: LoanAccepted,
		GuarantorID: pr.GuarantorID, GuarantorShare: pr.GuarantorShare, District: info.District, Industry: info.Industry, Size: info.Size}
	var revoke []int64
	e := &audit.Entry{Actor: p.Actor(), Action: "financing.offer.accept", Subject: offerSubject(id)}
	err = s.change(ctx, e, func(tx *metadb.Tx) (any, error) {
		res, err := tx.Exec(ctx, `UPDATE financing_offers SET status = 'accepted', decided_at_ns = ? WHERE id = ? AND status = 'open'`, ns(now), id)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil, fmt.Errorf("%w: offer %d is no longer open", ErrState, id)
		}
		var prior int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM financing_loans WHERE company = ?`, o.Company).Scan(&prior); err != nil {
			return nil, err
		}
		l.FirstLoan = prior == 0 && !info.HadLoan
		if o.RequestID != 0 {
			res, err := tx.Exec(ctx, `UPDATE financing_requests SET status = 'accepted', closed_at_ns = ? WHERE id = ? AND status = 'open'`, ns(now), o.RequestID)
			if err != nil {
				return nil, err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return nil, fmt.Errorf("%w: request %d is no longer open", ErrState, o.RequestID)
			}
			if revoke, err = s.closeTargets(ctx, tx, o.RequestID, -1); err != nil {
				return nil, err
			}
			if _, err := tx.Exec(ctx, `UPDATE financing_offers SET status = 'closed', decided_at_ns = ? WHERE request_id = ? AND status = 'open'`,
				ns(now), o.RequestID); err != nil {
				return nil, err
			}
		}
		lid, err := tx.InsertID(ctx, `INSERT INTO financing_loans (offer_id, request_id, bank_id, product_id, company, amount, rate, term,
			guarantee, first_loan, district, industry, size, accepted_at_ns, maturity_ns, consent_id, status, guarantor_id, guarantor_share)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 'accepted', ?, ?)`,
			l.OfferID, l.RequestID, l.BankID, l.ProductID, l.Company, l.Amount, l.Rate, l.Term, string(l.Guarantee), metadb.Bool(l.FirstLoan),
			l.District, l.Industry, l.Size, ns(now), ns(l.Maturity), l.GuarantorID, l.GuarantorShare)
		l.ID = lid
		return l, err
	})
	if err != nil {
		return Loan{}, fmt.Errorf("financing: accept offer: %w", err)
	}
	// The loan grant first, then the request-scoped ones end: the lender is never
	// without consent in between.
	if err := s.grantLoan(ctx, p.Actor(), &l); err != nil {
		return l, err
	}
	for _, c := range revoke {
		if err := s.revoke(ctx, p.Actor(), c); err != nil {
			return l, err
		}
	}
	return l, nil
}

// grantLoan grants the lending bank consent for the loan until maturity plus the
// renewal window, revoking the loan's previous grant.
func (s *Store) grantLoan(ctx context.Context, actor string, l *Loan) error {
	old := l.ConsentID
	cid, err := s.opts.Consents.GrantConsent(ctx, actor, Grant{Company: l.Company, Institution: l.BankID, Scope: access.ScopeCreditAssessment,
		Purpose: LoanPurpose(l.ID), ExpiresAt: l.Maturity.Add(s.opts.RenewalWindow)})
	if err != nil {
		return fmt.Errorf("%w: loan %d consent: %w", ErrUnavailable, l.ID, err)
	}
	if _, err := s.db.Exec(ctx, `UPDATE financing_loans SET consent_id = ? WHERE id = ?`, cid, l.ID); err != nil {
		return fmt.Errorf("financing: loan %d consent: %w", l.ID, err)
	}
	l.ConsentID = cid
	return s.revoke(ctx, actor, old)
}

// ownLoan loads a loan of the principal's bank; another bank's loan is "not
// found" and the refusal is audited.
func (s *Store) ownLoan(ctx context.Context, p access.Principal, id int64, op string) (Loan, error) {
	l, err := s.loan(ctx, id)
	res := access.Resource{Kind: "financing.loan", ID: strconv.FormatInt(id, 10), Owner: l.BankID, Operation: op}
	if err != nil {
		return Loan{}, s.refuse(ctx, p, access.ActionFinancingBank, res, err)
	}
	if err := s.allow(ctx, p, access.ActionFinancingBank, res); err != nil {
		return Loan{}, access.MarkAudited(fmt.Errorf("%w: loan %d (%w)", ErrNotFound, id, err))
	}
	return l, nil
}

// Disburse records the disbursement of a loan of the principal's bank at at;
// maturity runs from it, and the loan consent follows. A guaranteed loan must
// have been guaranteed (GuaranteeLoans) first.
func (s *Store) Disburse(ctx context.Context, p access.Principal, id int64, at time.Time) (Loan, error) {
	l, err := s.ownLoan(ctx, p, id, "financing.loan.disburse")
	if err != nil {
		return Loan{}, err
	}
	if l.Status != LoanAccepted {
		return Loan{}, fmt.Errorf("%w: loan %d is %s", ErrState, id, l.Status)
	}
	if l.GuarantorID != 0 && l.GuaranteeBatch == 0 {
		return Loan{}, fmt.Errorf("%w: loan %d waits for its guarantee by institution %d", ErrState, id, l.GuarantorID)
	}
	if at.IsZero() || at.Before(l.AcceptedAt.Add(-24*time.Hour)) || at.After(s.now().Add(24*time.Hour)) {
		return Loan{}, fmt.Errorf("%w: disbursement date %s must lie between acceptance and now", ErrInvalid, at.Format(time.DateOnly))
	}
	before := l
	l.DisbursedAt, l.Maturity, l.Status = at.UTC(), addMonths(at.UTC(), l.Term), LoanPerforming
	err = s.change(ctx, &audit.Entry{Actor: p.Actor(), Action: "financing.loan.disburse", Subject: loanSubject(id), Before: before},
		func(tx *metadb.Tx) (any, error) {
			_, err := tx.Exec(ctx, `UPDATE financing_loans SET disbursed_at_ns = ?, maturity_ns = ?, status = 'performing' WHERE id = ? AND status = 'accepted'`,
				ns(l.DisbursedAt), ns(l.Maturity), id)
			return l, err
		})
	if err != nil {
		return Loan{}, fmt.Errorf("financing: disburse: %w", err)
	}
	if !l.Maturity.Equal(before.Maturity) {
		if err := s.grantLoan(ctx, p.Actor(), &l); err != nil {
			return l, err
		}
	}
	return l, nil
}

const loanCols = `id, offer_id, request_id, bank_id, product_id, company, amount, rate, term, guarantee, first_loan, district, industry, size,
	accepted_at_ns, disbursed_at_ns, maturity_ns, consent_id, status, days_overdue, guarantor_id, guarantor_share, guarantee_batch, loss, guarantor_loss, bank_loss`

func scanLoan(row scanner) (Loan, error) {
	var l Loan
	var g string
	var first int
	var a, d, m int64
	if err := row.Scan(&l.ID, &l.OfferID, &l.RequestID, &l.BankID, &l.ProductID, &l.Company, &l.Amount, &l.Rate, &l.Term, &g, &first,
		&l.District, &l.Industry, &l.Size, &a, &d, &m, &l.ConsentID, &l.Status, &l.DaysOverdue, &l.GuarantorID, &l.GuarantorShare,
		&l.GuaranteeBatch, &l.Loss, &l.GuarantorLoss, &l.BankLoss); err != nil {
		return Loan{}, err
	}
	l.Guarantee, l.FirstLoan, l.AcceptedAt, l.DisbursedAt, l.Maturity = Guarantee(g), first != 0, fromNS(a), fromNS(d), fromNS(m)
	return l, nil
}

func (s *Store) loan(ctx context.Context, id int64) (Loan, error) {
	l, err := scanLoan(s.db.QueryRow(ctx, `SELECT `+loanCols+` FROM financing_loans WHERE id = ?`, id))
	if noRows(err) {
		return Loan{}, fmt.Errorf("%w: loan %d", ErrNotFound, id)
	}
	if err != nil {
		return Loan{}, fmt.Errorf("financing: loan %d: %w", id, err)
	}
	return l, nil
}

func (s *Store) loans(ctx context.Context, where string, args ...any) ([]Loan, error) {
	rows, err := s.db.Query(ctx, `SELECT `+loanCols+` FROM financing_loans WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("financing: loans: %w", err)
	}
	defer rows.Close()
	var out []Loan
	for rows.Next() {
		l, err := scanLoan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// Loans lists the loans of the principal's bank (only its own: outcomes are
// never shared between banks).
func (s *Store) Loans(ctx context.Context, p access.Principal) ([]Loan, error) {
	if err := s.allow(ctx, p, access.ActionFinancingBank, access.Resource{Kind: "financing.loans", Owner: p.InstitutionID}); err != nil {
		return nil, err
	}
	return s.loans(ctx, `bank_id = ?`, p.InstitutionID)
}

// CompanyLoans lists a company's own loans (its bound account), from every bank.
func (s *Store) CompanyLoans(ctx context.Context, p access.Principal, code string) ([]Loan, error) {
	code, err := company(code)
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, p, access.ActionActForCompany, companyRes(code)); err != nil {
		return nil, err
	}
	return s.loans(ctx, `company = ?`, code)
}

// Loan returns one loan of the principal's bank.
func (s *Store) Loan(ctx context.Context, p access.Principal, id int64) (Loan, error) {
	return s.ownLoan(ctx, p, id, "financing.loan.read")
}

// RecordLoss records the loss on a defaulted loan of the principal's bank and
// splits it by the guarantor's share (威海: the fund 80%, the bank 20%).
func (s *Store) RecordLoss(ctx context.Context, p access.Principal, id int64, loss float64) (Loan, error) {
	l, err := s.ownLoan(ctx, p, id, "financing.loan.loss")
	if err != nil {
		return Loan{}, err
	}
	if err := finite("loss", loss, 0, l.Amount); err != nil {
		return Loan{}, err
	}
	if l.Status != LoanDefault {
		return Loan{}, fmt.Errorf("%w: loan %d is %s, not in default", ErrState, id, l.Status)
	}
	before := l
	l.Loss = loss
	l.GuarantorLoss = loss * l.GuarantorShare
	l.BankLoss = loss - l.GuarantorLoss
	err = s.change(ctx, &audit.Entry{Actor: p.Actor(), Action: "financing.loan.loss", Subject: loanSubject(id), Before: before},
		func(tx *metadb.Tx) (any, error) {
			_, err := tx.Exec(ctx, `UPDATE financing_loans SET loss = ?, guarantor_loss = ?, bank_loss = ? WHERE id = ?`, l.Loss, l.GuarantorLoss, l.BankLoss, id)
			return map[string]float64{"loss": l.Loss, "guarantor_loss": l.GuarantorLoss, "bank_loss": l.BankLoss}, err
		})
	if err != nil {
		return Loan{}, fmt.Errorf("financing: record loss: %w", err)
	}
	return l, nil
}

// GuarantorPolicy is a guarantee institution's own eligibility rule and
// whitelist (empty: every company its rule admits).
type GuarantorPolicy struct {
	Rule      string   `json:"rule"`
	Whitelist []string `json:"whitelist,omitempty"`
}

// SetGuarantorPolicy sets the principal's guarantee institution's rule and
// whitelist.
func (s *Store) SetGuarantorPolicy(ctx context.Context, p access.Principal, gp GuarantorPolicy) error {
	res := access.Resource{Kind: "financing.guarantor", ID: strconv.FormatInt(p.InstitutionID, 10), Owner: p.InstitutionID, Operation: "financing.guarantor.policy"}
	if err := s.allow(ctx, p, access.ActionFinancingGuarantee, res); err != nil {
		return err
	}
	if _, err := s.rule(gp.Rule); err != nil {
		return err
	}
	codes, err := s.codes(gp.Whitelist)
	if err != nil {
		return err
	}
	return s.change(ctx, &audit.Entry{Actor: p.Actor(), Action: "financing.guarantor.policy", Subject: res.Subject()}, func(tx *metadb.Tx) (any, error) {
		now := ns(s.now())
		var ver int
		err := tx.QueryRow(ctx, `SELECT rule_version FROM financing_guarantors WHERE institution_id = ?`, p.InstitutionID).Scan(&ver)
		switch {
		case noRows(err):
			_, err = tx.Exec(ctx, `INSERT INTO financing_guarantors (institution_id, rule, rule_version, updated_by, updated_at_ns) VALUES (?, ?, 1, ?, ?)`,
				p.InstitutionID, gp.Rule, p.Actor(), now)
		case err == nil:
			_, err = tx.Exec(ctx, `UPDATE financing_guarantors SET rule = ?, rule_version = ?, updated_by = ?, updated_at_ns = ? WHERE institution_id = ?`,
				gp.Rule, ver+1, p.Actor(), now, p.InstitutionID)
		}
		if err != nil {
			return nil, err
		}
		if err := s.replaceList(ctx, tx, p.InstitutionID, listGuarantor, "whitelist", p.Actor(), codes); err != nil {
			return nil, err
		}
		return map[string]any{"rule": gp.Rule, "whitelist": len(codes)}, nil
	})
}

// guarantorAdmits applies a guarantor's rule and whitelist; a guarantor without
// a policy admits nobody.
func (s *Store) guarantorAdmits(ctx context.Context, guarantor int64, code string, env *Env) (bool, error) {
	var text string
	err := metadb.ScanOne(s.db.QueryRow(ctx, `SELECT rule FROM financing_guarantors WHERE institution_id = ?`, guarantor), &text)
	if noRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("financing: guarantor %d: %w", guarantor, err)
	}
	r, err := s.rule(text)
	if err != nil {
		return false, err
	}
	if ok, err := r.Eval(env, nil); !ok || err != nil {
		return false, err
	}
	var n, on int
	err = s.db.QueryRow(ctx, `SELECT count(*), COALESCE(SUM(CASE WHEN c.code = ? THEN 1 ELSE 0 END), 0)
		FROM financing_lists l JOIN financing_list_codes c ON c.list_id = l.id WHERE l.owner_id = ? AND l.kind = ?`,
		code, guarantor, listGuarantor).Scan(&n, &on)
	if err != nil {
		return false, fmt.Errorf("financing: guarantor %d whitelist: %w", guarantor, err)
	}
	return n == 0 || on > 0, nil
}

// GuaranteeBatch is one batch of loans a guarantee institution guaranteed.
type GuaranteeBatch struct {
	ID     int64   `json:"id"`
	Loans  []int64 `json:"loans"`
	Amount float64 `json:"amount"` // the guarantor's share of the loans' amounts
}

// GuaranteeLoans guarantees, in one batch, accepted loans of products the
// principal's institution guarantees; each records the institution's share.
func (s *Store) GuaranteeLoans(ctx context.Context, p access.Principal, ids []int64) (GuaranteeBatch, error) {
	res := access.Resource{Kind: "financing.guarantor", ID: strconv.FormatInt(p.InstitutionID, 10), Owner: p.InstitutionID, Operation: "financing.guarantee.batch"}
	if err := s.allow(ctx, p, access.ActionFinancingGuarantee, res); err != nil {
		return GuaranteeBatch{}, err
	}
	if len(ids) == 0 || len(ids) > s.opts.MaxBatch {
		return GuaranteeBatch{}, fmt.Errorf("%w: a batch holds 1 to %d loans, not %d", ErrInvalid, s.opts.MaxBatch, len(ids))
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var b GuaranteeBatch
	e := &audit.Entry{Actor: p.Actor(), Action: "financing.guarantee.batch", Subject: res.Subject()}
	err := s.change(ctx, e, func(tx *metadb.Tx) (any, error) {
		id, err := tx.InsertID(ctx, `INSERT INTO financing_lists (owner_id, kind, name, created_by, created_at_ns) VALUES (?, 'batch', ?, ?, ?)`,
			p.InstitutionID, "guarantee batch", p.Actor(), ns(s.now()))
		if err != nil {
			return nil, err
		}
		b.ID = id
		for _, lid := range ids {
			var g int64
			var share, amount float64
			var status string
			var batch int64
			err := tx.QueryRow(ctx, `SELECT guarantor_id, guarantor_share, amount, status, guarantee_batch FROM financing_loans WHERE id = ?`, lid).
				Scan(&g, &share, &amount, &status, &batch)
			if noRows(err) || (err == nil && g != p.InstitutionID) {
				return nil, fmt.Errorf("%w: loan %d is not guaranteed by institution %d", ErrNotFound, lid, p.InstitutionID)
			}
			if err != nil {
				return nil, err
			}
			if status != LoanAccepted || batch != 0 {
				return nil, fmt.Errorf("%w: loan %d is %s (batch %d)", ErrState, lid, status, batch)
			}
			if _, err := tx.Exec(ctx, `UPDATE financing_loans SET guarantee_batch = ? WHERE id = ?`, id, lid); err != nil {
				return nil, err
			}
			b.Loans = append(b.Loans, lid)
			b.Amount += amount * share
		}
		return b, nil
	})
	if err != nil {
		return GuaranteeBatch{}, fmt.Errorf("financing: guarantee batch: %w", err)
	}
	return b, nil
}

// GuarantorLoans lists the loans of products the principal's institution
// guarantees.
func (s *Store) GuarantorLoans(ctx context.Context, p access.Principal) ([]Loan, error) {
	res := access.Resource{Kind: "financing.guarantor", ID: strconv.FormatInt(p.InstitutionID, 10), Owner: p.InstitutionID}
	if err := s.allow(ctx, p, access.ActionFinancingGuarantee, res); err != nil {
		return nil, err
	}
	return s.loans(ctx, `guarantor_id = ?`, p.InstitutionID)
}
