package serving

import (
	"errors"
	"fmt"

	"github.com/xinyi-platform/xinyi/internal/access"
)

// Sentinel errors. Callers match them with errors.Is; each transport maps them to a
// status code in one place.
var (
	// ErrInvalidInput: the caller's request is malformed or has a wrong value.
	ErrInvalidInput = errors.New("serving: invalid input")
	// ErrInvalidCompanyCode: the company code fails GB 32100-2015 validation.
	ErrInvalidCompanyCode = errors.New("serving: invalid company code")
	// ErrUnknownCompany: the online store has no vector for the company.
	ErrUnknownCompany = errors.New("serving: unknown company")
	// ErrUnknownModel: no loaded model has the requested name or version.
	ErrUnknownModel = errors.New("serving: unknown model")
	// ErrUnauthenticated: no API key, or an unknown or revoked one.
	ErrUnauthenticated = errors.New("serving: unauthenticated")
	// ErrForbidden: the caller's role may not do this.
	ErrForbidden = errors.New("serving: forbidden")
	// ErrConsentRequired: a bank asked about a company without an active consent grant.
	ErrConsentRequired = errors.New("serving: consent required")
	// ErrRateLimited: the caller's key exceeded its request rate.
	ErrRateLimited = errors.New("serving: rate limited")
	// ErrNotReady: no complete set of models is loaded yet.
	ErrNotReady = errors.New("serving: not ready")
	// ErrUnavailable: a dependency (online store, audit log) cannot be reached.
	ErrUnavailable = errors.New("serving: dependency unavailable")
	// ErrInvalidModel: a model file or its binding is unusable.
	ErrInvalidModel = errors.New("serving: invalid model")
	// ErrFeatureSetMismatch: a model is bound to a different feature set than serving.
	ErrFeatureSetMismatch = errors.New("serving: feature set mismatch")
	// ErrFeatureCount: a row has the wrong number of features for the model.
	ErrFeatureCount = errors.New("serving: wrong feature count")
	// ErrNoExplainer: the model has no TreeSHAP explainer.
	ErrNoExplainer = errors.New("serving: model cannot explain")
	// ErrUnknownConsent: no consent grant has the id.
	ErrUnknownConsent = errors.New("serving: unknown consent grant")
	// ErrUnknownInstitution: no institution has the id (a consent grant's bank).
	ErrUnknownInstitution = errors.New("serving: unknown institution")
	// ErrUnknownJob: no screening job has the id.
	ErrUnknownJob = errors.New("serving: unknown screening job")
)

// accessErr translates an error of internal/access's Authorize into serving's
// sentinels (keeping the original in the chain): a refusal that could not be
// audited is unavailable, not refused.
// AccessError translates an internal/access answer into serving's errors (a
// refusal is ErrForbidden, a missing consent ErrConsentRequired, an outage
// ErrUnavailable), for surfaces that authorize through the Authorizer directly.
func AccessError(err error) error { return accessErr(err) }

func accessErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, access.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case errors.Is(err, access.ErrConsentRequired):
		return fmt.Errorf("%w: %w", ErrConsentRequired, err)
	case errors.Is(err, access.ErrInvalid):
		return fmt.Errorf("%w: %w", ErrInvalidCompanyCode, err)
	case errors.Is(err, access.ErrForbidden):
		return fmt.Errorf("%w: %w", ErrForbidden, err)
	}
	return fmt.Errorf("%w: authorize: %w", ErrUnavailable, err)
}
