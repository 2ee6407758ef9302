package access

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// Consent request states.
const (
	RequestPending   = "pending"
	RequestAccepted  = "accepted"
	RequestDeclined  = "declined"
	RequestWithdrawn = "withdrawn"
)

// ConsentRequest is a bank's request that a company grant it consent: the company
// accepts (a grant follows, tied to the request) or declines it in the portal.
type ConsentRequest struct {
	ID          int64     `json:"id"`
	CompanyCode string    `json:"company_code"`
	BankID      int64     `json:"bank_id"`
	Scope       string    `json:"scope"`
	Note        string    `json:"note,omitempty"` // why the bank asks, shown to the company
	Until       time.Time `json:"until"`          // the expiry of the consent asked for
	RequestedBy string    `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
	Status      string    `json:"status"`
	AnsweredBy  string    `json:"answered_by,omitempty"`
	AnsweredAt  time.Time `json:"answered_at,omitzero"`
	ConsentID   int64     `json:"consent_id,omitempty"` // the grant an acceptance made
}

// RequestConsent records bank bankID's request for a company's consent for scope
// until until (at most a year ahead). A pending request of the same bank, company
// and scope is answered first: a second one is a conflict.
func (s *Store) RequestConsent(ctx context.Context, actor string, bankID int64, companyCode, scope, note string, until time.Time) (ConsentRequest, error) {
	code := creditcode.Normalize(companyCode)
	if err := creditcode.Validate(code); err != nil {
		return ConsentRequest{}, fmt.Errorf("%w: company code: %w", ErrInvalid, err)
	}
	if !scopeRE.MatchString(scope) {
		return ConsentRequest{}, fmt.Errorf("%w: consent scope %q must be lower-case letters, digits, '_' or '.'", ErrInvalid, scope)
	}
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > 500 {
		return ConsentRequest{}, fmt.Errorf("%w: a request's note is at most 500 characters", ErrInvalid)
	}
	now := s.now()
	if !until.After(now) || until.After(now.AddDate(1, 0, 1)) {
		return ConsentRequest{}, fmt.Errorf("%w: the consent asked for must end after now and within a year (got %s)", ErrInvalid, until.Format(time.DateOnly))
	}
	bank, err := s.Institution(ctx, bankID)
	if err != nil {
		return ConsentRequest{}, err
	}
	if bank.Kind != KindBank && bank.Kind != KindGuarantor {
		return ConsentRequest{}, fmt.Errorf("%w: only a bank or guarantee institution asks for consent; %s is a %s", ErrInvalid, bank.Name, bank.Kind)
	}
	var n int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM access_consent_requests WHERE company_code = ? AND bank_id = ? AND scope = ? AND status = ?`,
		code, bankID, scope, RequestPending).Scan(&n); err != nil {
		return ConsentRequest{}, fmt.Errorf("access: consent requests: %w", err)
	}
	if n > 0 {
		return ConsentRequest{}, fmt.Errorf("%w: %s already has a pending %q request to %s", ErrConflict, bank.Name, scope, code)
	}
	r := ConsentRequest{CompanyCode: code, BankID: bankID, Scope: scope, Note: note, Until: until.UTC(), RequestedBy: actor, RequestedAt: now, Status: RequestPending}
	err = s.change(ctx, audit.Entry{Actor: actor, Action: "access.consent.request", Subject: "company:" + code},
		func(tx *metadb.Tx) (any, error) {
			var err error
			r.ID, err = tx.InsertID(ctx, `INSERT INTO access_consent_requests (company_code, bank_id, scope, note, until_ns, requested_by, requested_at_ns, status)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, code, bankID, scope, note, r.Until.UnixNano(), actor, now.UnixNano(), RequestPending)
			return r, err
		})
	if err != nil {
		return ConsentRequest{}, fmt.Errorf("access: request consent: %w", err)
	}
	return r, nil
}

// AnswerConsentRequest accepts or declines a pending request for company
// companyCode (the surface has authorized the actor to act for it). Accepting
// grants the consent asked for, with purpose "consent_request:<id>", in the same
// transaction.
func (s *Store) AnswerConsentRequest(ctx context.Context, actor, companyCode string, id int64, accept bool) (ConsentRequest, error) {
	defer s.dropCache()
	code := creditcode.Normalize(companyCode)
	var out ConsentRequest
	err := s.db.Tx(ctx, func(tx *metadb.Tx) error {
		r, err := scanRequest(tx.QueryRow(ctx, requestSelect+` WHERE id = ?`+tx.ForUpdate(), id))
		if errors.Is(err, sql.ErrNoRows) || err == nil && r.CompanyCode != code {
			return fmt.Errorf("%w: consent request %d of %s", ErrNotFound, id, code)
		}
		if err != nil {
			return err
		}
		if r.Status != RequestPending {
			return fmt.Errorf("%w: consent request %d was already %s", ErrConflict, id, r.Status)
		}
		now := s.now()
		r.Status, r.AnsweredBy, r.AnsweredAt = RequestDeclined, actor, now
		action := "access.consent.decline"
		if accept {
			if !r.Until.After(now) {
				return fmt.Errorf("%w: consent request %d asked for consent until %s, which has passed", ErrInvalid, id, r.Until.Format(time.DateOnly))
			}
			r.Status, action = RequestAccepted, "access.consent.grant"
			c := Consent{CompanyCode: code, BankID: r.BankID, Scope: r.Scope, GrantedBy: actor, GrantedAt: now, ExpiresAt: r.Until,
				Purpose: fmt.Sprintf("consent_request:%d", id)}
			if r.ConsentID, err = insertConsent(ctx, tx, c); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE access_consent_requests SET status = ?, answered_by = ?, answered_at_ns = ?, consent_id = ? WHERE id = ?`,
			r.Status, actor, now.UnixNano(), r.ConsentID, id); err != nil {
			return err
		}
		if s.opts.Audit != nil {
			if _, err := s.opts.Audit.AppendTx(ctx, tx, audit.Entry{Actor: actor, Action: action, Subject: "company:" + code, After: r}); err != nil {
				return err
			}
		}
		out = r
		return nil
	})
	if err != nil {
		return ConsentRequest{}, err
	}
	return out, nil
}

