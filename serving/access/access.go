// Package access adapts internal/access (institutions, users, roles, hashed API keys,
// consent grants, the one Authorize) to serving.Authorizer, so every serving transport authorizes through
// the platform's one access store.
package access

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	core "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/serving"
)

// Authorizer is a serving.Authorizer over an access store: keys are authenticated
// by the store, and every decision is internal/access's one Authorize.
type Authorizer struct {
	Store *core.Store
	Authz *core.Authorizer
}

// New returns an Authorizer over store whose refusals are recorded in log.
func New(store *core.Store, log *audit.Log) *Authorizer {
	return &Authorizer{Store: store, Authz: core.NewAuthorizer(store, log)}
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
	return p, nil
}

// Authorize is internal/access's Authorize.
func (a *Authorizer) Authorize(ctx context.Context, p serving.Principal, action core.Action, res core.Resource) error {
	return a.Authz.Authorize(ctx, p, action, res)
}

// GrantConsent records a company's consent for a bank (platform operators only).
func (a *Authorizer) GrantConsent(ctx context.Context, actor serving.Principal, company string, bankID int64, scope string, expires time.Time) (serving.Consent, error) {
	if err := a.Authz.Authorize(ctx, actor, core.ActionManageConsent, core.Resource{Kind: "company", ID: company, Scope: scope}); err != nil {
		return serving.Consent{}, forbiddenErr(err)
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
	if err := a.Authz.Authorize(ctx, actor, core.ActionManageConsent, core.Resource{Kind: "consent", ID: strconv.FormatInt(id, 10)}); err != nil {
		return forbiddenErr(err)
	}
	if err := a.Store.RevokeConsent(ctx, actor.Actor(), id); err != nil {
		return consentErr(err)
	}
	return nil
}

func forbiddenErr(err error) error {
	if errors.Is(err, core.ErrForbidden) && !errors.Is(err, core.ErrUnavailable) {
		return fmt.Errorf("%w: %w", serving.ErrForbidden, err)
	}
	return fmt.Errorf("%w: %w", serving.ErrUnavailable, err)
}

func consentErr(err error) error {
	switch {
	case errors.Is(err, core.ErrInvalid):
		return fmt.Errorf("%w: %w", serving.ErrInvalidInput, err)
	case errors.Is(err, core.ErrNotFound):
		return fmt.Errorf("%w: %w", serving.ErrUnknownConsent, err)
	}
	return fmt.Errorf("%w: access store: %w", serving.ErrUnavailable, err)
}
