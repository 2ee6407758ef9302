package financing

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// SweepReport counts what one Sweep did.
type SweepReport struct {
	RequestsExpired int `json:"requests_expired"`
	OffersExpired   int `json:"offers_expired"`
	Renewals        int `json:"renewals"`
	Unanswered      int `json:"unanswered"`
	LoanGrants      int `json:"loan_grants"`
}

// Sweep is the periodic job of the loop (the scheduler calls it, e.g. hourly):
// requests past their deadline expire and their consents end; offers past their
// expiry expire; loans within Options.RenewalNotice of maturity get a fresh
// assessment sent to the company and the bank; requests a named bank left
// unanswered past Options.AnswerDeadline raise a warning; a loan grant that
// failed is granted again. Each step is audited; a failing step does not stop
// the others, and the first error is returned.
func (s *Store) Sweep(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	var errs []error
	now := s.now()
	ids, err := s.ids(ctx, `SELECT id FROM financing_requests WHERE status = 'open' AND deadline_ns <= ?`, ns(now))
	errs = append(errs, err)
	for _, id := range ids {
		if err := s.closeRequest(ctx, "system", id, StatusExpired, "deadline passed"); err != nil && !errors.Is(err, ErrState) {
			errs = append(errs, err)
			continue
		}
		rep.RequestsExpired++
	}
	ids, err = s.ids(ctx, `SELECT id FROM financing_offers WHERE status = 'open' AND expires_at_ns <= ?`, ns(now))
	errs = append(errs, err)
	for _, id := range ids {
		err := s.change(ctx, &audit.Entry{Actor: "system", Action: "financing.offer.expire", Subject: offerSubject(id)}, func(tx *metadb.Tx) (any, error) {
			_, err := tx.Exec(ctx, `UPDATE financing_offers SET status = 'expired', decided_at_ns = ? WHERE id = ? AND status = 'open'`, ns(now), id)
			return map[string]string{"status": StatusExpired}, err
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep.OffersExpired++
	}
	loans, err := s.loans(ctx, `status IN ('performing', 'overdue') AND renewal_notified = 0 AND maturity_ns <= ? AND maturity_ns > ?`,
		ns(now.Add(s.opts.RenewalNotice)), ns(now))
	errs = append(errs, err)
	for _, l := range loans {
		err := s.renewal(ctx, l)
		if errors.Is(err, errClaimed) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Renewals++
	}
	rows, err := s.db.Query(ctx, `SELECT r.id, r.company, t.bank_id, r.deadline_ns FROM financing_requests r JOIN financing_targets t ON t.request_id = r.id
		WHERE r.status = 'open' AND t.status = 'open' AND t.warned = 0 AND r.created_at_ns <= ?`, ns(now.Add(-s.opts.AnswerDeadline)))
	type late struct {
		req, bank int64
		company   string
		deadline  int64
	}
	var lates []late
	if err == nil {
		for rows.Next() {
			var l late
			if err := rows.Scan(&l.req, &l.company, &l.bank, &l.deadline); err != nil {
				errs = append(errs, err)
				break
			}
			lates = append(lates, l)
		}
		rows.Close()
		errs = append(errs, rows.Err())
	}
	errs = append(errs, err)
	for _, l := range lates {
		// Claim the warning first, so that concurrent sweeps (one per replica)
		// send it once; a failed delivery gives the claim back.
		err := s.change(ctx, &audit.Entry{Actor: "system", Action: "financing.request.unanswered", Subject: requestSubject(l.req),
			Reason: "institution " + strconv.FormatInt(l.bank, 10) + " has not answered"}, func(tx *metadb.Tx) (any, error) {
			res, err := tx.Exec(ctx, `UPDATE financing_targets SET warned = 1 WHERE request_id = ? AND bank_id = ? AND warned = 0`, l.req, l.bank)
			if err != nil {
				return nil, err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return nil, errClaimed
			}
			return map[string]int64{"bank_id": l.bank}, nil
		})
		if errors.Is(err, errClaimed) {
			continue
		}
		if err == nil {
			n := Notice{Kind: NoticeUnanswered, Institution: l.bank, Company: l.company, RequestID: l.req, Due: fromNS(l.deadline)}
			if err = s.notify(ctx, n); err != nil {
				_, _ = s.db.Exec(context.WithoutCancel(ctx), `UPDATE financing_targets SET warned = 0 WHERE request_id = ? AND bank_id = ?`, l.req, l.bank)
			}
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Unanswered++
	}
	pending, err := s.loans(ctx, `consent_id = 0 AND status <> 'repaid'`)
	errs = append(errs, err)
	for _, l := range pending {
		if err := s.grantLoan(ctx, "system", &l); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.LoanGrants++
	}
	for _, err := range errs {
		if err != nil {
			return rep, fmt.Errorf("financing: sweep: %w", err)
		}
	}
	return rep, nil
}

// renewal notifies the company and the lending bank of a loan nearing maturity
// with a fresh assessment.
func (s *Store) renewal(ctx context.Context, l Loan) error {
	var a *Assessment
	if s.opts.Service.User != "" {
		got, err := s.opts.Assessor.Assess(ctx, s.opts.Service, l.Company)
		if err != nil {
			return fmt.Errorf("%w: assess %s: %w", ErrUnavailable, l.Company, err)
		}
		a = &got
	}
	// Claim, then notify; a failed delivery gives the claim back.
	err := s.change(ctx, &audit.Entry{Actor: "system", Action: "financing.loan.renewal", Subject: loanSubject(l.ID)}, func(tx *metadb.Tx) (any, error) {
		res, err := tx.Exec(ctx, `UPDATE financing_loans SET renewal_notified = 1 WHERE id = ? AND renewal_notified = 0`, l.ID)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil, errClaimed
		}
		return map[string]any{"maturity": l.Maturity, "assessment": a}, nil
	})
	if err != nil {
		return err
	}
	for _, inst := range []int64{0, l.BankID} {
		if err := s.notify(ctx, Notice{Kind: NoticeRenewal, Institution: inst, Company: l.Company, LoanID: l.ID, Due: l.Maturity, Assessment: a}); err != nil {
			_, _ = s.db.Exec(context.WithoutCancel(ctx), `UPDATE financing_loans SET renewal_notified = 0 WHERE id = ?`, l.ID)
			return err
		}
	}
	return nil
}

// errClaimed: another sweep took the notice first.
var errClaimed = errors.New("financing: notice already claimed")

func (s *Store) notify(ctx context.Context, n Notice) error {
	if s.opts.Notifier == nil {
		return nil
	}
	if err := s.opts.Notifier.Notify(ctx, n); err != nil {
		return fmt.Errorf("%w: notify %s: %w", ErrUnavailable, n.Kind, err)
	}
	return nil
}

func (s *Store) ids(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
