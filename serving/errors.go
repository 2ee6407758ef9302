package serving

import (
	"errors"
	"fmt"
	"strings"
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

// needScreen names the roles that may screen companies.
const needScreen = "role regulator (in a regulator) or admin (in the platform institution)"

// Forbidden is the refusal of p for what (an action or the data it needs), wrapping
// ErrForbidden. need names the roles, as internal/access spells them, that would
// allow it; the message names the caller and, when known, the roles it holds
// (Principal.Roles), never serving's derived Role.
func Forbidden(p Principal, what, need string) error {
	who := "key " + p.KeyID
	if p.User != "" {
		who = "user " + p.User
	}
	has := ""
	if p.Roles != nil {
		has = " (roles: " + strings.Join(p.Roles, ", ") + ")"
	}
	return fmt.Errorf("%w: %s needs %s, which %s of %s does not have%s", ErrForbidden, what, need, who, p.Institution, has)
}
