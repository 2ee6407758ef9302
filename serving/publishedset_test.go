package serving_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// TestPublishedSetOverOnlineIndicators: the PD model of a realistic region is
// bound instead to a set published at run time that lists its indicators in
// another order. Serving builds its rows from the online vectors, so assessments
// and the population scoring give the same PD as the model over its task's set.
// Once the published set also asks for a request feature, an assessment without
// it is refused naming it, one with it is decided, and the population scoring
// (which cannot supply it) is refused.
func TestPublishedSetOverOnlineIndicators(t *testing.T) {
	r := servingtest.NewRealistic(t, 200)
	ctx := context.Background()
	before, err := r.Service.ScorePopulation(ctx, servingtest.Regulator, r.Pops, serving.ScorePopulationOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := r.Models.Current().PD.Model().WriteLightGBM(&text); err != nil {
		t.Fatal(err)
	}
	own := r.Sets[serving.TaskPD]
	published := serving.FeatureSet{Name: "bank-x", Version: 1, Indicators: slices.Clone(own.Indicators)}
	slices.Reverse(published.Indicators)
	install := func(set serving.FeatureSet) {
		t.Helper()
		sc, err := serving.LoadScorer(text.Bytes(), serving.ModelRef{Task: serving.TaskPD, Name: "pd-x", Version: "1",
			FeatureSet: set.Name, FeatureSetVersion: set.Version}, set)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Models.Install(sc); err != nil {
			t.Fatal(err)
		}
	}
	install(published)
	after, err := r.Service.ScorePopulation(ctx, servingtest.Regulator, r.Pops, serving.ScorePopulationOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range after {
		if d.PD != before[i].PD {
			t.Fatalf("%s: population PD %v over the published set, %v over the task's", d.Company, d.PD, before[i].PD)
		}
		if i%20 != 0 {
			continue
		}
		got, err := r.Service.Assess(ctx, r.Bank, serving.Request{Company: d.Company})
		if err != nil {
			t.Fatal(err)
		}
		if got.PD != before[i].PD || got.FeatureSets[serving.TaskPD] != "bank-x/v1" {
			t.Fatalf("%s: assessed PD %v over %s, want %v", d.Company, got.PD, got.FeatureSets[serving.TaskPD], before[i].PD)
		}
	}

	withGrade := published
	withGrade.Version = 2
	withGrade.Indicators = append(slices.Clone(published.Indicators), "grade")
	withGrade.Requests = []features.SetFeature{{Name: "grade", Type: features.FeatureCategorical, Categories: []string{"A", "B", "C"}}}
	install(withGrade)
	code := r.Codes[0]
	if _, err := r.Service.Assess(ctx, r.Bank, serving.Request{Company: code}); !errors.Is(err, serving.ErrInvalidInput) || !strings.Contains(err.Error(), `"grade"`) {
		t.Fatalf("assessment without the request feature: %v", err)
	}
	got, err := r.Service.Assess(ctx, r.Bank, serving.Request{Company: code, Features: map[string]any{"grade": "B"}})
	if err != nil || got.PD != before[0].PD {
		t.Fatalf("assessment with the request feature: %v, PD %v, want %v", err, got, before[0].PD)
	}
	_, err = r.Service.ScorePopulation(ctx, servingtest.Regulator, r.Pops, serving.ScorePopulationOptions{})
	if !errors.Is(err, serving.ErrInvalidInput) || !strings.Contains(err.Error(), "grade") {
		t.Fatalf("population scoring of a model with a request feature: %v", err)
	}

	// A set whose indicator no served online set holds is refused at install.
	stray := published
	stray.Version = 3
	stray.Indicators = append(slices.Clone(published.Indicators), "tax.not_served")
	sc, err := serving.LoadScorer(text.Bytes(), serving.ModelRef{Task: serving.TaskPD, Name: "pd-x", Version: "3", FeatureSet: "bank-x", FeatureSetVersion: 3}, stray)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Models.Install(sc); !errors.Is(err, serving.ErrFeatureSetMismatch) || !strings.Contains(err.Error(), "tax.not_served") {
		t.Fatalf("install of a set with an indicator no online set holds: %v", err)
	}
}
