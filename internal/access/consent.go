package access

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// Consent is a company's permission for one bank to query it for one scope until
// an expiry time.
type Consent struct {
	ID          int64     `json:"id"`
	CompanyCode string    `json:"company_code"`
	BankID      int64     `json:"bank_id"`
	Scope       string    `json:"scope"`
	GrantedBy   string    `json:"granted_by"`
	GrantedAt   time.Time `json:"granted_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	RevokedAt   time.Time `json:"revoked_at,omitzero"`
	// Purpose ties the grant to what it was given for ("financing_request:12",
	// "loan:7", "consent_request:3"); empty for a plain grant.
	Purpose string `json:"purpose,omitempty"`
}

// ConsentGrant is the input of GrantConsent.
type ConsentGrant struct {
	CompanyCode string    // unified social credit code, check digit validated
	BankID      int64     // an institution of kind bank
	Scope       string    // e.g. "credit_assessment"; lower-case letters, digits, '_' and '.'
	ExpiresAt   time.Time // must be in the future
	// Purpose, optional, names what the grant is for (see Consent.Purpose): at most
	// 64 characters of letters, digits and '_', '.', ':', '-'.
	Purpose string
}

var (
	scopeRE   = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,63}$`)
	purposeRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{0,64}$`)
)

// GrantConsent records a company's consent for a bank. The company code is
// validated (GB 32100-2015) and the institution must be a bank or a guarantee
// institution.
func (s *Store) GrantConsent(ctx context.Context, actor string, g ConsentGrant) (Consent, error) {
	code := creditcode.Normalize(g.CompanyCode)
	if err := creditcode.Validate(code); err != nil {
		return Consent{}, fmt.Errorf("%w: company code: %w", ErrInvalid, err)
	}
	if !scopeRE.MatchString(g.Scope) {
		return Consent{}, fmt.Errorf("%w: consent scope %q must be lower-case letters, digits, '_' or '.'", ErrInvalid, g.Scope)
	}
	if !purposeRE.MatchString(g.Purpose) {
		return Consent{}, fmt.Errorf("%w: consent purpose %q must be at most 64 letters, digits or '_', '.', ':', '-'", ErrInvalid, g.Purpose)
	}
	now := s.now()
	if !g.ExpiresAt.After(now) {
		return Consent{}, fmt.Errorf("%w: consent expiry %s is not in the future", ErrInvalid, g.ExpiresAt.Format(time.RFC3339))
	}
	bank, err := s.Institution(ctx, g.BankID)
	if err != nil {
		return Consent{}, err
	}
	if bank.Kind != KindBank && bank.Kind != KindGuarantor {
		return Consent{}, fmt.Errorf("%w: consent can only be granted to a bank or a guarantee institution; %s is a %s", ErrInvalid, bank.Name, bank.Kind)
	}
	c := Consent{CompanyCode: code, BankID: bank.ID, Scope: g.Scope, GrantedBy: actor, GrantedAt: now, ExpiresAt: g.ExpiresAt.UTC(), Purpose: g.Purpose}
	err = s.change(ctx, audit.Entry{Actor: actor, Action: "access.consent.grant", Subject: "company:" + code},
		func(tx *metadb.Tx) (any, error) {
			var err error
			c.ID, err = insertConsent(ctx, tx, c)
			return c, err
		})
	if err != nil {
		return Consent{}, fmt.Errorf("access: grant consent: %w", err)
	}
	return c, nil
}

func insertConsent(ctx context.Context, tx *metadb.Tx, c Consent) (int64, error) {
	return tx.InsertID(ctx, `INSERT INTO access_consents (company_code, bank_id, scope, granted_by, granted_at_ns, expires_at_ns, purpose)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, c.CompanyCode, c.BankID, c.Scope, c.GrantedBy, c.GrantedAt.UnixNano(), c.ExpiresAt.UnixNano(), c.Purpose)
}

// RevokeConsent ends a consent now. Revoking a revoked consent is not an error.
func (s *Store) RevokeConsent(ctx context.Context, actor string, id int64) error {
	defer s.dropCache()
	c, err := s.consent(ctx, id)
	if err != nil {
		return err
	}
	return s.change(ctx, audit.Entry{Actor: actor, Action: "access.consent.revoke", Subject: "company:" + c.CompanyCode, Before: c},
		func(tx *metadb.Tx) (any, error) {
			_, err := tx.Exec(ctx, "UPDATE access_consents SET revoked_at_ns = ? WHERE id = ? AND revoked_at_ns = 0", s.now().UnixNano(), id)
			return map[string]int64{"revoked": id}, err
		})
}

