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
	c := training.Card{Name: "bc", Objective: "binary", Trees: 10, Leaves: 31,
		Data:         training.CardData{Name: "breast-cancer/v1", Target: "malignant", Features: make([]string, 30), TrainRows: 12345, TestRows: 2000, TrainPositiveRate: 0.37},
		Params:       training.DefaultParams(),
		Training:     training.CardTraining{Rounds: 100, RoundsRun: 10, Metric: "auc", ElapsedSeconds: 1.5},
		Metrics:      map[string]*training.Evaluation{"test": {Rows: 2000, Positives: 740, AUC: auc, KS: 0.51, Gini: 2*auc - 1, LogLoss: 0.4321}},
		Monotonicity: []training.MonotoneCheck{{Feature: "Column_3", Direction: 1, OK: true}}}
	raw, _ := json.Marshal(c)
	p := env.Principal(t, labtest.Scientist).Principal
	if _, _, err := env.Registry.CreateAndRegister(context.Background(), p, xregistry.NewModel{Name: "bc-card", Task: xregistry.TaskPD},
		xregistry.Upload{Data: model, FeatureSet: "breast-cancer", FeatureSetVersion: 1, ModelCard: raw, Metrics: map[string]float64{"test_auc": auc}}); err != nil {
		t.Fatal(err)
	}
	sci := as(t, env, srv, labtest.Scientist)
	page := sci.get("/lab/models/bc-card/v1")
	for _, want := range []string{`id="model-card-doc"`, "各数据集上的表现", "测试集", "0.812", "训练 12,345 行", "正样本占比 37.0%", "取值越大风险越高", "成立"} {
		if !strings.Contains(page.body, want) {
			t.Fatalf("version page lacks %q:\n%s", want, page.body)
		}
	}
	if strings.Contains(page.body, `id="model-card-json"`) || strings.Contains(page.body, `"train_rows"`) {
		t.Fatal("the training card is still shown as JSON")
	}
}
