// Package access holds institutions, users, roles, hashed API keys and consent grants
// (company to bank), and the one Authorize that registry, serving and lab all call.
//
// Institutions are banks, regulators or the platform operator. Users belong to one
// institution and hold roles (data_scientist, approver, admin, bank, regulator,
// lab). An API key is 32 random bytes shown once by IssueKey; only its sha256 is
// stored, found by a short id embedded in the key and compared in constant time.
// Authenticate turns a key into a Principal, remembering verified keys for
// Options.CacheTTL so serving does not query per request. CheckConsent answers
// whether a bank may query a company (unified social credit code, check digit
// validated) for a scope at a time, optionally from a short-lived cache
// (Options.ConsentCacheTTL).
//
// Authorize is the one place every surface (serving's HTTP, OIP REST and gRPC, the
// registry, the console, the CLI) asks whether a principal may act. Decide holds the
// rules as data-free code: role and institution kind, ownership and sharing of models
// and jobs, and which permissions still depend on a company's consent; Authorizer
// adds the consent check and writes an audit record for every refusal before it
// returns (a refusal that cannot be recorded is ErrUnavailable, never silent).
// Surfaces translate the errors into their own statuses and may answer a refusal with
// "not found" so as not to reveal what another institution holds (MarkAudited keeps
// that answer from being recorded twice).
//
// Usage:
//
//	store, err := access.Open(ctx, db, access.Options{Audit: auditLog})
//	authz := access.NewAuthorizer(store, auditLog)
//	p, err := store.Authenticate(ctx, r.Header.Get("X-API-Key"))
//	err = authz.Authorize(ctx, p, access.ActionAssess, access.Resource{Kind: "company", ID: "91350100M000100Y43"})
//	if errors.Is(err, access.ErrConsentRequired) { ... } // refused, and already in the audit log
package access
