package financing_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// fakeAssessor answers from a table, after the real authorization serving asks
// for (role, the company's consent or binding); its assessments name the models
// and the policy as serving does.
type fakeAssessor map[string]financing.Assessment

type authorizedAssessor struct {
	table fakeAssessor
	authz *access.Authorizer
}

func (f authorizedAssessor) Assess(ctx context.Context, p access.Principal, code string) (financing.Assessment, error) {
	if err := f.authz.Authorize(ctx, p, access.ActionAssess, access.Resource{Kind: "company", ID: code}); err != nil {
		return financing.Assessment{}, err
	}
	a, ok := f.table[code]
	if !ok {
		return financing.Assessment{}, fmt.Errorf("no assessment for %s", code)
	}
	return a, nil
}

type fakeDirectory map[string]financing.Company

func (f fakeDirectory) Company(_ context.Context, code string) (financing.Company, error) {
	c, ok := f[code]
	if !ok {
		return financing.Company{Code: code}, nil
	}
	return c, nil
}

type notices struct {
	mu  sync.Mutex
	got []financing.Notice
}

func (n *notices) Notify(_ context.Context, x financing.Notice) error {
	n.mu.Lock()
	n.got = append(n.got, x)
	n.mu.Unlock()
	return nil
}

// world is one platform: metadata database, audit log, access store, object
// store and the financing store over them.
type world struct {
	db      *metadb.DB
	clk     *clock
	log     *audit.Log
	access  *access.Store
	authz   *access.Authorizer
	blob    *blob.Local
	fin     *financing.Store
	notices *notices
}

func newWorld(t *testing.T, db *metadb.DB, a fakeAssessor, d fakeDirectory) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{db: db, clk: &clock{t: time.Date(2027, 1, 10, 9, 0, 0, 0, time.UTC)}, notices: &notices{}}
	var err error
	if w.log, err = audit.Open(ctx, db, audit.Options{Now: w.clk.Now}); err != nil {
		t.Fatal(err)
	}
	if w.access, err = access.Open(ctx, db, access.Options{Now: w.clk.Now, Audit: w.log}); err != nil {
		t.Fatal(err)
	}
	w.authz = access.NewAuthorizer(w.access, w.log)
	w.authz.Now = w.clk.Now
	if w.blob, err = blob.OpenLocal(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.blob.Close() })
	_, service := accesstest.User(t, w.access, "Shangyu AMR", access.KindRegulator, "financing-jobs", access.RoleRegulator)
	w.fin, err = financing.Open(ctx, db, financing.Options{Authorizer: w.authz, Audit: w.log, Consents: financing.AccessConsents(w.access),
		Assessor: authorizedAssessor{a, w.authz}, Directory: d, Notifier: w.notices, Blob: w.blob, Now: w.clk.Now, Service: service})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// consent records the company's plain consent for bank, for a year.
func (w *world) consent(t *testing.T, code string, bank int64) {
	t.Helper()
	if _, err := w.access.GrantConsent(context.Background(), "operator", access.ConsentGrant{CompanyCode: code, BankID: bank,
		Scope: access.ScopeCreditAssessment, ExpiresAt: w.clk.Now().AddDate(1, 0, 0)}); err != nil {
		t.Fatal(err)
	}
}

// user signs a user in with roles at institution (created with kind when new).
func (w *world) user(t *testing.T, inst string, kind access.Kind, name string, roles ...access.Role) access.Principal {
	t.Helper()
	_, p := accesstest.User(t, w.access, inst, kind, name, roles...)
	return p
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
