package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// TestJointInChromium: a bank's data scientist uploads a label file that
// probes a few companies and reads why it was refused; uploads her bank's
// real file and reads its report; trains on the sample, reads the released
// evaluation (small groups withheld) and registers the model; every page in
// Chinese and English.
func TestJointInChromium(t *testing.T) {
	bin := chromium(t)
	env := labtest.NewEnv(t, labtest.EnvOptions{Joint: true})
	srv := newServer(t, env)
	shots := artifacts(t)
	dir := t.TempDir()
	full := filepath.Join(dir, "loans-2024.csv")
	if err := os.WriteFile(full, env.JointLabels.File, 0o644); err != nil {
		t.Fatal(err)
	}
	// A probe: the first 60 loans only.
	lines := strings.SplitAfter(string(env.JointLabels.File), "\n")
	probe := filepath.Join(dir, "probe.csv")
	if err := os.WriteFile(probe, []byte(strings.Join(lines[:61], "")), 0o644); err != nil {
		t.Fatal(err)
	}

	s := startBrowser(t, bin, srv, shots)
	s.typedBack("probe", "probe.csv", "loans-2024", "loans-2024.csv", "pd-joint") // the sample's, file's and model's names
	s.login(env.Keys[labtest.Scientist])
	s.lang("zh")
	upload := func(name, file string) {
		s.do("upload "+name, chromedp.Navigate(srv+"/lab/joint"), chromedp.WaitVisible(chromedp.CSS("#joint-form")),
			chromedp.SendKeys(chromedp.CSS("#joint-name"), name), chromedp.SetUploadFiles(chromedp.CSS("#joint-file"), []string{file}))
		s.clickWait("upload "+name, "#joint-submit", has("#joint-report"))
	}
	upload("probe", probe)
	if txt := s.text("#joint-why"); !strings.Contains(txt, "文件只有 60 行，至少需要 200 行") {
		t.Fatalf("the refusal in Chinese: %q", txt)
	}
	if txt := s.text("#joint-report"); !strings.Contains(txt, "未接受，未写入任何数据") {
		t.Fatalf("report:\n%s", txt)
	}
	s.screenshot("50a-joint-refused-zh")
	s.lang("en")
	upload("probe", probe)
	if txt := s.text("#joint-why"); !strings.Contains(txt, "The file has 60 rows; a sample needs at least 200") {
		t.Fatalf("the refusal in English: %q", txt)
	}
	s.screenshot("50b-joint-refused-en")

	s.lang("zh")
	upload("loans-2024", full)
	if txt := s.text("#joint-report"); !strings.Contains(txt, "已接受：生成样本 loans-2024/v1") || !strings.Contains(txt, "2,000") || !strings.Contains(txt, "首次上传") {
		t.Fatalf("accepted report:\n%s", txt)
	}
	if txt := s.text("#joint-samples"); !strings.Contains(txt, "loans-2024/v1") || !strings.Contains(txt, "超出权限的指标不含在下载中") {
		t.Fatalf("samples:\n%s", txt)
	}
	s.screenshot("50c-joint-accepted-zh")
	s.lang("en")
	s.screenshot("50d-joint-accepted-en")
	s.lang("zh")

	start := time.Now()
	s.clickWait("train", "button.joint-train", has("#joint-run-head"))
	t.Logf("trained in the console in %v", time.Since(start).Round(time.Millisecond))
	if txt := s.text("#joint-lift"); !strings.Contains(txt, "已隐藏（样本过少）") || !strings.Contains(txt, "第1组") {
		t.Fatalf("lift table in Chinese:\n%s", txt)
	}
	s.screenshot("50e-joint-evaluation-zh")
	// The page again without the training's notice, in English.
	run := srv + s.evalString("location.pathname")
	s.do("run page", chromedp.Navigate(run), chromedp.WaitVisible(chromedp.CSS("#joint-run-head")))
	s.lang("en")
	if n := s.count("#joint-lift tr.hidden-cell"); n == 0 || n == 10 {
		t.Fatalf("%d of 10 lift deciles withheld; the fixture should release some and withhold some", n)
	}
	if txt := s.text("#joint-policy"); !strings.Contains(txt, "at least 30 rows, 5 defaults and 5 non-defaults") {
		t.Fatalf("policy: %q", txt)
	}
	if txt := s.text("#joint-features"); !strings.Contains(txt, "above your clearance") {
		t.Fatalf("features note: %q", txt)
	}
	s.screenshot("50f-joint-evaluation-en")
	s.lang("zh")
	s.do("model name", chromedp.SendKeys(chromedp.CSS("#joint-model"), "pd-joint"))
	s.clickWait("register", "#joint-register-submit", has("#joint-registered"))
	if txt := s.text("#flash"); !strings.Contains(txt, "已登记为 pd-joint/v1") {
		t.Fatalf("flash: %q", txt)
	}
	s.screenshot("50g-joint-registered-zh")
	// The registered version, with the released evaluation's figures and the
	// label file's digest as lineage.
	s.clickWait("open the model", "#joint-registered a", has("h1"))
	sum := sha256.Sum256(env.JointLabels.File)
	if txt := s.text("#model-label-file"); txt != hex.EncodeToString(sum[:]) {
		t.Fatalf("the version's label file digest %q", txt)
	}
	// Its card is the evaluation released to the bank, read in each language.
	if n := s.count("#model-card-released #joint-lift tr.hidden-cell"); n == 0 || n == 10 {
		t.Fatalf("the version's released card withholds %d of 10 lift deciles", n)
	}
	s.screenshot("50h-joint-model-zh")
	s.lang("en")
	if txt := s.text("#model-card-released"); !strings.Contains(txt, "released to your institution") || !strings.Contains(txt, "withheld") {
		t.Fatalf("released card in English: %q", txt)
	}
	s.screenshot("50i-joint-model-en")
}