// ConsentRequests lists the requests made to a company, newest first.
func (s *Store) ConsentRequests(ctx context.Context, companyCode string) ([]ConsentRequest, error) {
	return s.requests(ctx, "company_code = ?", creditcode.Normalize(companyCode))
}

// ConsentRequestsOf lists the requests a bank made, newest first.
func (s *Store) ConsentRequestsOf(ctx context.Context, bankID int64) ([]ConsentRequest, error) {
	return s.requests(ctx, "bank_id = ?", bankID)
}

func (s *Store) requests(ctx context.Context, where string, arg any) ([]ConsentRequest, error) {
	rows, err := s.db.Query(ctx, requestSelect+" WHERE "+where+" ORDER BY id DESC", arg)
	if err != nil {
		return nil, fmt.Errorf("access: consent requests: %w", err)
	}
	defer rows.Close()
	var out []ConsentRequest
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("access: consent requests: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const requestSelect = `SELECT id, company_code, bank_id, scope, note, until_ns, requested_by, requested_at_ns, status, answered_by, answered_at_ns, consent_id
	FROM access_consent_requests`

func scanRequest(row scanner) (ConsentRequest, error) {
	var r ConsentRequest
	var until, req, ans int64
	if err := row.Scan(&r.ID, &r.CompanyCode, &r.BankID, &r.Scope, &r.Note, &until, &r.RequestedBy, &req, &r.Status, &r.AnsweredBy, &ans, &r.ConsentID); err != nil {
		return ConsentRequest{}, err
	}
	r.Until, r.RequestedAt, r.AnsweredAt = timeOrZero(until), timeOrZero(req), timeOrZero(ans)
	return r, nil
}
