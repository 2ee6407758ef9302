package lab_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// TestCompanyRecords: the bound account reads its records by department,
// disputes one from the page and sees it marked; another company's records, an
// account bound to no company and a department user are refused in words.
func TestCompanyRecords(t *testing.T) {
	env, srv := setup(t)
	rep := as(t, env, srv, labtest.CompanyRep)
	page := "/lab/portal/companies/" + env.ReportCompany + "/records"
	p := rep.get(page)
	for _, want := range []string{"我的信用记录", "行政处罚", "处罚决定书文号", env.ReportPenalty, "失信行为类别", "提出异议"} {
		if p.status != http.StatusOK || !strings.Contains(p.body, want) {
			t.Fatalf("records page (status %d) lacks %q:\n%s", p.status, want, p.body)
		}
	}
	if strings.Contains(p.body, `data-disputed="true"`) {
		t.Fatal("a record is marked disputed before any objection")
	}
	tok := rep.csrf(page)
	d := rep.post("/lab/portal/companies/"+env.ReportCompany+"/cases", url.Values{"csrf": {tok}, "op": {"dispute"}, "source": {"penalty"},
		"key": {"penalty_id=" + env.ReportPenalty}, "statement": {"罚款金额登记有误"}})
	if d.status != http.StatusOK || !strings.Contains(d.body, "已受理") {
		t.Fatalf("dispute from the records page: status %d\n%s", d.status, d.body)
	}
	if p := rep.get(page); !strings.Contains(p.body, `data-disputed="true"`) || !strings.Contains(p.body, `class="tag bad disputed">异议中`) {
		t.Fatalf("the disputed record is not marked:\n%s", p.body)
	}
	rep.post("/lab/lang", url.Values{"csrf": {tok}, "lang": {"en"}, "next": {page}})
	if p := rep.get(page); !strings.Contains(p.body, "My records") || !strings.Contains(p.body, "Decision Number") || !strings.Contains(p.body, "disputed") {
		t.Fatalf("the English page:\n%s", p.body)
	}
	rep.post("/lab/lang", url.Values{"csrf": {tok}, "lang": {"zh"}, "next": {page}})

	// The owning department sets the deadline; a day in the past is refused.
	enf := as(t, env, srv, labtest.Enforcer)
	qt := enf.csrf("/lab/cases?queue=review")
	id := mustMatch(t, `id="set-deadline-(\d+)"`, enf.get("/lab/cases?queue=review").body)
	if p := enf.post("/lab/cases", url.Values{"csrf": {qt}, "op": {"deadline"}, "queue": {"review"}, "case": {id}, "deadline": {"2099-03-31"}}); p.status != http.StatusOK || !strings.Contains(p.body, "2099-03-31") {
		t.Fatalf("set deadline: status %d\n%s", p.status, p.body)
	}
	if p := enf.post("/lab/cases", url.Values{"csrf": {qt}, "op": {"deadline"}, "queue": {"review"}, "case": {id}, "deadline": {"2001-01-01"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "申请不符合规则") {
		t.Fatalf("a deadline in the past: status %d\n%s", p.status, p.body)
	}

	refused := []struct{ name, user, code string }{
		{"another company's records", labtest.CompanyRep, labtest.Code(t, 7)},
		{"an account bound to no company", labtest.Banker, env.ReportCompany},
		{"a department user", labtest.Enforcer, env.ReportCompany},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			b := as(t, env, srv, c.user)
			p := b.get("/lab/portal/companies/" + c.code + "/records")
			if p.status != http.StatusForbidden || strings.Contains(p.body, env.ReportPenalty) {
				t.Fatalf("status %d, want %d and no record:\n%s", p.status, http.StatusForbidden, p.body)
			}
		})
	}
}
