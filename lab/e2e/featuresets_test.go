package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xinyi-platform/xinyi/lab/labtest"
	xregistry "github.com/xinyi-platform/xinyi/registry"
	"github.com/xinyi-platform/xinyi/training"
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
	s.typedBack("bank-a-sme", "collateral_ratio", "loan_purpose", "working_capital", "equipment", "小微企业贷款申请评分")

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

	// A sample's own page.
	s.lang("zh")
	s.do("sample", chromedp.Navigate(srv+"/lab/samples"), chromedp.WaitVisible(chromedp.CSS("#sample-table")))
	s.clickWait("open sample", `#sample-table a[href$="lightgbm-binary/v1"]`, has("#sample-facts"))
	if txt := s.text("#sample-facts"); !strings.Contains(txt, "7,000") {
		t.Fatalf("sample facts:\n%s", txt)
	}
	s.screenshot("60e-sample-zh")
	s.lang("en")
	s.screenshot("60f-sample-en")

	// A version whose card xinyi train wrote reads as a document.
	model, err := os.ReadFile("../testdata/lg_dart_breast_cancer.model")
	if err != nil {
		t.Fatal(err)
	}
	c := training.Card{Name: "bc", Objective: "binary", Trees: 10, Leaves: 31,
		Data:     training.CardData{Name: "breast-cancer/v1", Target: "malignant", Features: make([]string, 30), TrainRows: 12345, ValidRows: 3000, TestRows: 2000, TrainPositiveRate: 0.37},
		Params:   training.DefaultParams(),
		Training: training.CardTraining{Rounds: 100, RoundsRun: 10, Metric: "auc", ElapsedSeconds: 1.5},
		Metrics: map[string]*training.Evaluation{"train": {Rows: 12345, Positives: 4568, AUC: 0.9012, KS: 0.66, Gini: 0.8024, LogLoss: 0.31},
			"test": {Rows: 2000, Positives: 740, AUC: 0.8123, KS: 0.51, Gini: 0.6246, LogLoss: 0.4321}},
		Monotonicity: []training.MonotoneCheck{{Feature: "Column_3", Direction: 1, OK: true}}}
	raw, _ := json.Marshal(c)
	p := env.Principal(t, labtest.Scientist).Principal
	if _, _, err := env.Registry.CreateAndRegister(context.Background(), p, xregistry.NewModel{Name: "bc-card", Task: xregistry.TaskPD},
		xregistry.Upload{Data: model, FeatureSet: "breast-cancer", FeatureSetVersion: 1, ModelCard: raw, Metrics: map[string]float64{"test_auc": 0.8123}}); err != nil {
		t.Fatal(err)
	}
	s.typedBack("malignant", "bc-card")
	s.lang("zh")
	s.do("card", chromedp.Navigate(srv+"/lab/models/bc-card/v1"), chromedp.WaitVisible(chromedp.CSS("#model-card-doc")))
	s.screenshot("60c-model-card-zh")
	s.lang("en")
	s.screenshot("60d-model-card-en")
}
