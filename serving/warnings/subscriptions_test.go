package warnings

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
)

// receiver is a subscriber's HTTP endpoint that checks every signature with the
// endpoint's secret (HMAC-SHA256 over "<id>.<timestamp>.<body>", as the Standard
// Webhooks specification says) and records what arrived.
type receiver struct {
	mu      sync.Mutex
	secrets map[string]string // path → whsec_ secret
	got     []string          // "path id event company"
	bad     []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(rc.secrets[r.URL.Path], "whsec_"))
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%s.%s", r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), body)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	if !slices.Contains(strings.Fields(r.Header.Get("webhook-signature")), want) {
		rc.bad = append(rc.bad, r.Header.Get("webhook-id"))
	}
	var msg struct {
		Type string `json:"type"`
		Data Alert  `json:"data"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		rc.bad = append(rc.bad, string(body))
	}
	// What the evidence shows: "withheld" values, "values", or "none".
	shown := "none"
	var ev Evidence
	if json.Unmarshal(msg.Data.Warning.Evidence, &ev) == nil && len(ev.Values) > 0 {
		shown = "values"
		if ev.Values[0].Withheld && ev.Values[0].Now == nil {
			shown = "withheld"
		}
	}
	rc.got = append(rc.got, fmt.Sprintf("%s %s %s %s %s", r.URL.Path, r.Header.Get("webhook-id"), msg.Type, msg.Data.Warning.Company, shown))
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) messages() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := slices.Clone(rc.got)
	slices.Sort(out)
	return slices.Compact(out)
}

func code(t *testing.T, i int) string {
	c, err := creditcode.New('9', '1', "330604", fmt.Sprintf("MA%06d", i))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSubscriptions: a bank follows the companies it has consent for, a
// regulator follows red warnings; opened and closed warnings reach their
// endpoints signed, with stable ids; a revoked consent stops the bank's alerts.
func TestSubscriptions(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		acc, err := access.Open(ctx, db, access.Options{})
		if err != nil {
			t.Fatal(err)
		}
		bank, err := acc.CreateInstitution(ctx, "test", "Bank", access.KindBank)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := acc.CreateInstitution(ctx, "test", "Regulator", access.KindRegulator)
		if err != nil {
			t.Fatal(err)
		}
		c1, c2, c3 := code(t, 1), code(t, 2), code(t, 3)
		var consent2 int64
		for _, c := range []string{c1, c2} {
			g, err := acc.GrantConsent(ctx, "test", access.ConsentGrant{CompanyCode: c, BankID: bank.ID, Scope: access.ScopeCreditAssessment,
				ExpiresAt: time.Now().Add(24 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			consent2 = g.ID
		}
		rc := &receiver{secrets: map[string]string{}}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		guard := webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, InsecureHTTP: true, Timeout: 5 * time.Second}
		eps, err := webhooks.OpenEndpoints(ctx, db, guard)
		if err != nil {
			t.Fatal(err)
		}
		bankEp, bankSecret, err := eps.Create(ctx, bank.ID, srv.URL+"/bank", "warnings")
		if err != nil {
			t.Fatal(err)
		}
		regEp, regSecret, err := eps.Create(ctx, reg.ID, srv.URL+"/reg", "red warnings")
		if err != nil {
			t.Fatal(err)
		}
		rc.secrets["/bank"], rc.secrets["/reg"] = bankSecret, regSecret

		subs, err := OpenSubscriptions(ctx, db, SubscriptionOptions{Consent: acc, Endpoints: eps})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := subs.SubscribeCompanies(ctx, bank.ID, bankEp.ID, access.SensitivityRestricted, []string{c1, c3}); !errors.Is(err, ErrConsent) || !strings.Contains(err.Error(), c3) {
			t.Fatalf("subscribing without consent: %v", err)
		}
		if _, err := subs.SubscribeCompanies(ctx, bank.ID, regEp.ID, access.SensitivityRestricted, []string{c1}); !errors.Is(err, webhooks.ErrNotFound) {
			t.Fatalf("subscribing another institution's endpoint: %v", err)
		}
		if got, err := subs.SubscribeCompanies(ctx, bank.ID, bankEp.ID, access.SensitivityRestricted, []string{c1, c2}); err != nil || len(got) != 2 {
			t.Fatalf("subscribe: %v %v", got, err)
		}
		if got, err := subs.SubscribeCompanies(ctx, bank.ID, bankEp.ID, access.SensitivityRestricted, []string{c1}); err != nil || len(got) != 0 {
			t.Fatalf("subscribing again: %v %v", got, err)
		}
		if _, err := subs.SubscribeFilter(ctx, reg.ID, regEp.ID, access.SensitivityConfidential, FilterSpec{MinSeverity: Red}); err != nil {
			t.Fatal(err)
		}
		if _, err := subs.SubscribeFilter(ctx, reg.ID, regEp.ID, access.SensitivityConfidential, FilterSpec{MinSeverity: "pink"}); !errors.Is(err, ErrInput) {
			t.Fatalf("bad severity: %v", err)
		}
		if l, err := subs.List(ctx, bank.ID); err != nil || len(l) != 2 {
			t.Fatalf("bank's subscriptions: %v %v", l, err)
		}

		ws := jobs.NewWorkers()
		if err := webhooks.Register(ws, eps, guard, nil); err != nil {
			t.Fatal(err)
		}
		q, err := jobs.Open(ctx, jobs.Options{DSN: "sqlite://" + filepath.Join(t.TempDir(), "jobs.db"), Workers: ws,
			Queues: map[string]int{webhooks.QueueName: 4}, PollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		defer q.Stop(ctx)

		st, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := st.Apply(ctx, eval("2025-01-31", fire("r1", c1, Red, 1), fire("r2", c2, Blue, 1), fire("r1", c3, Red, 1)))
		if err != nil {
			t.Fatal(err)
		}
		n, err := subs.Notify(ctx, q, ch)
		if err != nil || n != 4 {
			t.Fatalf("notify January: %d %v", n, err)
		}
		id := func(w int, event string, ep int64) string { return MessageID(ch.Opened[w].ID, event, ep) }
		// The evidence (tax arrears, a confidential indicator) is withheld from the
		// bank (restricted clearance) and shown to the regulator.
		want := []string{
			"/bank " + id(0, EventOpened, bankEp.ID) + " warning.opened " + c1 + " withheld",
			"/bank " + id(1, EventOpened, bankEp.ID) + " warning.opened " + c2 + " withheld",
			"/reg " + id(0, EventOpened, regEp.ID) + " warning.opened " + c1 + " values",
			"/reg " + id(2, EventOpened, regEp.ID) + " warning.opened " + c3 + " values",
		}
		// c2's consent is revoked: its closing reaches the bank no more.
		if err := acc.RevokeConsent(ctx, "test", consent2); err != nil {
			t.Fatal(err)
		}
		ch2, err := st.Apply(ctx, eval("2025-02-28"))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := subs.Notify(ctx, q, ch2); err != nil || n != 3 {
			t.Fatalf("notify February: %d %v", n, err)
		}
		want = append(want,
			"/bank "+id(0, EventClosed, bankEp.ID)+" warning.closed "+c1+" none",
			"/reg "+id(0, EventClosed, regEp.ID)+" warning.closed "+c1+" none",
			"/reg "+id(2, EventClosed, regEp.ID)+" warning.closed "+c3+" none")
		slices.Sort(want)
		for deadline := time.Now().Add(30 * time.Second); len(rc.messages()) < len(want); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: got %v", rc.messages())
			}
		}
		time.Sleep(200 * time.Millisecond)
		if got := rc.messages(); !slices.Equal(got, want) {
			t.Fatalf("deliveries:\n got %v\nwant %v", got, want)
		}
		if len(rc.bad) > 0 {
			t.Fatalf("bad deliveries: %v", rc.bad)
		}
	})
}

func TestSubscriptionMatches(t *testing.T) {
	w := &Warning{Company: "c1", Severity: Yellow, Area: "tax", District: "330604", Industry: "C"}
	for _, tc := range []struct {
		sub  Subscription
		want bool
	}{
		{Subscription{Company: "c1"}, true},
		{Subscription{Company: "c2"}, false},
		{Subscription{}, true},
		{Subscription{MinSeverity: Blue}, true},
		{Subscription{MinSeverity: Yellow}, true},
		{Subscription{MinSeverity: Red}, false},
		{Subscription{Area: "tax", District: "330604", Industry: "C"}, true},
		{Subscription{District: "330602"}, false},
		{Subscription{Industry: "F"}, false},
		{Subscription{Area: "court"}, false},
	} {
		if got := tc.sub.matches(w); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.sub, got, tc.want)
		}
	}
}
