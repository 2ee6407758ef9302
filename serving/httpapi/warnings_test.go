package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	core "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
	"github.com/xinyi-platform/xinyi/serving/access"
	"github.com/xinyi-platform/xinyi/serving/httpapi"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

// TestWarningsOverHTTP: a bank sees and acknowledges the warnings of companies
// that granted it consent and subscribes to them; other companies, the whole list
// and filter subscriptions are refused to it and open to a regulator.
func TestWarningsOverHTTP(t *testing.T) {
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	store, log := accesstest.Open(t, db)
	key := func(inst string, kind core.Kind, user string, roles ...core.Role) (string, int64) {
		t.Helper()
		k, p := accesstest.User(t, store, inst, kind, user, roles...)
		return k, p.InstitutionID
	}
	bankKey, bankID := key("Shangyu Bank", core.KindBank, "officer", core.RoleBank)
	regKey, regID := key("Market Regulation", core.KindRegulator, "inspector", core.RoleRegulator)
	code := func(i int) string {
		c, err := creditcode.New('9', '1', "330604", fmt.Sprintf("MA%06d", i))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1, c2 := code(1), code(2)
	if _, err := store.GrantConsent(ctx, "setup", core.ConsentGrant{CompanyCode: c1, BankID: bankID, Scope: core.ScopeCreditAssessment,
		ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	ws, err := warnings.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	ev := &warnings.Evaluation{AsOf: "2025-01-31", Version: "t", Companies: 2, Firings: []warnings.Firing{
		{Rule: "court.dishonest.listed", Severity: warnings.Red, Area: "court", Company: c1, Evidence: warnings.Evidence{AsOf: "2025-01-31",
			Values: []warnings.Value{{Name: "court.dishonest.max_24m", Now: 1.0}, {Name: "tax.arrears.max_12m", Now: 5000.0}}}},
		{Rule: "tax.arrears.present", Severity: warnings.Blue, Area: "tax", Company: c2, Evidence: warnings.Evidence{AsOf: "2025-01-31"}},
	}}
	if _, err := ws.Apply(ctx, ev); err != nil {
		t.Fatal(err)
	}
	guard := webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, InsecureHTTP: true}
	eps, err := webhooks.OpenEndpoints(ctx, db, guard)
	if err != nil {
		t.Fatal(err)
	}
	bankEp, _, err := eps.Create(ctx, bankID, "http://127.0.0.1:9/hooks", "warnings")
	if err != nil {
		t.Fatal(err)
	}
	regEp, _, err := eps.Create(ctx, regID, "http://127.0.0.1:9/reg", "warnings")
	if err != nil {
		t.Fatal(err)
	}
	subs, err := warnings.OpenSubscriptions(ctx, db, warnings.SubscriptionOptions{Consent: store, Endpoints: eps})
	if err != nil {
		t.Fatal(err)
	}
	lib, err := warnings.DefaultLibrary()
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.NewWarnings(httpapi.WarningsOptions{Authorizer: access.New(store, log), Warnings: ws, Subscriptions: subs, Library: lib,
		StreamPoll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	call := func(key, method, path, ctype, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		return res.StatusCode, v
	}
	count := func(v map[string]any, field string) int { l, _ := v[field].([]any); return len(l) }

	for _, tc := range []struct {
		name, key, method, path, ctype, body string
		status                               int
		items                                int
	}{
		{"no key", "", "GET", "/v1/warnings?company=" + c1, "", "", 401, -1},
		{"bank, consented company", bankKey, "GET", "/v1/warnings?company=" + c1, "", "", 200, 1},
		{"bank, company without consent", bankKey, "GET", "/v1/warnings?company=" + c2, "", "", 403, -1},
		{"bank, whole region", bankKey, "GET", "/v1/warnings", "", "", 403, -1},
		{"regulator, red", regKey, "GET", "/v1/warnings?severity=red", "", "", 200, 1},
		{"regulator, all open", regKey, "GET", "/v1/warnings?state=open", "", "", 200, 2},
		{"bad severity", regKey, "GET", "/v1/warnings?severity=pink", "", "", 400, -1},
		{"bad limit", regKey, "GET", "/v1/warnings?limit=0", "", "", 400, -1},
		{"rules", bankKey, "GET", "/v1/warning-rules", "", "", 200, len(lib.Rules)},
		{"bank subscribes to a company without consent", bankKey, "POST", "/v1/warning-subscriptions", "application/json",
			fmt.Sprintf(`{"endpoint_id": %d, "companies": [%q]}`, bankEp.ID, c2), 403, -1},
		{"bank subscribes with a file", bankKey, "POST", fmt.Sprintf("/v1/warning-subscriptions?endpoint_id=%d", bankEp.ID), "text/csv",
			"\ufeffcompany_code\n" + c1 + "\n", 201, 1},
		{"bank subscribes to a filter", bankKey, "POST", "/v1/warning-subscriptions", "application/json",
			fmt.Sprintf(`{"endpoint_id": %d, "min_severity": "red"}`, bankEp.ID), 403, -1},
		{"bank uses the regulator's endpoint", bankKey, "POST", "/v1/warning-subscriptions", "application/json",
			fmt.Sprintf(`{"endpoint_id": %d, "companies": [%q]}`, regEp.ID, c1), 404, -1},
		{"regulator subscribes to a filter", regKey, "POST", "/v1/warning-subscriptions", "application/json",
			fmt.Sprintf(`{"endpoint_id": %d, "min_severity": "yellow", "area": "court"}`, regEp.ID), 201, 1},
		{"bank's subscriptions", bankKey, "GET", "/v1/warning-subscriptions", "", "", 200, 1},
		{"unknown route", bankKey, "GET", "/v1/nothing", "", "", 404, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, v := call(tc.key, tc.method, tc.path, tc.ctype, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, v)
			}
			field := "warnings"
			switch {
			case strings.HasPrefix(tc.path, "/v1/warning-rules"):
				field = "rules"
			case strings.HasPrefix(tc.path, "/v1/warning-subscriptions"):
				field = "subscriptions"
			}
			if tc.items >= 0 && count(v, field) != tc.items {
				t.Fatalf("%d %s, want %d: %v", count(v, field), field, tc.items, v)
			}
		})
	}
	// Evidence above the caller's clearance is withheld: tax arrears are
	// confidential (a regulator sees them, a bank not), the dishonest-debtor mark
	// is public.
	for _, tc := range []struct {
		key      string
		withheld bool
	}{{bankKey, true}, {regKey, false}} {
		_, v := call(tc.key, "GET", "/v1/warnings?company="+c1, "", "")
		ws := v["warnings"].([]any)
		vals := ws[0].(map[string]any)["evidence"].(map[string]any)["values"].([]any)
		public, tax := vals[0].(map[string]any), vals[1].(map[string]any)
		if public["now"] != 1.0 || public["withheld"] != nil {
			t.Errorf("public value: %v", public)
		}
		if got := tax["withheld"] == true && tax["now"] == nil; got != tc.withheld {
			t.Errorf("confidential value %v, withheld should be %v", tax, tc.withheld)
		}
	}
	// The server-sent-events feed carries what the subscriptions take: the bank
	// its consented company (confidential evidence withheld), the regulator its
	// filter; a feed without a resume point starts now.
	events := func(key, query string, want int, during func()) []map[string]any {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(cctx, "GET", srv.URL+"/v1/warnings/stream"+query, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || !strings.HasPrefix(ct, "text/event-stream") {
			t.Fatalf("stream: %d %s", res.StatusCode, ct)
		}
		if during != nil {
			during()
		}
		var got []map[string]any
		sc := bufio.NewScanner(res.Body)
		for len(got) < want && sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var v map[string]any
				if err := json.Unmarshal([]byte(d), &v); err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
			}
		}
		if len(got) < want {
			t.Fatalf("%d events, want %d", len(got), want)
		}
		return got
	}
	bankFeed := events(bankKey, "?after=0", 1, nil)
	bw := bankFeed[0]["warning"].(map[string]any)
	if bw["company"] != c1 || bankFeed[0]["event"] != "warning.opened" {
		t.Fatalf("bank feed: %v", bankFeed)
	}
	if v := bw["evidence"].(map[string]any)["values"].([]any)[1].(map[string]any); v["withheld"] != true {
		t.Fatalf("the bank's feed shows confidential evidence: %v", v)
	}
	if rf := events(regKey, "?after=0", 1, nil); rf[0]["warning"].(map[string]any)["rule"] != "court.dishonest.listed" {
		t.Fatalf("regulator feed: %v", rf)
	}
	if status, _ := call(bankKey, "GET", "/v1/warnings/stream?after=x", "", ""); status != 400 {
		t.Fatalf("a bad resume point: %d", status)
	}
	live := events(bankKey, "", 1, func() {
		ev := &warnings.Evaluation{AsOf: "2025-02-28", Version: "t", Companies: 2, Firings: []warnings.Firing{
			{Rule: "court.dishonest.listed", Severity: warnings.Red, Area: "court", Company: c1, Evidence: warnings.Evidence{AsOf: "2025-02-28",
				Values: []warnings.Value{{Name: "court.dishonest.max_24m", Now: 1.0}, {Name: "tax.arrears.max_12m", Now: 5000.0}}}},
			{Rule: "tax.arrears.present", Severity: warnings.Blue, Area: "tax", Company: c2, Evidence: warnings.Evidence{AsOf: "2025-02-28"}},
			{Rule: "penalty.new", Severity: warnings.Yellow, Area: "penalty", Company: c2, Evidence: warnings.Evidence{AsOf: "2025-02-28"}},
			{Rule: "penalty.new", Severity: warnings.Yellow, Area: "penalty", Company: c1, Evidence: warnings.Evidence{AsOf: "2025-02-28"}},
		}}
		if _, err := ws.Apply(ctx, ev); err != nil {
			t.Fatal(err)
		}
	})
	if lw := live[0]["warning"].(map[string]any); lw["company"] != c1 || lw["rule"] != "penalty.new" {
		t.Fatalf("live event: %v", live)
	}

	// Acknowledging: the bank may for c1, not for c2.
	list, _ := ws.List(ctx, warnings.Filter{})
	ids := map[string]int64{}
	for _, w := range list {
		ids[w.Company] = w.ID
	}
	if status, v := call(bankKey, "POST", fmt.Sprintf("/v1/warnings/%d/ack", ids[c2]), "", ""); status != 403 {
		t.Fatalf("ack without consent: %d %v", status, v)
	}
	status, v := call(bankKey, "POST", fmt.Sprintf("/v1/warnings/%d/ack", ids[c1]), "", "")
	if status != 200 || v["acknowledged_by"] == nil || v["acknowledged_by"] == "" {
		t.Fatalf("ack: %d %v", status, v)
	}
	if status, _ := call(bankKey, "POST", "/v1/warnings/999999/ack", "", ""); status != 404 {
		t.Fatalf("ack of a missing warning: %d", status)
	}
	// Unsubscribing another institution's subscription is not found.
	regSubs, _ := subs.List(ctx, regID)
	if status, _ := call(bankKey, "DELETE", fmt.Sprintf("/v1/warning-subscriptions/%d", regSubs[0].ID), "", ""); status != 404 {
		t.Fatalf("deleting another's subscription: %d", status)
	}
	if status, _ := call(regKey, "DELETE", fmt.Sprintf("/v1/warning-subscriptions/%d", regSubs[0].ID), "", ""); status != 204 {
		t.Fatalf("unsubscribe: %d", status)
	}
}
