package serving_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// TestScoringMetrics: every decision adds one observation to each model's
// scoring-time histogram, labelled with the model's task, name and version.
func TestScoringMetrics(t *testing.T) {
	var metrics *serving.Metrics
	r := servingtest.NewRealistic(t, 50, func(o *serving.Options) {
		metrics = serving.NewMetrics(o.Models)
		o.Metrics = metrics
	})
	for _, code := range r.Codes[:3] {
		if _, err := r.Service.Assess(context.Background(), r.Bank, serving.Request{Company: code}); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := metrics.Write(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	m := servingtest.ParseMetrics(t, &b)
	if got := m["xinyi_model_scoring_seconds"].GetType(); got != dto.MetricType_HISTOGRAM {
		t.Fatalf("xinyi_model_scoring_seconds has type %v, want a histogram\n%s", got, text)
	}
	for _, task := range serving.Tasks {
		lbl := map[string]string{"task": string(task), "name": "bench-" + string(task), "version": "1"}
		count, sum := m.Histogram("xinyi_model_scoring_seconds", lbl)
		if count != 3 {
			t.Errorf("%s: %d scoring observations, want 3\n%s", task, count, text)
		}
		if sum <= 0 || sum > 10 {
			t.Errorf("scoring sum of %s = %v, want a positive number of seconds", task, sum)
		}
	}
	if n := strings.Count(text, "# TYPE xinyi_model_scoring_seconds histogram"); n != 1 {
		t.Errorf("the scoring histogram's TYPE line is written %d times, want once", n)
	}
}

// BenchmarkObserveScoring is the cost a decision pays per model for the scoring
// histogram, from concurrent requests.
func BenchmarkObserveScoring(b *testing.B) {
	var metrics *serving.Metrics
	r := servingtest.NewRealistic(b, 10, func(o *serving.Options) { metrics = serving.NewMetrics(o.Models) })
	sc := r.Service.Models().Current().PD
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			metrics.ObserveScoring(sc, 42000)
		}
	})
}

// TestCachedReasons: reasons read from the explanation cache (second and later
// decisions for a company) are those computed without any cache.
func TestCachedReasons(t *testing.T) {
	ctx := context.Background()
	cold := servingtest.NewRealistic(t, 40, func(o *serving.Options) { o.ExplainCache = -1 })
	warm := servingtest.NewRealistic(t, 40)
	for _, code := range warm.Codes[:10] {
		want, err := cold.Service.Assess(ctx, cold.Bank, serving.Request{Company: code})
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Reasons) == 0 {
			t.Fatalf("%s: no reasons to compare", code)
		}
		for round := range 3 {
			got, err := warm.Service.Assess(ctx, warm.Bank, serving.Request{Company: code, Explain: round == 2})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Reasons, want.Reasons) {
				t.Fatalf("%s round %d: reasons\n got %+v\nwant %+v", code, round, got.Reasons, want.Reasons)
			}
		}
	}
}
