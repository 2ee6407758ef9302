package serving_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// BenchmarkAssessRealistic is one full in-process decision: three online-store lookups,
// three 300-tree models, policy, TreeSHAP reasons for all three models, audit (in
// memory), with the explanation cache off (every decision computes TreeSHAP).
func BenchmarkAssessRealistic(b *testing.B) {
	benchmarkAssess(b, -1)
}

// BenchmarkAssessRealisticWarm is the same with the explanation cache holding every
// company (repeat queries within one snapshot and model version).
func BenchmarkAssessRealisticWarm(b *testing.B) {
	benchmarkAssess(b, 30000)
}

func benchmarkAssess(b *testing.B, cache int) {
	r := servingtest.NewRealistic(b, 10000, func(o *serving.Options) { o.ExplainCache = cache })
	if cache > 0 {
		for _, c := range r.Codes {
			if _, err := r.Service.Assess(context.Background(), r.Bank, serving.Request{Company: c}); err != nil {
				b.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		code := r.Codes[rng.IntN(len(r.Codes))]
		if _, err := r.Service.Assess(ctx, r.Bank, serving.Request{Company: code}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScorerPredict300 is one 300-tree, 42-feature prediction through leaves.
func BenchmarkScorerPredict300(b *testing.B) {
	r := servingtest.NewRealistic(b, 1000)
	sc := r.Models.Current().PD
	pop := r.Pops[serving.TaskPD]
	nf := sc.NumFeatures()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		row := pop.Values[(i%1000)*nf : (i%1000+1)*nf]
		if _, err := sc.Predict(row); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkScorerPredict300Permuted is BenchmarkScorerPredict300 for the same model
// with its columns in reverse order: each row is built in the model's order from the
// set-order vector through the scorer's index map.
func BenchmarkScorerPredict300Permuted(b *testing.B) {
	r := servingtest.NewRealistic(b, 1000)
	orig := r.Models.Current().PD
	var buf bytes.Buffer
	if err := orig.Model().WriteLightGBM(&buf); err != nil {
		b.Fatal(err)
	}
	m, err := gbdt.Parse(buf.Bytes(), gbdt.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	nf := m.NumFeatures()
	for ti := range m.Trees {
		for ni := range m.Trees[ti].Nodes {
			if n := &m.Trees[ti].Nodes[ni]; !n.Leaf {
				n.Feature = nf - 1 - n.Feature
			}
		}
	}
	slices.Reverse(m.FeatureNames)
	slices.Reverse(m.Monotone)
	buf.Reset()
	if err := m.WriteLightGBM(&buf); err != nil {
		b.Fatal(err)
	}
	sc, err := serving.LoadScorer(buf.Bytes(), orig.Ref(), orig.FeatureSet())
	if err != nil {
		b.Fatal(err)
	}
	pop := r.Pops[serving.TaskPD]
	for i := range 100 {
		row := pop.Values[i*nf : (i+1)*nf]
		want, _ := orig.Predict(row)
		if got, err := sc.Predict(row); err != nil || got != want {
			b.Fatalf("row %d: permuted model %v %v, original %v", i, got, err, want)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		row := pop.Values[(i%1000)*nf : (i%1000+1)*nf]
		if _, err := sc.Predict(row); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchmarkScreen(b *testing.B, n int) {
	r := servingtest.NewRealistic(b, 1000)
	pop, err := servingtest.SyntheticPopulation(r.Sets[serving.TaskViolation], n, 99)
	if err != nil {
		b.Fatal(err)
	}
	reg := servingtest.Regulator
	b.ResetTimer()
	for b.Loop() {
		res, err := r.Service.Screen(context.Background(), reg, pop, serving.ScreenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.TierCounts["high"]), "high-tier")
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "companies/s")
}

// BenchmarkScreen120k screens a region of 120,000 companies with the 300-tree
// violation model (ranking, tiers, TreeSHAP reasons for the high tier).
func BenchmarkScreen120k(b *testing.B) { benchmarkScreen(b, 120000) }

// BenchmarkScreen1M screens 1,000,000 companies.
func BenchmarkScreen1M(b *testing.B) { benchmarkScreen(b, 1000000) }

// BenchmarkContributions300 is one TreeSHAP decomposition of a 300-tree, depth-5,
// 42-feature model (the reasons of one model in one decision).
func BenchmarkContributions300(b *testing.B) {
	r := servingtest.NewRealistic(b, 1000)
	sc := r.Models.Current().PD
	pop := r.Pops[serving.TaskPD]
	nf := sc.NumFeatures()
	out := make([]float64, nf)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := sc.Contributions(pop.Values[(i%1000)*nf:(i%1000+1)*nf], out); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
