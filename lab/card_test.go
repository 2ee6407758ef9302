package lab_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/lab/labtest"
	xregistry "github.com/xinyi-platform/xinyi/registry"
	"github.com/xinyi-platform/xinyi/training"
)

// TestTrainingCardAsDocument: a version whose card xinyi train wrote is shown
// as a document in the reader's language, not as JSON.
func TestTrainingCardAsDocument(t *testing.T) {
	env, srv := setup(t)
	model, err := os.ReadFile("testdata/lg_dart_breast_cancer.model")
	if err != nil {
		t.Fatal(err)
	}
	auc := 0.8123
	c := training.Card{Name: "bc", Objective: "binary", Trees: 10, Leaves: 310,
		Data:         training.CardData{Name: "breast-cancer/v1", Target: "malignant", Features: make([]string, 30), TrainRows: 12345, TestRows: 2000, TrainPositiveRate: 0.37},
		Params:       training.DefaultParams(),
		Training:     training.CardTraining{Rounds: 100, RoundsRun: 10, Metric: "auc", ElapsedSeconds: 1.5},
		Metrics:      map[string]*training.Evaluation{"test": {Rows: 2000, Positives: 740, AUC: auc, KS: 0.51, Gini: 2*auc - 1, LogLoss: 0.4321, Brier: 0.1234}},
		Monotonicity: []training.MonotoneCheck{{Feature: "Column_3", Direction: 1, OK: true}}}
	raw, _ := json.Marshal(c)
	p := env.Principal(t, labtest.Scientist).Principal
	if _, _, err := env.Registry.CreateAndRegister(context.Background(), p, xregistry.NewModel{Name: "bc-card", Task: xregistry.TaskPD},
		xregistry.Upload{Data: model, FeatureSet: "breast-cancer", FeatureSetVersion: 1, ModelCard: raw, Metrics: map[string]float64{"test_auc": auc}}); err != nil {
		t.Fatal(err)
	}
	sci := as(t, env, srv, labtest.Scientist)
	page := sci.get("/lab/models/bc-card/v1")
	for _, want := range []string{`id="model-card-doc"`, "各数据集上的表现", "测试集", "0.812", "训练 12,345 行，测试 2,000 行；", "正样本占比 37.0%", "取值越大风险越高", "成立",
		"每棵树至多 31 个叶子", "Brier 分数", "0.1234"} {
		if !strings.Contains(page.body, want) {
			t.Fatalf("version page lacks %q:\n%s", want, page.body)
		}
	}
	if strings.Contains(page.body, `id="model-card-json"`) || strings.Contains(page.body, `"train_rows"`) {
		t.Fatal("the training card is still shown as JSON")
	}
	if strings.Contains(page.body, "验证 0 行") || strings.Contains(page.body, "相对误差中位数") {
		t.Fatal("the document shows a split the card lacks, or amount errors of a binary model")
	}

	// A limit model's card shows its errors in yuan and relative to the limit
	// (the page reads the card; the file under it is the same test model).
	mdape, rmseLog := 0.219, 0.3012
	c = training.Card{Name: "limit", Objective: "gamma", Trees: 10, Leaves: 310,
		Data:     training.CardData{Name: "sample lim-q/v1 (pd/v1, limit)", Target: "limit", Features: make([]string, 30), TrainRows: 5000, TestRows: 800},
		Params:   training.DefaultParams(),
		Training: training.CardTraining{Rounds: 100, RoundsRun: 10, Metric: "rmse_log", ElapsedSeconds: 1.5},
		Metrics:  map[string]*training.Evaluation{"test": {Rows: 800, RMSE: 1234567.8, MdAPE: &mdape, RMSELog: &rmseLog}}}
	raw, _ = json.Marshal(c)
	if _, _, err := env.Registry.CreateAndRegister(context.Background(), p, xregistry.NewModel{Name: "limit-card", Task: xregistry.TaskPD},
		xregistry.Upload{Data: model, FeatureSet: "breast-cancer", FeatureSetVersion: 1, ModelCard: raw, Metrics: training.CardMetrics(&c)}); err != nil {
		t.Fatal(err)
	}
	page = sci.get("/lab/models/limit-card/v1")
	for _, want := range []string{`id="model-card-doc"`, "伽马回归", "1,234,568", "21.9%", "0.301", "相对误差中位数（测试集）"} {
		if !strings.Contains(page.body, want) {
			t.Fatalf("limit version page lacks %q:\n%s", want, page.body)
		}
	}
	if strings.Contains(page.body, "正样本占比") || strings.Contains(page.body, "<th class=\"num\">AUC</th>") {
		t.Fatal("a limit model's document shows the figures of a binary model")
	}
}
