package reports_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/reports"
)

// TestWhoMayIssue: the company itself through a bound account, a bank with the
// company's consent and a regulator may; a bank without consent, an account not
// bound to the company and a data scientist may not, and a refusal is audited
// and issues nothing.
func TestWhoMayIssue(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		_, owner := accesstest.User(t, f.acc, "Enterprises", access.KindEnterprise, "legal-rep-a", access.RoleEnterprise)
		if _, err := f.acc.BindByOperator(ctx, "root@Platform", owner.UserID, f.a, "electronic business licence 330602000123"); err != nil {
			t.Fatal(err)
		}
		_, unbound := accesstest.User(t, f.acc, "Enterprises", access.KindEnterprise, "stranger", access.RoleEnterprise)
		_, scientist := accesstest.User(t, f.acc, "Shaoxing Bank", access.KindBank, "scientist", access.RoleDataScientist)
		tests := []struct {
			name    string
			p       access.Principal
			company string
			as      string
			err     error // nil: issued
		}{
			{"the company itself", owner, f.a, "company", nil},
			{"a bank with consent", f.bank, f.a, "bank", nil},
			{"a regulator", f.regulator, f.a, "regulator", nil},
			{"a bank without consent", f.bankNoConsent, f.a, "", access.ErrConsentRequired},
			{"a bank with consent of another company", f.bank, f.b, "", access.ErrConsentRequired},
			{"an account bound to another company", owner, f.b, "", access.ErrNotBound},
			{"an unbound account", unbound, f.a, "", access.ErrNotBound},
			{"a data scientist", scientist, f.a, "", access.ErrForbidden},
			{"a platform administrator", f.admin, f.a, "", access.ErrForbidden},
		}
		issued := 0
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r, pdf, err := f.svc.Issue(ctx, tt.p, reports.Request{Company: tt.company, Purpose: reports.Honours})
				if tt.err == nil {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					issued++
					if r.RequestedAs != tt.as || len(pdf) == 0 {
						t.Errorf("requested as %q with %d bytes, want %q", r.RequestedAs, len(pdf), tt.as)
					}
					if _, _, err := f.svc.Get(ctx, tt.p, r.ID); err != nil {
						t.Errorf("the requester cannot read its report back: %v", err)
					}
					return
				}
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %v, want %v", err, tt.err)
				}
				if !access.Audited(err) {
					t.Errorf("the refusal %v was not audited", err)
				}
				recs, lerr := f.log.List(ctx, audit.Filter{Subject: "company:" + tt.company, Actor: tt.p.Actor(), Action: reports.ActionIssue})
				if lerr != nil {
					t.Fatal(lerr)
				}
				if len(recs) != 1 || recs[0].Outcome != audit.OutcomeRefused {
					t.Errorf("audit records of the refusal: %+v, want one refused", recs)
				}
			})
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM reports_issued`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != issued {
			t.Errorf("%d reports stored, want the %d issued", n, issued)
		}
		// Reading a report is refused to whoever may not issue one for its company.
		r, _, err := f.svc.Issue(ctx, f.bank, reports.Request{Company: f.a, Purpose: reports.Bidding})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.Get(ctx, f.bankNoConsent, r.ID); !errors.Is(err, access.ErrConsentRequired) {
			t.Errorf("another bank read the report: %v", err)
		}
		if _, _, err := f.svc.Get(ctx, unbound, r.ID); !errors.Is(err, access.ErrNotBound) {
			t.Errorf("an unbound account read the report: %v", err)
		}
	})
}

// TestBadRequests: a malformed request is refused with a message naming what is
// wrong, before anything is read or stored.
func TestBadRequests(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, metadbtest.SQLite(t))
	tests := []struct {
		name string
		req  reports.Request
		want string
	}{
		{"bad check digit", reports.Request{Company: f.a[:17] + "0", Purpose: reports.Financing}, "company code"},
		{"unknown purpose", reports.Request{Company: f.a, Purpose: "wedding"}, `purpose "wedding"`},
		{"period after issue", reports.Request{Company: f.a, Purpose: reports.Financing, To: "2027-01-01"}, "after the issue date"},
		{"period reversed", reports.Request{Company: f.a, Purpose: reports.Financing, From: "2026-06-01", To: "2026-01-01"}, "after its end"},
		{"period too long", reports.Request{Company: f.a, Purpose: reports.Financing, From: "2010-01-01", To: "2026-01-01"}, "longer than 60 months"},
		{"not a date", reports.Request{Company: f.a, Purpose: reports.Financing, From: "2026/01/01"}, `from "2026/01/01"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.svc.Issue(ctx, f.bank, tt.req)
			if !errors.Is(err, reports.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrInvalid naming %q", err, tt.want)
			}
		})
	}
	// A well-formed code the business registry does not know: nothing to report.
	unknown := mustCode(t, "MA9YYYY9")
	if _, _, err := f.svc.Issue(ctx, f.regulator, reports.Request{Company: unknown, Purpose: reports.Financing}); !errors.Is(err, reports.ErrUnknownCompany) ||
		!access.Audited(err) || !strings.Contains(err.Error(), unknown) {
		t.Errorf("a company unknown to the registry: %v, want an audited ErrUnknownCompany naming it", err)
	}
	var n int
	if err := f.db.QueryRow(ctx, `SELECT COUNT(*) FROM reports_issued`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d reports stored (%v), want none", n, err)
	}
}
