package servingtest

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/serving"
	servingfeatures "github.com/xinyi-platform/xinyi/serving/features"
	"github.com/xinyi-platform/xinyi/serving/policy"
)

// SyntheticModel builds a model of trees complete binary trees of the given depth over
// set's indicators (feature values are standard normal in SyntheticPopulation), with
// training counts on every node so TreeSHAP has covers, and returns its canonical
// LightGBM text. It is for benchmarks: its predictions are not checked against anything.
func SyntheticModel(set serving.FeatureSet, objective gbdt.Objective, trees, depth int, seed uint64) ([]byte, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	scale := 0.05
	if objective == gbdt.Regression {
		scale = 20000
	}
	m := &gbdt.Model{Objective: objective, Sigmoid: 1, FeatureNames: set.Indicators, Source: "xinyi-synthetic"}
	if objective == gbdt.Regression {
		m.BaseScore = 800000
	} else {
		m.BaseScore = -2.5
	}
	for range trees {
		var nodes []gbdt.Node
		var grow func(level int, count float64) int
		grow = func(level int, count float64) int {
			i := len(nodes)
			nodes = append(nodes, gbdt.Node{Count: count, Weight: count / 4, Cover: count})
			if level == depth {
				nodes[i].Leaf = true
				nodes[i].Value = rng.NormFloat64() * scale
				return i
			}
			n := &nodes[i]
			n.Feature = rng.IntN(len(set.Indicators))
			n.Threshold = math.Round(rng.NormFloat64()*1000) / 1000
			n.Missing = gbdt.MissingNaN
			n.DefaultLeft = rng.IntN(2) == 0
			n.Gain = rng.Float64()
			frac := 0.2 + 0.6*rng.Float64()
			l := grow(level+1, math.Max(1, math.Round(count*frac)))
			r := grow(level+1, math.Max(1, math.Round(count*(1-frac))))
			nodes[i].Left, nodes[i].Right = l, r
			return i
		}
		grow(0, 100000)
		m.Trees = append(m.Trees, gbdt.Tree{Nodes: nodes})
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := m.WriteLightGBM(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// SyntheticSet is a feature set of n indicators named "<name>.fNN".
func SyntheticSet(name string, n int) serving.FeatureSet {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s.f%02d", name, i)
	}
	return serving.FeatureSet{Name: name, Version: 1, Indicators: ids}
}

// SyntheticPopulation is n companies with valid codes and standard-normal values for
// set, 5% missing.
func SyntheticPopulation(set serving.FeatureSet, n int, seed uint64) (*serving.Population, error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	nf := len(set.Indicators)
	pop := &serving.Population{Set: set, AsOf: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), Codes: make([]string, n), Values: make([]float64, n*nf)}
	const cs = creditcode.Charset
	for i := range pop.Codes {
		body := []byte("MA000000")
		x := i
		for j := 7; j >= 2; j-- {
			body[j] = cs[x%31]
			x /= 31
		}
		code, err := creditcode.New('9', '1', "330604", string(body))
		if err != nil {
			return nil, err
		}
		pop.Codes[i] = code
	}
	for i := range pop.Values {
		if rng.IntN(20) == 0 {
			pop.Values[i] = math.NaN()
		} else {
			pop.Values[i] = rng.NormFloat64()
		}
	}
	return pop, nil
}

// Realistic is a serving environment the size of production: three 300-tree models
// of depth 5 (32 leaves) over three feature sets of 42, 24 and 26 indicators, an
// embedded online store with Companies companies per set, the default-shaped policy.
type Realistic struct {
	*Env
	Codes []string
	Sets  map[serving.Task]serving.FeatureSet
	Pops  map[serving.Task]*serving.Population
}

// RealisticPolicy has rules on the synthetic indicators.
const RealisticPolicy = `
version: "bench-1"
score: {offset: 500, pdo: 40, min: 300, max: 900}
ratings:
  - {rating: A, max_pd: 0.02}
  - {rating: B, max_pd: 0.05}
  - {rating: C, max_pd: 0.15}
  - {rating: D, max_pd: 1}
colours:
  - {colour: blue, min_score: 700}
  - {colour: green, min_score: 640}
  - {colour: yellow, min_score: 580}
  - {colour: red}
rules:
  - {id: court, indicator: violation.f05, op: ">=", threshold: 2.5, colour: red}
  - {id: arrears, indicator: pd.f10, op: ">", threshold: 2, colour: yellow}
  - {id: circle, indicator: pd.f40, op: ">=", threshold: 2, colour: yellow}
limit:
  rating_scale: {A: 1.0, B: 0.8, C: 0.5, D: 0}
  cap: 5000000
  round: 10000
  indicator_caps: [{indicator: limit.f00, multiple: 3000000}]
  products: {working_capital: 1.0, tax_loan: 0.3}
inspection:
  - {tier: high, min_probability: 0.3, sampling_ratio: 1.0}
  - {tier: medium, min_probability: 0.1, sampling_ratio: 0.3}
  - {tier: low, min_probability: 0, sampling_ratio: 0.1}
`

// NewRealistic builds the environment; the bank key has consent from every company.
// mod, when given, adjusts the service options (e.g. ExplainCache).
func NewRealistic(t testing.TB, companies int, mod ...func(*serving.Options)) *Realistic {
	t.Helper()
	ctx := context.Background()
	sets := map[serving.Task]serving.FeatureSet{
		serving.TaskPD: SyntheticSet("pd", 42), serving.TaskViolation: SyntheticSet("violation", 24), serving.TaskLimit: SyntheticSet("limit", 26),
	}
	m, err := serving.NewModels(sets)
	if err != nil {
		t.Fatal(err)
	}
	r := &Realistic{Sets: sets, Pops: map[serving.Task]*serving.Population{}}
	stores := map[string]features.OnlineStore{}
	var snaps []*features.Snapshot
	for i, task := range serving.Tasks {
		obj := gbdt.Binary
		if task == serving.TaskLimit {
			obj = gbdt.Regression
		}
		text, err := SyntheticModel(sets[task], obj, 300, 5, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		ref := serving.ModelRef{Task: task, Name: "bench-" + string(task), Version: "1", FeatureSet: sets[task].Name, FeatureSetVersion: 1}
		sc, err := serving.LoadScorer(text, ref, sets[task])
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Install(sc); err != nil {
			t.Fatal(err)
		}
		pop, err := SyntheticPopulation(sets[task], companies, uint64(i+11))
		if err != nil {
			t.Fatal(err)
		}
		r.Pops[task] = pop
		snap := &features.Snapshot{Set: sets[task].Key(), AsOf: pop.AsOf, Names: sets[task].Indicators, Codes: pop.Codes, Values: pop.Values}
		store := features.NewMemoryStore(features.OnlineOptions{})
		if err := store.Load(ctx, snap); err != nil {
			t.Fatal(err)
		}
		stores[sets[task].Key()] = store
		snaps = append(snaps, snap)
	}
	r.Codes = r.Pops[serving.TaskPD].Codes
	pol, err := policy.Parse([]byte(RealisticPolicy))
	if err != nil {
		t.Fatal(err)
	}
	auth := &Auth{Keys: map[string]serving.Principal{BankKey: WeihaiBank, RegulatorKey: Regulator}, Consents: map[string]bool{}}
	for _, c := range r.Codes {
		auth.Consents[consentKey(WeihaiBank.InstitutionID, c)] = true
	}
	r.Env = &Env{Models: m, Auth: auth, Audit: &Audit{}, Bank: auth.Keys[BankKey]}
	opts := serving.Options{Models: m, Features: servingfeatures.NewOnline(stores), Policy: pol,
		Authorizer: auth, Auditor: r.Audit, Averages: servingfeatures.MeanAverages(snaps...)}
	for _, f := range mod {
		f(&opts)
	}
	r.Service, err = serving.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
