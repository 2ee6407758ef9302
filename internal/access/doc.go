// Package access holds institutions, users, roles, hashed API keys and consent grants
// (company to bank). Registry, serving and lab all authorize through it.
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
// Usage:
//
//	store, err := access.Open(ctx, db, access.Options{Audit: auditLog})
//	p, err := store.Authenticate(ctx, r.Header.Get("X-API-Key"))
//	if err := p.Require("model upload", access.RoleDataScientist); err != nil { ... }
//	_, err = store.CheckConsent(ctx, "91350100M000100Y43", p.InstitutionID, "credit_assessment", time.Now())
package access
