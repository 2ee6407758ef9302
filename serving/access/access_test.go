package access_test

import (
	"context"
	"errors"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"testing"
	"time"

	core "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/access"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// TestConsentThroughAccessStore runs the consent rule of serving against the real
// access store and audit log (SQLite): refused (and audited) without a grant, answered
// with one, refused again once revoked.
func TestConsentThroughAccessStore(t *testing.T) {
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	store, log := accesstest.Open(t, db)
	bank, err := store.CreateInstitution(ctx, "admin", "Weihai Bank", core.KindBank)
	if err != nil {
		t.Fatal(err)
	}
	amr, err := store.CreateInstitution(ctx, "admin", "Shangyu AMR", core.KindRegulator)
	if err != nil {
		t.Fatal(err)
	}
	officer, err := store.CreateUser(ctx, "admin", "officer", bank.ID, core.RoleBank)
	if err != nil {
		t.Fatal(err)
	}
	inspector, err := store.CreateUser(ctx, "admin", "inspector", amr.ID, core.RoleRegulator)
	if err != nil {
		t.Fatal(err)
	}
	bankKey, _, err := store.IssueKey(ctx, "admin", officer.ID, "loan system", 0)
	if err != nil {
		t.Fatal(err)
	}
	amrKey, _, err := store.IssueKey(ctx, "admin", inspector.ID, "screening", 0)
	if err != nil {
		t.Fatal(err)
	}

	env := servingtest.New(t)
	auth := access.New(store, log)
	svc, err := serving.New(serving.Options{Models: env.Models, Features: env.Features, Policy: env.Service.Policy(), Authorizer: auth, Auditor: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, "xy_not_a_key"); !errors.Is(err, serving.ErrUnauthenticated) {
		t.Fatalf("bad key: %v", err)
	}
	p, err := auth.Authenticate(ctx, bankKey)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Has(core.RoleBank) || p.InstitutionID != bank.ID {
		t.Fatalf("principal %+v", p)
	}
	if _, err := svc.Assess(ctx, p, serving.Request{Company: env.Good}); !errors.Is(err, serving.ErrConsentRequired) {
		t.Fatalf("without consent: %v", err)
	}
	recs, err := log.List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	if last.Action != string(core.ActionAssess) || last.Outcome != audit.OutcomeRefused || last.Subject != "company:"+env.Good {
		t.Fatalf("last audit record %+v", last)
	}
	c, err := store.GrantConsent(ctx, "company-portal", core.ConsentGrant{CompanyCode: env.Good, BankID: bank.ID, Scope: serving.ConsentScope, ExpiresAt: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := svc.Assess(ctx, p, serving.Request{Company: env.Good})
	if err != nil {
		t.Fatalf("with consent: %v", err)
	}
	if d.Rating != "B" {
		t.Errorf("rating %s", d.Rating)
	}
	if err := store.RevokeConsent(ctx, "company-portal", c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Assess(ctx, p, serving.Request{Company: env.Good}); !errors.Is(err, serving.ErrConsentRequired) {
		t.Fatalf("after revocation: %v", err)
	}
	reg, err := auth.Authenticate(ctx, amrKey)
	if err != nil || !reg.Has(core.RoleRegulator) {
		t.Fatalf("regulator %+v %v", reg, err)
	}
	if _, err := svc.Assess(ctx, reg, serving.Request{Company: env.Bad}); err != nil {
		t.Fatalf("regulator: %v", err)
	}
	rep, err := log.Verify(ctx)
	if err != nil {
		t.Fatalf("audit chain: %v (%+v)", err, rep)
	}
}
