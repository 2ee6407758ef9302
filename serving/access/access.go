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

// role picks the serving role of a principal: bank before regulator, then lab, then
// operator; a bank role held outside a bank institution counts for nothing.
func role(p core.Principal) serving.Role {
	switch {
	case p.Has(core.RoleBank) && p.InstitutionKind == core.KindBank:
		return serving.RoleBank
	case p.Has(core.RoleRegulator) && p.InstitutionKind == core.KindRegulator:
		return serving.RoleRegulator
	case p.HasAny(core.RoleLab, core.RoleDataScientist, core.RoleApprover):
		return serving.RoleLab
	}
	return serving.RoleOperator
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
	return serving.Principal{Institution: p.Institution, InstitutionID: p.InstitutionID, Role: role(p), KeyID: p.KeyID, User: p.User}, nil
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
