// Package e2e drives the lab console in a real headless Chromium (Debian's chromium,
// installed by scripts/chromium.sh) through chromedp: sign in, find an indicator and
// its histogram, train and register a model and see its ROC curve, upload a model,
// approve it as a second user, run a screening and see the tier chart, and open a
// company's guarantee graph; a company binds itself and answers a bank's consent
// request; then it opens every console page as the role that uses it, in Chinese
// and English (tour_test.go). Every screenshot is saved under $XINYI_ARTIFACTS/lab
// (or a temporary folder named in the log) after the shared page checks of
// pagecheck_test.go: no overlapping or clipped chart labels, no English words on a
// Chinese page outside a short allow-list. Every console test takes its
// screenshots through session.screenshot, so new pages are checked too.
package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// chromium returns the browser binary, or fails under CI and skips elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium is not installed; run scripts/chromium.sh"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("XINYI_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "xinyi-lab-e2e-"); err != nil {
			t.Fatal(err)
		}
	}
	dir = filepath.Join(dir, "lab")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// session is one browser tab against the console.
type session struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string
	// typed: values the test entered that pages show back (see typedBack).
	typed []string
}

func (s *session) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
}

func (s *session) count(selector string) int {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", selector)))
	if err != nil {
		s.t.Fatalf("count %s: %v", selector, err)
	}
	return n
}

func (s *session) text(selector string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf("(document.querySelector(%q)||{}).textContent||''", selector)))
	if err != nil {
		s.t.Fatalf("text %s: %v", selector, err)
	}
	return v
}

func (s *session) attr(selector, name string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf("(document.querySelector(%q)||{getAttribute:()=>''}).getAttribute(%q)||''", selector, name)))
	if err != nil {
		s.t.Fatalf("attribute %s of %s: %v", name, selector, err)
	}
	return v
}

// screenshot saves the page as name.png after the shared page checks (check).
func (s *session) screenshot(name string) {
	s.t.Helper()
	s.check(name)
	ctx, cancel := context.WithTimeout(s.ctx, 60*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(s.shot, name+".png"), png, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// clickWait clicks sel and waits until the page that the click loads is complete and
// the JavaScript condition cond holds on it (a click that submits a form leaves the
// old page in place for a moment, so waiting for an element alone is not enough).
func (s *session) clickWait(what, sel, cond string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("window.__old = true")); err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		s.t.Fatalf("%s: click %s: %v", what, sel, err)
	}
	js := fmt.Sprintf("!window.__old && document.readyState === 'complete' && !!(%s)", cond)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("%s: the page after clicking %s never satisfied %s (last error %v)", what, sel, cond, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func has(sel string) string { return fmt.Sprintf("document.querySelector(%q)", sel) }

func (s *session) login(key string) {
	s.t.Helper()
	s.do("sign in",
		chromedp.Navigate(s.base+"/lab/login"),
		chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), key),
	)
	s.clickWait("sign in", "#login-submit", has(".cards"))
}

func (s *session) logout() {
	s.t.Helper()
	s.clickWait("sign out", "#logout", has("#login-form"))
}

// waitState reloads path until the element's data-state is no longer "running".
func (s *session) waitState(path, selector string) string {
	s.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		s.do("open "+path, chromedp.Navigate(s.base+path), chromedp.WaitVisible(chromedp.CSS(selector)))
		st, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](fmt.Sprintf("document.querySelector(%q).dataset.state", selector)))
		if err != nil {
			s.t.Fatal(err)
		}
		if st != "running" {
			return st
		}
		time.Sleep(300 * time.Millisecond)
	}
	s.t.Fatalf("%s still running", path)
	return ""
}

