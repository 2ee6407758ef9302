package access

import (
	"context"
	"errors"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"slices"
	"testing"
	"time"

	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/lab"
)

func TestAuthenticateConsentAndLogins(t *testing.T) {
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	store, log := accesstest.Open(t, db)
	logins, err := EnsureLogins(ctx, store, "test", DemoLogins())
	if err != nil {
		t.Fatal(err)
	}
	a := New(store, log)
	want := map[string]struct {
		roles     []xaccess.Role
		clearance lab.Clearance
	}{
		"demo-scientist":  {[]xaccess.Role{xaccess.RoleDataScientist}, lab.ClearRestricted},
		"demo-approver":   {[]xaccess.Role{xaccess.RoleApprover}, lab.ClearRestricted},
		"demo-banker":     {[]xaccess.Role{xaccess.RoleBank}, lab.ClearRestricted},
		"demo-regulator":  {[]xaccess.Role{xaccess.RoleRegulator}, lab.ClearConfidential},
		"demo-viewer":     {[]xaccess.Role{xaccess.RoleLab}, lab.ClearPublic},
		"demo-company":    {[]xaccess.Role{xaccess.RoleEnterprise}, lab.ClearPublic},
		"demo-department": {[]xaccess.Role{xaccess.RoleDepartment}, lab.ClearPublic},
	}
	var banker lab.Principal
	for _, l := range logins {
		t.Run(l.User, func(t *testing.T) {
			p, err := a.Authenticate(ctx, l.Key)
			if err != nil {
				t.Fatal(err)
			}
			w := want[l.User]
			if p.Name() != l.User || !slices.Equal(p.Roles, w.roles) || p.Clearance != w.clearance || p.Institution != l.Institution {
				t.Fatalf("%+v", p)
			}
			if l.User == "demo-banker" {
				banker = p
			}
		})
	}
	if _, err := a.Authenticate(ctx, "xy_000000000000_nope"); !errors.Is(err, lab.ErrUnauthenticated) {
		t.Fatalf("bad key: %v", err)
	}

	// A second run keeps the users and issues new keys; the old ones still work.
	again, err := EnsureLogins(ctx, store, "test", DemoLogins()[:1])
	if err != nil || again[0].Key == logins[0].Key {
		t.Fatalf("second run: %v", err)
	}
	if _, err := a.Authenticate(ctx, logins[0].Key); err != nil {
		t.Fatalf("old key: %v", err)
	}

	code, err := creditcode.New('9', '1', "330604", "31415926")
	if err != nil {
		t.Fatal(err)
	}
	profile := xaccess.Resource{Kind: "company", ID: code}
	if err := a.Authorize(ctx, banker.Principal, xaccess.ActionAssess, profile); !errors.Is(err, xaccess.ErrConsentRequired) {
		t.Fatalf("profile before grant: %v", err)
	}
	recs, err := log.List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if last := recs[len(recs)-1]; last.Outcome != audit.OutcomeRefused || last.Subject != "company:"+code || last.Action != string(xaccess.ActionAssess) {
		t.Fatalf("refusal not audited: %+v", last)
	}
	if _, err := store.GrantConsent(ctx, "test", xaccess.ConsentGrant{CompanyCode: code, BankID: banker.InstitutionID, Scope: "credit_assessment",
		ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Authorize(ctx, banker.Principal, xaccess.ActionAssess, profile); err != nil {
		t.Fatalf("profile after grant: %v", err)
	}
	if err := a.Authorize(ctx, banker.Principal, xaccess.ActionAssess, xaccess.Resource{Kind: "company", ID: code[:17] + "#"}); !errors.Is(err, xaccess.ErrInvalid) {
		t.Fatalf("bad code: %v", err)
	}
	if _, err := log.Verify(ctx); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
}
