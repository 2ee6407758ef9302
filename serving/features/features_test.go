package features_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	core "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/features"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

func TestOnlineStoreDrivesAssessments(t *testing.T) {
	ctx := context.Background()
	env := servingtest.New(t)
	asof := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	snap := &core.Snapshot{Set: servingtest.Set.Key(), AsOf: asof, Names: servingtest.Set.Indicators,
		Codes: []string{env.Good, env.Bad}, Values: []float64{150, 0, 0, 80, 1, 1}}
	store := core.NewMemoryStore(core.OnlineOptions{})
	if err := store.Load(ctx, snap); err != nil {
		t.Fatal(err)
	}
	online := features.NewOnline(map[string]core.OnlineStore{servingtest.Set.Key(): store})
	svc, err := serving.New(serving.Options{Models: env.Models, Features: online, Policy: env.Service.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	d, err := svc.Assess(ctx, env.Bank, serving.Request{Company: env.Good})
	if err != nil {
		t.Fatal(err)
	}
	// Hand values (serving's tests): pd = sigmoid(-3), B, limit 960,000.
	if math.Abs(d.PD-1/(1+math.Exp(3))) > 1e-12 || d.Rating != "B" || d.Limit != 960000 || !d.AsOf.Equal(asof) {
		t.Fatalf("decision %+v", d)
	}
	if _, err := svc.Assess(ctx, env.Bank, serving.Request{Company: env.Unknown}); !errors.Is(err, serving.ErrUnknownCompany) {
		t.Fatalf("company outside the snapshot: %v", err)
	}
	if _, err := online.Vector(ctx, servingtest.Set, env.Unknown); !errors.Is(err, serving.ErrUnknownCompany) {
		t.Fatalf("unknown company: %v", err)
	}
	other := serving.FeatureSet{Name: "credit", Version: 3, Indicators: []string{"a", "b", "c"}}
	if _, err := online.Vector(ctx, other, env.Good); !errors.Is(err, serving.ErrFeatureSetMismatch) {
		t.Fatalf("store with other indicators: %v", err)
	}
	if _, err := online.Vector(ctx, serving.FeatureSet{Name: "pd", Version: 1, Indicators: []string{"x"}}, env.Good); !errors.Is(err, serving.ErrUnavailable) {
		t.Fatalf("no store for set: %v", err)
	}
	empty := features.NewOnline(map[string]core.OnlineStore{servingtest.Set.Key(): core.NewMemoryStore(core.OnlineOptions{})})
	if _, err := empty.Vector(ctx, servingtest.Set, env.Good); !errors.Is(err, serving.ErrNotReady) {
		t.Fatalf("empty store: %v", err)
	}
}

// lateFirst calls the source of the set's first indicator late.
type lateFirst string

func (l lateFirst) Late(source string, _ time.Time) bool { return source == string(l) }

// TestLateSourceReachesTheDecision: with the online store judging sources, a
// decision over a late department's values names it, from the store through the
// adapter; the same store on time names none.
func TestLateSourceReachesTheDecision(t *testing.T) {
	ctx := context.Background()
	env := servingtest.New(t)
	asof := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	snap := &core.Snapshot{Set: servingtest.Set.Key(), AsOf: asof, Names: servingtest.Set.Indicators,
		Codes: []string{env.Good, env.Bad}, Values: []float64{150, 0, 0, 80, 1, 1}}
	first := servingtest.Set.Indicators[0]
	for _, tc := range []struct {
		late lateFirst
		want string
	}{{"dept-a", "[dept-a]"}, {"nobody", "[]"}} {
		opts := core.OnlineOptions{Now: func() time.Time { return asof.AddDate(0, 0, 5) }, Freshness: tc.late,
			SourceOf: func(ind string) string {
				if ind == first {
					return "dept-a"
				}
				return "dept-b"
			}}
		store := core.NewMemoryStore(opts)
		if err := store.Load(ctx, snap); err != nil {
			t.Fatal(err)
		}
		svc, err := serving.New(serving.Options{Models: env.Models, Features: features.NewOnline(map[string]core.OnlineStore{servingtest.Set.Key(): store}),
			Policy: env.Service.Policy()})
		if err != nil {
			t.Fatal(err)
		}
		d, err := svc.Assess(ctx, env.Bank, serving.Request{Company: env.Good})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(d.LateSources); got != tc.want {
			t.Errorf("late %s: decision names %s, want %s", tc.late, got, tc.want)
		}
	}
}

func TestMeanAveragesAndPopulation(t *testing.T) {
	snap := &core.Snapshot{Set: "credit/v3", Names: servingtest.Set.Indicators, Codes: []string{"a", "b", "c"},
		Values: []float64{150, 0, math.NaN(), 80, 1, math.NaN(), 100, 0, math.NaN()}}
	avg := features.MeanAverages(snap)
	if v, ok := avg.Average("tax.paid.sum_12m"); !ok || v != 110 { // (150+80+100)/3
		t.Errorf("tax average %v %v", v, ok)
	}
	if v, ok := avg.Average("court.dishonest_debtor"); !ok || math.Abs(v-1.0/3) > 1e-15 {
		t.Errorf("dishonest average %v", v)
	}
	if _, ok := avg.Average("network.circle_defaulted"); ok {
		t.Error("an all-missing indicator has an average")
	}
	pop, err := features.Population(snap, servingtest.Set)
	if err != nil || len(pop.Codes) != 3 {
		t.Fatalf("population %v %v", pop, err)
	}
	if _, err := features.Population(snap, serving.FeatureSet{Name: "x", Version: 1, Indicators: []string{"a"}}); !errors.Is(err, serving.ErrFeatureSetMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
}

func TestCatalog(t *testing.T) {
	cat, err := core.DefaultCatalog()
	if err != nil {
		t.Skipf("catalog does not load in this tree: %v", err)
	}
	c := features.NewCatalog(cat)
	ind, ok := c.Indicator("tax.tax_paid.yoy_12m")
	if !ok || !ind.Growth || ind.NameZH == "" {
		t.Fatalf("yoy indicator %+v %v", ind, ok)
	}
	if ind, ok := c.Indicator("tax.tax_paid.sum_12m"); !ok || ind.Growth {
		t.Fatalf("sum indicator %+v", ind)
	}
	if _, ok := c.Indicator("no.such"); ok {
		t.Fatal("unknown indicator found")
	}
	set, err := features.SetFromCatalog(cat, "pd", 1)
	if err != nil || len(set.Indicators) == 0 || set.Key() != "pd/v1" {
		t.Fatalf("pd set %+v %v", set, err)
	}
}

// TestDefaultPolicyFitsCatalogSets checks that every indicator the built-in policy
// names is served by the catalog's pd, violation and limit sets.
func TestDefaultPolicyFitsCatalogSets(t *testing.T) {
	cat, err := core.DefaultCatalog()
	if err != nil {
		t.Skipf("catalog does not load in this tree: %v", err)
	}
	sets := map[serving.Task]serving.FeatureSet{}
	for _, task := range serving.Tasks {
		if sets[task], err = features.SetFromCatalog(cat, string(task), 1); err != nil {
			t.Fatal(err)
		}
	}
	m, err := serving.NewModels(sets)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serving.New(serving.Options{Models: m, Features: features.NewOnline(nil), Policy: pol}); err != nil {
		t.Fatal(err)
	}
}