// CheckConsent returns the consent under which bankID may query companyCode for
// scope at time at, or an error wrapping ErrConsentRequired when there is none
// (never granted, expired or revoked). A malformed company code wraps ErrInvalid.
func (s *Store) CheckConsent(ctx context.Context, companyCode string, bankID int64, scope string, at time.Time) (Consent, error) {
	code := creditcode.Normalize(companyCode)
	if err := creditcode.Validate(code); err != nil {
		return Consent{}, fmt.Errorf("%w: company code: %w", ErrInvalid, err)
	}
	ck := consentKey{code: code, scope: scope, bank: bankID}
	ttl := s.opts.ConsentCacheTTL
	if ttl > 0 {
		now := s.opts.Now().UnixNano()
		s.mu.Lock()
		cc, ok := s.consents[ck]
		s.mu.Unlock()
		if ok && now < cc.until && !at.Before(cc.c.GrantedAt) && at.Before(cc.c.ExpiresAt) {
			return cc.c, nil
		}
	}
	c, err := s.scanConsent(s.db.QueryRow(ctx, `SELECT id, company_code, bank_id, scope, granted_by, granted_at_ns, expires_at_ns, revoked_at_ns, purpose
		FROM access_consents WHERE company_code = ? AND bank_id = ? AND scope = ? AND revoked_at_ns = 0 AND granted_at_ns <= ? AND expires_at_ns > ?
		ORDER BY expires_at_ns DESC LIMIT 1`, code, bankID, scope, at.UnixNano(), at.UnixNano()))
	if errors.Is(err, metadb.ErrNotFound) {
		return Consent{}, fmt.Errorf("%w: company %s has no active %q consent for institution %d", ErrConsentRequired, code, scope, bankID)
	}
	if err != nil {
		return Consent{}, fmt.Errorf("access: check consent: %w", err)
	}
	if ttl > 0 {
		s.mu.Lock()
		if len(s.consents) >= s.opts.CacheSize {
			clear(s.consents)
		}
		s.consents[ck] = cachedConsent{c: c, until: s.opts.Now().UnixNano() + int64(ttl)}
		s.mu.Unlock()
	}
	return c, nil
}

// Consents lists the grants of a company, newest first, including ended ones.
func (s *Store) Consents(ctx context.Context, companyCode string) ([]Consent, error) {
	code := creditcode.Normalize(companyCode)
	rows, err := s.db.Query(ctx, `SELECT id, company_code, bank_id, scope, granted_by, granted_at_ns, expires_at_ns, revoked_at_ns, purpose
		FROM access_consents WHERE company_code = ? ORDER BY id DESC`, code)
	if err != nil {
		return nil, fmt.Errorf("access: consents of %s: %w", code, err)
	}
	defer rows.Close()
	var out []Consent
	for rows.Next() {
		c, err := s.scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("access: consents of %s: %w", code, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) consent(ctx context.Context, id int64) (Consent, error) {
	c, err := s.scanConsent(s.db.QueryRow(ctx, `SELECT id, company_code, bank_id, scope, granted_by, granted_at_ns, expires_at_ns, revoked_at_ns, purpose
		FROM access_consents WHERE id = ?`, id))
	if errors.Is(err, metadb.ErrNotFound) {
		return Consent{}, fmt.Errorf("%w: consent %d", ErrNotFound, id)
	}
	return c, err
}

type scanner interface{ Scan(dest ...any) error }

// scanConsent scans one consent row from a *sql.Row or *sql.Rows, mapping "no
// rows" to metadb.ErrNotFound.
func (s *Store) scanConsent(row scanner) (Consent, error) {
	var c Consent
	var g, e, r int64
	err := row.Scan(&c.ID, &c.CompanyCode, &c.BankID, &c.Scope, &c.GrantedBy, &g, &e, &r, &c.Purpose)
	if errors.Is(err, sql.ErrNoRows) {
		return Consent{}, metadb.ErrNotFound
	}
	if err != nil {
		return Consent{}, err
	}
	c.GrantedAt, c.ExpiresAt = time.Unix(0, g).UTC(), time.Unix(0, e).UTC()
	if r != 0 {
		c.RevokedAt = time.Unix(0, r).UTC()
	}
	return c, nil
}

// ActiveConsentsOf lists the consents institution bankID holds at time at for
// scope, one per company (the one running longest), by company code.
func (s *Store) ActiveConsentsOf(ctx context.Context, bankID int64, scope string, at time.Time) ([]Consent, error) {
	rows, err := s.db.Query(ctx, `SELECT id, company_code, bank_id, scope, granted_by, granted_at_ns, expires_at_ns, revoked_at_ns, purpose
		FROM access_consents WHERE bank_id = ? AND scope = ? AND revoked_at_ns = 0 AND granted_at_ns <= ? AND expires_at_ns > ?
		ORDER BY company_code, expires_at_ns DESC`, bankID, scope, at.UnixNano(), at.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("access: consents of institution %d: %w", bankID, err)
	}
	defer rows.Close()
	var out []Consent
	for rows.Next() {
		c, err := s.scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("access: consents of institution %d: %w", bankID, err)
		}
		if n := len(out); n > 0 && out[n-1].CompanyCode == c.CompanyCode {
			continue
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
