package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// TestFeatureSetsInChromium: a bank's data scientist defines a feature set of
// a catalog indicator and two request features in the console, publishes it
// and reads its features, in Chinese and English.
func TestFeatureSetsInChromium(t *testing.T) {
	bin := chromium(t)
	env := labtest.NewEnv(t, labtest.EnvOptions{ScreeningStep: 150 * time.Millisecond})
	srv := newServer(t, env)
	s := startBrowser(t, bin, srv, artifacts(t))
	// The set's own names and categories, typed here, come back on the page.
	s.typedBack("bank-a-sme", "collateral_ratio", "loan_purpose", "working_capital", "equipment")

	s.login(env.Keys[labtest.Scientist])
	s.lang("zh")
	def := "name: bank-a-sme\ndescription: 小微企业贷款申请评分\nfeatures:\n  - indicator: tax.sales.sum_12m\n" +
		"  - name: collateral_ratio\n    type: numeric\n    unit: 倍\n    min: 0\n    max: 3\n    zh: 抵押率\n    en: collateral ratio\n" +
		"  - name: loan_purpose\n    type: categorical\n    categories: [working_capital, equipment]\n    zh: 贷款用途\n    en: loan purpose\n"
	s.do("sets", chromedp.Navigate(srv+"/lab/featuresets"), chromedp.WaitVisible(chromedp.CSS("#set-form")))
	s.do("definition", chromedp.SetValue(chromedp.CSS("#set-definition"), def))
	s.clickWait("publish", "#set-submit", has("#flash"))
	row := `#set-table tr[id="set-bank-a-sme/v1"]`
	s.do("open features", chromedp.Click(chromedp.CSS(row+" details summary")))
	if txt := s.text(row); !strings.Contains(txt, "请求特征（类别）") || !strings.Contains(txt, "0 – 3 倍") || !strings.Contains(txt, "抵押率") {
		t.Fatalf("the published set:\n%s", txt)
	}
	s.screenshot("60a-featuresets-zh")
	s.lang("en")
	s.do("open features en", chromedp.Click(chromedp.CSS(row+" details summary")))
	if txt := s.text(row); !strings.Contains(txt, "request feature (category)") || !strings.Contains(txt, "collateral ratio") {
		t.Fatalf("the published set in English:\n%s", txt)
	}
	s.screenshot("60b-featuresets-en")
}
