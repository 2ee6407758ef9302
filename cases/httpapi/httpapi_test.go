package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/cases"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	ingesthttp "github.com/xinyi-platform/xinyi/datasets/ingest/httpapi"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/httperr"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

const (
	codeA = "91350100M000100Y43"
	codeB = "91330604MA4UJ7K283"
)

type server struct {
	h                            http.Handler
	keyA, keyB, dept, reg, other string
}

func newServer(t *testing.T) *server {
	t.Helper()
	ctx := context.Background()
	blobs, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 10, 15, 2, 0, 0, 0, time.UTC)
	g := ingest.New(blobs)
	csv := "code,event_date,penalty_id,department,severity,amount\n" +
		codeA + ",2024-03-05,P-A-1,绍兴市市场监管局,2,20000\n" +
		codeB + ",2024-05-10,P-B-1,绍兴市市场监管局,3,5000\n"
	if _, err := g.Ingest(ctx, "penalty", []ingest.Input{{Name: "p.csv", R: strings.NewReader(csv)}},
		ingest.Options{Now: func() time.Time { return time.Date(2024, 5, 12, 2, 0, 0, 0, time.UTC) }, MaxBad: -1}); err != nil {
		t.Fatal(err)
	}
	db := metadbtest.SQLite(t)
	acc, log := accesstest.Open(t, db)
	s := &server{}
	bind := func(user, code string) string {
		key, p := accesstest.User(t, acc, "enterprises", access.KindEnterprise, user, access.RoleEnterprise)
		if _, err := acc.BindByOperator(ctx, "operator", p.UserID, code, "licence"); err != nil {
			t.Fatal(err)
		}
		return key
	}
	s.keyA, s.keyB = bind("ent-a", codeA), bind("ent-b", codeB)
	s.dept, _ = accesstest.User(t, acc, "market-regulation", access.KindDepartment, "mr-1", access.RoleDepartment)
	s.other, _ = accesstest.User(t, acc, "tax-bureau", access.KindDepartment, "tax-1", access.RoleDepartment)
	s.reg, _ = accesstest.User(t, acc, "credit-office", access.KindRegulator, "credit-1", access.RoleRegulator)
	store, err := cases.OpenStore(ctx, db, log)
	if err != nil {
		t.Fatal(err)
	}
	authz := access.NewAuthorizer(acc, log)
	svc, err := cases.New(cases.Options{Store: store, Ingest: g, Records: cases.RawRecords{Store: blobs}, Authorizer: authz, Audit: log,
		Owner: ingesthttp.OwnersByName(acc, map[string]string{"penalty": "market-regulation"}), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if s.h, err = New(Options{Service: svc, Auth: acc, Authorizer: authz}); err != nil {
		t.Fatal(err)
	}
	return s
}

// do sends a request and returns the status and the decoded body.
func (s *server) do(t *testing.T, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %q", method, path, rec.Body.String())
	}
	return rec.Code, out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestRoutes(t *testing.T) {
	s := newServer(t)
	objA := fmt.Sprintf(`{"company":%q,"record":{"source":"penalty","key":{"penalty_id":"P-A-1"}},"statement":"金额有误"}`, codeA)
	refusals := []struct {
		name, method, path, key, body string
		status                        int
		code                          string
	}{
		{"no key", "POST", "/v1/cases/objections", "", objA, 401, "unauthenticated"},
		{"another company's record", "POST", "/v1/cases/objections", s.keyB,
			fmt.Sprintf(`{"company":%q,"record":{"source":"penalty","key":{"penalty_id":"P-A-1"}},"statement":"x"}`, codeB), 403, "not_own_record"},
		{"a code not the account's own", "POST", "/v1/cases/objections", s.keyB, objA, 403, "not_bound"},
		{"unknown record", "POST", "/v1/cases/objections", s.keyA,
			fmt.Sprintf(`{"company":%q,"record":{"source":"penalty","key":{"penalty_id":"P-X"}},"statement":"x"}`, codeA), 404, "unknown_record"},
		{"unknown field", "POST", "/v1/cases/objections", s.keyA, `{"company":"x","colour":"red"}`, 400, "invalid_input"},
		{"two values", "POST", "/v1/cases/objections", s.keyA, objA + objA, 400, "invalid_input"},
		{"repair application", "POST", "/v1/cases/repairs", s.keyB,
			fmt.Sprintf(`{"company":%q,"record":{"source":"penalty","key":{"penalty_id":"P-B-1"}},"fulfilled":true,"evidence":"paid","commitment":"承诺"}`, codeB), 201, ""},
		{"bad id", "GET", "/v1/cases/abc", s.keyA, "", 400, "invalid_input"},
		{"unknown case", "GET", "/v1/cases/999", s.dept, "", 404, "unknown_case"},
		{"bad queue", "GET", "/v1/cases?queue=all", s.dept, "", 400, "invalid_input"},
		{"unknown step", "POST", "/v1/cases/1/explode", s.dept, "{}", 404, "no_route"},
		{"no route", "DELETE", "/v1/cases/1", s.dept, "", 404, "no_route"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			status, body := s.do(t, tt.method, tt.path, tt.key, tt.body)
			if status != tt.status || errCode(body) != tt.code {
				t.Fatalf("got %d %v, want %d %s", status, body, tt.status, tt.code)
			}
		})
	}

	status, body := s.do(t, "POST", "/v1/cases/objections", s.keyA, objA)
	if status != 201 || body["state"] != "review" {
		t.Fatalf("objection: %d %v", status, body)
	}
	id := int64(body["id"].(float64))
	path := fmt.Sprintf("/v1/cases/%d", id)
	if status, body = s.do(t, "GET", "/v1/cases/disputed?company="+codeA, s.keyA, ""); status != 200 || len(body["disputed"].([]any)) != 1 {
		t.Fatalf("disputed: %d %v", status, body)
	}
	if status, body = s.do(t, "GET", "/v1/cases/disputed?company="+codeA, s.reg, ""); status != 200 || len(body["disputed"].([]any)) != 1 {
		t.Fatalf("disputed, for a regulator: %d %v", status, body)
	}
	if status, body = s.do(t, "GET", "/v1/cases/disputed?company="+codeA, s.keyB, ""); status != 403 {
		t.Fatalf("disputed, for another company: %d %v", status, body)
	}
	if status, body = s.do(t, "GET", "/v1/cases?queue=review&open=true", s.dept, ""); status != 200 || len(body["cases"].([]any)) != 2 {
		t.Fatalf("review queue: %d %v", status, body)
	}
	if status, body = s.do(t, "GET", "/v1/cases?queue=review", s.other, ""); status != 200 || len(body["cases"].([]any)) != 0 {
		t.Fatalf("another department's queue: %d %v", status, body)
	}
	if status, body = s.do(t, "GET", path, s.other, ""); status != 403 {
		t.Fatalf("another department reads the case: %d %v", status, body)
	}
	if status, body = s.do(t, "POST", path+"/correct", s.other, `{"values":{"amount":"2000"}}`); status != 403 {
		t.Fatalf("another department corrects: %d %v", status, body)
	}
	if status, body = s.do(t, "POST", path+"/reject", s.dept, `{}`); status != 400 {
		t.Fatalf("reject without reasons: %d %v", status, body)
	}
	if status, body = s.do(t, "POST", path+"/correct", s.dept, `{"values":{"amount":"2000"},"note":"核实更正"}`); status != 200 || body["state"] != "corrected" {
		t.Fatalf("correct: %d %v", status, body)
	}
	if status, body = s.do(t, "POST", path+"/withdraw", s.keyA, `{}`); status != 409 || errCode(body) != "case_state" {
		t.Fatalf("withdraw a decided case: %d %v", status, body)
	}
	if status, body = s.do(t, "GET", "/v1/cases?company="+codeA, s.keyA, ""); status != 200 || len(body["cases"].([]any)) != 1 {
		t.Fatalf("own cases: %d %v", status, body)
	}
	if status, body = s.do(t, "GET", "/v1/cases/rules", s.keyA, ""); status != 200 || body["version"] == "" {
		t.Fatalf("rules: %d %v", status, body)
	}

	// The repair application of B (case 1): the department, then the authority.
	steps := []struct {
		name, key string
		status    int
		state     string
	}{
		{"authority first", s.reg, 403, ""},
		{"department", s.dept, 200, "authority"},
		{"department again", s.dept, 403, ""},
		{"authority", s.reg, 200, "repaired"},
		{"authority again", s.reg, 409, ""},
	}
	for _, st := range steps {
		status, body := s.do(t, "POST", "/v1/cases/1/approve", st.key, `{"note":"同意"}`)
		if status != st.status || (st.state != "" && body["state"] != st.state) {
			t.Fatalf("%s: %d %v, want %d %s", st.name, status, body, st.status, st.state)
		}
	}
	if status, body = s.do(t, "GET", "/v1/cases/1", s.keyB, ""); status != 200 || len(body["steps"].([]any)) != 3 {
		t.Fatalf("the company reads its repaired case: %d %v", status, body)
	}
}

