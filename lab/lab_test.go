package lab_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/lab"
	labaccess "github.com/xinyi-platform/xinyi/lab/access"
	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t    testing.TB
	c    *http.Client
	base string
}

func newBrowser(t testing.TB, srv *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: srv.URL, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	body   string
	header http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, string(body), resp.Header}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the form token of the page at path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	p := b.get(path)
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no csrf token on %s (status %d)", path, p.status)
	}
	return m[1]
}

func (b *browser) login(key string) {
	b.t.Helper()
	tok := b.csrf("/lab/login")
	p := b.post("/lab/login", url.Values{"csrf": {tok}, "key": {key}, "next": {"/lab/"}})
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("login: status %d\n%s", p.status, p.body)
	}
}

func setup(t *testing.T) (*labtest.Env, *httptest.Server) {
	t.Helper()
	env := labtest.NewEnv(t, labtest.EnvOptions{ScreeningStep: time.Millisecond})
	srv := httptest.NewServer(env.Handler)
	t.Cleanup(srv.Close)
	return env, srv
}

func as(t *testing.T, env *labtest.Env, srv *httptest.Server, user string) *browser {
	t.Helper()
	b := newBrowser(t, srv)
	b.login(env.Keys[user])
	return b
}

// noLeak fails when a page shows Go internals instead of a readable message.
func noLeak(t *testing.T, p page) {
	t.Helper()
	for _, bad := range []string{"goroutine ", "panic:", ".go:", "runtime/debug"} {
		if strings.Contains(p.body, bad) {
			t.Fatalf("page leaks internals (%q):\n%s", bad, p.body)
		}
	}
}

