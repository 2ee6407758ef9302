// Package access adapts internal/access (institutions, users, roles, hashed API keys,
// consent grants) to serving.Authorizer, so every serving transport authorizes through
// the platform's one access store.
package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	core "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/serving"
)

// Authorizer is a serving.Authorizer over an access store.
type Authorizer struct {
	Store *core.Store
}

// New returns an Authorizer over store.
func New(store *core.Store) *Authorizer { return &Authorizer{Store: store} }

// role picks the serving role of a principal: bank (in a bank), regulator (in a
// regulator), operator (an administrator of the platform institution); anyone else
// gets the lab role, which sees no individual decisions.
func role(p core.Principal) serving.Role {
	switch {
	case p.Has(core.RoleBank) && p.InstitutionKind == core.KindBank:
		return serving.RoleBank
	case p.Has(core.RoleRegulator) && p.InstitutionKind == core.KindRegulator:
		return serving.RoleRegulator
	case p.Has(core.RoleAdmin) && p.InstitutionKind == core.KindPlatform:
		return serving.RoleOperator
	}
	return serving.RoleLab
}

// Authenticate resolves an API key.
func (a *Authorizer) Authenticate(ctx context.Context, key string) (serving.Principal, error) {
	p, err := a.Store.Authenticate(ctx, key)
	if err != nil {
		if errors.Is(err, core.ErrUnauthenticated) {
			return serving.Principal{}, fmt.Errorf("%w: %w", serving.ErrUnauthenticated, err)
		}
		return serving.Principal{}, fmt.Errorf("%w: access store: %w", serving.ErrUnavailable, err)
	}
	return serving.Principal{Institution: p.Institution, InstitutionID: p.InstitutionID, Role: role(p), KeyID: p.KeyID, User: p.User,
		Roles: roleNames(p.Roles)}, nil
}

func roleNames(rs []core.Role) []string {
	out := make([]string, len(rs)) // non-nil: a user without roles is said to have none
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// CheckConsent checks the company's consent grant for the bank.
func (a *Authorizer) CheckConsent(ctx context.Context, bank serving.Principal, company, scope string, at time.Time) error {
	_, err := a.Store.CheckConsent(ctx, company, bank.InstitutionID, scope, at)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, core.ErrConsentRequired):
		return fmt.Errorf("%w: %w", serving.ErrConsentRequired, err)
	case errors.Is(err, core.ErrInvalid):
		return fmt.Errorf("%w: %w", serving.ErrInvalidCompanyCode, err)
	}
	return fmt.Errorf("%w: access store: %w", serving.ErrUnavailable, err)
}

// GrantConsent records a company's consent for a bank (platform operators only).
func (a *Authorizer) GrantConsent(ctx context.Context, actor serving.Principal, company string, bankID int64, scope string, expires time.Time) (serving.Consent, error) {
	if actor.Role != serving.RoleOperator {
		return serving.Consent{}, serving.Forbidden(actor, "recording consent grants", needConsentAdmin)
	}
	c, err := a.Store.GrantConsent(ctx, actor.Actor(), core.ConsentGrant{CompanyCode: company, BankID: bankID, Scope: scope, ExpiresAt: expires})
	if errors.Is(err, core.ErrNotFound) {
		return serving.Consent{}, fmt.Errorf("%w: bank_id %d names no institution", serving.ErrUnknownInstitution, bankID)
	}
	if err != nil {
		return serving.Consent{}, consentErr(err)
	}
	return serving.Consent{ID: c.ID, Company: c.CompanyCode, BankID: c.BankID, Scope: c.Scope, GrantedBy: c.GrantedBy,
		GrantedAt: c.GrantedAt, ExpiresAt: c.ExpiresAt, RevokedAt: c.RevokedAt}, nil
}

// RevokeConsent ends a consent grant now (platform operators only).
func (a *Authorizer) RevokeConsent(ctx context.Context, actor serving.Principal, id int64) error {
	if actor.Role != serving.RoleOperator {
		return serving.Forbidden(actor, "revoking consent grants", needConsentAdmin)
	}
	if err := a.Store.RevokeConsent(ctx, actor.Actor(), id); err != nil {
		return consentErr(err)
	}
	return nil
}

// needConsentAdmin names the role that records and revokes consent grants.
const needConsentAdmin = "role admin (in the platform institution)"

func consentErr(err error) error {
	switch {
	case errors.Is(err, core.ErrInvalid):
		return fmt.Errorf("%w: %w", serving.ErrInvalidInput, err)
	case errors.Is(err, core.ErrNotFound):
		return fmt.Errorf("%w: %w", serving.ErrUnknownConsent, err)
	}
	return fmt.Errorf("%w: access store: %w", serving.ErrUnavailable, err)
}
