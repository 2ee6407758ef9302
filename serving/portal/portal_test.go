package portal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/serving/portal"
)

const (
	companyA = "91350100M000100Y43"
	companyB = "914403001922038216"
)

type registry map[string]access.Contact

func (r registry) LegalRepContact(_ context.Context, code string) (access.Contact, error) {
	if c, ok := r[code]; ok {
		return c, nil
	}
	return access.Contact{}, access.ErrNotFound
}

type outbox struct {
	mu  sync.Mutex
	msg []string
}

func (o *outbox) Send(_ context.Context, _ access.Contact, text string) error {
	o.mu.Lock()
	o.msg = append(o.msg, text)
	o.mu.Unlock()
	return nil
}

func (o *outbox) code(t *testing.T) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := regexp.MustCompile(`验证码 ([0-9]{6})`).FindStringSubmatch(o.msg[len(o.msg)-1])
	if m == nil {
		t.Fatalf("no code in %q", o.msg)
	}
	return m[1]
}

type client struct {
	t   *testing.T
	srv *httptest.Server
	key string
}

// do sends body (nil for none) and decodes the answer into out; it returns the
// status and the error code of an error answer.
func (c client) do(method, path string, body any, out any) (int, string) {
	c.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, c.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw bytes.Buffer
	raw.ReadFrom(resp.Body)
	if resp.StatusCode >= 400 {
		var e struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal(raw.Bytes(), &e)
		return resp.StatusCode, e.Error.Code
	}
	if out != nil && raw.Len() > 0 {
		if err := json.Unmarshal(raw.Bytes(), out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, raw.String())
		}
	}
	return resp.StatusCode, ""
}

