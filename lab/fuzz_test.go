package lab_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// FuzzForms sends arbitrary values through the console's forms and query strings,
// with a valid session and token, and checks that every answer is a readable page:
// never a 5xx, never Go internals.
func FuzzForms(f *testing.F) {
	env := labtest.NewEnv(f, labtest.EnvOptions{ScreeningStep: time.Millisecond})
	auth := env.Server
	sessions := map[string]*http.Cookie{}
	tokens := map[string]string{}
	for _, u := range []string{labtest.Scientist, labtest.Approver2, labtest.Regulator, labtest.CompanyRep, labtest.Banker} {
		rec := httptest.NewRecorder()
		auth.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/lab/login", nil))
		pre := rec.Result().Cookies()[0]
		tok := csrfRE.FindStringSubmatch(rec.Body.String())[1]
		req := httptest.NewRequest(http.MethodPost, "/lab/login", strings.NewReader(url.Values{"csrf": {tok}, "key": {env.Keys[u]}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(pre)
		rec = httptest.NewRecorder()
		auth.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			if c.Name == "xinyi_lab_session" {
				sessions[u] = c
			}
		}
		rec = httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/lab/", nil)
		r.AddCookie(sessions[u])
		auth.ServeHTTP(rec, r)
		tokens[u] = csrfRE.FindStringSubmatch(rec.Body.String())[1]
	}
	f.Add(uint8(0), "lightgbm-binary", "quick")
	f.Add(uint8(1), "<script>", "'\"")
	f.Add(uint8(2), "91330604MA2C0000XX", "")
	f.Add(uint8(3), "%zz", "\x00")
	f.Add(uint8(4), "p1", "approve")
	f.Add(uint8(10), "91330604MA2C0000XX", "")
	f.Add(uint8(11), "1", "123456")
	f.Add(uint8(13), "上虞农商银行", "2099-01-01")
	f.Add(uint8(14), "1", "accept")
	f.Add(uint8(16), "91330604MA2C0000XX", "2027-01-01")
	f.Fuzz(func(t *testing.T, which uint8, a, b string) {
		type call struct {
			user, method, path string
			form               url.Values
		}
		calls := []call{
			{labtest.Scientist, "POST", "/lab/training", url.Values{"sample": {a}, "preset": {b}}},
			{labtest.Scientist, "POST", "/lab/training/" + url.PathEscape(a) + "/register", url.Values{"model": {b}}},
			{labtest.Scientist, "POST", "/lab/models/" + url.PathEscape(a) + "/v1/promote", url.Values{"alias": {b}}},
			{labtest.Approver2, "POST", "/lab/approvals/" + url.PathEscape(a), url.Values{"decision": {b}, "reason": {a}}},
			{labtest.Regulator, "POST", "/lab/screenings", url.Values{"model": {a}}},
			{labtest.Regulator, "GET", "/lab/companies?code=" + url.QueryEscape(a), nil},
			{labtest.Regulator, "GET", "/lab/indicators?q=" + url.QueryEscape(a) + "&dim=" + url.QueryEscape(b), nil},
			{labtest.Regulator, "GET", "/lab/indicators/" + url.PathEscape(a), nil},
			{labtest.Scientist, "GET", "/lab/models/" + url.PathEscape(a) + "/" + url.PathEscape(b), nil},
			{labtest.Scientist, "POST", "/lab/lang", url.Values{"lang": {a}, "next": {b}}},
			{labtest.CompanyRep, "POST", "/lab/portal/bindings", url.Values{"code": {a}}},
			{labtest.CompanyRep, "POST", "/lab/portal/bindings/" + url.PathEscape(a) + "/activate", url.Values{"otp": {b}}},
			{labtest.CompanyRep, "POST", "/lab/portal/companies/" + url.PathEscape(a) + "/consents", url.Values{"institution": {b}, "until": {a}}},
			{labtest.CompanyRep, "POST", "/lab/portal/companies/" + env.Focus + "/consents", url.Values{"institution": {a}, "until": {b}}},
			{labtest.CompanyRep, "POST", "/lab/portal/companies/" + env.Focus + "/requests/" + url.PathEscape(a), url.Values{"decision": {b}}},
			{labtest.CompanyRep, "POST", "/lab/portal/companies/" + env.Focus + "/delegates", url.Values{"user": {a}}},
			{labtest.Banker, "POST", "/lab/companies/" + url.PathEscape(a) + "/consent-requests", url.Values{"note": {b}, "until": {a}}},
		}
		c := calls[int(which)%len(calls)]
		var req *http.Request
		if c.method == "POST" {
			c.form.Set("csrf", tokens[c.user])
			req = httptest.NewRequest(c.method, c.path, strings.NewReader(c.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest(c.method, c.path, nil)
		}
		req.AddCookie(sessions[c.user])
		rec := httptest.NewRecorder()
		env.Server.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s: status %d\n%s", c.method, c.path, rec.Code, rec.Body.String())
		}
		if body := rec.Body.String(); strings.Contains(body, "goroutine ") || strings.Contains(body, "panic:") {
			t.Fatalf("%s %s leaks internals", c.method, c.path)
		}
	})
}

// BenchmarkIndicatorLibrary renders the indicator list (the console's busiest page)
// for a signed-in user.
func BenchmarkIndicatorLibrary(b *testing.B) {
	env := labtest.NewEnv(b, labtest.EnvOptions{})
	srv := httptest.NewServer(env.Handler)
	defer srv.Close()
	br := newBrowser(b, srv)
	br.login(env.Keys[labtest.Regulator])
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/lab/indicators?q=tax", nil)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := br.c.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%v %v", resp, err)
		}
		resp.Body.Close()
	}
}
