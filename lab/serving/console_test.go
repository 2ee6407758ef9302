package serving

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/lab"
	xserving "github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// keys is a fixed authenticator: API key → principal signed in through access.
type keys map[string]lab.Principal

func (k keys) Authenticate(_ context.Context, key string) (lab.Principal, error) {
	p, ok := k[key]
	if !ok {
		return lab.Principal{}, lab.ErrUnauthenticated
	}
	return p, nil
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestConsolePagesOverServing runs the screening and company pages of the console on
// serving's real screener and assessment service.
func TestConsolePagesOverServing(t *testing.T) {
	r := servingtest.NewRealistic(t, 300)
	src := pops{}
	for task, pop := range r.Pops {
		src[r.Sets[task].Name] = pop
	}
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := xserving.NewScreener(xserving.ScreenerOptions{Service: r.Service, Source: src, Store: store, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	regulator := lab.Principal{Principal: servingtest.Regulator, Clearance: lab.ClearConfidential}
	console, err := lab.New(lab.Options{Auth: keys{"reg-key": regulator}, Screenings: NewScreenings(sc, store), Companies: NewCompanies(r.Service, nil)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path string, form url.Values) *http.Response {
		resp, err := c.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	_, body := get("/lab/login")
	post("/lab/login", url.Values{"csrf": {csrfRE.FindStringSubmatch(body)[1]}, "key": {"reg-key"}})
	_, body = get("/lab/screenings")
	resp := post("/lab/screenings", url.Values{"csrf": {csrfRE.FindStringSubmatch(body)[1]}, "model": {"violation"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	sc.Wait()
	status, page := get(loc)
	if status != 200 || !strings.Contains(page, `id="tier-chart"`) || strings.Count(page, "<tr><td class=\"num\">") != TopRows {
		t.Fatalf("screening page %d:\n%s", status, page)
	}
	id := strings.TrimPrefix(loc, "/lab/screenings/")
	j, err := sc.Get(context.Background(), servingtest.Regulator, id)
	if err != nil {
		t.Fatal(err)
	}
	for tier, n := range j.Result.TierCounts {
		if !strings.Contains(page, fmt.Sprintf("<title>%s: %d</title>", map[string]string{"high": "高风险（多查）", "medium": "中风险", "low": "低风险（少扰）"}[string(tier)], n)) {
			t.Fatalf("tier %s (%d) not charted", tier, n)
		}
	}
	status, csvText := get(loc + "/export")
	if status != 200 || strings.Count(csvText, "\n") != 301 {
		t.Fatalf("export %d with %d lines", status, strings.Count(csvText, "\n"))
	}
	status, page = get("/lab/companies/" + r.Codes[0])
	if status != 200 || !strings.Contains(page, `id="company-rating"`) || !strings.Contains(page, "bench-pd") {
		t.Fatalf("company page %d:\n%s", status, page)
	}
}
