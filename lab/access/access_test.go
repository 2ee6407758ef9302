package access

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/lab"
)

func TestAuthenticateConsentAndLogins(t *testing.T) {
	ctx := context.Background()
	store, err := xaccess.Open(ctx, metadbtest.SQLite(t), xaccess.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logins, err := EnsureLogins(ctx, store, "test", DemoLogins())
	if err != nil {
		t.Fatal(err)
	}
	a := New(store, Options{})
	want := map[string]struct {
		roles     []lab.Role
		clearance lab.Clearance
	}{
		"demo-scientist": {[]lab.Role{lab.RoleScientist}, lab.ClearRestricted},
		"demo-approver":  {[]lab.Role{lab.RoleApprover}, lab.ClearRestricted},
		"demo-banker":    {[]lab.Role{lab.RoleBank}, lab.ClearRestricted},
		"demo-regulator": {[]lab.Role{lab.RoleRegulator}, lab.ClearConfidential},
		"demo-viewer":    {[]lab.Role{lab.RoleViewer}, lab.ClearPublic},
	}
	var banker lab.Principal
	for _, l := range logins {
		t.Run(l.User, func(t *testing.T) {
			p, err := a.Authenticate(ctx, l.Key)
			if err != nil {
				t.Fatal(err)
			}
			w := want[l.User]
			if p.Name != l.User || !slices.Equal(p.Roles, w.roles) || p.Clearance != w.clearance || p.Institution != l.Institution {
				t.Fatalf("%+v", p)
			}
			if _, ok := p.Native.(xaccess.Principal); !ok {
				t.Fatal("no native principal")
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
	if ok, err := a.HasConsent(ctx, banker, code); ok || err != nil {
		t.Fatalf("consent before grant: %v %v", ok, err)
	}
	if _, err := store.GrantConsent(ctx, "test", xaccess.ConsentGrant{CompanyCode: code, BankID: banker.InstitutionID, Scope: "credit_assessment",
		ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.HasConsent(ctx, banker, code); !ok || err != nil {
		t.Fatalf("consent after grant: %v %v", ok, err)
	}
	if _, err := a.HasConsent(ctx, banker, code[:17]+"#"); !errors.Is(err, lab.ErrInvalidInput) {
		t.Fatalf("bad code: %v", err)
	}
}
