package serving_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// olderSet serves one feature set from an older snapshot, as an online store does
// while it falls back.
type olderSet struct {
	serving.FeatureSource
	set  string
	asof time.Time
}

func (o olderSet) Vector(ctx context.Context, set serving.FeatureSet, code string) (serving.Vector, error) {
	v, err := o.FeatureSource.Vector(ctx, set, code)
	if err == nil && set.Key() == o.set {
		v.AsOf = o.asof
	}
	return v, err
}

func TestDecisionCarriesTheAsOfOfEveryVector(t *testing.T) {
	september := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	r := servingtest.NewRealistic(t, 20, func(o *serving.Options) {
		o.Features = olderSet{FeatureSource: o.Features, set: "pd/v1", asof: september}
	})
	d, err := r.Service.Assess(context.Background(), r.Bank, serving.Request{Company: r.Codes[3]})
	if err != nil {
		t.Fatal(err)
	}
	// The other sets are as of the synthetic population's date, 2026-10-31.
	want := map[serving.Task]string{serving.TaskPD: "2026-09-30", serving.TaskViolation: "2026-10-31", serving.TaskLimit: "2026-10-31"}
	for task, w := range want {
		if got := d.FeaturesAsOf[task]; got != w {
			t.Errorf("features_as_of[%s] = %q, want %q", task, got, w)
		}
	}
	if !d.AsOf.Equal(september) {
		t.Errorf("as_of = %v, want the oldest vector's date %v", d.AsOf, september)
	}
	es := r.Audit.Entries()
	if len(es) != 1 {
		t.Fatalf("%d audit records, want 1", len(es))
	}
	after := es[0].After.(map[string]any)
	if after["as_of"] != "2026-09-30" {
		t.Errorf("audit as_of = %v", after["as_of"])
	}
	if got := after["features_as_of"].(map[serving.Task]string); got[serving.TaskPD] != "2026-09-30" || got[serving.TaskLimit] != "2026-10-31" {
		t.Errorf("audit features_as_of = %v", got)
	}
}

// lateSets says of each feature set which late sources give its values, as an
// online store with a source freshness does.
type lateSets struct {
	serving.FeatureSource
	late map[string][]string
}

func (l lateSets) Vector(ctx context.Context, set serving.FeatureSet, code string) (serving.Vector, error) {
	v, err := l.FeatureSource.Vector(ctx, set, code)
	if err == nil {
		v.Late = l.late[set.Key()]
	}
	return v, err
}

// TestDecisionNamesLateSources: the sources whose department is late, over every
// model's vector, are named once each, sorted, in the decision and its audit
// record; a decision over on-time sources names none.
func TestDecisionNamesLateSources(t *testing.T) {
	r := servingtest.NewRealistic(t, 20, func(o *serving.Options) {
		o.Features = lateSets{FeatureSource: o.Features, late: map[string][]string{"pd/v1": {"tax", "court"}, "limit/v1": {"tax"}}}
	})
	d, err := r.Service.Assess(context.Background(), r.Bank, serving.Request{Company: r.Codes[3]})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(d.LateSources) != "[court tax]" {
		t.Errorf("late sources %v, want [court tax]", d.LateSources)
	}
	if got := r.Audit.Entries()[0].After.(map[string]any)["late_sources"]; fmt.Sprint(got) != "[court tax]" {
		t.Errorf("audit late_sources = %v", got)
	}
	on := servingtest.NewRealistic(t, 20, func(*serving.Options) {})
	if d, err := on.Service.Assess(context.Background(), on.Bank, serving.Request{Company: on.Codes[3]}); err != nil || d.LateSources != nil {
		t.Errorf("on time: late %v err %v", d.LateSources, err)
	}
}