func TestLoginSessionAndLogout(t *testing.T) {
	env, srv := setup(t)
	b := newBrowser(t, srv)

	if p := b.get("/lab/"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/lab/login") {
		t.Fatalf("anonymous home: %d %s", p.status, p.header.Get("Location"))
	}
	tok := b.csrf("/lab/login")
	t.Run("wrong key", func(t *testing.T) {
		p := b.post("/lab/login", url.Values{"csrf": {tok}, "key": {"xy_nope"}})
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "API 密钥无效或已吊销") {
			t.Fatalf("status %d\n%s", p.status, p.body)
		}
		noLeak(t, p)
	})
	t.Run("tampered token", func(t *testing.T) {
		p := b.post("/lab/login", url.Values{"csrf": {tok + "x"}, "key": {env.Keys[labtest.Scientist]}})
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "表单已过期或被篡改") {
			t.Fatalf("status %d\n%s", p.status, p.body)
		}
		if p.header.Get("Set-Cookie") != "" && strings.Contains(p.header.Get("Set-Cookie"), "xinyi_lab_session=") {
			t.Fatal("a session was created despite the bad token")
		}
	})
	t.Run("open redirect refused", func(t *testing.T) {
		b2 := newBrowser(t, srv)
		tok := b2.csrf("/lab/login")
		p := b2.post("/lab/login", url.Values{"csrf": {tok}, "key": {env.Keys[labtest.Viewer]}, "next": {"//evil.example/"}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/lab/" {
			t.Fatalf("redirect to %q", p.header.Get("Location"))
		}
	})

	p := b.post("/lab/login", url.Values{"csrf": {tok}, "key": {env.Keys[labtest.Scientist]}, "next": {"/lab/models"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/lab/models" {
		t.Fatalf("login: %d to %q", p.status, p.header.Get("Location"))
	}
	var sess *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "xinyi_lab_session" {
			sess = c
		}
	}
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || len(sess.Value) < 40 || sess.Path != "/lab/" {
		t.Fatalf("session cookie %+v", sess)
	}
	if p := b.get("/lab/"); p.status != 200 || !strings.Contains(p.body, labtest.Scientist) {
		t.Fatalf("home after login: %d", p.status)
	}
	// The session token differs per sign-in.
	other := as(t, env, srv, labtest.Scientist)
	if u, _ := url.Parse(srv.URL + "/lab/"); other.c.Jar.Cookies(u)[0].Value == sess.Value {
		t.Fatal("two sign-ins share a session id")
	}

	out := b.post("/lab/logout", url.Values{"csrf": {b.csrf("/lab/")}})
	if out.status != http.StatusSeeOther {
		t.Fatalf("logout %d", out.status)
	}
	// The old cookie no longer opens anything, even when replayed.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/lab/models", nil)
	req.AddCookie(&http.Cookie{Name: "xinyi_lab_session", Value: sess.Value})
	if p := newBrowser(t, srv).do(req); p.status != http.StatusSeeOther {
		t.Fatalf("replayed session after logout: %d", p.status)
	}
}

func TestSessionExpiry(t *testing.T) {
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	env := labtest.NewEnv(t, labtest.EnvOptions{Now: clock})
	srv := httptest.NewServer(env.Handler)
	defer srv.Close()
	b := as(t, env, srv, labtest.Viewer)
	if p := b.get("/lab/indicators"); p.status != 200 {
		t.Fatalf("fresh session: %d", p.status)
	}
	now = now.Add(8*time.Hour + time.Second) // default SessionTTL is 8h
	if p := b.get("/lab/indicators"); p.status != http.StatusSeeOther {
		t.Fatalf("expired session: %d", p.status)
	}
}

func TestRoleChecks(t *testing.T) {
	env, srv := setup(t)
	users := map[string]*browser{}
	for _, u := range []string{labtest.Scientist, labtest.Approver2, labtest.Regulator, labtest.Banker, labtest.Viewer, labtest.Operator} {
		users[u] = as(t, env, srv, u)
	}
	focus := "/lab/companies/" + env.Focus
	tests := []struct {
		path string
		want map[string]int
	}{
		{"/lab/indicators", map[string]int{labtest.Scientist: 200, labtest.Approver2: 200, labtest.Regulator: 200, labtest.Banker: 200, labtest.Viewer: 200}},
		{"/lab/samples", map[string]int{labtest.Scientist: 200, labtest.Approver2: 403, labtest.Regulator: 403, labtest.Banker: 403, labtest.Viewer: 403}},
		{"/lab/algorithms", map[string]int{labtest.Scientist: 200, labtest.Approver2: 403, labtest.Regulator: 403, labtest.Viewer: 403}},
		{"/lab/models", map[string]int{labtest.Scientist: 200, labtest.Approver2: 200, labtest.Regulator: 403, labtest.Banker: 403, labtest.Viewer: 403}},
		{"/lab/upload", map[string]int{labtest.Scientist: 200, labtest.Approver2: 403, labtest.Viewer: 403}},
		{"/lab/approvals", map[string]int{labtest.Scientist: 200, labtest.Approver2: 200, labtest.Regulator: 403, labtest.Viewer: 403}},
		{"/lab/screenings", map[string]int{labtest.Scientist: 403, labtest.Approver2: 403, labtest.Regulator: 200, labtest.Banker: 403, labtest.Viewer: 403}},
		{"/lab/companies", map[string]int{labtest.Scientist: 403, labtest.Regulator: 200, labtest.Banker: 200, labtest.Viewer: 403}},
		{"/lab/jobs", map[string]int{labtest.Operator: 200, labtest.Scientist: 403, labtest.Regulator: 403, labtest.Banker: 403, labtest.Viewer: 403}},
		{"/lab/jobs?state=exploded", map[string]int{labtest.Operator: 400}},
		// A bank sees a company only with its consent (none granted yet).
		{focus, map[string]int{labtest.Scientist: 403, labtest.Regulator: 200, labtest.Banker: 403, labtest.Viewer: 403}},
	}
	for _, tc := range tests {
		for user, want := range tc.want {
			t.Run(tc.path+"/"+user, func(t *testing.T) {
				p := users[user].get(tc.path)
				if p.status != want {
					t.Fatalf("status %d, want %d\n%s", p.status, want, p.body)
				}
				noLeak(t, p)
				if want == 403 && !strings.Contains(p.body, "无权") && !strings.Contains(p.body, "未向") {
					t.Fatalf("403 without a readable reason:\n%s", p.body)
				}
				if want == 403 {
					// The console's refusals are internal/access's, and audited.
					recs, err := env.Audit.List(context.Background(), audit.Filter{})
					if err != nil {
						t.Fatal(err)
					}
					last := recs[len(recs)-1]
					if last.Outcome != audit.OutcomeRefused || !strings.HasPrefix(last.Actor, user+"@") {
						t.Fatalf("refusal not audited; last record %+v", last)
					}
				}
			})
		}
	}
	t.Run("consent opens the profile to the bank", func(t *testing.T) {
		if _, err := env.Access.GrantConsent(context.Background(), "test", xaccess.ConsentGrant{CompanyCode: env.Focus, BankID: env.BankID,
			Scope: "credit_assessment", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if p := users[labtest.Banker].get(focus); p.status != 200 {
			t.Fatalf("with consent: %d", p.status)
		}
		// Consent for one company opens only that company.
		if p := users[labtest.Banker].get("/lab/companies/" + env.Codes[1]); p.status != 403 {
			t.Fatalf("other company: %d", p.status)
		}
	})
}

func TestIndicatorLibrary(t *testing.T) {
	env, srv := setup(t)
	viewer := as(t, env, srv, labtest.Viewer)
	reg := as(t, env, srv, labtest.Regulator)

	t.Run("viewer sees public indicators only", func(t *testing.T) {
		p := viewer.get("/lab/indicators")
		// The catalog marks tax sales confidential: hidden from a lab viewer.
		if strings.Contains(p.body, labtest.ConfidentialIndicator) {
			t.Fatal("confidential indicator listed for a viewer")
		}
		if !strings.Contains(p.body, labtest.PublicIndicator) {
			t.Fatal("public indicator missing")
		}
		if p := viewer.get("/lab/indicators/" + labtest.ConfidentialIndicator); p.status != 404 {
			t.Fatalf("confidential indicator page for a viewer: %d", p.status)
		}
	})
	t.Run("regulator sees confidential ones", func(t *testing.T) {
		p := reg.get("/lab/indicators/" + labtest.ConfidentialIndicator)
		// name_zh from features/catalog/indicators.yaml
		if p.status != 200 || !strings.Contains(p.body, "近12个月开票销售额合计") {
			t.Fatalf("status %d", p.status)
		}
	})
	t.Run("filters", func(t *testing.T) {
		tests := []struct {
			query   string
			want    string
			wantNot string
		}{
			{"?dim=compliance", labtest.PublicIndicator, "tax.sales"},
			{"?source=court", "court.amount", "tax.paid"},
			{"?q=" + url.QueryEscape("开票销售额"), "tax.sales.sum_12m", "court.amount"},
			{"?sens=confidential", "tax.sales.sum_12m", labtest.PublicIndicator},
		}
		for _, tc := range tests {
			t.Run(tc.query, func(t *testing.T) {
				p := reg.get("/lab/indicators" + tc.query)
				if !strings.Contains(p.body, tc.want) || strings.Contains(p.body, `href="/lab/indicators/`+tc.wantNot) {
					t.Fatalf("filter %s: want %q and not %q", tc.query, tc.want, tc.wantNot)
				}
			})
		}
	})
	t.Run("indicator page with histogram", func(t *testing.T) {
		p := viewer.get("/lab/indicators/" + labtest.PublicIndicator)
		for _, want := range []string{`id="ind-histogram"`, `class="chart chart-histogram"`, `id="ind-psi"`, "62.0%", "0.340", "12 个月内违法失信"} {
			if !strings.Contains(p.body, want) {
				t.Fatalf("indicator page lacks %q", want)
			}
		}
		if n := strings.Count(p.body, `class="bar"`); n != 5+3 { // 5 histogram bins + 3 industries
			t.Fatalf("%d bars", n)
		}
	})
	t.Run("unknown indicator", func(t *testing.T) {
		p := viewer.get("/lab/indicators/no.such.thing")
		if p.status != 404 || !strings.Contains(p.body, "no.such.thing") {
			t.Fatalf("status %d", p.status)
		}
		noLeak(t, p)
	})
}

// goldenCSV builds golden rows from LightGBM's own predictions of the breast-cancer
// model (lab/testdata); shift moves every expected prediction.
func goldenCSV(t *testing.T, rows int, shift float64) []byte {
	t.Helper()
	feats, err := os.ReadFile("testdata/breast_cancer_test.tsv")
	if err != nil {
		t.Fatal(err)
	}
	preds, err := os.ReadFile("testdata/lg_dart_breast_cancer_true_predictions.txt")
	if err != nil {
		t.Fatal(err)
	}
	fl := strings.Split(strings.TrimSpace(string(feats)), "\n")
	pl := strings.Split(strings.TrimSpace(string(preds)), "\n")
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for i := range rows {
		f := strings.Split(strings.TrimRight(fl[i], "\t\r"), "\t")
		var want float64
		fmt.Sscan(pl[i], &want)
		_ = w.Write(append(f[:30], fmt.Sprint(want+shift)))
	}
	w.Flush()
	return buf.Bytes()
}

func (b *browser) upload(name, set, fileName string, data, golden []byte, token string) page {
	b.t.Helper()
	return b.uploadEval(name, set, fileName, data, golden, nil, token)
}

func (b *browser) uploadEval(name, set, fileName string, data, golden, eval []byte, token string) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", token)
	_ = mw.WriteField("model", name)
	_ = mw.WriteField("feature_set", set)
	fw, _ := mw.CreateFormFile("file", fileName)
	fw.Write(data)
	if golden != nil {
		gw, _ := mw.CreateFormFile("golden", "golden.csv")
		gw.Write(golden)
	}
	if eval != nil {
		ew, _ := mw.CreateFormFile("evaluation", "evaluation.csv")
		ew.Write(eval)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.base+"/lab/upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

func TestUploadPromoteApprove(t *testing.T) {
	env, srv := setup(t)
	sci := as(t, env, srv, labtest.Scientist)
	model, err := os.ReadFile("testdata/lg_dart_breast_cancer.model")
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		ms, _ := env.Models.Models(context.Background(), env.Principal(t, labtest.Scientist))
		n := 0
		for _, m := range ms {
			n += m.Versions
		}
		return n
	}

	bad := []struct {
		name, file string
		data       []byte
		golden     []byte
		token      string
		status     int
		message    string
	}{
		{"not a model", "notes.txt", []byte("quarterly notes, not a model\n"), nil, "", 400, "notes.txt is not a usable LightGBM or XGBoost model"},
		{"truncated model", "cut.txt", model[:len(model)/2], nil, "", 400, "cut.txt"},
		{"golden rows disagree", "m.txt", model, goldenCSV(t, 5, 0.01), "", 400, "parity check failed: 5 of 5 rows"},
		{"golden rows unreadable", "m.txt", model, []byte("1,x,0.5\n"), "", 400, "field 2"},
		{"unknown feature set", "m.txt", model, nil, "", 400, "unknown feature set"},
		{"bad model name", "m.txt", model, nil, "", 400, "model name"},
		{"tampered token", "m.txt", model, nil, "forged", 403, "表单已过期或被篡改"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token
			if tok == "" {
				tok = sci.csrf("/lab/upload")
			}
			name, set := "pd-upload", "breast-cancer/v1"
			switch tc.name {
			case "bad model name":
				name = "PD Upload!"
			case "unknown feature set":
				set = "pd/v9"
			}
			p := sci.upload(name, set, tc.file, tc.data, tc.golden, tok)
			if p.status != tc.status || !strings.Contains(p.body, tc.message) {
				t.Fatalf("status %d, want %d with %q\n%s", p.status, tc.status, tc.message, p.body)
			}
			noLeak(t, p)
			if n := count(); n != 0 {
				t.Fatalf("%d versions exist after a refused upload", n)
			}
		})
	}

	eval, wantAUC := labtest.EvaluationCSV(t, "testdata")
	t.Run("evaluation file refused", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			file    []byte
			message string
		}{
			{"too few rows", eval[:bytes.IndexByte(eval, '\n')+1], "at least 200 rows"},
			{"not an outcome", bytes.Replace(eval, []byte(",1\n"), []byte(",2\n"), 1), "is not 0 or 1"},
			{"wrong width", []byte(strings.Repeat("1,2,1\n", 300)), "the model takes 30"},
		} {
			p := sci.uploadEval("pd-upload", "breast-cancer/v1", "m.txt", model, nil, tc.file, sci.csrf("/lab/upload"))
			if p.status != 400 || !strings.Contains(p.body, tc.message) {
				t.Fatalf("%s: status %d, want 400 with %q\n%s", tc.name, p.status, tc.message, p.body)
			}
			if n := count(); n != 0 {
				t.Fatalf("%s: %d versions exist after a refused upload", tc.name, n)
			}
		}
	})
	p := sci.uploadEval("pd-upload", "breast-cancer/v1", "lg_dart_breast_cancer.model", model, goldenCSV(t, 20, 0), eval, sci.csrf("/lab/upload"))
	if p.status != http.StatusSeeOther || p.header.Get("Location") == "" {
		t.Fatalf("upload: %d\n%s", p.status, p.body)
	}
	v := sci.get(strings.SplitN(p.header.Get("Location"), "?", 2)[0])
	for _, want := range []string{"lightgbm", ">20<", ">10<", ">30<", fmt.Sprintf("%.3f", wantAUC)} { // format, golden rows, trees (10 DART rounds), features, the platform's AUC
		if !strings.Contains(v.body, want) {
			t.Fatalf("version page lacks %q\n%s", want, v.body)
		}
	}

	// Request promotion as the scientist.
	tok := sci.csrf("/lab/models/pd-upload/v1")
	if p := sci.post("/lab/models/pd-upload/v1/promote", url.Values{"csrf": {tok}, "alias": {"champion"}}); p.status != http.StatusSeeOther {
		t.Fatalf("promote: %d\n%s", p.status, p.body)
	}
	pending, _ := env.Models.Pending(context.Background(), env.Principal(t, labtest.Scientist))
	if len(pending) != 1 {
		t.Fatalf("%d pending", len(pending))
	}
	id := pending[0].ID
	t.Run("scientist cannot approve", func(t *testing.T) {
		p := sci.post("/lab/approvals/"+id, url.Values{"csrf": {tok}, "decision": {"approve"}})
		if p.status != 403 {
			t.Fatalf("status %d", p.status)
		}
	})
	appr := as(t, env, srv, labtest.Approver2)
	t.Run("tampered token changes nothing", func(t *testing.T) {
		p := appr.post("/lab/approvals/"+id, url.Values{"csrf": {"tampered"}, "decision": {"approve"}})
		if p.status != 403 || !strings.Contains(p.body, "未做任何更改") {
			t.Fatalf("status %d\n%s", p.status, p.body)
		}
		if pending, _ := env.Models.Pending(context.Background(), env.Principal(t, labtest.Scientist)); len(pending) != 1 {
			t.Fatal("the promotion was decided with a forged token")
		}
	})
	t.Run("a session's token does not work in another session", func(t *testing.T) {
		p := appr.post("/lab/approvals/"+id, url.Values{"csrf": {tok}, "decision": {"approve"}})
		if p.status != 403 {
			t.Fatalf("status %d", p.status)
		}
	})
	t.Run("bad decision", func(t *testing.T) {
		p := appr.post("/lab/approvals/"+id, url.Values{"csrf": {appr.csrf("/lab/approvals")}, "decision": {"maybe"}})
		if p.status != 400 {
			t.Fatalf("status %d", p.status)
		}
	})
	t.Run("a rejection needs a comment", func(t *testing.T) {
		p := appr.post("/lab/approvals/"+id, url.Values{"csrf": {appr.csrf("/lab/approvals")}, "decision": {"reject"}, "reason": {"  "}})
		if p.status != 400 || !strings.Contains(p.body, "驳回须填写理由") {
			t.Fatalf("status %d\n%s", p.status, p.body)
		}
		if pending, _ := env.Models.Pending(context.Background(), env.Principal(t, labtest.Scientist)); len(pending) != 1 {
			t.Fatal("the promotion was rejected without a comment")
		}
	})
	t.Run("the approver compares", func(t *testing.T) {
		p := appr.get("/lab/approvals")
		for _, want := range []string{"申请版本", "当前版本", "评估依据", "尚无版本"} {
			if !strings.Contains(p.body, want) {
				t.Fatalf("approvals page lacks %q:\n%s", want, p.body)
			}
		}
	})
	p = appr.post("/lab/approvals/"+id, url.Values{"csrf": {appr.csrf("/lab/approvals")}, "decision": {"approve"}, "reason": {"AUC 与黄金样例均通过"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%s", p.status, p.body)
	}
	m := sci.get("/lab/models/pd-upload")
	for _, want := range []string{`id="alias-champion"`, "→ v1</span>", labtest.Approver2, labtest.Scientist, "批准将 v1 设为冠军模型；意见：AUC 与黄金样例均通过", "申请将 v1 设为冠军模型"} {
		if !strings.Contains(m.body, want) {
			t.Fatalf("model page lacks %q", want)
		}
	}
	t.Run("deciding twice conflicts", func(t *testing.T) {
		p := appr.post("/lab/approvals/"+id, url.Values{"csrf": {appr.csrf("/lab/approvals")}, "decision": {"reject"}, "reason": {"已批准，此处重复提交"}})
		if p.status != http.StatusConflict {
			t.Fatalf("status %d", p.status)
		}
	})
	t.Run("four eyes", func(t *testing.T) {
		self := as(t, env, srv, labtest.Approver) // approver and scientist
		tok := self.csrf("/lab/models/pd-upload/v1")
		if p := self.post("/lab/models/pd-upload/v1/promote", url.Values{"csrf": {tok}, "alias": {"challenger"}}); p.status != http.StatusSeeOther {
			t.Fatalf("promote: %d", p.status)
		}
		pending, _ := env.Models.Pending(context.Background(), env.Principal(t, labtest.Scientist))
		p := self.post("/lab/approvals/"+pending[0].ID, url.Values{"csrf": {tok}, "decision": {"approve"}})
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "four-eyes rule") {
			t.Fatalf("self-approval: %d\n%s", p.status, p.body)
		}
	})
}

func TestTrainingAndRegister(t *testing.T) {
	env, srv := setup(t)
	sci := as(t, env, srv, labtest.Scientist)
	s := sci.get("/lab/samples")
	// binary.train: 7000 rows, 28 features (LightGBM's example README).
	for _, want := range []string{"lightgbm-binary", ">7,000<", ">28<"} {
		if !strings.Contains(s.body, want) {
			t.Fatalf("samples page lacks %q", want)
		}
	}
	tok := sci.csrf("/lab/algorithms")
	if p := sci.post("/lab/training", url.Values{"csrf": {tok}, "sample": {"nope"}, "preset": {"quick"}}); p.status != 400 {
		t.Fatalf("unknown sample: %d", p.status)
	}
	p := sci.post("/lab/training", url.Values{"csrf": {tok}, "sample": {"lightgbm-binary"}, "preset": {"quick"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("start: %d\n%s", p.status, p.body)
	}
	loc := p.header.Get("Location")
	id := strings.TrimPrefix(loc, "/lab/training/")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	j, err := env.Trainer.Wait(ctx, id)
	if err != nil || j.State != lab.JobDone {
		t.Fatalf("job %+v: %v", j, err)
	}
	page := sci.get(loc)
	if !strings.Contains(page.body, `id="train-curve"`) || strings.Count(page.body, `class="curve"`) != 2 {
		t.Fatalf("training page lacks the two validation curves")
	}
	if strings.Contains(page.body, `http-equiv="refresh"`) {
		t.Fatal("finished job still reloads")
	}
	if p := sci.post(loc+"/register", url.Values{"csrf": {tok}, "model": {"Bad Name"}}); p.status != 400 {
		t.Fatalf("bad name: %d", p.status)
	}
	if p := sci.post(loc+"/register", url.Values{"csrf": {tok}, "model": {"binary-gbdt"}}); p.status != http.StatusSeeOther {
		t.Fatalf("register: %d\n%s", p.status, p.body)
	}
	if p := sci.post(loc+"/register", url.Values{"csrf": {tok}, "model": {"binary-gbdt"}}); p.status != http.StatusConflict {
		t.Fatalf("register twice: %d", p.status)
	}
	v := sci.get("/lab/models/binary-gbdt/v1")
	// The run's card reads as the document of a card xinyi train wrote, with the
	// run's curves beside it.
	for _, want := range []string{`id="roc"`, `class="chart chart-roc"`, `id="ks"`, `id="calibration"`, `id="importance"`, `id="model-card-doc"`,
		`<code id="card-data">lightgbm-binary:binary.train</code>`, "训练 5,600 行，验证 1,400 行", "验证集", "AUC（验证集）", "KS（验证集）"} {
		if !strings.Contains(v.body, want) {
			t.Fatalf("version page lacks %q:\n%s", want, v.body)
		}
	}
	if strings.Contains(v.body, `id="model-card"`) || strings.Contains(v.body, "测试 0 行") {
		t.Fatal("the version page shows a free-text card, or a test split the run did not have")
	}
	ver, _ := env.Models.Version(context.Background(), env.Principal(t, labtest.Scientist), "binary-gbdt", "v1")
	// The README of the shared data reports AUC 0.836 for XGBoost with 100 rounds on
	// binary.test; 30 quick rounds on a 20% hold-out of binary.train land a little lower.
	if ver.AUC < 0.76 || ver.AUC > 0.9 {
		t.Fatalf("validation AUC %.3f outside the expected range", ver.AUC)
	}
	// The sample's own page lists the version trained on it.
	sp := sci.get("/lab/samples/lightgbm-binary/v1")
	if !strings.Contains(sp.body, `href="/lab/models/binary-gbdt/v1"`) || !strings.Contains(sp.body, strconv.FormatFloat(ver.AUC, 'f', 3, 64)) {
		t.Fatalf("sample page lacks the model trained on it:\n%s", sp.body)
	}
}

func TestSampleBuild(t *testing.T) {
	env, srv := setup(t)
	sci := as(t, env, srv, labtest.Scientist)
	tok := sci.csrf("/lab/samples")
	bad := []struct {
		form url.Values
		msg  string
	}{
		{url.Values{"name": {"s1"}, "set": {"pd/v1"}, "from": {"2024-13-01"}, "to": {"2024-12-31"}}, "YYYY-MM-DD"},
		{url.Values{"name": {"s1"}, "set": {"pd/v1"}, "from": {"2024-12-31"}, "to": {"2024-01-01"}}, "not before the first"},
		{url.Values{"name": {"S 1"}, "set": {"pd/v1"}, "from": {"2024-01-01"}, "to": {"2024-12-31"}}, "sample name"},
		{url.Values{"name": {"s1"}, "from": {"2024-01-01"}, "to": {"2024-12-31"}}, "feature set"},
	}
	for _, tc := range bad {
		tc.form.Set("csrf", tok)
		if p := sci.post("/lab/samples", tc.form); p.status != 400 || !strings.Contains(p.body, tc.msg) {
			t.Fatalf("%v: %d\n%s", tc.form, p.status, p.body)
		}
	}
	if jobs, _ := env.Built.SampleJobs(context.Background()); len(jobs) != 0 {
		t.Fatal("a refused form started a build")
	}
	p := sci.post("/lab/samples", url.Values{"csrf": {tok}, "name": {"pd-2024"}, "set": {"pd/v1"}, "from": {"2024-01-01"}, "to": {"2024-12-31"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("build: %d\n%s", p.status, p.body)
	}
	env.Built.Wait()
	// Nothing is materialized in the test store: the job fails and the page says why.
	page := sci.get("/lab/samples")
	if !strings.Contains(page.body, `data-state="failed"`) || !strings.Contains(page.body, "no snapshot") {
		t.Fatalf("sample page:\n%s", page.body)
	}
}

func TestScreening(t *testing.T) {
	env, srv := setup(t)
	reg := as(t, env, srv, labtest.Regulator)
	tok := reg.csrf("/lab/screenings")
	if p := reg.post("/lab/screenings", url.Values{"csrf": {tok}, "model": {"pd:nope"}}); p.status != 400 {
		t.Fatalf("unknown model: %d", p.status)
	}
	p := reg.post("/lab/screenings", url.Values{"csrf": {tok}, "model": {"violation:champion"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("start: %d", p.status)
	}
	loc := p.header.Get("Location")
	deadline := time.Now().Add(10 * time.Second)
	var page page
	for time.Now().Before(deadline) {
		if page = reg.get(loc); strings.Contains(page.body, `data-state="done"`) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(page.body, `id="tier-chart"`) {
		t.Fatalf("no tier chart:\n%s", page.body)
	}
	// Population probabilities are ((37i mod 40)/40)^3, i = 0..39: the values k³/64000
	// for k = 0..39. High (≥0.5): k ≥ 32 → 8; elevated (≥0.2): 24..31 → 8;
	// moderate (≥0.05): 15..23 → 9; low: 0..14 → 15.
	bars := regexp.MustCompile(`<title>([^<]+): (\d+)</title>`).FindAllStringSubmatch(page.body, -1)
	got := map[string]string{}
	for _, b := range bars {
		got[b[1]] = b[2]
	}
	want := map[string]string{"高风险（多查）": "8", "较高风险": "8", "一般风险": "9", "低风险（少扰）": "15"}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("tier %s = %s, want %s (all %v)", k, got[k], v, got)
		}
	}
	exp := reg.get(loc + "/export")
	if exp.status != 200 || !strings.HasPrefix(exp.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export %d %s", exp.status, exp.header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(exp.body)).ReadAll()
	if err != nil || len(rows) != 41 {
		t.Fatalf("export has %d rows: %v", len(rows), err)
	}
	// Rank 1 is k=39: 39³/64000 = 0.926859.
	if rows[1][3] != "0.926859" {
		t.Fatalf("rank 1 probability %s", rows[1][3])
	}
}

func TestCompanyProfile(t *testing.T) {
	env, srv := setup(t)
	reg := as(t, env, srv, labtest.Regulator)
	t.Run("wrong code", func(t *testing.T) {
		bad := env.Focus[:17] + map[bool]string{true: "1", false: "0"}[env.Focus[17] == '0']
		// A whole code with a wrong check character is an input error.
		p := reg.get("/lab/companies?code=" + url.QueryEscape(bad))
		if p.status != 400 || !strings.Contains(p.body, "输入有误") {
			t.Fatalf("code %q: status %d\n%s", bad, p.status, p.body)
		}
		noLeak(t, p)
		// Anything else is searched as a name or part of a code.
		for _, q := range []string{"123", "91330604MA2C<b>X"} {
			p := reg.get("/lab/companies?q=" + url.QueryEscape(q))
			if p.status != 200 || !strings.Contains(p.body, `id="company-hits-none"`) || strings.Contains(p.body, "<b>X") {
				t.Fatalf("query %q: status %d\n%s", q, p.status, p.body)
			}
			noLeak(t, p)
		}
	})
	t.Run("by name", func(t *testing.T) {
		p := reg.get("/lab/companies?q=" + url.QueryEscape("卧龙电气"))
		if p.status != 200 || !strings.Contains(p.body, `href="/lab/companies/`+env.Focus+`"`) || !strings.Contains(p.body, "找到 1 家企业") {
			t.Fatalf("search by name: %d\n%s", p.status, p.body)
		}
	})
	p := reg.get("/lab/companies?code=" + strings.ToLower(env.Focus))
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/lab/companies/"+env.Focus {
		t.Fatalf("search: %d %s", p.status, p.header.Get("Location"))
	}
	c := reg.get("/lab/companies/" + env.Focus)
	for _, want := range []string{`id="company-graph"`, `class="node focus"`, `id="company-history"`, "8.3%", `id="company-rating">B<`, "c-yellow", "担保圈内有违约企业", "350 万元",
		`id="company-late">以下部门未按约定周期报送数据，相关指标可能已过时：税务<`} {
		if !strings.Contains(c.body, want) {
			t.Fatalf("profile lacks %q", want)
		}
	}
	if n := strings.Count(c.body, `class="edge"`); n != 6 {
		t.Fatalf("%d guarantee edges, want 6", n)
	}
	if p := reg.get("/lab/companies/" + env.Codes[2]); p.status != 404 {
		t.Fatalf("company without profile: %d", p.status)
	}
}

func TestLanguageSwitch(t *testing.T) {
	env, srv := setup(t)
	b := as(t, env, srv, labtest.Viewer)
	if p := b.get("/lab/indicators"); !strings.Contains(p.body, "指标库") {
		t.Fatal("default language is not Chinese")
	}
	p := b.post("/lab/lang", url.Values{"csrf": {b.csrf("/lab/")}, "lang": {"en"}, "next": {"/lab/indicators"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/lab/indicators" {
		t.Fatalf("switch: %d %s", p.status, p.header.Get("Location"))
	}
	en := b.get("/lab/indicators")
	if !strings.Contains(en.body, ">Indicators<") || !strings.Contains(en.body, `lang="en"`) {
		t.Fatal("page not in English after the switch")
	}
	// A one-time message was said in the language being left: it is dropped,
	// the rest of the address kept.
	p = b.post("/lab/lang", url.Values{"csrf": {b.csrf("/lab/")}, "lang": {"en"}, "next": {"/lab/indicators?q=tax&flash=" + url.QueryEscape("已保存")}})
	if loc := p.header.Get("Location"); p.status != http.StatusSeeOther || loc != "/lab/indicators?q=tax" {
		t.Fatalf("switch with a message: %d %s", p.status, loc)
	}
	if p := b.post("/lab/lang", url.Values{"csrf": {b.csrf("/lab/")}, "lang": {"fr"}}); p.status != 400 {
		t.Fatalf("unknown language: %d", p.status)
	}
	if p := b.post("/lab/lang", url.Values{"csrf": {"x"}, "lang": {"zh"}}); p.status != 403 {
		t.Fatalf("forged language switch: %d", p.status)
	}
}

// TestEveryFormRefusesForgedTokens posts to every form with a wrong token and checks
// that nothing changed.
func TestEveryFormRefusesForgedTokens(t *testing.T) {
	env, srv := setup(t)
	sci := as(t, env, srv, labtest.Scientist)
	reg := as(t, env, srv, labtest.Regulator)
	appr := as(t, env, srv, labtest.Approver2)
	forms := []struct {
		b    *browser
		path string
		form url.Values
	}{
		{sci, "/lab/training", url.Values{"sample": {"lightgbm-binary"}, "preset": {"quick"}}},
		{sci, "/lab/samples", url.Values{"name": {"s"}, "set": {"pd/v1"}, "from": {"2024-01-01"}, "to": {"2024-12-31"}}},
		{sci, "/lab/training/t1/register", url.Values{"model": {"x"}}},
		{sci, "/lab/models/x/v1/promote", url.Values{"alias": {"champion"}}},
		{appr, "/lab/approvals/p1", url.Values{"decision": {"approve"}}},
		{reg, "/lab/screenings", url.Values{"model": {"violation:champion"}}},
		{reg, "/lab/logout", url.Values{}},
		{reg, "/lab/lang", url.Values{"lang": {"en"}}},
	}
	for _, f := range forms {
		for _, tok := range []string{"", "forged-token-0000000000000000000000000000"} {
			t.Run(f.path+"/"+fmt.Sprint(len(tok)), func(t *testing.T) {
				form := url.Values{}
				for k, v := range f.form {
					form[k] = v
				}
				if tok != "" {
					form.Set("csrf", tok)
				}
				p := f.b.post(f.path, form)
				if p.status != 403 || !strings.Contains(p.body, "未做任何更改") {
					t.Fatalf("status %d\n%s", p.status, p.body)
				}
			})
		}
	}
	if jobs, _ := env.Built.SampleJobs(context.Background()); len(jobs) != 0 {
		t.Fatal("a sample build started")
	}
	if jobs, _ := env.Trainer.TrainingJobs(context.Background()); len(jobs) != 0 {
		t.Fatal("a training job started")
	}
	if jobs, _ := env.Screenings.Screenings(context.Background(), lab.Principal{}); len(jobs) != 0 {
		t.Fatal("a screening started")
	}
	if p := reg.get("/lab/screenings"); p.status != 200 {
		t.Fatal("logout happened with a forged token")
	}
	if p := reg.get("/lab/"); strings.Contains(p.body, `lang="en"`) {
		t.Fatal("language switched with a forged token")
	}
}

func TestErrorPages(t *testing.T) {
	env, srv := setup(t)
	b := as(t, env, srv, labtest.Scientist)
	for _, path := range []string{"/lab/nowhere", "/lab/models/none", "/lab/models/none/v9", "/lab/training/t99", "/lab/indicators/%3Cscript%3E"} {
		t.Run(path, func(t *testing.T) {
			p := b.get(path)
			if p.status != 404 || !strings.Contains(p.body, "未找到") {
				t.Fatalf("status %d\n%s", p.status, p.body)
			}
			if strings.Contains(p.body, "<script>") {
				t.Fatal("path echoed unescaped")
			}
			noLeak(t, p)
		})
	}
	p := b.get("/lab/indicators")
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if p.header.Get(h) == "" {
			t.Fatalf("header %s missing", h)
		}
	}
	if css := b.get("/lab/static/lab.css"); css.status != 200 || !strings.Contains(css.body, "--blue") {
		t.Fatalf("stylesheet: %d", css.status)
	}
}

func TestNotConnected(t *testing.T) {
	env, _ := setup(t)
	srv, err := lab.New(lab.Options{Auth: labaccess.New(env.Access, nil)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	b := newBrowser(t, ts)
	b.login(env.Keys[labtest.Scientist])
	for _, path := range []string{"/lab/indicators", "/lab/models", "/lab/samples", "/lab/algorithms"} {
		if p := b.get(path); p.status != 503 || !strings.Contains(p.body, "尚未接入") {
			t.Fatalf("%s: %d", path, p.status)
		}
	}
	if _, err := lab.New(lab.Options{}); err == nil {
		t.Fatal("New without Auth succeeded")
	}
}

func TestCompareScreenings(t *testing.T) {
	env, srv := setup(t)
	reg := as(t, env, srv, labtest.Regulator)
	if p := reg.get("/lab/screenings/compare"); p.status != 200 || !strings.Contains(p.body, "至少需要两次已完成的筛查") {
		t.Fatalf("without screenings: %d\n%s", p.status, p.body)
	}
	tok := reg.csrf("/lab/screenings")
	var ids []string
	for range 2 {
		p := reg.post("/lab/screenings", url.Values{"csrf": {tok}, "model": {"violation:champion"}})
		loc := p.header.Get("Location")
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(reg.get(loc).body, `data-state="done"`) {
			time.Sleep(10 * time.Millisecond)
		}
		ids = append(ids, loc[strings.LastIndex(loc, "/")+1:])
	}
	// The later screening's page links the comparison with the earlier one.
	if p := reg.get("/lab/screenings/" + ids[1]); !strings.Contains(p.body, `href="/lab/screenings/compare?from=`+ids[0]+`&amp;to=`+ids[1]+`"`) {
		t.Fatalf("no comparison link on the later screening:\n%s", p.body)
	}
	p := reg.get("/lab/screenings/compare?from=" + ids[0] + "&to=" + ids[1])
	if p.status != 200 || !strings.Contains(p.body, `id="cmp-table"`) || !strings.Contains(p.body, "两次均参与筛查的企业 40 家") {
		t.Fatalf("comparison: %d\n%s", p.status, p.body)
	}
	for q, want := range map[string]string{
		"from=" + ids[0] + "&to=" + ids[0]: "请选择两次不同的筛查",
		"from=" + ids[0]:                   "请选择两次已完成的筛查",
		"from=" + ids[0] + "&to=nope":      "nope",
	} {
		p := reg.get("/lab/screenings/compare?" + q)
		if p.status < 400 || !strings.Contains(p.body, want) {
			t.Errorf("%s: %d, want a refusal saying %q\n%s", q, p.status, want, p.body)
		}
		noLeak(t, p)
	}
	// A bank may not screen, so it may not compare either.
	bank := as(t, env, srv, labtest.Banker)
	if p := bank.get("/lab/screenings/compare?from=" + ids[0] + "&to=" + ids[1]); p.status != http.StatusForbidden {
		t.Fatalf("bank: %d", p.status)
	}
}
