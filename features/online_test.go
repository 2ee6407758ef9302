package features_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/features/onlinetest"
)

func TestMemoryStoreContract(t *testing.T) {
	onlinetest.Run(t, func(t *testing.T, opts features.OnlineOptions) onlinetest.Store {
		return features.NewMemoryStore(opts)
	})
}

// benchSnapshot is a snapshot of n companies with a 100-indicator vector each.
func benchSnapshot(n int) *features.Snapshot {
	r := rand.New(rand.NewPCG(7, 7))
	s := &features.Snapshot{Set: "bench/v1", AsOf: time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)}
	for j := 0; j < 100; j++ {
		s.Names = append(s.Names, fmt.Sprintf("ind.%03d", j))
	}
	s.Codes = make([]string, n)
	s.Values = make([]float64, n*100)
	for i := range s.Codes {
		s.Codes[i] = fmt.Sprintf("91330604MA%08d", i)
	}
	for i := range s.Values {
		s.Values[i] = r.Float64()
	}
	return s
}

// BenchmarkMemoryStoreGet measures one lookup of a 100-indicator vector among 120,000
// companies and reports the p50 and p99 of single-lookup latency.
func BenchmarkMemoryStoreGet(b *testing.B) {
	ctx := context.Background()
	snap := benchSnapshot(120_000)
	s := features.NewMemoryStore(features.OnlineOptions{})
	if err := s.Load(ctx, snap); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, 1<<20)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		code := snap.Codes[(i*7919)%len(snap.Codes)]
		i++
		t0 := time.Now()
		v, err := s.Get(ctx, code)
		d := time.Since(t0)
		if err != nil || len(v.Values) != 100 {
			b.Fatal(err)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, d)
		}
	}
	reportQuantiles(b, lat)
}

func reportQuantiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) }
	b.ReportMetric(q(0.50), "p50-ns")
	b.ReportMetric(q(0.99), "p99-ns")
}

func TestMemoryStoreLoaded(t *testing.T) {
	s := features.NewMemoryStore(features.OnlineOptions{})
	if asof, codes := s.Loaded(); !asof.IsZero() || codes != nil || !s.AsOf().IsZero() {
		t.Fatalf("empty store: Loaded() = %v, %v, AsOf() = %v; want zero and nil", asof, codes, s.AsOf())
	}
	snap := benchSnapshot(3)
	snap.Codes[0], snap.Codes[2] = snap.Codes[2], snap.Codes[0] // unsorted input
	if err := s.Load(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	asof, codes := s.Loaded()
	want := []string{"91330604MA00000000", "91330604MA00000001", "91330604MA00000002"}
	if !asof.Equal(snap.AsOf) || !s.AsOf().Equal(snap.AsOf) || !slices.Equal(codes, want) {
		t.Fatalf("Loaded() = %v, %v; want %v, %v", asof, codes, snap.AsOf, want)
	}
}
