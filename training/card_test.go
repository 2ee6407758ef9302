package training

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt"
)

func TestCheckMonotoneHandModel(t *testing.T) {
	// One tree: x <= 0.5 -> 1, else 0. Constrained +1 it is violated once per
	// base row (between 0.5 and the next float64 up) by a margin drop of 1;
	// constrained -1 it holds.
	m := &gbdt.Model{Objective: gbdt.Regression, FeatureNames: []string{"x", "z"}, Trees: []gbdt.Tree{{Nodes: []gbdt.Node{
		{Feature: 0, Threshold: 0.5, Missing: gbdt.MissingNaN, Left: 1, Right: 2},
		{Leaf: true, Value: 1}, {Leaf: true, Value: 0},
	}}}}
	d := &Dataset{Features: []string{"x", "z"}, Columns: [][]float64{{0, 1, 2}, {5, 6, 7}}, Label: []float64{0, 0, 0}}
	for _, tc := range []struct {
		dir        int8
		violations int
		max        float64
	}{{1, 3, 1}, {-1, 0, 0}} {
		m.Monotone = []int8{tc.dir, 0}
		got, err := CheckMonotone(m, d, 3)
		if err != nil {
			t.Fatal(err)
		}
		// Grid: -Max, prev(0.5), 0.5, next(0.5), Max.
		if len(got) != 1 || got[0].Violations != tc.violations || got[0].MaxViolation != tc.max || got[0].GridPoints != 5 || got[0].OK != (tc.violations == 0) {
			t.Errorf("direction %+d: %+v", tc.dir, got)
		}
	}
}

func TestCard(t *testing.T) {
	tr, va, te := synthetic(3000, 21), synthetic(1000, 22), synthetic(1000, 23)
	p := DefaultParams()
	p.NumRounds, p.EarlyStoppingRounds = 200, 10
	p.Monotone = []int8{0, 1, 0, 0}
	m, res, err := Train(context.Background(), tr, va, p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCard(CardInput{Name: "synthetic", DataName: "synthetic", Target: "y", Model: m, Result: res, Train: tr, Valid: va, Test: te})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Monotonicity) != 1 || !c.Monotonicity[0].OK || c.Monotonicity[0].Feature != "x1" {
		t.Errorf("monotonicity %+v", c.Monotonicity)
	}
	// The card's test AUC is the AUC of the model's margins on the test set.
	mg, _ := Margins(m, te, 1)
	want, _ := AUC(te.Label, mg)
	if got := c.Metrics["test"].AUC; got != want {
		t.Errorf("card test AUC %v, want %v", got, want)
	}
	if got := c.Metrics["valid"].AUC; math.Abs(got-res.BestValid) > 1e-12 {
		t.Errorf("card valid AUC %v, training's best %v", got, res.BestValid)
	}
	var js bytes.Buffer
	if err := c.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Trees   int `json:"trees"`
		Metrics map[string]struct {
			AUC  float64  `json:"auc"`
			Lift []Decile `json:"lift"`
		} `json:"metrics"`
		Importance []FeatureImportance `json:"importance"`
		Params     struct{ NumRounds int }
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("card JSON does not parse: %v", err)
	}
	if back.Trees != len(m.Trees) || back.Metrics["test"].AUC != want || len(back.Metrics["test"].Lift) != 10 || len(back.Importance) != 4 || back.Params.NumRounds != 200 {
		t.Errorf("card JSON lost data: %s", js.String()[:300])
	}
	// Importances are sorted by gain; x3 is noise and should not lead.
	if back.Importance[0].Feature == "x3" {
		t.Errorf("noise feature leads the importance table: %+v", back.Importance)
	}
	var md bytes.Buffer
	if err := c.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Model card: synthetic", "## Metrics", "| test | 1000 |", "Lift by decile", "## Monotonicity checks", "| x1 | +1 |", "holds"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown card lacks %q", want)
		}
	}
}

func TestConfusionJSON(t *testing.T) {
	c, _ := ConfusionAt([]float64{0, 0}, []float64{0.1, 0.2}, 0.5)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	// No positives: recall undefined (null); nothing predicted positive: precision null.
	if s := string(b); !strings.Contains(s, `"precision":null`) || !strings.Contains(s, `"recall":null`) || !strings.Contains(s, `"fpr":0`) || !strings.Contains(s, `"tn":2`) {
		t.Errorf("confusion JSON %s", s)
	}
}
