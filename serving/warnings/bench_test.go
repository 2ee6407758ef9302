package warnings

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

// syntheticInput builds n companies over every indicator of the catalog, two
// dates, score runs and circles of three, with values drawn so that rules fire
// at realistic rates (most values zero or unknown, a few in arrears).
func syntheticInput(tb testing.TB, n int) Input {
	cat, err := features.DefaultCatalog()
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, ind := range cat.Indicators() {
		names = append(names, ind.ID)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	snap := func(asof time.Time) *features.Snapshot {
		s := &features.Snapshot{Set: "full/v1", AsOf: asof, Names: names, Codes: make([]string, n), Values: make([]float64, n*len(names))}
		for i := range n {
			s.Codes[i] = fmt.Sprintf("C%08d", i)
			for j := range names {
				var x float64
				switch u := rng.Float64(); {
				case u < 0.2:
					x = math.NaN()
				case u < 0.8:
					x = 0
				default:
					x = rng.NormFloat64() * 10
				}
				s.Values[i*len(names)+j] = x
			}
		}
		return s
	}
	ratings, colours := []string{"A", "B", "C", "D"}, []string{"blue", "green", "yellow", "red"}
	run := func(codes []string) map[string]scores.Row {
		m := make(map[string]scores.Row, len(codes))
		for _, c := range codes {
			m[c] = scores.Row{Company: c, PD: rng.Float64() * 0.2, Rating: ratings[rng.IntN(4)], Colour: colours[rng.IntN(4)], Limit: rng.Float64() * 1e6}
		}
		return m
	}
	prev, now := snap(time.Date(2025, 5, 31, 0, 0, 0, 0, time.UTC)), snap(time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC))
	var groups [][]string
	for i := 0; i+3 <= n/10; i += 3 {
		groups = append(groups, now.Codes[i:i+3])
	}
	circles, err := NewCircles(groups)
	if err != nil {
		tb.Fatal(err)
	}
	return Input{Now: now, Prev: prev, Scores: run(now.Codes), PrevScores: run(prev.Codes), Circles: circles}
}

// BenchmarkEvaluate120k evaluates the whole library for 120,000 companies at one
// as-of date (the target: ≤ 10 s on a 2-core machine).
//
//	go test ./serving/warnings -run '^$' -bench Evaluate120k -benchtime 3x
func BenchmarkEvaluate120k(b *testing.B) {
	lib, err := DefaultLibrary()
	if err != nil {
		b.Fatal(err)
	}
	in := syntheticInput(b, 120_000)
	b.ResetTimer()
	var ev *Evaluation
	for b.Loop() {
		if ev, err = lib.Evaluate(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ev.Firings)), "firings")
	b.ReportMetric(float64(len(in.Now.Codes))*float64(b.N)/b.Elapsed().Seconds(), "companies/s")
}