// FuzzParse feeds request parsing arbitrary bodies, steps, ids and queries: it
// answers a value or an error, never a panic, and never a deadline without a
// parsed time.
func FuzzParse(f *testing.F) {
	f.Add("correct", `{"values":{"amount":"2000"},"note":"x"}`, "12", "queue=review&open=true")
	f.Add("deadline", `{"deadline":"2024-11-01"}`, "1", "company=91350100M000100Y43&limit=5")
	f.Add("reject", `{"reasons":""}`, "-1", "kind=repair&open=maybe")
	f.Add("approve", `{"note":1}`, "99999999999999999999", "%zz")
	f.Fuzz(func(t *testing.T, step, body, id, query string) {
		req, deadline, err := parseStep(step, strings.NewReader(body))
		if err == nil && step == "deadline" && deadline.IsZero() {
			t.Fatalf("deadline step without a deadline: %+v", req)
		}
		if n, err := parseID(id); err == nil && n <= 0 {
			t.Fatalf("id %q parsed as %d", id, n)
		}
		if q, err := url.ParseQuery(query); err == nil {
			if r, err := parseList(q); err == nil && (r.Limit < 0 || r.Limit > 1000) {
				t.Fatalf("limit %d", r.Limit)
			}
		}
		var o cases.Objection
		_ = decode(bytes.NewReader([]byte(body)), &o)
	})
}

func TestErrorShape(t *testing.T) {
	rec := httptest.NewRecorder()
	(&handler{}).fail(rec, httptest.NewRequest("GET", "/v1/cases/1", nil), fmt.Errorf("wrapped: %w", cases.ErrPeriod))
	var b httperr.Body
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || rec.Code != http.StatusUnprocessableEntity || b.Error.Code != "repair_period" {
		t.Fatalf("%d %s %v", rec.Code, rec.Body.String(), err)
	}
}
