package serving_test

import (
	"context"
	"errors"
	"testing"

	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// TestScorePopulation checks the population scoring against the one-company path:
// every company's figures equal those of Assess on the same models, policy and
// indicator values (served from the online store built from the same snapshots).
func TestScorePopulation(t *testing.T) {
	r := servingtest.NewRealistic(t, 600)
	ctx := context.Background()
	var progressed int
	got, err := r.Service.ScorePopulation(ctx, servingtest.Regulator, r.Pops, serving.ScorePopulationOptions{Workers: 3,
		Progress: func(done, total int) { progressed = max(progressed, done) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(r.Codes) || progressed != len(r.Codes) {
		t.Fatalf("%d decisions, progress %d, for %d companies", len(got), progressed, len(r.Codes))
	}
	colours := map[string]int{}
	for i, d := range got {
		if d.Company != r.Codes[i] || !d.AsOf.Equal(r.Pops[serving.TaskPD].AsOf) || len(d.Models) != 3 || d.PolicyVersion == "" {
			t.Fatalf("decision %d: %+v", i, d)
		}
		want, err := r.Service.Assess(ctx, r.Bank, serving.Request{Company: d.Company})
		if err != nil {
			t.Fatal(err)
		}
		if d.PD != want.PD || d.Score != want.Score || d.Rating != want.Rating || d.Colour != want.Colour || d.Limit != want.Limit ||
			d.Violation != want.Violation || d.InspectionTier != want.InspectionTier || d.SamplingRatio != want.SamplingRatio {
			t.Fatalf("%s: population scoring %+v, Assess %+v", d.Company, *d, *want)
		}
		colours[string(d.Colour)]++
		// The rating and tier bands of servingtest.RealisticPolicy, written out here.
		rating := "D"
		switch {
		case d.PD <= 0.02:
			rating = "A"
		case d.PD <= 0.05:
			rating = "B"
		case d.PD <= 0.15:
			rating = "C"
		}
		tier := "low"
		switch {
		case d.Violation >= 0.3:
			tier = "high"
		case d.Violation >= 0.1:
			tier = "medium"
		}
		if string(d.Rating) != rating || string(d.InspectionTier) != tier {
			t.Fatalf("%s: PD %.4f rated %s (want %s), violation %.4f in tier %s (want %s)", d.Company, d.PD, d.Rating, rating, d.Violation, d.InspectionTier, tier)
		}
		// The PD is the PD model's own prediction on the company's row.
		pdRow := r.Pops[serving.TaskPD].Values[i*len(r.Sets[serving.TaskPD].Indicators) : (i+1)*len(r.Sets[serving.TaskPD].Indicators)]
		if pd, err := r.Models.Current().PD.Predict(pdRow); err != nil || pd != d.PD {
			t.Fatalf("%s: PD %v, the model predicts %v (%v)", d.Company, d.PD, pd, err)
		}
	}
	if len(colours) < 2 {
		t.Errorf("every company has one colour (%v): the comparison would not notice a swapped field", colours)
	}

	// Only those who may screen the region score it.
	if _, err := r.Service.ScorePopulation(ctx, r.Bank, r.Pops, serving.ScorePopulationOptions{}); !errors.Is(err, serving.ErrForbidden) {
		t.Errorf("bank scoring the region: %v, want ErrForbidden", err)
	}
	// A population of another date than the PD one is refused.
	other := *r.Pops[serving.TaskViolation]
	other.AsOf = other.AsOf.AddDate(0, -1, 0)
	pops := map[serving.Task]*serving.Population{serving.TaskPD: r.Pops[serving.TaskPD], serving.TaskViolation: &other, serving.TaskLimit: r.Pops[serving.TaskLimit]}
	if _, err := r.Service.ScorePopulation(ctx, servingtest.Regulator, pops, serving.ScorePopulationOptions{}); !errors.Is(err, serving.ErrInvalidInput) {
		t.Errorf("mixed dates: %v, want ErrInvalidInput", err)
	}
}
