package serving

import (
	"context"
	"time"
)

// Consent is a company's grant letting one bank assess it for a scope until ExpiresAt.
type Consent struct {
	ID        int64     `json:"id"`
	Company   string    `json:"company_code"`
	BankID    int64     `json:"bank_id"`
	Scope     string    `json:"scope"`
	GrantedBy string    `json:"granted_by"`
	GrantedAt time.Time `json:"granted_at"`
	ExpiresAt time.Time `json:"expires_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// ConsentManager records and revokes consent grants (internal/access through
// serving/access). Grants are made by the platform operator on the company's signed
// authorization. Errors wrap ErrInvalidInput or ErrUnknownConsent.
type ConsentManager interface {
	GrantConsent(ctx context.Context, actor Principal, company string, bankID int64, scope string, expires time.Time) (Consent, error)
	RevokeConsent(ctx context.Context, actor Principal, id int64) error
}
