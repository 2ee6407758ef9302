package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// TestRecordsInChromium: the company's bound account reads its records by
// department, disputes one from the record itself and finds it marked 异议中,
// follows its cases; the owning department and the credit authority read their
// queues; every page in Chinese and English.
func TestRecordsInChromium(t *testing.T) {
	bin := chromium(t)
	env := labtest.NewEnv(t, labtest.EnvOptions{ScreeningStep: 150 * time.Millisecond})
	srv := newServer(t, env)
	shots := artifacts(t)
	s := startBrowser(t, bin, srv, shots)

	s.login(env.Keys[labtest.CompanyRep])
	s.lang("zh")
	records := srv + "/lab/portal/companies/" + env.ReportCompany + "/records"
	s.do("records", chromedp.Navigate(records), chromedp.WaitVisible(chromedp.CSS("#record-0")))
	s.do("open dispute", chromedp.Click(chromedp.CSS("#record-0 details summary")))
	s.typedBack("罚款金额登记有误，实际罚款已按复议决定减免。")
	s.do("statement", chromedp.SendKeys(chromedp.CSS("#record-0 form.dispute textarea"), "罚款金额登记有误，实际罚款已按复议决定减免。"))
	s.clickWait("dispute", "#record-0 form.dispute button", has("#flash"))
	s.do("records again", chromedp.Navigate(records), chromedp.WaitVisible(chromedp.CSS("#record-0")))
	if txt := s.text("#record-0"); !strings.Contains(txt, "异议中") || !strings.Contains(txt, env.ReportPenalty) || !strings.Contains(txt, "万元") {
		t.Fatalf("the disputed record:\n%s", txt)
	}
	s.screenshot("40a-records-disputed-zh")
	s.lang("en")
	if txt := s.text("#record-0"); !strings.Contains(txt, "disputed") || !strings.Contains(txt, "Decision Number") {
		t.Fatalf("the disputed record in English:\n%s", txt)
	}
	s.screenshot("40b-records-disputed-en")
	s.do("cases en", chromedp.Navigate(srv+"/lab/portal/companies/"+env.ReportCompany+"/cases"), chromedp.WaitVisible(chromedp.CSS("#case-table")))
	s.screenshot("40c-cases-en")
	s.lang("zh")
	if txt := s.text("#case-table"); !strings.Contains(txt, "待部门核查") {
		t.Fatalf("company cases:\n%s", txt)
	}
	s.screenshot("40d-cases-zh")
	s.logout()

	s.login(env.Keys[labtest.Enforcer])
	s.lang("zh")
	s.do("queue", chromedp.Navigate(srv+"/lab/cases?queue=review"), chromedp.WaitVisible(chromedp.CSS("#queue-table")))
	if txt := s.text("#queue-table"); !strings.Contains(txt, env.ReportPenalty) {
		t.Fatalf("department queue:\n%s", txt)
	}
	s.screenshot("40e-review-queue-zh")
	s.lang("en")
	s.screenshot("40f-review-queue-en")
	s.logout()

	s.login(env.Keys[labtest.Regulator])
	s.lang("zh")
	s.do("authority", chromedp.Navigate(srv+"/lab/cases?queue=authority"), chromedp.WaitVisible(chromedp.CSS("#queue-table")))
	s.screenshot("40g-authority-queue-zh")
	s.lang("en")
	s.screenshot("40h-authority-queue-en")
}
