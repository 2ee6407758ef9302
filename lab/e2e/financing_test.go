package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// lang switches the page to zh or en when it is not in it.
func (s *session) lang(code string) {
	s.t.Helper()
	want := map[string]string{"zh": "zh-CN", "en": "en"}[code]
	if s.text("html") != "" && s.evalString("document.documentElement.lang") == want {
		return
	}
	s.clickWait("language "+code, "#lang-switch", fmt.Sprintf("document.documentElement.lang === %q", want))
}

func (s *session) evalString(js string) string {
	s.t.Helper()
	v, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		s.t.Fatalf("%s: %v", js, err)
	}
	return v
}

// TestFinancingInChromium: a company asks its bank for a loan, the bank sees it
// with the platform's assessment and offers, the company has the offer before
// it (and accepts it), a product change waits for a second approver, and the
// regulator reads the aggregates; every page in Chinese and English.
func TestFinancingInChromium(t *testing.T) {
	bin := chromium(t)
	env := labtest.NewEnv(t, labtest.EnvOptions{ScreeningStep: 150 * time.Millisecond})
	srv := newServer(t, env)
	shots := artifacts(t)
	ctx := context.Background()
	bank, err := env.Access.InstitutionByName(ctx, labtest.BankName)
	if err != nil {
		t.Fatal(err)
	}
	u, err := env.Access.CreateUser(ctx, "setup", "gao", bank.ID, xaccess.RoleBank, xaccess.RoleApprover)
	if err != nil {
		t.Fatal(err)
	}
	proposerKey, _, err := env.Access.IssueKey(ctx, "setup", u.ID, "lab", 0)
	if err != nil {
		t.Fatal(err)
	}

	s := startBrowser(t, bin, srv, shots)
	s.typedBack("gao", "购置生产设备")

	// The company asks its bank.
	s.login(env.Keys[labtest.CompanyRep])
	s.lang("zh")
	finPath := srv + "/lab/portal/companies/" + env.ReportCompany + "/financing"
	s.do("financing", chromedp.Navigate(finPath), chromedp.WaitVisible(chromedp.CSS("#fin-form")),
		chromedp.SendKeys(chromedp.CSS("#fin-amount"), "120"), chromedp.SendKeys(chromedp.CSS("#fin-purpose"), "购置生产设备"),
		chromedp.SetValue(chromedp.CSS("#fin-guarantee"), "guarantee"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf("input[name=bank][value='%d']", env.BankID))))
	s.clickWait("post request", "#fin-submit", has("#flash"))
	if txt := s.text("#fin-requests"); !strings.Contains(txt, "120 万元") || !strings.Contains(txt, "待答复") {
		t.Fatalf("requests:\n%s", txt)
	}
	s.logout()

	// The bank's inbox, with the assessment; it offers.
	s.login(env.Keys[labtest.Banker])
	s.lang("zh")
	s.do("inbox", chromedp.Navigate(srv+"/lab/financing/inbox"), chromedp.WaitVisible(chromedp.CSS("#fin-inbox")))
	if txt := s.text("#fin-inbox"); !strings.Contains(txt, "120 万元") || !strings.Contains(txt, "350 万元") || !strings.Contains(txt, "保证") {
		t.Fatalf("inbox:\n%s", txt)
	}
	s.screenshot("40a-fin-inbox-zh")
	s.lang("en")
	if txt := s.text("#fin-inbox"); !strings.Contains(txt, "CNY 1,200,000") {
		t.Fatalf("inbox in English:\n%s", txt)
	}
	s.screenshot("40b-fin-inbox-en")
	s.do("offer", chromedp.SendKeys(chromedp.CSS("#fin-inbox input[name=amount_wan]"), "100"),
		chromedp.SendKeys(chromedp.CSS("#fin-inbox input[name=rate_pct]"), "4.35"))
	s.clickWait("offer", "#fin-inbox form.stack button:not(.reject)", has("#flash"))
	s.logout()

	// The company has the offer before it.
	s.login(env.Keys[labtest.CompanyRep])
	s.lang("zh")
	s.do("offer received", chromedp.Navigate(finPath), chromedp.WaitVisible(chromedp.CSS("#fin-requests button.accept")))
	if txt := s.text("#fin-requests"); !strings.Contains(txt, "100 万元") || !strings.Contains(txt, "4.35%") || !strings.Contains(txt, labtest.BankName) {
		t.Fatalf("offer:\n%s", txt)
	}
	s.screenshot("40c-fin-company-offer-zh")
	s.lang("en")
	s.screenshot("40d-fin-company-offer-en")
	s.clickWait("accept", "#fin-requests button.accept", has("#flash"))
	if txt := s.text("#fin-loans"); !strings.Contains(txt, "CNY 1,000,000") || !strings.Contains(txt, "consent #") {
		t.Fatalf("loans:\n%s", txt)
	}
	s.screenshot("40e-fin-company-loan-en")
	s.lang("zh")
	s.screenshot("40f-fin-company-loan-zh")
	s.logout()

	// A product change waits for a second approver; its proposer is told why
	// they cannot approve it.
	s.login(proposerKey)
	s.lang("zh")
	s.do("products", chromedp.Navigate(srv+"/lab/financing/products"), chromedp.WaitVisible(chromedp.CSS("#fin-products")),
		chromedp.SendKeys(chromedp.CSS("#fin-products input[name=cap_wan]"), "50"))
	s.clickWait("propose", "#fin-products button[id^=auto-on-]", has("#fin-proposals [id^=mine-]"))
	s.screenshot("40g-fin-products-pending-zh")
	s.clickWait("approve own", "#fin-proposals button[id^=approve-]", has("#error-detail"))
	if txt := s.text("#error-detail"); !strings.Contains(txt, "提议人不能自己批准") {
		t.Fatalf("four-eyes refusal: %s", txt)
	}
	s.screenshot("40h-fin-four-eyes-refused-zh")
	s.do("products again", chromedp.Navigate(srv+"/lab/financing/products"), chromedp.WaitVisible(chromedp.CSS("#fin-proposals")))
	s.lang("en")
	s.screenshot("40i-fin-products-pending-en")
	s.do("loans", chromedp.Navigate(srv+"/lab/financing/loans"), chromedp.WaitVisible(chromedp.CSS("#fin-bank-loans")))
	s.screenshot("40j-fin-loans-en")
	s.logout()

	// The regulator's aggregates.
	s.login(env.Keys[labtest.Regulator])
	s.lang("zh")
	s.do("stats", chromedp.Navigate(srv+"/lab/financing/stats"), chromedp.WaitVisible(chromedp.CSS("#fin-stats")))
	if txt := s.text("#fin-stats"); !strings.Contains(txt, "合计") || !strings.Contains(txt, "120 万元") || !strings.Contains(txt, "100 万元") {
		t.Fatalf("statistics:\n%s", txt)
	}
	s.screenshot("40k-fin-stats-zh")
	s.lang("en")
	s.do("stats by industry", chromedp.Navigate(srv+"/lab/financing/stats?by=industry"), chromedp.WaitVisible(chromedp.CSS("#fin-stats")))
	s.screenshot("40l-fin-stats-en")
	s.logout()
}
