package lab_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// lastRecord is the newest audit record.
func lastRecord(t *testing.T, env *labtest.Env) audit.Record {
	t.Helper()
	recs, err := env.Audit.List(context.Background(), audit.Filter{})
	if err != nil || len(recs) == 0 {
		t.Fatalf("audit: %d records, %v", len(recs), err)
	}
	return recs[len(recs)-1]
}

// refusedAudited checks that the newest audit record is user's refusal.
func refusedAudited(t *testing.T, env *labtest.Env, user string) {
	t.Helper()
	if r := lastRecord(t, env); r.Outcome != audit.OutcomeRefused || !strings.HasPrefix(r.Actor, user+"@") {
		t.Fatalf("refusal not audited; last record %+v", r)
	}
}

func userID(t *testing.T, env *labtest.Env, name string) int64 {
	t.Helper()
	u, err := env.Access.UserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func day(d time.Duration) string { return time.Now().UTC().Add(d).Format(time.DateOnly) }

var bindingIDRE = regexp.MustCompile(`portal/bindings/(\d+)/activate`)

func TestPortalBindByCode(t *testing.T) {
	env, srv := setup(t)
	b := as(t, env, srv, labtest.Newcomer)
	target := env.Codes[1]
	if p := b.get("/lab/portal"); p.status != 200 || !strings.Contains(p.body, "尚未绑定任何企业") {
		t.Fatalf("empty portal: %d\n%s", p.status, p.body)
	}
	// Before activation the company's page and its consents are closed.
	if p := b.get("/lab/portal/companies/" + target); p.status != 403 || !strings.Contains(p.body, "尚未绑定企业") {
		t.Fatalf("unbound company page: %d\n%s", p.status, p.body)
	}
	refusedAudited(t, env, labtest.Newcomer)

	tok := b.csrf("/lab/portal")
	for _, bad := range []string{"", "123", target[:17] + "Z"} {
		if p := b.post("/lab/portal/bindings", url.Values{"csrf": {tok}, "code": {bad}}); p.status != 400 {
			t.Fatalf("bind %q: %d", bad, p.status)
		}
	}
	p := b.post("/lab/portal/bindings", url.Values{"csrf": {tok}, "code": {strings.ToLower(target)}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("bind: %d\n%s", p.status, p.body)
	}
	list := b.get(strings.TrimPrefix(p.header.Get("Location"), srv.URL))
	if !strings.Contains(list.body, "验证码已发送至 "+labtest.RepMasked) {
		t.Fatalf("flash does not say where the code went:\n%s", list.body)
	}
	if !strings.Contains(list.body, "上虞晶盛机电有限公司 01") || !strings.Contains(list.body, "待输入验证码") {
		t.Fatalf("pending binding not listed with the company's name:\n%s", list.body)
	}
	m := bindingIDRE.FindStringSubmatch(list.body)
	if m == nil {
		t.Fatal("no activation form")
	}
	sent := env.SMS.LastCode(t)
	wrong := fmt.Sprintf("%06d", (mustAtoi(t, sent)+1)%1000000)
	// A code that is not the one sent: refused in words, and the binding stays pending.
	p = b.post("/lab/portal/bindings/"+m[1]+"/activate", url.Values{"csrf": {tok}, "otp": {wrong}})
	if p.status != 400 || !strings.Contains(p.body, "验证码不正确或已失效") || strings.Contains(p.body, "wrong code") {
		t.Fatalf("wrong code: %d\n%s", p.status, p.body)
	}
	noLeak(t, p)
	if r := lastRecord(t, env); r.Outcome != audit.OutcomeRefused || r.Action != "access.binding.activate" {
		t.Fatalf("wrong code not audited: %+v", r)
	}
	if _, err := env.Access.CheckBinding(context.Background(), userID(t, env, labtest.Newcomer), target, time.Now()); err == nil {
		t.Fatal("a wrong code bound the account")
	}
	// Another account cannot use this account's binding, even with the right code.
	other := as(t, env, srv, labtest.Staff)
	if p := other.post("/lab/portal/bindings/"+m[1]+"/activate", url.Values{"csrf": {other.csrf("/lab/portal")}, "otp": {sent}}); p.status != 404 {
		t.Fatalf("someone else's binding: %d", p.status)
	}
	refusedAudited(t, env, labtest.Staff)
	p = b.post("/lab/portal/bindings/"+m[1]+"/activate", url.Values{"csrf": {tok}, "otp": {sent}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/lab/portal/companies/"+target+"?flash="+url.QueryEscape("绑定成功，本账户现可代表该企业。") {
		t.Fatalf("activate: %d %s", p.status, p.header.Get("Location"))
	}
	own := b.get("/lab/portal/companies/" + target)
	if own.status != 200 || !strings.Contains(own.body, "上虞晶盛机电有限公司 01") || !strings.Contains(own.body, "平台尚无本企业的信用评估") {
		t.Fatalf("own page after binding: %d\n%s", own.status, own.body)
	}
	// The binding ends; the page closes again.
	end := b.post("/lab/portal/bindings/"+m[1]+"/end", url.Values{"csrf": {tok}})
	if end.status != http.StatusSeeOther {
		t.Fatalf("end: %d", end.status)
	}
	if p := b.get("/lab/portal/companies/" + target); p.status != 403 {
		t.Fatalf("page after the binding ended: %d", p.status)
	}
}

func mustAtoi(t *testing.T, s string) int {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func consentCount(t *testing.T, env *labtest.Env, code string) (all, active int) {
	t.Helper()
	cs, err := env.Access.Consents(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.RevokedAt.IsZero() && time.Now().Before(c.ExpiresAt) {
			active++
		}
	}
	return len(cs), active
}

func TestPortalOwnPageAndConsents(t *testing.T) {
	env, srv := setup(t)
	ctx := context.Background()
	rep := as(t, env, srv, labtest.CompanyRep)
	page := "/lab/portal/companies/" + env.Focus
	p := rep.get(page)
	for _, want := range []string{"上虞卧龙电气有限公司 00", `id="company-history"`, "8.3%", "350 万元", "担保圈内有违约企业", `id="company-rating">B<`,
		"尚未向任何机构授权", labtest.Bank2Name, "平台核验电子营业执照", `id="delegate-form"`} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("own page lacks %q:\n%s", want, p.body)
		}
	}
	tok := rep.csrf(page)

	t.Run("grant, bad dates change nothing", func(t *testing.T) {
		for _, until := range []string{day(400 * 24 * time.Hour), day(-24 * time.Hour), "2026-13-01", ""} {
			p := rep.post(page+"/consents", url.Values{"csrf": {tok}, "institution": {labtest.Bank2Name}, "until": {until}})
			if p.status != 400 || !strings.Contains(p.body, "最长一年") {
				t.Fatalf("until %q: %d\n%s", until, p.status, p.body)
			}
		}
		if p := rep.post(page+"/consents", url.Values{"csrf": {tok}, "institution": {"不存在的银行"}, "until": {day(30 * 24 * time.Hour)}}); p.status != 404 {
			t.Fatalf("unknown institution: %d", p.status)
		}
		if all, _ := consentCount(t, env, env.Focus); all != 0 {
			t.Fatalf("refused grants left %d consents", all)
		}
	})
	until := day(180 * 24 * time.Hour)
	p = rep.post(page+"/consents", url.Values{"csrf": {tok}, "institution": {labtest.Bank2Name}, "until": {until}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("grant: %d\n%s", p.status, p.body)
	}
	p = rep.get(page)
	for _, want := range []string{labtest.Bank2Name, "企业自行授权", "信用评估", until, ">有效<"} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("consent table lacks %q", want)
		}
	}
	cs, err := env.Access.Consents(ctx, env.Focus)
	if err != nil || len(cs) != 1 || cs[0].Purpose != "portal" || cs[0].ExpiresAt.Format(time.DateOnly) != until {
		t.Fatalf("stored consent %+v, %v", cs, err)
	}

	t.Run("a consent of another company", func(t *testing.T) {
		other, err := env.Access.GrantConsent(ctx, "test", xaccess.ConsentGrant{CompanyCode: env.Codes[5], BankID: env.BankID, Scope: "credit_assessment", ExpiresAt: time.Now().Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		p := rep.post(fmt.Sprintf("%s/consents/%d/revoke", page, other.ID), url.Values{"csrf": {tok}})
		if p.status != 404 || !strings.Contains(p.body, "不属于本账户或本企业") {
			t.Fatalf("revoking another company's consent: %d\n%s", p.status, p.body)
		}
		refusedAudited(t, env, labtest.CompanyRep)
		if _, active := consentCount(t, env, env.Codes[5]); active != 1 {
			t.Fatal("another company's consent was revoked")
		}
		// Nor through the other company's page, to which the account is not bound.
		p = rep.post(fmt.Sprintf("/lab/portal/companies/%s/consents/%d/revoke", env.Codes[5], other.ID), url.Values{"csrf": {tok}})
		if p.status != 403 {
			t.Fatalf("revoking through an unbound company: %d", p.status)
		}
		refusedAudited(t, env, labtest.CompanyRep)
	})

	p = rep.post(fmt.Sprintf("%s/consents/%d/revoke", page, cs[0].ID), url.Values{"csrf": {tok}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d\n%s", p.status, p.body)
	}
	if _, active := consentCount(t, env, env.Focus); active != 0 {
		t.Fatal("consent still active after revoking")
	}
	if p := rep.get(page); !strings.Contains(p.body, "已撤销") {
		t.Fatal("revoked consent not shown as revoked")
	}

	t.Run("English", func(t *testing.T) {
		rep.post("/lab/lang", url.Values{"csrf": {tok}, "lang": {"en"}, "next": {page}})
		p := rep.get(page)
		for _, want := range []string{"CNY 3,500,000", "granted by the company", "credit assessment", "licence verified by the platform", "revoked"} {
			if !strings.Contains(p.body, want) {
				t.Fatalf("English page lacks %q", want)
			}
		}
		// A refusal in English keeps the store's detail.
		p = rep.post(page+"/consents/999999/revoke", url.Values{"csrf": {tok}})
		if p.status != 404 || !strings.Contains(p.body, "It is not this account&#39;s or this company&#39;s; nothing was changed (consent 999999 is not one of "+env.Focus+"&#39;s)") {
			t.Fatalf("English refusal: %d\n%s", p.status, p.body)
		}
	})
}

func TestPortalUnboundAccountIsRefused(t *testing.T) {
	env, srv := setup(t)
	staff := as(t, env, srv, labtest.Staff)
	own := "/lab/portal/companies/" + env.Focus
	tok := staff.csrf("/lab/portal")
	for _, tc := range []struct {
		name string
		do   func() page
	}{
		{"profile", func() page { return staff.get(own) }},
		{"grant", func() page {
			return staff.post(own+"/consents", url.Values{"csrf": {tok}, "institution": {labtest.BankName}, "until": {day(30 * 24 * time.Hour)}})
		}},
		{"delegate", func() page {
			return staff.post(own+"/delegates", url.Values{"csrf": {tok}, "user": {labtest.Newcomer}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.do()
			if p.status != 403 || !strings.Contains(p.body, "上虞卧龙电气有限公司 00") || !strings.Contains(p.body, "尚未绑定企业") {
				t.Fatalf("%d\n%s", p.status, p.body)
			}
			refusedAudited(t, env, labtest.Staff)
		})
	}
	if all, _ := consentCount(t, env, env.Focus); all != 0 {
		t.Fatalf("an unbound account granted %d consents", all)
	}
	// Bank and regulator users have no company door; company accounts no regulator pages.
	for _, tc := range []struct{ user, path, want string }{
		{labtest.Banker, "/lab/portal", "企业用户账户"},
		{labtest.Regulator, "/lab/portal", "企业用户账户"},
		{labtest.Staff, "/lab/screenings", "监管"},
		{labtest.Staff, "/lab/consent-requests", "担保"},
	} {
		b := as(t, env, srv, tc.user)
		if p := b.get(tc.path); p.status != 403 || !strings.Contains(p.body, tc.want) {
			t.Fatalf("%s %s: %d\n%s", tc.user, tc.path, p.status, p.body)
		}
		refusedAudited(t, env, tc.user)
	}
	// The legal representative delegates; then the staff account opens the page,
	// but it may not delegate further.
	rep := as(t, env, srv, labtest.CompanyRep)
	if p := rep.post(own+"/delegates", url.Values{"csrf": {rep.csrf(own)}, "user": {labtest.Staff}}); p.status != http.StatusSeeOther {
		t.Fatalf("delegate: %d\n%s", p.status, p.body)
	}
	if p := staff.get(own); p.status != 200 || !strings.Contains(p.body, "员工（法定代表人授权）") || strings.Contains(p.body, `id="delegate-form"`) {
		t.Fatalf("delegate's page: %d", p.status)
	}
	if p := staff.post(own+"/delegates", url.Values{"csrf": {tok}, "user": {labtest.Newcomer}}); p.status != 403 {
		t.Fatalf("a delegate delegating: %d", p.status)
	}
	refusedAudited(t, env, labtest.Staff)
}

func TestBankAsksForConsent(t *testing.T) {
	env, srv := setup(t)
	bank := as(t, env, srv, labtest.Banker)
	profile := "/lab/companies/" + env.Focus
	p := bank.get(profile)
	if p.status != 403 || !strings.Contains(p.body, `id="ask-form"`) || !strings.Contains(p.body, "上虞卧龙电气有限公司 00") {
		t.Fatalf("refused profile without a request form: %d\n%s", p.status, p.body)
	}
	refusedAudited(t, env, labtest.Banker)
	tok := bank.csrf("/lab/consent-requests")
	ask := profile + "/consent-requests"
	if p := bank.post(ask, url.Values{"csrf": {tok}, "note": {"x"}, "until": {day(500 * 24 * time.Hour)}}); p.status != 400 {
		t.Fatalf("request beyond a year: %d", p.status)
	}
	if p := bank.post(ask, url.Values{"csrf": {tok}, "note": {strings.Repeat("长", 501)}, "until": {day(30 * 24 * time.Hour)}}); p.status != 400 {
		t.Fatalf("long note: %d", p.status)
	}
	p = bank.post(ask, url.Values{"csrf": {tok}, "note": {"流动资金贷款审查"}, "until": {day(90 * 24 * time.Hour)}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/lab/consent-requests") {
		t.Fatalf("request: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if p := bank.post(ask, url.Values{"csrf": {tok}, "note": {"again"}, "until": {day(90 * 24 * time.Hour)}}); p.status != 409 {
		t.Fatalf("second pending request: %d", p.status)
	}
	list := bank.get("/lab/consent-requests")
	for _, want := range []string{"上虞卧龙电气有限公司 00", "流动资金贷款审查", "待答复"} {
		if !strings.Contains(list.body, want) {
			t.Fatalf("bank's list lacks %q:\n%s", want, list.body)
		}
	}
	if p := bank.get(profile); !strings.Contains(p.body, `id="ask-pending"`) {
		t.Fatal("refusal page does not say a request is pending")
	}
	rs, err := env.Access.ConsentRequests(context.Background(), env.Focus)
	if err != nil || len(rs) != 1 {
		t.Fatalf("requests %+v %v", rs, err)
	}
	id := rs[0].ID

	rep := as(t, env, srv, labtest.CompanyRep)
	page := "/lab/portal/companies/" + env.Focus
	own := rep.get(page)
	if !strings.Contains(own.body, labtest.BankName) || !strings.Contains(own.body, "流动资金贷款审查") || !strings.Contains(own.body, `id="pending-note"`) {
		t.Fatalf("company does not see the request:\n%s", own.body)
	}
	rtok := rep.csrf(page)
	// A request to another company cannot be answered from this one.
	otherReq, err := env.Access.RequestConsent(context.Background(), "test", env.BankID, env.Codes[4], "credit_assessment", "", time.Now().Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.post(fmt.Sprintf("%s/requests/%d", page, otherReq.ID), url.Values{"csrf": {rtok}, "decision": {"accept"}}); p.status != 404 {
		t.Fatalf("answering another company's request: %d\n%s", p.status, p.body)
	}
	refusedAudited(t, env, labtest.CompanyRep)
	if p := rep.post(fmt.Sprintf("%s/requests/%d", page, id), url.Values{"csrf": {rtok}, "decision": {"maybe"}}); p.status != 400 {
		t.Fatalf("bad decision: %d", p.status)
	}
	if p := rep.post(fmt.Sprintf("%s/requests/%d", page, id), url.Values{"csrf": {rtok}, "decision": {"accept"}}); p.status != http.StatusSeeOther {
		t.Fatalf("accept: %d\n%s", p.status, p.body)
	}
	own = rep.get(page)
	if !strings.Contains(own.body, "同意机构的第") || !strings.Contains(own.body, "已同意") {
		t.Fatalf("accepted request's consent not shown:\n%s", own.body)
	}
	if p := bank.get(profile); p.status != 200 || !strings.Contains(p.body, "350 万元") {
		t.Fatalf("profile after acceptance: %d", p.status)
	}
	if p := bank.get("/lab/consent-requests"); !strings.Contains(p.body, "已同意") {
		t.Fatal("bank's list does not show the acceptance")
	}
}

// TestPortalEntries shows the portal and the consent requests only to the users
// internal/access lets use them.
func TestPortalEntries(t *testing.T) {
	env, srv := setup(t)
	for _, tc := range []struct {
		user            string
		portal, asks    bool
		screen, samples bool
	}{
		{labtest.CompanyRep, true, false, false, false},
		{labtest.Banker, false, true, false, false},
		{labtest.Regulator, false, false, true, false},
		{labtest.Scientist, false, false, false, true},
	} {
		t.Run(tc.user, func(t *testing.T) {
			home := as(t, env, srv, tc.user).get("/lab/")
			for _, c := range []struct {
				href string
				want bool
			}{{`href="/lab/portal"`, tc.portal}, {`href="/lab/consent-requests"`, tc.asks}, {`href="/lab/screenings"`, tc.screen}, {`href="/lab/samples"`, tc.samples}} {
				// Each entry shows twice (nav and card) or not at all.
				if got := strings.Count(home.body, c.href); (got == 2) != c.want || got%2 != 0 {
					t.Errorf("%s: %d links, want shown=%v", c.href, got, c.want)
				}
			}
		})
	}
}
