package access

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/lab"
)

type names map[string]string

func (n names) CompanyName(code string) string { return n[code] }

func TestPortalAdapter(t *testing.T) {
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	store, log := accesstest.Open(t, db)
	logins, err := EnsureLogins(ctx, store, "test", DemoLogins())
	if err != nil {
		t.Fatal(err)
	}
	guarantor, err := store.CreateInstitution(ctx, "test", "上虞融资担保", xaccess.KindGuarantor)
	if err != nil {
		t.Fatal(err)
	}
	a := New(store, log)
	code, err := creditcode.New('9', '1', "330604", "31415926")
	if err != nil {
		t.Fatal(err)
	}
	other, err := creditcode.New('9', '1', "330604", "27182818")
	if err != nil {
		t.Fatal(err)
	}
	p := a.Portal(names{code: "上虞卧龙电气有限公司"})
	key := map[string]string{}
	for _, l := range logins {
		key[l.User] = l.Key
	}
	signIn := func(user string) lab.Principal {
		pr, err := a.Authenticate(ctx, key[user])
		if err != nil {
			t.Fatal(err)
		}
		return pr
	}
	company, banker, regulator := signIn("demo-company"), signIn("demo-banker"), signIn("demo-regulator")
	if _, err := store.BindByOperator(ctx, "test", company.UserID, code, "licence 1"); err != nil {
		t.Fatal(err)
	}

	t.Run("names", func(t *testing.T) {
		if got := p.CompanyName(ctx, code); got != "上虞卧龙电气有限公司" {
			t.Fatalf("name %q", got)
		}
		bs, err := p.Bindings(ctx, company)
		if err != nil || len(bs) != 1 || bs[0].Name != "上虞卧龙电气有限公司" || bs[0].State != "active" || bs[0].Method != "operator" {
			t.Fatalf("bindings %+v %v", bs, err)
		}
		if got := DirectoryNames(nil).CompanyName(code); got != "" {
			t.Fatalf("nil directory names %q", got)
		}
	})
	t.Run("grantees are banks and guarantors", func(t *testing.T) {
		got, err := p.Grantees(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"上虞农商银行 demo bank", guarantor.Name}
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("grant, list and revoke", func(t *testing.T) {
		c, err := p.GrantConsent(ctx, company, code, "上虞农商银行 demo bank", time.Now().Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		cs, err := p.Consents(ctx, company, code)
		if err != nil || len(cs) != 1 || !cs[0].Active || cs[0].Purpose != "portal" || cs[0].Institution != "上虞农商银行 demo bank" {
			t.Fatalf("consents %+v %v", cs, err)
		}
		// Through another company's listing, the consent is not found, and the
		// refusal is recorded.
		err = p.RevokeConsent(ctx, company, other, c.ID)
		if !errors.Is(err, lab.ErrNotFound) || !xaccess.Audited(err) {
			t.Fatalf("revoke through another company: %v", err)
		}
		recs, _ := log.List(ctx, audit.Filter{})
		if r := recs[len(recs)-1]; r.Outcome != audit.OutcomeRefused || r.Action != "lab.portal.consent.revoke" {
			t.Fatalf("last record %+v", r)
		}
		if err := p.RevokeConsent(ctx, company, code, c.ID); err != nil {
			t.Fatal(err)
		}
		if cs, _ := p.Consents(ctx, company, code); cs[0].Active || cs[0].Revoked.IsZero() {
			t.Fatalf("after revoking %+v", cs[0])
		}
	})
	t.Run("a bank asks, the company answers", func(t *testing.T) {
		if _, err := p.RequestConsent(ctx, regulator, code, "", time.Now().Add(24*time.Hour)); !errors.Is(err, lab.ErrForbidden) {
			t.Fatalf("a regulator asking: %v", err)
		}
		r, err := p.RequestConsent(ctx, banker, code, "贷款审查", time.Now().Add(24*time.Hour))
		if err != nil || r.Name != "上虞卧龙电气有限公司" || r.State != "pending" || r.RequestedBy != "demo-banker" {
			t.Fatalf("request %+v %v", r, err)
		}
		if _, err := p.RequestConsent(ctx, banker, code, "again", time.Now().Add(24*time.Hour)); !errors.Is(err, lab.ErrConflict) {
			t.Fatalf("second pending request: %v", err)
		}
		if _, err := p.AnswerConsentRequest(ctx, company, other, r.ID, true); !errors.Is(err, lab.ErrNotFound) {
			t.Fatalf("answer through another company: %v", err)
		}
		got, err := p.AnswerConsentRequest(ctx, company, code, r.ID, true)
		if err != nil || got.State != "accepted" || got.AnsweredBy != "demo-company" {
			t.Fatalf("answer %+v %v", got, err)
		}
		mine, err := p.RequestsOf(ctx, banker)
		if err != nil || len(mine) != 1 || mine[0].State != "accepted" {
			t.Fatalf("bank's requests %+v %v", mine, err)
		}
	})
}