func TestConsoleInChromium(t *testing.T) {
	bin := chromium(t)
	env := labtest.NewEnv(t, labtest.EnvOptions{ScreeningStep: 150 * time.Millisecond})
	srv := newServer(t, env)
	shots := artifacts(t)

	s := startBrowser(t, bin, srv, shots)
	// The public data set's and the screening models' names: identifiers.
	s.typedBack("lightgbm-binary", "violation")
	s.screenshot("01-login")

	// A data scientist signs in and finds an indicator and its histogram.
	s.login(env.Keys[labtest.Scientist])
	s.screenshot("02-home")
	s.do("samples", chromedp.Navigate(srv+"/lab/samples"), chromedp.WaitVisible(chromedp.CSS("#sample-table")))
	if n := s.count("#sample-table tbody tr"); n != 1 {
		t.Fatalf("sample library lists %d samples, want 1", n)
	}
	s.screenshot("02-samples")
	s.do("search indicators",
		chromedp.Navigate(srv+"/lab/indicators"),
		chromedp.SendKeys(chromedp.CSS("#ind-q"), "涉诉"),
		chromedp.SetValue(chromedp.CSS("#ind-dim"), "compliance"),
	)
	s.clickWait("search indicators", "#ind-search", "location.search.includes('dim=compliance')")
	s.screenshot("03-indicators")
	if n := s.count(fmt.Sprintf(`#ind-table a[href="/lab/indicators/%s"]`, labtest.PublicIndicator)); n != 1 {
		t.Fatalf("search did not list %s (%d links)", labtest.PublicIndicator, n)
	}
	s.clickWait("open indicator", fmt.Sprintf(`#ind-table a[href="/lab/indicators/%s"]`, labtest.PublicIndicator), has("#ind-histogram svg"))
	if n := s.count("#ind-histogram rect.bar"); n != 5 {
		t.Fatalf("histogram has %d bars, want 5", n)
	}
	s.screenshot("04-indicator")

	// Train on a real public sample, watch the curve, register, and see the ROC curve.
	s.do("start training",
		chromedp.Navigate(srv+"/lab/algorithms"),
		chromedp.WaitVisible(chromedp.CSS("#train-form")),
		chromedp.SetValue(chromedp.CSS("#train-preset"), "quick"),
	)
	s.screenshot("05-algorithms")
	s.clickWait("start training", "#train-submit", has("#train-state"))
	loc, err := chromedp.Run(s.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(loc, srv)
	if st := s.waitState(path, "#train-state"); st != "done" {
		t.Fatalf("training ended %s: %s", st, s.text(".error"))
	}
	if n := s.count("#train-curve polyline.curve"); n != 2 {
		t.Fatalf("validation curve has %d lines, want 2", n)
	}
	s.screenshot("05-training-done")
	s.typedBack("violation-gbdt", "pd-upload", "breast-cancer/v1", "http://127.0.0.1:9/xinyi-alerts", "loan monitoring",
		"NO-SUCH-DECISION", "The decision's amount stands; the review reduced the fine later.", "To assess your working-capital loan application")
	s.do("register", chromedp.SendKeys(chromedp.CSS("#register-name"), "violation-gbdt"))
	s.clickWait("register", "#register-submit", has("#version-table"))
	s.clickWait("open version", `#version-table a[href="/lab/models/violation-gbdt/v1"]`, has("#roc svg"))
	if n := s.count("#roc polyline.curve"); n != 1 {
		t.Fatalf("ROC chart has %d curves", n)
	}
	if auc := s.text("#roc text.auc"); !strings.HasPrefix(auc, "AUC = 0.") {
		t.Fatalf("AUC label %q", auc)
	}
	s.screenshot("06-model-version")

	// Upload a LightGBM file and ask for its promotion.
	model, err := filepath.Abs("../testdata/lg_dart_breast_cancer.model")
	if err != nil {
		t.Fatal(err)
	}
	evalData, _ := labtest.EvaluationCSV(t, "../testdata")
	evalPath := filepath.Join(t.TempDir(), "evaluation.csv")
	if err := os.WriteFile(evalPath, evalData, 0o644); err != nil {
		t.Fatal(err)
	}
	s.do("upload",
		chromedp.Navigate(srv+"/lab/upload"),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
		chromedp.SendKeys(chromedp.CSS("#upload-name"), "pd-upload"),
		chromedp.SendKeys(chromedp.CSS("#upload-set"), "breast-cancer/v1"),
		chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{model}),
		chromedp.SetUploadFiles(chromedp.CSS("#upload-evaluation"), []string{evalPath}),
	)
	s.clickWait("upload", "#upload-submit", has("#promote-form"))
	s.do("choose alias", chromedp.SetValue(chromedp.CSS("#promote-alias"), "champion"))
	s.clickWait("request promotion", "#promote-submit", has("#promotion-table"))
	if !strings.Contains(s.text("#promotion-table"), labtest.Scientist) {
		t.Fatal("promotion request not listed")
	}
	s.screenshot("07-model-requested")
	s.logout()

	// A second user approves it (four eyes).
	s.login(env.Keys[labtest.Approver2])
	s.do("approve",
		chromedp.Navigate(srv+"/lab/approvals"),
		chromedp.WaitVisible(chromedp.CSS("#approval-table button.approve")),
	)
	s.screenshot("08-approvals")
	s.typedBack("黄金样例与指标均通过")
	s.do("reason", chromedp.SendKeys(chromedp.CSS("#approval-table textarea[name=reason]"), "黄金样例与指标均通过"))
	s.clickWait("approve", "#approval-table button.approve", has("#flash"))
	s.do("open model", chromedp.Navigate(srv+"/lab/models/pd-upload"), chromedp.WaitVisible(chromedp.CSS("#alias-champion")))
	if got := s.text("#alias-champion"); !strings.Contains(got, "v1") {
		t.Fatalf("champion alias %q", got)
	}
	s.screenshot("09-model-approved")
	// The model page shows the drift against the training sample: one chart with
	// the watch and act lines, and the series with their latest level, in
	// Chinese and in English.
	if n := s.count("#drift-chart svg .threshold"); n != 2 {
		t.Fatalf("%d threshold lines on the drift chart, want 2", n)
	}
	if txt := s.text("#model-drift"); !strings.Contains(txt, "模型漂移监测") || !strings.Contains(txt, "基准：训练样本") || !strings.Contains(txt, "近12个月纳税总额") ||
		!strings.Contains(txt, "处置") || !strings.Contains(txt, "0.316") {
		t.Fatalf("drift section in Chinese:\n%s", txt)
	}
	if txt := s.text("#drift-chart"); !strings.Contains(txt, "关注 0.1") || !strings.Contains(txt, "处置 0.25") || !strings.Contains(txt, "快照日期") {
		t.Fatalf("drift chart labels in Chinese: %q", txt)
	}
	if n := s.count("#drift-chart svg text.tick.x"); n < 2 || n > 7 {
		t.Fatalf("%d date labels on the drift chart, want 2 to 7", n)
	}
	if n := s.count("#drift-table .swatch.d1"); n != 1 {
		t.Fatalf("the drift legend has %d swatches of the second colour, want 1", n)
	}
	s.screenshot("09b-model-drift-zh")
	s.clickWait("english", "#lang-switch", "document.documentElement.lang === 'en'")
	if txt := s.text("#model-drift"); !strings.Contains(txt, "Model drift") || !strings.Contains(txt, "Baseline: training sample") || !strings.Contains(txt, "act") {
		t.Fatalf("drift section in English:\n%s", txt)
	}
	s.screenshot("09c-model-drift-en")
	s.clickWait("chinese", "#lang-switch", "document.documentElement.lang === 'zh-CN'")
	s.logout()

	// A regulator screens the region and sees the tier chart, then a guarantee graph.
	s.login(env.Keys[labtest.Regulator])
	s.do("start screening",
		chromedp.Navigate(srv+"/lab/screenings"),
		chromedp.WaitVisible(chromedp.CSS("#screen-form")),
	)
	s.clickWait("start screening", "#screen-submit", has("#screen-state"))
	s.screenshot("10-screening-running")
	loc, err = chromedp.Run(s.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if st := s.waitState(strings.TrimPrefix(loc, srv), "#screen-state"); st != "done" {
		t.Fatalf("screening ended %s", st)
	}
	if n := s.count("#tier-chart rect.bar"); n != 4 {
		t.Fatalf("tier chart has %d bars, want 4", n)
	}
	if n := s.count("#ranking tbody tr"); n != 20 {
		t.Fatalf("ranking has %d rows, want 20", n)
	}
	s.screenshot("11-screening")
	screeningPath := strings.TrimPrefix(loc, srv)
	// The whole ranking, filtered by district and tier, with reasons in words.
	s.clickWait("explore", "#screen-explore", has("#explore-table"))
	if n := s.count("#explore-table tbody tr"); n != 40 {
		t.Fatalf("explorer shows %d rows, want all 40", n)
	}
	s.do("filter", chromedp.Navigate(srv+screeningPath+"/explore?district=%E7%99%BE%E5%AE%98%E8%A1%97%E9%81%93&tier=high"), chromedp.WaitVisible(chromedp.CSS("#explore-table")))
	want := 0
	for i, c := range env.Screenings.Population {
		if i%4 == 0 && c.Probability >= 0.3 {
			want++
		}
	}
	if n := s.count("#explore-table tbody tr"); n != want || want == 0 {
		t.Fatalf("百官街道 high tier: %d rows, want %d", n, want)
	}
	if txt := s.text("#explore-table"); !strings.Contains(txt, "高风险") || !strings.Contains(txt, "百官街道") {
		t.Fatalf("explorer in Chinese:\n%s", txt)
	}
	s.screenshot("11b-explore-zh")
	// A second screening (the fixture moves every company's probability by its
	// place: ×2.5, ×0.4, ×1, ×1.3, ×0.7) compared with the first: the tier ×
	// tier table counted again here from the population.
	s.do("second screening", chromedp.Navigate(srv+"/lab/screenings"), chromedp.WaitVisible(chromedp.CSS("#screen-form")))
	s.clickWait("second screening", "#screen-submit", has("#screen-state"))
	loc2, err := chromedp.Run(s.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if st := s.waitState(strings.TrimPrefix(loc2, srv), "#screen-state"); st != "done" {
		t.Fatalf("second screening ended %s", st)
	}
	s.clickWait("compare", "#screen-compare", has("#cmp-table"))
	tierOf := func(p float64) string {
		switch {
		case p >= 0.3:
			return "high"
		case p >= 0.1:
			return "medium"
		}
		return "low"
	}
	moves := map[string]int{}
	for i, c := range env.Screenings.Population {
		later := min(0.99, c.Probability*[]float64{2.5, 0.4, 1, 1.3, 0.7}[i%5])
		moves[tierOf(c.Probability)+">"+tierOf(later)]++
	}
	for _, a := range []string{"high", "medium", "low"} {
		for _, b := range []string{"high", "medium", "low"} {
			got := s.text(fmt.Sprintf(`#cmp-table td[data-from=%q][data-to=%q]`, a, b))
			if got != strconv.Itoa(moves[a+">"+b]) {
				t.Errorf("%s → %s: %q companies, want %d", a, b, got, moves[a+">"+b])
			}
		}
	}
	if moves["low>high"]+moves["medium>high"] == 0 {
		t.Fatal("the fixture moves no company into the high tier")
	}
	if n := s.count("#cmp-entered tbody tr"); n != min(10, moves["low>high"]+moves["medium>high"]) {
		t.Errorf("%d companies entered the high tier, want %d", n, moves["low>high"]+moves["medium>high"])
	}
	if txt := s.text("#cmp-rose"); !strings.Contains(txt, "上虞") || !strings.Contains(txt, "个百分点") || !strings.Contains(txt, "街道") {
		t.Errorf("risers in Chinese with names and districts:\n%s", txt)
	}
	s.screenshot("11e-compare-zh")
	// The regional risk index over time.
	s.do("risk", chromedp.Navigate(srv+"/lab/risk"), chromedp.WaitVisible(chromedp.CSS("#risk-districts")))
	if n := s.count("#risk-trend svg polyline"); n != 1 {
		t.Fatalf("risk trend has %d lines, want 1", n)
	}
	if txt := s.text("#risk-districts"); !strings.Contains(txt, "东关街道") || !strings.Contains(txt, "+2.6") || !strings.Contains(txt, "—") {
		t.Fatalf("district table:\n%s", txt)
	}
	if txt := s.text("#risk-movers"); !strings.Contains(txt, "上虞晶盛机电有限公司 01") || !strings.Contains(txt, "6.1% → 18.4%") || !strings.Contains(txt, "212 家企业风险色变差") {
		t.Fatalf("movers:\n%s", txt)
	}
	if txt := s.text("#risk-circles"); !strings.Contains(txt, "2,350 万元") || !strings.Contains(txt, "上虞龙盛纺织有限公司 03、") {
		t.Fatalf("circles:\n%s", txt)
	}
	// Clusters of small firms: 412 of the 530 firms of 东关街道 manufacturing are small (77.7%).
	if txt := s.text("#risk-small"); !strings.Contains(txt, "小微企业共 6,412 家") || !strings.Contains(txt, "77.7%") || !strings.Contains(txt, "制造业") {
		t.Fatalf("small-firm clusters:\n%s", txt)
	}
	s.screenshot("11c-risk-zh")
	// The district map: one tile per street of the fixture, 东关街道 (44.0 as of
	// the newest date) in the class of 40–45, 陈溪乡 (suppressed) and 道墟街道
	// (no data) grey; a tile opens the newest screening filtered to its street.
	if n := s.count("#risk-map svg g.tile"); n != 5 {
		t.Fatalf("district map has %d tiles, want 5", n)
	}
	fill := func(col, row int) string {
		return s.attr(fmt.Sprintf(`#risk-map g.tile[data-col="%d"][data-row="%d"] rect`, col, row), "fill")
	}
	if f := fill(1, 1); f != "#f8826d" {
		t.Fatalf("东关街道 tile filled %s", f)
	}
	if f1, f2 := fill(1, 2), fill(0, 1); f1 != "#e2e8f0" || f2 != "#e2e8f0" {
		t.Fatalf("陈溪乡 and 道墟街道 tiles filled %s and %s, want the no-data grey", f1, f2)
	}
	if txt := s.text("#risk-map"); !strings.Contains(txt, "东关街道：风险指数 44.0（2025-12-31，1,800 家企业）") || !strings.Contains(txt, "风险指数（0–100，越高风险越大）") {
		t.Fatalf("district map text:\n%s", txt)
	}
	s.clickWait("map tile", `#risk-map g.tile[data-col="1"][data-row="0"]`, has("#explore-table"))
	if txt := s.text("#explore-table tbody"); !strings.Contains(txt, "百官街道") || strings.Contains(txt, "曹娥街道") || strings.Contains(txt, "东关街道") {
		t.Fatalf("the 百官街道 tile opened:\n%s", txt)
	}
	// Search by part of the name, then open the profile from the list.
	s.do("find company",
		chromedp.Navigate(srv+"/lab/companies"),
		chromedp.SendKeys(chromedp.CSS("#company-code"), "卧龙电气"),
	)
	s.clickWait("find company", "#company-submit", has("#company-hits table"))
	if txt := s.text("#company-hits"); !strings.Contains(txt, "找到 1 家企业") || !strings.Contains(txt, "上虞卧龙电气有限公司") {
		t.Fatalf("search by name:\n%s", txt)
	}
	s.screenshot("11d-company-search-zh")
	s.do("open company",
		chromedp.Navigate(srv+"/lab/companies"),
		chromedp.SendKeys(chromedp.CSS("#company-code"), env.Focus),
	)
	s.clickWait("open company", "#company-submit", has("#company-graph svg"))
	if n := s.count("#company-graph g.node"); n != 6 {
		t.Fatalf("guarantee graph has %d nodes, want 6", n)
	}
	if n := s.count("#company-graph line.edge"); n != 6 {
		t.Fatalf("guarantee graph has %d edges, want 6", n)
	}
	s.screenshot("12-company")

	// A wrong company code gives a readable message.
	bad := env.Focus[:17] + map[bool]string{true: "1", false: "0"}[env.Focus[17] == '0']
	s.do("wrong code",
		chromedp.Navigate(srv+"/lab/companies"),
		chromedp.SendKeys(chromedp.CSS("#company-code"), bad),
	)
	s.clickWait("wrong code", "#company-submit", has("#error-heading"))
	if d := s.text("#error-detail"); !strings.Contains(d, "校验位（第 18 位）") {
		t.Fatalf("wrong code message %q", d)
	}
	s.screenshot("13-wrong-code")

	// The English switch.
	s.do("indicators", chromedp.Navigate(srv+"/lab/indicators"), chromedp.WaitVisible(chromedp.CSS("#ind-table")))
	s.clickWait("english", "#lang-switch", "document.documentElement.lang === 'en'")
	if h := s.text("main h1"); h != "Indicators" {
		t.Fatalf("heading after the switch %q", h)
	}
	s.screenshot("14-indicators-en")
	s.do("find company en", chromedp.Navigate(srv+"/lab/companies?q="+url.QueryEscape("卧龙")), chromedp.WaitVisible(chromedp.CSS("#company-hits")))
	if txt := s.text("#company-hits"); !strings.Contains(txt, "Companies found: 1") || !strings.Contains(txt, "Manufacturing") {
		t.Fatalf("search by name in English:\n%s", txt)
	}
	s.screenshot("14a-company-search-en")
	s.do("explore en", chromedp.Navigate(srv+screeningPath+"/explore?sort=name"), chromedp.WaitVisible(chromedp.CSS("#explore-table")))
	if txt := s.text("#explore-table"); !strings.Contains(txt, "many administrative penalties") || !strings.Contains(txt, "high (inspect more)") {
		t.Fatalf("explorer in English:\n%s", txt)
	}
	s.screenshot("14b-explore-en")
	s.do("compare en", chromedp.Navigate(srv+"/lab/screenings/compare"), chromedp.WaitVisible(chromedp.CSS("#cmp-form")))
	s.clickWait("compare en", "#cmp-submit", has("#cmp-table"))
	if txt := s.text("#cmp-summary"); !strings.Contains(txt, "moved to a riskier tier") || !strings.Contains(txt, "high (inspect more)") {
		t.Errorf("comparison in English:\n%s", txt)
	}
	s.screenshot("14e-compare-en")
	s.do("risk en", chromedp.Navigate(srv+"/lab/risk"), chromedp.WaitVisible(chromedp.CSS("#risk-industries")))
	if txt := s.text("#risk-map"); !strings.Contains(txt, "Dongguan: risk index 44.0 (2025-12-31, 1,800 companies)") || !strings.Contains(txt, "Risk index (0–100") {
		t.Fatalf("district map in English:\n%s", txt)
	}
	s.screenshot("14c-risk-en")

	// A bank without the company's consent is refused by the access layer, in
	// words, in both languages.
	s.logout()
	s.login(env.Keys[labtest.Banker])
	s.do("refused profile", chromedp.Navigate(srv+"/lab/companies/"+env.Focus), chromedp.WaitVisible(chromedp.CSS("#error-heading")))
	if d := s.text("#error-detail"); !strings.Contains(d, "consent") || !strings.Contains(d, env.Focus) {
		t.Fatalf("refusal detail %q does not speak of consent", d)
	}
	s.screenshot("15-refused-consent-en")
	s.clickWait("chinese", "#lang-switch", "document.documentElement.lang === 'zh-CN'")
	s.screenshot("16-refused-consent-zh")
	// A page the role does not open says which roles do, in Chinese.
	s.do("refused page", chromedp.Navigate(srv+"/lab/samples"), chromedp.WaitVisible(chromedp.CSS("#error-heading")))
	if d := s.text("#error-detail"); !strings.Contains(d, "数据科学家") || !strings.Contains(d, "信贷") {
		t.Fatalf("role refusal detail %q", d)
	}
	s.screenshot("17-refused-role-zh")

	// The bank's post-loan view and warning inbox.
	s.do("post-loan", chromedp.Navigate(srv+"/lab/portfolio"), chromedp.WaitVisible(chromedp.CSS("#portfolio-table")))
	if txt := s.text("#portfolio-table"); !strings.Contains(txt, "上虞晶盛机电有限公司 01") || !strings.Contains(txt, "18.4%") ||
		!strings.Contains(txt, "350 万元") || !strings.Contains(txt, "恶化") || !strings.Contains(txt, "贷款 #7") || !strings.Contains(txt, "红码") {
		t.Fatalf("post-loan view in Chinese:\n%s", txt)
	}
	s.screenshot("17b-portfolio-zh")
	s.do("inbox", chromedp.Navigate(srv+"/lab/inbox"), chromedp.WaitVisible(chromedp.CSS("#inbox-table")))
	s.clickWait("acknowledge", "#ack-11", "document.querySelector('#inbox-table').innerText.includes('已确认')")
	if txt := s.text("#inbox-table"); !strings.Contains(txt, "被列为失信被执行人") || !strings.Contains(txt, "红色预警") {
		t.Fatalf("inbox in Chinese:\n%s", txt)
	}
	s.screenshot("17c-inbox-zh")
	s.clickWait("english", "#lang-switch", "document.documentElement.lang === 'en'")
	s.do("post-loan en", chromedp.Navigate(srv+"/lab/portfolio?change=worse"), chromedp.WaitVisible(chromedp.CSS("#portfolio-table")))
	if n := s.count("#portfolio-table tbody tr"); n != 1 {
		t.Fatalf("worse only: %d rows", n)
	}
	if txt := s.text("#portfolio-table"); !strings.Contains(txt, "loan #7") || !strings.Contains(txt, "worse") {
		t.Fatalf("post-loan view in English:\n%s", txt)
	}
	s.screenshot("17d-portfolio-en")
	s.do("inbox en", chromedp.Navigate(srv+"/lab/inbox"), chromedp.WaitVisible(chromedp.CSS("#inbox-table")))
	s.screenshot("17e-inbox-en")
	// Alert delivery: the bank registers its endpoint; the secret is shown once.
	s.do("subscriptions en", chromedp.Navigate(srv+"/lab/subscriptions"), chromedp.WaitVisible(chromedp.CSS("#endpoint-form")),
		chromedp.SendKeys(chromedp.CSS("#endpoint-url"), "http://127.0.0.1:9/xinyi-alerts"),
		chromedp.SendKeys(chromedp.CSS("#endpoint-description"), "loan monitoring"))
	s.clickWait("register endpoint", "#endpoint-submit", has("#sub-secret"))
	if txt := s.text("#sub-secret"); !strings.Contains(txt, "whsec_") {
		t.Fatalf("secret line %q", txt)
	}
	s.clickWait("subscribe portfolio", "#portfolio-1", has("#sub-made"))
	s.screenshot("17f-subscriptions-en")
	s.clickWait("chinese", "#lang-switch", "document.documentElement.lang === 'zh-CN'")
	if txt := s.text("#endpoint-table"); !strings.Contains(txt, "http://127.0.0.1:9/xinyi-alerts") || !strings.Contains(txt, "启用") {
		t.Fatalf("endpoints in Chinese:\n%s", txt)
	}
	s.screenshot("17g-subscriptions-zh")
	s.clickWait("english", "#lang-switch", "document.documentElement.lang === 'en'")
	s.clickWait("chinese", "#lang-switch", "document.documentElement.lang === 'zh-CN'")

	// The platform's operator follows the background jobs of every worker.
	s.logout()
	s.login(env.Keys[labtest.Operator])
	s.do("jobs", chromedp.Navigate(srv+"/lab/jobs"), chromedp.WaitVisible(chromedp.CSS("#job-table")))
	if n, want := s.count("#job-table tbody tr"), len(labtest.Jobs()); n != want {
		t.Fatalf("job list has %d rows, want %d", n, want)
	}
	if txt := s.text("#job-table"); !strings.Contains(txt, "特征物化：分片计算") || !strings.Contains(txt, "12,800 / 20,000") || !strings.Contains(txt, "等待重试") {
		t.Fatalf("job list in Chinese lacks kinds, grouped progress or states:\n%s", txt)
	}
	s.screenshot("18-jobs-zh")
	s.clickWait("english", "#lang-switch", "document.documentElement.lang === 'en'")
	if txt := s.text("#job-table"); !strings.Contains(txt, "materialization: shard") || !strings.Contains(txt, "waiting to retry") {
		t.Fatalf("job list in English:\n%s", txt)
	}
	s.screenshot("19-jobs-en")
	s.do("running jobs", chromedp.Navigate(srv+"/lab/jobs?state=running"), chromedp.WaitVisible(chromedp.CSS("#job-table")))
	if n := s.count("#job-table tbody tr"); n != 2 {
		t.Fatalf("running jobs: %d rows, want 2", n)
	}
	// And the department sources' timeliness.
	s.do("sources", chromedp.Navigate(srv+"/lab/sources"), chromedp.WaitVisible(chromedp.CSS("#source-table")))
	if txt := s.text("#source-table"); !strings.Contains(txt, "4,320,000") || !strings.Contains(txt, "overdue") || !strings.Contains(txt, "never delivered") {
		t.Fatalf("sources in English:\n%s", txt)
	}
	s.screenshot("20-sources-en")
	s.clickWait("chinese", "#lang-switch", "document.documentElement.lang === 'zh-CN'")
	if txt := s.text("#source-table"); !strings.Contains(txt, "逾期未报") || !strings.Contains(txt, "从未报送") || !strings.Contains(txt, "0.1%") {
		t.Fatalf("sources in Chinese:\n%s", txt)
	}
	s.screenshot("21-sources-zh")

	portalFlow(t, s, env)
	tour(s, env, screeningPath)
}

// portalFlow is the companies' own door and banks' consent requests: a bank
// refused for lack of consent asks for it; a company account binds itself with
// the code sent to the legal representative; the legal representative's account
// delegates, grants a consent and accepts the bank's request, which opens the
// profile to the bank. In Chinese, then in English.
func portalFlow(t *testing.T, s *session, env *labtest.Env) {
	srv := s.base
	s.logout()
	s.login(env.Keys[labtest.Banker])
	s.do("refused profile", chromedp.Navigate(srv+"/lab/companies/"+env.Focus), chromedp.WaitVisible(chromedp.CSS("#ask-form")))
	if d := s.text("#error-detail"); !strings.Contains(d, "上虞卧龙电气有限公司 00") || !strings.Contains(d, "信用评估") {
		t.Fatalf("consent refusal %q does not name the company", d)
	}
	s.typedBack("贵企业申请流动资金贷款 500 万元，需查询信用评估")
	s.do("ask", chromedp.SendKeys(chromedp.CSS("#ask-note"), "贵企业申请流动资金贷款 500 万元，需查询信用评估"))
	s.screenshot("22-ask-consent-zh")
	s.clickWait("ask", "#ask-submit", has("#ask-table"))
	if txt := s.text("#ask-table"); !strings.Contains(txt, "上虞卧龙电气有限公司 00") || !strings.Contains(txt, "待答复") {
		t.Fatalf("bank's requests:\n%s", txt)
	}
	s.screenshot("23-consent-requests-zh")
	s.logout()

	// A company account binds itself to a company by the code sent to the legal
	// representative.
	s.login(env.Keys[labtest.Newcomer])
	if s.count("#nav-portal") != 1 {
		t.Fatal("no 我的企业 entry for a company account")
	}
	s.do("portal", chromedp.Navigate(srv+"/lab/portal"), chromedp.WaitVisible(chromedp.CSS("#bind-form")),
		chromedp.SendKeys(chromedp.CSS("#bind-code"), env.Codes[1]))
	s.clickWait("send code", "#bind-submit", has("#flash"))
	if f := s.text("#flash"); !strings.Contains(f, "验证码已发送至 "+labtest.RepMasked) {
		t.Fatalf("flash %q", f)
	}
	s.screenshot("24-portal-code-sent-zh")
	// A code that is not the one sent is refused in words; the binding stays pending.
	sent := env.SMS.LastCode(t)
	wrong := []byte(sent)
	wrong[5] = '0' + (wrong[5]-'0'+1)%10
	s.do("wrong code", chromedp.SendKeys(chromedp.CSS("#binding-table form.activate input[name=otp]"), string(wrong)))
	s.clickWait("wrong code", "#binding-table form.activate button", has("#error-heading"))
	if d := s.text("#error-detail"); !strings.Contains(d, "验证码不正确或已失效") {
		t.Fatalf("wrong code refusal %q", d)
	}
	s.screenshot("24b-portal-wrong-code-zh")
	s.do("enter code", chromedp.Navigate(srv+"/lab/portal"), chromedp.WaitVisible(chromedp.CSS("#binding-table form.activate")),
		chromedp.SendKeys(chromedp.CSS("#binding-table form.activate input[name=otp]"), sent))
	s.clickWait("activate", "#binding-table form.activate button", has("#own-name"))
	if h := s.text("#own-name"); !strings.Contains(h, "上虞晶盛机电有限公司 01") {
		t.Fatalf("own page heading %q", h)
	}
	s.logout()

	// The legal representative's account: its bindings, its company's page.
	s.login(env.Keys[labtest.CompanyRep])
	s.do("bindings", chromedp.Navigate(srv+"/lab/portal"), chromedp.WaitVisible(chromedp.CSS("#binding-table")))
	if txt := s.text("#binding-table"); !strings.Contains(txt, "上虞卧龙电气有限公司 00") || !strings.Contains(txt, "法定代表人") || !strings.Contains(txt, "已生效") {
		t.Fatalf("bindings:\n%s", txt)
	}
	s.screenshot("25-portal-bindings-zh")
	s.clickWait("own page", `#binding-table a.company-link[href$="`+env.Focus+`"]`, has("#consent-table"))
	s.do("delegate", chromedp.SendKeys(chromedp.CSS("#delegate-user"), labtest.Staff))
	s.clickWait("delegate", "#delegate-submit", has("#flash"))
	s.do("grant", chromedp.SetValue(chromedp.CSS("#grant-inst"), labtest.Bank2Name))
	s.clickWait("grant", "#grant-submit", has("#flash"))
	if txt := s.text("#consent-table"); !strings.Contains(txt, labtest.Bank2Name) || !strings.Contains(txt, "企业自行授权") || !strings.Contains(txt, "有效") {
		t.Fatalf("consents:\n%s", txt)
	}
	if txt := s.text("#request-table"); !strings.Contains(txt, labtest.BankName) || !strings.Contains(txt, "待答复") {
		t.Fatalf("requests:\n%s", txt)
	}
	if got := s.text("#company-limit"); got != "350 万元" {
		t.Fatalf("limit %q", got)
	}
	if n := s.count("#company-history svg polyline"); n != 1 {
		t.Fatalf("score history has %d lines", n)
	}
	s.screenshot("26-own-company-zh")
	s.clickWait("english", "#lang-switch", "document.documentElement.lang === 'en'")
	if txt := s.text("#consent-table"); !strings.Contains(txt, "granted by the company") || !strings.Contains(txt, "credit assessment") {
		t.Fatalf("consents in English:\n%s", txt)
	}
	s.screenshot("27-own-company-en")
	s.clickWait("accept", "#request-table button.accept", has("#flash"))
	if txt := s.text("#request-table"); !strings.Contains(txt, "accepted") {
		t.Fatalf("requests after accepting:\n%s", txt)
	}
	s.screenshot("28-own-company-accepted-en")
	// A signed credit report for the company of the generated region.
	s.do("report en", chromedp.Navigate(srv+"/lab/reports?company="+env.ReportCompany), chromedp.WaitVisible(chromedp.CSS("#report-form")),
		chromedp.SetValue(chromedp.CSS("#report-purpose"), "bidding"))
	s.clickWait("issue report", "#report-submit", has("#report-result"))
	if txt := s.text("#report-sections"); !strings.Contains(txt, "Data through") || !strings.Contains(txt, "not covered") {
		t.Fatalf("report sections in English:\n%s", txt)
	}
	if n := s.text("#report-number"); !strings.HasPrefix(n, "XYR-") {
		t.Fatalf("report number %q", n)
	}
	s.screenshot("28b-report-en")
	s.clickWait("chinese", "#lang-switch", "document.documentElement.lang === 'zh-CN'")
	s.do("report zh", chromedp.Navigate(srv+"/lab/reports?company="+env.ReportCompany), chromedp.WaitVisible(chromedp.CSS("#report-form")))
	s.clickWait("issue report zh", "#report-submit", has("#report-result"))
	if txt := s.text("#report-sections"); !strings.Contains(txt, "税务局无行政处罚或欠税记录（数据截至") || !strings.Contains(txt, "不在本报告说明范围内") {
		t.Fatalf("report sections in Chinese:\n%s", txt)
	}
	s.screenshot("28c-report-zh")
	// An objection to one of its penalties, and a repair the rules refuse in words.
	s.do("cases", chromedp.Navigate(srv+"/lab/portal/companies/"+env.ReportCompany+"/cases"), chromedp.WaitVisible(chromedp.CSS("#dispute-form")),
		chromedp.SetValue(chromedp.CSS("#dispute-source"), "penalty"),
		chromedp.SendKeys(chromedp.CSS("#dispute-key"), "penalty_id="+env.ReportPenalty),
		chromedp.SendKeys(chromedp.CSS("#dispute-statement"), "罚款金额登记有误，实际罚款已按复议决定减免。"))
	s.typedBack("罚款金额登记有误，实际罚款已按复议决定减免。")
	s.clickWait("dispute", "#dispute-submit", has("#flash"))
	if txt := s.text("#case-table"); !strings.Contains(txt, "异议") || !strings.Contains(txt, "待部门核查") || !strings.Contains(txt, env.ReportPenalty) {
		t.Fatalf("company cases:\n%s", txt)
	}
	s.screenshot("28d-cases-zh")
	s.do("repair", chromedp.SendKeys(chromedp.CSS("#repair-penalty"), "NO-SUCH-DECISION"),
		chromedp.SendKeys(chromedp.CSS("#repair-statement"), "已整改"), chromedp.SendKeys(chromedp.CSS("#repair-evidence"), "缴款凭证 0001"))
	s.clickWait("repair refused", "#repair-submit", has("#error-heading"))
	if d := s.text("#error-detail"); !strings.Contains(d, "本平台没有这条记录") {
		t.Fatalf("a refused repair says %q", d)
	}
	s.screenshot("28e-repair-refused-zh")
	s.logout()
	// The department that owns the penalty source reviews the objection.
	s.login(env.Keys[labtest.Enforcer])
	s.do("queue", chromedp.Navigate(srv+"/lab/cases?queue=review"), chromedp.WaitVisible(chromedp.CSS("#queue-table")))
	if txt := s.text("#queue-table"); !strings.Contains(txt, env.ReportPenalty) || !strings.Contains(txt, "罚款金额登记有误") {
		t.Fatalf("department queue:\n%s", txt)
	}
	if txt := s.text("header nav"); !strings.Contains(txt, "异议与修复") {
		t.Fatalf("the department's menu lacks its queue: %q", txt)
	}
	s.screenshot("28f-case-queue-zh")
	s.clickWait("english", "#lang-switch", "document.documentElement.lang === 'en'")
	s.do("reject", chromedp.SendKeys(chromedp.CSS("#queue-table input[name=reasons]"), "The decision's amount stands; the review reduced the fine later."))
	s.clickWait("reject", "#queue-table button.reject", has("#flash"))
	s.screenshot("28g-case-queue-en")
	s.logout()
	s.login(env.Keys[labtest.CompanyRep])
	// Financing: the company asks, the bank offers with the platform's
	// assessment, the company accepts; the regulator sees the aggregates.
	s.clickWait("chinese", "#lang-switch", "document.documentElement.lang === 'zh-CN'")
	finPath := srv + "/lab/portal/companies/" + env.ReportCompany + "/financing"
	s.do("financing", chromedp.Navigate(finPath), chromedp.WaitVisible(chromedp.CSS("#fin-form")),
		chromedp.SendKeys(chromedp.CSS("#fin-amount"), "80"), chromedp.SendKeys(chromedp.CSS("#fin-purpose"), "流动资金周转"))
	s.typedBack("流动资金周转")
	s.clickWait("post request", "#fin-submit", has("#flash"))
	if txt := s.text("#fin-requests"); !strings.Contains(txt, "80 万元") || !strings.Contains(txt, "待答复") {
		t.Fatalf("requests:\n%s", txt)
	}
	s.logout()
	s.login(env.Keys[labtest.Banker])
	s.do("fin inbox", chromedp.Navigate(srv+"/lab/financing/inbox"), chromedp.WaitVisible(chromedp.CSS("#fin-inbox")))
	if txt := s.text("#fin-inbox"); !strings.Contains(txt, "80 万元") || !strings.Contains(txt, "3.2%") || !strings.Contains(txt, "350 万元") {
		t.Fatalf("bank inbox:\n%s", txt)
	}
	s.screenshot("29a-fin-inbox-zh")
	s.do("offer", chromedp.SendKeys(chromedp.CSS("#fin-inbox input[name=amount_wan]"), "60"),
		chromedp.SendKeys(chromedp.CSS("#fin-inbox input[name=rate_pct]"), "4.35"))
	s.clickWait("offer", "#fin-inbox form.stack button:not(.reject)", has("#flash"))
	s.clickWait("english", "#lang-switch", "document.documentElement.lang === 'en'")
	s.screenshot("29b-fin-inbox-en")
	s.logout()
	s.login(env.Keys[labtest.CompanyRep])
	s.do("offer received", chromedp.Navigate(finPath), chromedp.WaitVisible(chromedp.CSS("#fin-requests")))
	s.clickWait("accept", "#fin-requests button.accept", has("#flash"))
	if txt := s.text("#fin-requests"); !strings.Contains(txt, "accepted") || !strings.Contains(txt, "CNY 600,000") {
		t.Fatalf("after accepting:\n%s", txt)
	}
	s.screenshot("29c-fin-company-en")
	s.clickWait("chinese", "#lang-switch", "document.documentElement.lang === 'zh-CN'")
	s.screenshot("29d-fin-company-zh")
	s.logout()
	s.login(env.Keys[labtest.Regulator])
	s.do("fin stats", chromedp.Navigate(srv+"/lab/financing/stats"), chromedp.WaitVisible(chromedp.CSS("#fin-stats")))
	if txt := s.text("#fin-stats"); !strings.Contains(txt, "合计") || !strings.Contains(txt, "80 万元") || !strings.Contains(txt, "60 万元") {
		t.Fatalf("financing statistics:\n%s", txt)
	}
	s.screenshot("29e-fin-stats-zh")
	s.clickWait("english", "#lang-switch", "document.documentElement.lang === 'en'")
	s.screenshot("29f-fin-stats-en")
	s.logout()
	s.login(env.Keys[labtest.CompanyRep])
	s.do("bindings en", chromedp.Navigate(srv+"/lab/portal"), chromedp.WaitVisible(chromedp.CSS("#binding-table")))
	s.screenshot("29-portal-bindings-en")
	s.logout()

	// The bank sees the profile now, its request answered, and asks another company.
	s.login(env.Keys[labtest.Banker])
	s.do("profile", chromedp.Navigate(srv+"/lab/companies/"+env.Focus), chromedp.WaitVisible(chromedp.CSS("#company-history")))
	s.do("requests", chromedp.Navigate(srv+"/lab/consent-requests"), chromedp.WaitVisible(chromedp.CSS("#ask-table")))
	if txt := s.text("#ask-table"); !strings.Contains(txt, "accepted") {
		t.Fatalf("bank's requests in English:\n%s", txt)
	}
	s.screenshot("30-consent-requests-en")
	s.do("ask en", chromedp.Navigate(srv+"/lab/companies/"+env.Codes[2]), chromedp.WaitVisible(chromedp.CSS("#ask-form")),
		chromedp.SendKeys(chromedp.CSS("#ask-note"), "To assess your working-capital loan application"))
	s.screenshot("31-ask-consent-en")
}

// startBrowser starts headless Chromium on srv's login page and returns the
// session that drives it; it stops with the test.
func startBrowser(t *testing.T, bin, srv, shots string) *session {
	t.Helper()
	// chromedp's defaults (headless, no first run, no background networking or
	// throttling) plus what this closed network needs: without the networking flags
	// Chromium waits for servers it cannot reach.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 860), // a laptop screen
		chromedp.Flag("lang", "zh-CN"), // a browser of the region: dates entered as 年/月/日
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	s := &session{t: t, ctx: ctx, base: srv, shot: shots}
	// The accounts' names, shown beside the institution in every page's header.
	s.typedBack(labtest.Scientist, labtest.Approver, labtest.Approver2, labtest.Regulator, labtest.Banker,
		labtest.Viewer, labtest.Operator, labtest.CompanyRep, labtest.Staff, labtest.Newcomer, labtest.Enforcer, labtest.CompanyName)
	// The fixture's companies' short names and the bank's product: data, the
	// same in either language.
	s.typedBack(labtest.ShortNames()...)
	s.typedBack("经营快贷")
	// The first action starts the browser; it must not run under a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv+"/lab/login")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return s
}
