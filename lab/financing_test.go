package lab_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// finUser creates a user at the institution named inst and returns its key.
func finUser(t *testing.T, env *labtest.Env, name, inst string, roles ...xaccess.Role) string {
	t.Helper()
	ctx := context.Background()
	in, err := env.Access.InstitutionByName(ctx, inst)
	if err != nil {
		t.Fatal(err)
	}
	u, err := env.Access.CreateUser(ctx, "setup", name, in.ID, roles...)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := env.Access.IssueKey(ctx, "setup", u.ID, "lab", 0)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// finUpload posts a repayment file to the loans page.
func finUpload(t *testing.T, b *browser, tok, name, data string) page {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", tok)
	_ = mw.WriteField("op", "repayments")
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write([]byte(data))
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.base+"/lab/financing/loans", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

func mustMatch(t *testing.T, re, body string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in:\n%s", re, body)
	}
	return m[1]
}

// TestFinancingPages walks the loop through the console: a company asks one
// bank, another bank cannot answer it, the bank offers, an expired offer is
// refused, the company accepts, another bank cannot touch the loan, and a
// product change needs a second approver.
func TestFinancingPages(t *testing.T) {
	var skew atomic.Int64
	env := labtest.NewEnv(t, labtest.EnvOptions{ScreeningStep: time.Millisecond,
		FinancingNow: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	srv := httptest.NewServer(env.Handler)
	t.Cleanup(srv.Close)

	rep := as(t, env, srv, labtest.CompanyRep)
	page := "/lab/portal/companies/" + env.ReportCompany + "/financing"
	tok := rep.csrf(page)
	if p := rep.get(page); !strings.Contains(p.body, labtest.BankName) || !strings.Contains(p.body, `id="fin-loans"`) {
		t.Fatalf("company page lacks the bank choice or the loans:\n%s", p.body)
	}
	ask := func(wan string) int {
		t.Helper()
		p := rep.post(page, url.Values{"csrf": {tok}, "op": {"request"}, "amount_wan": {wan}, "term": {"12"}, "purpose": {"流动资金"},
			"guarantee": {"credit"}, "bank": {fmt.Sprint(env.BankID)}})
		if p.status != 200 {
			t.Fatalf("post request: %d\n%s", p.status, p.body)
		}
		return mustAtoi(t, mustMatch(t, `融资需求已发布，编号 (\d+)`, p.body))
	}
	r1 := ask("80")

	// A bank the request does not name cannot answer it, and its inbox is empty.
	other := newBrowser(t, srv)
	other.login(finUser(t, env, "fin-b2", labtest.Bank2Name, xaccess.RoleBank))
	otok := other.csrf("/lab/financing/inbox")
	if p := other.get("/lab/financing/inbox"); strings.Contains(p.body, fmt.Sprintf("#%d ", r1)) {
		t.Fatal("another bank's inbox shows the request")
	}
	bank := as(t, env, srv, labtest.Banker)
	inbox := bank.get("/lab/financing/inbox")
	product := mustMatch(t, fmt.Sprintf(`id="product-%d"><option value="(\d+)"`, r1), inbox.body)
	for _, form := range []url.Values{
		{"op": {"offer"}, "product": {product}, "amount_wan": {"60"}, "rate_pct": {"4.35"}, "term": {"12"}},
		{"op": {"decline"}, "reason": {"credit_risk"}},
	} {
		form.Set("csrf", otok)
		form.Set("request", fmt.Sprint(r1))
		p := other.post("/lab/financing/inbox", form)
		if p.status != 403 && p.status != 404 || !strings.Contains(p.body, "不是发给贵机构的") {
			t.Fatalf("another bank's %s: %d\n%s", form.Get("op"), p.status, p.body)
		}
		refusedAudited(t, env, "fin-b2")
	}

	btok := bank.csrf("/lab/financing/inbox")
	offer := func(r int) {
		t.Helper()
		p := bank.post("/lab/financing/inbox", url.Values{"csrf": {btok}, "op": {"offer"}, "request": {fmt.Sprint(r)}, "product": {product},
			"amount_wan": {"60"}, "rate_pct": {"4.35"}, "term": {"12"}})
		if p.status != 200 || !strings.Contains(p.body, fmt.Sprintf("申请 %d 已处理", r)) {
			t.Fatalf("offer: %d\n%s", p.status, p.body)
		}
	}
	offer(r1)

	// The company accepts; the loan and the bank's consent until maturity plus
	// the renewal window show on its page.
	p := rep.get(page)
	o1 := mustMatch(t, `id="accept-(\d+)"`, p.body)
	if p = rep.post(page, url.Values{"csrf": {tok}, "op": {"accept"}, "offer": {o1}}); p.status != 200 || !strings.Contains(p.body, "已接受报价") {
		t.Fatalf("accept: %d\n%s", p.status, p.body)
	}
	maturity := time.Now().UTC().AddDate(0, 12, 0)
	for _, want := range []string{"60 万元", "4.35%", maturity.Format(time.DateOnly), maturity.Add(90 * 24 * time.Hour).Format(time.DateOnly), "待放款"} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("loans lack %q:\n%s", want, p.body)
		}
	}
	loan := mustMatch(t, `<td class="num">(\d+)</td><td>`+labtest.BankName, p.body)

	t.Run("expired offer", func(t *testing.T) {
		r2 := ask("30")
		offer(r2)
		p := rep.get(page)
		o2 := mustMatch(t, `id="accept-(\d+)"`, p.body)
		skew.Store(int64(8 * 24 * time.Hour))
		defer skew.Store(0)
		p = rep.post(page, url.Values{"csrf": {tok}, "op": {"accept"}, "offer": {o2}})
		if p.status != http.StatusConflict || !strings.Contains(p.body, "报价或申请已过期，不能再接受") {
			t.Fatalf("accepting an expired offer: %d\n%s", p.status, p.body)
		}
		refusedAudited(t, env, labtest.CompanyRep)
		if p = rep.get(page); strings.Contains(p.body, `id="accept-`+o2+`"`) || !strings.Contains(p.body, "已过期") {
			t.Fatalf("expired offer still offered:\n%s", p.body)
		}
		rep.post("/lab/lang", url.Values{"csrf": {tok}, "lang": {"en"}, "next": {page}})
		defer rep.post("/lab/lang", url.Values{"csrf": {tok}, "lang": {"zh"}, "next": {page}})
		p = rep.post(page, url.Values{"csrf": {tok}, "op": {"accept"}, "offer": {o2}})
		if detail := mustMatch(t, `id="error-detail">([^<]*)<`, p.body); p.status != http.StatusConflict || !strings.HasPrefix(detail, "This offer or request has expired and can no longer be accepted; ask the bank for a new offer") {
			t.Fatalf("accepting an expired offer in English: %d %s", p.status, detail)
		}
	})

	t.Run("another bank's loan", func(t *testing.T) {
		p := other.post("/lab/financing/loans", url.Values{"csrf": {otok}, "op": {"disburse"}, "loan": {loan}})
		if p.status != 403 && p.status != 404 || !strings.Contains(p.body, "不属于贵机构") {
			t.Fatalf("another bank disburses: %d\n%s", p.status, p.body)
		}
		refusedAudited(t, env, "fin-b2")
		if p := other.get("/lab/financing/loans"); strings.Contains(p.body, `id="disburse-`+loan+`"`) {
			t.Fatal("another bank sees the loan")
		}
		p = bank.post("/lab/financing/loans", url.Values{"csrf": {btok}, "op": {"disburse"}, "loan": {loan}})
		if p.status != 200 || !strings.Contains(p.body, "已登记放款") || !strings.Contains(p.body, ">正常<") {
			t.Fatalf("disburse: %d\n%s", p.status, p.body)
		}
		// Another bank's repayment rows for the loan are kept in its own folder
		// and change nothing of the lending bank's loan; the lender's own do.
		month := time.Now().UTC().AddDate(0, -1, 0).Format("2006-01") // a month already ended
		row := "loan_id,month,code,status,days_overdue\n" + loan + "," + month + "," + env.ReportCompany + ",overdue,30\n"
		if p := finUpload(t, other, otok, "b2.csv", row); p.status != 200 || !strings.Contains(p.body, "已记录 1 行还款记录") {
			t.Fatalf("another bank's upload: %d\n%s", p.status, p.body)
		}
		if p := bank.get("/lab/financing/loans"); !strings.Contains(p.body, ">正常<") {
			t.Fatalf("another bank's rows changed the loan:\n%s", p.body)
		}
		if p := finUpload(t, bank, btok, "bank.csv", row); p.status != 200 || !strings.Contains(p.body, "逾期 · 逾期天数 30") {
			t.Fatalf("the bank's upload: %d\n%s", p.status, p.body)
		}
	})

	t.Run("four eyes", func(t *testing.T) {
		a := newBrowser(t, srv)
		a.login(finUser(t, env, "fin-a1", labtest.BankName, xaccess.RoleBank, xaccess.RoleApprover))
		b := newBrowser(t, srv)
		b.login(finUser(t, env, "fin-a2", labtest.BankName, xaccess.RoleBank, xaccess.RoleApprover))
		atok := a.csrf("/lab/financing/products")
		p := a.post("/lab/financing/products", url.Values{"csrf": {atok}, "op": {"propose"}, "product": {product}, "auto": {"on"}, "cap_wan": {"50"}})
		if p.status != 200 || !strings.Contains(p.body, "待另一位审批人批准后生效") || !strings.Contains(p.body, "您是提议人") || !strings.Contains(p.body, ">未开启<") {
			t.Fatalf("propose: %d\n%s", p.status, p.body)
		}
		prop := mustMatch(t, `id="approve-(\d+)"`, p.body)
		p = a.post("/lab/financing/products", url.Values{"csrf": {atok}, "op": {"approve"}, "proposal": {prop}})
		if p.status != 403 || !strings.Contains(p.body, "提议人不能自己批准") {
			t.Fatalf("the proposer approves: %d\n%s", p.status, p.body)
		}
		refusedAudited(t, env, "fin-a1")
		p = b.post("/lab/financing/products", url.Values{"csrf": {b.csrf("/lab/financing/products")}, "op": {"approve"}, "proposal": {prop}})
		if p.status != 200 || !strings.Contains(p.body, "已开启，50 万元以内") || strings.Contains(p.body, `id="approve-`) {
			t.Fatalf("second approver: %d\n%s", p.status, p.body)
		}
		// Changing what an auto-approving product decides is a proposal too.
		p = a.post("/lab/financing/products", url.Values{"csrf": {atok}, "op": {"propose"}, "product": {product}, "rule": {`rating in ["A", "B"]`}})
		if p.status != 200 || !strings.Contains(p.body, "待另一位审批人批准后生效") || !strings.Contains(p.body, `准入规则改为 <code class="rule">rating in [&#34;A&#34;, &#34;B&#34;]</code>`) {
			t.Fatalf("rule change: %d\n%s", p.status, p.body)
		}
		if p := a.post("/lab/financing/products", url.Values{"csrf": {atok}, "op": {"propose"}, "product": {product}, "rule": {"rating in"}}); p.status != 400 {
			t.Fatalf("a rule that does not compile: %d", p.status)
		}
	})

	t.Run("exports", func(t *testing.T) {
		reg := as(t, env, srv, labtest.Regulator)
		p := reg.get("/lab/financing/stats.csv?by=industry")
		if p.status != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), "text/csv") || strings.Count(p.body, "\n") < 2 || strings.Contains(p.body, env.ReportCompany) {
			t.Fatalf("stats export: %d %q\n%s", p.status, p.header.Get("Content-Type"), p.body)
		}
		if p := reg.get("/lab/financing/stats?by=size"); p.status != 200 || !strings.Contains(p.body, `id="fin-stats"`) {
			t.Fatalf("by size: %d", p.status)
		}
		if p := rep.get("/lab/financing/stats.csv"); p.status != 403 {
			t.Fatalf("company reads the statistics: %d", p.status)
		}
		p = bank.get("/lab/financing/labels.csv")
		if p.status != 200 || !strings.HasPrefix(p.body, "code,date,label,loan_id\n") {
			t.Fatalf("label file: %d\n%s", p.status, p.body)
		}
	})
}
