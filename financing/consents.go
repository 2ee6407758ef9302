package financing

import (
	"context"

	"github.com/xinyi-platform/xinyi/internal/access"
)

// AccessConsents adapts an access store to Consents: grants are recorded in
// access_consents with their purpose and audited there.
func AccessConsents(store *access.Store) Consents { return accessConsents{store} }

type accessConsents struct{ store *access.Store }

func (a accessConsents) GrantConsent(ctx context.Context, actor string, g Grant) (int64, error) {
	c, err := a.store.GrantConsent(ctx, actor, access.ConsentGrant{CompanyCode: g.Company, BankID: g.Institution, Scope: g.Scope, Purpose: g.Purpose,
		ExpiresAt: g.ExpiresAt})
	return c.ID, err
}

func (a accessConsents) RevokeConsent(ctx context.Context, actor string, id int64) error {
	return a.store.RevokeConsent(ctx, actor, id)
}