func TestPortal(t *testing.T) {
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	log, err := audit.Open(ctx, db, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	box := &outbox{}
	s, err := access.Open(ctx, db, access.Options{Audit: log, Contacts: registry{companyA: {Name: "张伟", Phone: "13812345678"}}, Sender: box})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(portal.New(portal.Options{Access: s, Auth: s, Authorizer: access.NewAuthorizer(s, log)}))
	defer srv.Close()
	inst := func(name string, kind access.Kind) int64 {
		in, err := s.CreateInstitution(ctx, "admin", name, kind)
		if err != nil {
			t.Fatal(err)
		}
		return in.ID
	}
	user := func(name string, in int64, roles ...access.Role) client {
		u, err := s.CreateUser(ctx, "admin", name, in, roles...)
		if err != nil {
			t.Fatal(err)
		}
		key, _, err := s.IssueKey(ctx, "admin", u.ID, "t", 0)
		if err != nil {
			t.Fatal(err)
		}
		return client{t: t, srv: srv, key: key}
	}
	ent, bankID, plat := inst("企业用户", access.KindEnterprise), inst("上虞农商银行", access.KindBank), inst("平台", access.KindPlatform)
	rep := user("zhangwei", ent, access.RoleEnterprise)
	clerk := user("clerk", ent, access.RoleEnterprise)
	stranger := user("stranger", ent, access.RoleEnterprise)
	bank := user("officer", bankID, access.RoleBank)
	admin := user("operator", plat, access.RoleAdmin)
	_ = bankID

	// A bank asks for consent; the company has no bound account yet.
	var q access.ConsentRequest
	if st, code := bank.do("POST", "/v1/consent-requests", map[string]any{"company_code": companyA, "note": "流动资金贷款", "until": time.Now().AddDate(0, 6, 0)}, &q); st != 201 {
		t.Fatalf("bank request: %d %s", st, code)
	}
	if st, code := rep.do("GET", "/v1/portal/companies/"+companyA+"/consent-requests", nil, nil); st != 403 || code != "not_bound" {
		t.Fatalf("unbound account reads requests: %d %s", st, code)
	}
	if st, code := rep.do("POST", "/v1/portal/companies/"+companyA+"/consents", map[string]any{"institution": "上虞农商银行", "expires_at": time.Now().AddDate(0, 1, 0)}, nil); st != 403 || code != "not_bound" {
		t.Fatalf("unbound account grants consent: %d %s", st, code)
	}

	// Binding by the code sent to the registered contact.
	var b access.Binding
	if st, code := rep.do("POST", "/v1/portal/bindings", map[string]any{"company_code": companyA}, &b); st != 202 || b.Contact != "138****5678" {
		t.Fatalf("start binding: %d %s %+v", st, code, b)
	}
	if st, code := rep.do("POST", fmt.Sprintf("/v1/portal/bindings/%d/activate", b.ID), map[string]any{"code": "12345"}, nil); st != 400 || code != "activation_failed" {
		t.Fatalf("wrong code: %d %s", st, code)
	}
	if st, code := stranger.do("POST", fmt.Sprintf("/v1/portal/bindings/%d/activate", b.ID), map[string]any{"code": box.code(t)}, nil); st != 404 {
		t.Fatalf("another account activates: %d %s", st, code)
	}
	if st, code := rep.do("POST", fmt.Sprintf("/v1/portal/bindings/%d/activate", b.ID), map[string]any{"code": box.code(t)}, &b); st != 200 || b.Status != access.BindingActive {
		t.Fatalf("activate: %d %s %+v", st, code, b)
	}

	// The company answers the bank and manages its consents itself.
	var reqs struct {
		Requests []struct {
			ID                  int64
			Institution, Status string
		}
	}
	rep.do("GET", "/v1/portal/companies/"+companyA+"/consent-requests", nil, &reqs)
	if len(reqs.Requests) != 1 || reqs.Requests[0].Institution != "上虞农商银行" || reqs.Requests[0].Status != "pending" {
		t.Fatalf("requests %+v", reqs)
	}
	if st, code := rep.do("POST", fmt.Sprintf("/v1/portal/companies/%s/consent-requests/%d/accept", companyA, q.ID), nil, &q); st != 200 || q.ConsentID == 0 {
		t.Fatalf("accept: %d %s %+v", st, code, q)
	}
	if _, err := s.CheckConsent(ctx, companyA, bankID, access.ScopeCreditAssessment, time.Now()); err != nil {
		t.Fatalf("the bank's consent after acceptance: %v", err)
	}
	if st, code := rep.do("POST", "/v1/portal/companies/"+companyA+"/consents", map[string]any{"institution": "上虞农商银行", "expires_at": time.Now().AddDate(3, 0, 0)}, nil); st != 400 {
		t.Fatalf("a three-year consent: %d %s", st, code)
	}
	if st, code := rep.do("DELETE", fmt.Sprintf("/v1/portal/companies/%s/consents/%d", companyA, q.ConsentID), nil, nil); st != 204 {
		t.Fatalf("revoke: %d %s", st, code)
	}
	if _, err := s.CheckConsent(ctx, companyA, bankID, access.ScopeCreditAssessment, time.Now()); err == nil {
		t.Fatal("consent still active after the company revoked it")
	}
	// A bound account acts for its own company only.
	if st, code := rep.do("GET", "/v1/portal/companies/"+companyB+"/consents", nil, nil); st != 403 || code != "not_bound" {
		t.Fatalf("another company's consents: %d %s", st, code)
	}
	other, err := s.GrantConsent(ctx, "admin", access.ConsentGrant{CompanyCode: companyB, BankID: bankID, Scope: "credit_assessment", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := rep.do("DELETE", fmt.Sprintf("/v1/portal/companies/%s/consents/%d", companyA, other.ID), nil, nil); st != 404 {
		t.Fatalf("revoking another company's consent through its own path: %d", st)
	}
	if _, err := s.CheckConsent(ctx, companyB, bankID, access.ScopeCreditAssessment, time.Now()); err != nil {
		t.Fatalf("another company's consent changed: %v", err)
	}

	// Delegation and the operator's binding.
	if st, code := rep.do("POST", "/v1/portal/companies/"+companyA+"/delegates", map[string]any{"user": "clerk"}, nil); st != 201 {
		t.Fatalf("delegate: %d %s", st, code)
	}
	if st, code := clerk.do("GET", "/v1/portal/companies/"+companyA+"/consents", nil, nil); st != 200 {
		t.Fatalf("delegate reads consents: %d %s", st, code)
	}
	if st, _ := bank.do("POST", "/v1/admin/bindings", map[string]any{"user": "stranger", "company_code": companyB, "evidence": "电子营业执照 0001"}, nil); st != 403 {
		t.Fatalf("a bank binds accounts: %d", st)
	}
	if st, code := admin.do("POST", "/v1/admin/bindings", map[string]any{"user": "stranger", "company_code": companyB, "evidence": "电子营业执照 0001"}, nil); st != 201 {
		t.Fatalf("operator binding: %d %s", st, code)
	}
	if st, code := stranger.do("GET", "/v1/portal/companies/"+companyB+"/consents", nil, nil); st != 200 {
		t.Fatalf("operator-bound account: %d %s", st, code)
	}
	// Bad input names what is wrong and changes nothing.
	for _, tt := range []struct{ path, body string }{
		{"/v1/portal/bindings", `{"company_code":"91350100M000100Y44"}`},
		{"/v1/portal/bindings", `{"company":"x"}`},
		{"/v1/portal/bindings", `[`},
	} {
		req, _ := http.NewRequest("POST", srv.URL+tt.path, strings.NewReader(tt.body))
		req.Header.Set("Authorization", "Bearer "+rep.key)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s %s: %d, want 400", tt.path, tt.body, resp.StatusCode)
		}
	}
	recs, err := log.List(ctx, audit.Filter{Action: "portal.GET /v1/portal/companies/{code}/consent-requests"})
	if err != nil || len(recs) == 0 || recs[0].Outcome != audit.OutcomeRefused {
		t.Fatalf("the unbound account's refusal is not audited: %v %+v", err, recs)
	}
}

func FuzzPortalBodies(f *testing.F) {
	ctx := context.Background()
	db := metadbtest.SQLite(f)
	s, err := access.Open(ctx, db, access.Options{})
	if err != nil {
		f.Fatal(err)
	}
	in, _ := s.CreateInstitution(ctx, "admin", "企业用户", access.KindEnterprise)
	u, _ := s.CreateUser(ctx, "admin", "u", in.ID, access.RoleEnterprise)
	key, _, _ := s.IssueKey(ctx, "admin", u.ID, "t", 0)
	h := portal.New(portal.Options{Access: s, Auth: s, Authorizer: access.NewAuthorizer(s, nil)})
	for _, seed := range []string{`{"company_code":"91350100M000100Y43"}`, `{"code":"123456"}`, `{}`, `[1,2]`, `{"user":"x"}{"user":"y"}`, "\x00"} {
		f.Add("/v1/portal/bindings", seed)
		f.Add("/v1/portal/bindings/1/activate", seed)
		f.Add("/v1/consent-requests", seed)
		f.Add("/v1/portal/companies/91350100M000100Y43/consent-requests/1/accept", seed)
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		if u, err := url.ParseRequestURI(path); err != nil || !strings.HasPrefix(path, "/") || u.Host != "" {
			return
		}
		req, err := http.NewRequest("POST", "http://x"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d %s", path, body, w.Code, w.Body.String())
		}
	})
}
