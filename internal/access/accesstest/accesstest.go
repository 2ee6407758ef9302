// Package accesstest signs users in for tests: it creates an institution (when it
// does not exist yet) and a user with roles on a real access store, issues a key and
// authenticates it, as a caller of the platform would be.
package accesstest

import (
	"context"
	"errors"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// User creates user with roles in institution (of kind, created when missing) and
// returns a fresh API key and the principal it authenticates as.
func User(tb testing.TB, store *access.Store, institution string, kind access.Kind, user string, roles ...access.Role) (string, access.Principal) {
	tb.Helper()
	ctx := context.Background()
	inst, err := store.InstitutionByName(ctx, institution)
	if errors.Is(err, access.ErrNotFound) {
		inst, err = store.CreateInstitution(ctx, "setup", institution, kind)
	}
	if err != nil {
		tb.Fatal(err)
	}
	u, err := store.CreateUser(ctx, "setup", user, inst.ID, roles...)
	if err != nil {
		tb.Fatal(err)
	}
	key, _, err := store.IssueKey(ctx, "setup", u.ID, "test", 0)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := store.Authenticate(ctx, key)
	if err != nil {
		tb.Fatal(err)
	}
	return key, p
}

// Open opens the audit log and an access store auditing into it on db, as every
// process does.
func Open(tb testing.TB, db *metadb.DB) (*access.Store, *audit.Log) {
	tb.Helper()
	ctx := context.Background()
	log, err := audit.Open(ctx, db, audit.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	store, err := access.Open(ctx, db, access.Options{Audit: log})
	if err != nil {
		tb.Fatal(err)
	}
	return store, log
}
