package httpapi_test

import (
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
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
	"github.com/xinyi-platform/xinyi/serving/access"
	"github.com/xinyi-platform/xinyi/serving/httpapi"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

// TestWebhookEndpointsOverHTTP: a bank registers, rotates and stops its own
// endpoints and replays its own dead deliveries; another bank can do none of it
// to them, a data scientist cannot register one, and the guard refuses an
// address the platform may not call.
func TestWebhookEndpointsOverHTTP(t *testing.T) {
	ctx := context.Background()
	dsn := metadbtest.SQLiteDSN(t)
	db := metadbtest.SQLite(t)
	store, log := accesstest.Open(t, db)
	bankKey, _ := accesstest.User(t, store, "Shangyu Bank", core.KindBank, "officer", core.RoleBank)
	otherKey, _ := accesstest.User(t, store, "Other Bank", core.KindBank, "rival", core.RoleBank)
	sciKey, _ := accesstest.User(t, store, "Shangyu Bank", core.KindBank, "scientist", core.RoleDataScientist)
	guard := webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, InsecureHTTP: true}
	eps, err := webhooks.OpenEndpoints(ctx, db, guard)
	if err != nil {
		t.Fatal(err)
	}
	ws := jobs.NewWorkers()
	if err := webhooks.Register(ws, eps, guard, nil); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.Open(ctx, jobs.Options{DSN: dsn, Workers: ws, Queues: map[string]int{webhooks.QueueName: 1}, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	wst, err := warnings.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.NewWarnings(httpapi.WarningsOptions{Authorizer: access.New(store, log), Warnings: wst, Endpoints: eps, Queue: q, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	call := func(key, method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
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

	status, v := call(bankKey, "POST", "/v1/webhook-endpoints", `{"url":"http://127.0.0.1:9/hooks","description":"贷后预警"}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, v)
	}
	secret, _ := v["secret"].(string)
	if _, err := webhooks.ParseSecret(secret); err != nil {
		t.Fatalf("secret %q: %v", secret, err)
	}
	id := int64(v["endpoint"].(map[string]any)["id"].(float64))
	for _, tc := range []struct {
		name, key, method, path, body string
		status                        int
	}{
		{"address outside the allowed ranges", bankKey, "POST", "/v1/webhook-endpoints", `{"url":"http://10.1.2.3/hooks"}`, 400},
		{"not a URL", bankKey, "POST", "/v1/webhook-endpoints", `{"url":"hooks"}`, 400},
		{"data scientist registers", sciKey, "POST", "/v1/webhook-endpoints", `{"url":"http://127.0.0.1:9/x"}`, 403},
		{"another bank rotates", otherKey, "POST", fmt.Sprintf("/v1/webhook-endpoints/%d/rotate", id), ``, 403},
		{"another bank stops", otherKey, "DELETE", fmt.Sprintf("/v1/webhook-endpoints/%d", id), ``, 403},
		{"unknown endpoint", bankKey, "POST", "/v1/webhook-endpoints/999/rotate", ``, 404},
		{"unknown operation", bankKey, "POST", fmt.Sprintf("/v1/webhook-endpoints/%d/explode", id), ``, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, v := call(tc.key, tc.method, tc.path, tc.body); status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, v)
			}
		})
	}
	status, v = call(bankKey, "POST", fmt.Sprintf("/v1/webhook-endpoints/%d/rotate", id), ``)
	if s2, _ := v["secret"].(string); status != 200 || s2 == "" || s2 == secret {
		t.Fatalf("rotate: %d %v", status, v)
	}
	if ep, _ := eps.Get(ctx, id); ep.Disabled {
		t.Fatal("disabled before it was stopped")
	}
	if _, v := call(otherKey, "GET", "/v1/webhook-endpoints", ``); len(v["endpoints"].([]any)) != 0 {
		t.Fatalf("another bank lists %v", v)
	}

	// A delivery that cannot be made (nothing listens on port 9) dies after its
	// one attempt; only its owner sees and replays it.
	a := webhooks.Args{Endpoint: id, ID: "msg_x", Type: "warning.opened", Data: json.RawMessage(`{}`), At: time.Now()}
	ins, err := q.Insert(ctx, a, jobs.InsertOptions{Queue: webhooks.QueueName, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, v := call(bankKey, "GET", "/v1/webhook-deliveries/dead", ``); len(v["deliveries"].([]any)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delivery did not die")
		}
	}
	if _, v := call(otherKey, "GET", "/v1/webhook-deliveries/dead", ``); len(v["deliveries"].([]any)) != 0 {
		t.Fatalf("another bank sees %v", v)
	}
	if status, v := call(otherKey, "POST", fmt.Sprintf("/v1/webhook-deliveries/%d/replay", ins.ID), ``); status != 403 {
		t.Fatalf("another bank replays: %d %v", status, v)
	}
	if status, v := call(bankKey, "POST", fmt.Sprintf("/v1/webhook-deliveries/%d/replay", ins.ID), ``); status != 202 {
		t.Fatalf("replay: %d %v", status, v)
	}
	if status, _ := call(bankKey, "DELETE", fmt.Sprintf("/v1/webhook-endpoints/%d", id), ``); status != 204 {
		t.Fatalf("stop: %d", status)
	}
	if ep, _ := eps.Get(ctx, id); !ep.Disabled {
		t.Fatal("stopped endpoint still enabled")
	}
	recs, err := log.List(ctx, audit.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recs {
		if strings.HasPrefix(r.Subject, "webhook_endpoint:") {
			seen[r.Action+"/"+r.Outcome]++
		}
	}
	for _, want := range []string{"webhook.endpoint.create/ok", "webhook.endpoint.rotate/ok", "webhook.endpoint.stop/ok", "webhook.manage/refused"} {
		if seen[want] == 0 {
			t.Errorf("no audit record %s in %v", want, seen)
		}
	}
}
