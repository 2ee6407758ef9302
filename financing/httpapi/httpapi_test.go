package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/financing/httpapi"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

const firmA = "91350100M000100Y43"

type assessor struct{}

func (assessor) Assess(_ context.Context, _ access.Principal, code string) (financing.Assessment, error) {
	return financing.Assessment{PD: 0.02, Rating: "A", Colour: "blue", Limit: 1e6, Models: []string{"pd:pd/1"}, PolicyVersion: "p1"}, nil
}

type server struct {
	url                                  string
	bank, other, firm, regulator, nobody string
}

func newServer(t testing.TB) *server {
	t.Helper()
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	log, err := audit.Open(ctx, db, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := access.Open(ctx, db, access.Options{Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fin, err := financing.Open(ctx, db, financing.Options{Authorizer: access.NewAuthorizer(store, log), Audit: log,
		Consents: financing.AccessConsents(store), Assessor: assessor{}, Blob: bs})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Options{Store: fin, Auth: store, MaxJSONBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s := &server{url: srv.URL}
	s.bank, _ = accesstest.User(t, store, "Shangyu Rural Bank", access.KindBank, "a1", access.RoleBank)
	s.other, _ = accesstest.User(t, store, "Keqiao Bank", access.KindBank, "c1", access.RoleBank)
	s.regulator, _ = accesstest.User(t, store, "Shangyu AMR", access.KindRegulator, "reg", access.RoleRegulator)
	s.nobody, _ = accesstest.User(t, store, "Shangyu AMR", access.KindRegulator, "lab", access.RoleLab)
	var fp access.Principal
	s.firm, fp = accesstest.User(t, store, "企业用户", access.KindEnterprise, "firm", access.RoleEnterprise)
	if _, err := store.BindByOperator(ctx, "operator", fp.UserID, firmA, "licence"); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *server) do(t testing.TB, key, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func TestHTTP(t *testing.T) {
	s := newServer(t)
	steps := []struct {
		name               string
		key                *string
		method, path, body string
		want               int
		contains           string
	}{
		{"a bank defines a product", &s.bank, "POST", "/v1/financing/products", `{"name":"经营贷","rule":"pd < 0.05","limit_cap":2000000,"max_term":12,"rate":0.04}`, 201, `"rule_version":1`},
		{"a bad rule", &s.bank, "POST", "/v1/financing/products", `{"name":"x","rule":"pd <","limit_cap":1,"max_term":1,"rate":0}`, 400, "invalid_input"},
		{"an unknown field", &s.bank, "POST", "/v1/financing/products", `{"name":"y","rul":"true"}`, 400, "unknown field"},
		{"two values", &s.bank, "POST", "/v1/financing/products", `{} {}`, 400, "more than one"},
		{"too large", &s.bank, "POST", "/v1/financing/products", `{"name":"` + strings.Repeat("x", 5000) + `"}`, 400, "larger than"},
		{"a company requests", &s.firm, "POST", "/v1/financing/requests", `{"company_code":"` + firmA + `","amount":300000,"term":12,"purpose":"流动资金","guarantee":"credit"}`, 201, `"status":"open"`},
		{"a bank posts for a company", &s.bank, "POST", "/v1/financing/requests", `{"company_code":"` + firmA + `","amount":300000,"term":12,"guarantee":"credit"}`, 403, "forbidden"},
		{"a bad guarantee type", &s.firm, "POST", "/v1/financing/requests", `{"company_code":"` + firmA + `","amount":300000,"term":12,"guarantee":"hope"}`, 400, "guarantee type"},
		{"the inbox with the assessment", &s.bank, "GET", "/v1/financing/inbox", ``, 200, `"rating":"A"`},
		{"another bank's empty inbox", &s.other, "GET", "/v1/financing/inbox", ``, 200, `"items":[]`},
		{"another bank cannot decline", &s.other, "POST", "/v1/financing/requests/1/decline", `{"reasons":["credit_risk"]}`, 404, "not_found"},
		{"an unknown reason", &s.bank, "POST", "/v1/financing/requests/1/decline", `{"reasons":["mood"]}`, 400, "unknown decline reason"},
		{"the bank declines", &s.bank, "POST", "/v1/financing/requests/1/decline", `{"reasons":["credit_risk","collateral"]}`, 204, ""},
		{"the company sees the answer", &s.firm, "GET", "/v1/financing/companies/" + firmA + "/requests", ``, 200, `"reasons":["credit_risk","collateral"]`},
		{"a bad id", &s.bank, "POST", "/v1/financing/requests/x/decline", `{}`, 400, "positive integer"},
		{"the regulator's CSV", &s.regulator, "GET", "/v1/financing/stats?by=district&format=csv", ``, 200, "district,requests,demand"},
		{"the regulator's JSON", &s.regulator, "GET", "/v1/financing/stats?from=2000-01-01", ``, 200, `"requests":1`},
		{"a bad date", &s.regulator, "GET", "/v1/financing/stats?from=yesterday", ``, 400, "RFC 3339"},
		{"a bank reads statistics", &s.bank, "GET", "/v1/financing/stats", ``, 403, "forbidden"},
		{"reason codes", &s.nobody, "GET", "/v1/financing/decline-reasons", ``, 200, `"name_zh":"信用风险过高"`},
		{"no key", new(string), "GET", "/v1/financing/inbox", ``, 401, "unauthenticated"},
		{"no route", &s.bank, "GET", "/v1/financing/nothing", ``, 404, "not_found"},
	}
	for _, st := range steps {
		code, body := s.do(t, *st.key, st.method, st.path, st.body)
		if code != st.want || !strings.Contains(string(body), st.contains) {
			t.Fatalf("%s: %d %s, want %d containing %q", st.name, code, body, st.want, st.contains)
		}
	}
}

// FuzzDecodeJSON: any body decodes into every body type or fails with a clear
// error; it never panics and never reads past the bound.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"company_code":"x","amount":1e308,"term":-1,"banks":[1,2]}`, `[{"loan_id":1,"month":"2027-01"}]`,
		`{"rule":"\u0000"}`, `{"reasons":null}`, `[`, `{"amount":"1"}`, `{"codes":["a"]} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []any{&financing.RequestInput{}, &financing.ProductInput{}, &financing.ProductChange{}, &financing.OfferInput{},
			&[]financing.Repayment{}, &financing.GuarantorPolicy{}, &httpapi.DeclineBody{}, &httpapi.CodesBody{}, &httpapi.DisburseBody{},
			&httpapi.LossBody{}, &httpapi.BatchBody{}} {
			err := httpapi.DecodeJSON(strings.NewReader(string(b)), 1024, v)
			if err == nil && len(b) > 1024 {
				t.Fatalf("%d bytes accepted under a 1024-byte bound", len(b))
			}
			if err == nil && !json.Valid(b) {
				t.Fatalf("invalid JSON %q accepted", b)
			}
		}
		if _, err := httpapi.ParseStatsQuery(map[string][]string{"from": {string(b)}, "by": {string(b)}}); err == nil && len(b) > 0 {
			if _, perr := time.Parse(time.DateOnly, string(b)); perr != nil {
				if _, perr := time.Parse(time.RFC3339, string(b)); perr != nil {
					t.Fatalf("from %q accepted", b)
				}
			}
		}
	})
}

// FuzzPostRequest: a company's request body, whatever it holds, gets a 201 or a
// 4xx, never a 5xx.
func FuzzPostRequest(f *testing.F) {
	s := newServer(f)
	code, _ := s.do(f, s.bank, "POST", "/v1/financing/products", `{"name":"p","rule":"","limit_cap":1e7,"max_term":36,"rate":0.04}`)
	if code != 201 {
		f.Fatalf("product: %d", code)
	}
	for _, b := range []string{`{"company_code":"` + firmA + `","amount":300000,"term":12,"guarantee":"credit"}`,
		`{"company_code":"` + firmA + `","amount":1e400,"term":12,"guarantee":"credit"}`,
		`{"company_code":"` + firmA + `","amount":1,"term":12,"guarantee":"pledge","banks":[0]}`,
		`{"company_code":"` + firmA + `","amount":1,"term":12,"guarantee":"pledge","banks":[99]}`, `null`} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		code, b := s.do(t, s.firm, "POST", "/v1/financing/requests", body)
		if code >= 500 || (code != 201 && code/100 != 4) {
			t.Fatalf("%q: %d %s", body, code, b)
		}
		if code != 201 {
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" {
				t.Fatalf("%q: error body %s", body, b)
			}
		}
	})
}
