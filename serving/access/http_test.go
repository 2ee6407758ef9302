package access_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	core "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/access"
	"github.com/xinyi-platform/xinyi/serving/httpapi"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// TestConsentOverHTTP grants and revokes consent through the API and checks that a
// bank's assessment follows: refused, answered, refused again.
func TestConsentOverHTTP(t *testing.T) {
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	store, log := accesstest.Open(t, db)
	key := func(inst string, kind core.Kind, user string, roles ...core.Role) (string, int64) {
		t.Helper()
		k, p := accesstest.User(t, store, inst, kind, user, roles...)
		return k, p.InstitutionID
	}
	bankKey, bankID := key("Weihai Bank", core.KindBank, "officer", core.RoleBank)
	opKey, _ := key("Platform", core.KindPlatform, "operator", core.RoleAdmin)
	adminAtBank, _ := key("Other Bank", core.KindBank, "bank-admin", core.RoleAdmin)
	scientistKey, _ := key("Third Bank", core.KindBank, "scientist", core.RoleDataScientist)

	env := servingtest.New(t)
	auth := access.New(store, log)
	svc, err := serving.New(serving.Options{Models: env.Models, Features: env.Features, Policy: env.Service.Policy(), Authorizer: auth, Auditor: log})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Options{Service: svc, OIP: oip.New(env.Models, oip.Options{}), Authorizer: auth, Consents: auth})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	call := func(method, path, key, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	// refused checks an error answer's status and code and that its message names
	// every one of mention.
	refused := func(what string, s int, b map[string]any, status int, code string, mention ...string) {
		t.Helper()
		e, _ := b["error"].(map[string]any)
		if s != status || e["code"] != code {
			t.Fatalf("%s: %d %v, want %d %s", what, s, b, status, code)
		}
		msg, _ := e["message"].(string)
		for _, m := range mention {
			if !strings.Contains(msg, m) {
				t.Errorf("%s: message %q does not name %q", what, msg, m)
			}
		}
	}
	assess := fmt.Sprintf(`{"company_code":%q}`, env.Good)
	s, b := call("POST", "/v1/assessments", bankKey, assess)
	refused("before grant", s, b, 403, "consent_required")
	s, b = call("POST", "/v1/assessments", scientistKey, assess)
	refused("a data scientist", s, b, 403, "forbidden", "user scientist", "has roles data_scientist", "bank role (at a bank")
	if e := b["error"].(map[string]any); strings.Contains(e["message"].(string), `"lab"`) {
		t.Errorf("the refusal names serving's derived role: %v", e["message"])
	}
	grant := fmt.Sprintf(`{"company_code":%q,"bank_id":%d,"expires_at":%q}`, env.Good, bankID, time.Now().Add(time.Hour).Format(time.RFC3339))
	s, b = call("POST", "/v1/consents", bankKey, grant)
	refused("a bank granted itself consent", s, b, 403, "forbidden", "has roles bank", "platform administrator")
	s, b = call("POST", "/v1/consents", opKey, fmt.Sprintf(`{"company_code":%q,"bank_id":99999,"expires_at":%q}`, env.Good, time.Now().Add(time.Hour).Format(time.RFC3339)))
	refused("unknown bank", s, b, 404, "unknown_institution", "bank_id 99999")
	if s, b := call("POST", "/v1/consents", adminAtBank, grant); s != 403 {
		t.Fatalf("a bank administrator granted consent: %d %v", s, b)
	}
	if s, b := call("POST", "/v1/consents", opKey, `{"company_code":"bogus","bank_id":1,"expires_at":"2030-01-01T00:00:00Z"}`); s != 400 {
		t.Fatalf("bad code: %d %v", s, b)
	}
	if s, b := call("POST", "/v1/consents", opKey, fmt.Sprintf(`{"company_code":%q,"bank_id":%d,"expires_at":"2001-01-01T00:00:00Z"}`, env.Good, bankID)); s != 400 {
		t.Fatalf("expiry in the past: %d %v", s, b)
	}
	s, b = call("POST", "/v1/consents", opKey, grant)
	if s != 201 || b["scope"] != serving.ConsentScope {
		t.Fatalf("grant: %d %v", s, b)
	}
	id := int64(b["id"].(float64))
	if s, b := call("POST", "/v1/assessments", bankKey, assess); s != 200 || b["rating"] != "B" {
		t.Fatalf("with consent: %d %v", s, b)
	}
	s, b = call("DELETE", "/v1/consents/99999", opKey, "")
	refused("revoke unknown", s, b, 404, "unknown_consent")
	if s, b := call("DELETE", fmt.Sprintf("/v1/consents/%d", id), opKey, ""); s != 200 {
		t.Fatalf("revoke: %d %v", s, b)
	}
	s, b = call("POST", "/v1/assessments", bankKey, assess)
	refused("after revocation", s, b, 403, "consent_required")
	if _, err := log.Verify(ctx); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
}
