package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/features/onlinetest"
	"github.com/xinyi-platform/xinyi/features/redis"
)

const addr = "127.0.0.1:6379"

// open returns a store under a random key prefix, removed when the test ends.
func open(t testing.TB, opts features.OnlineOptions) *redis.Store {
	t.Helper()
	ctx := context.Background()
	var r [6]byte
	rand.Read(r[:])
	prefix := "xinyi:test:" + hex.EncodeToString(r[:]) + ":"
	s, err := redis.Open(ctx, redis.Options{Addr: addr, Prefix: prefix, Online: opts})
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server at %s is required under CI: %v", addr, err)
		}
		t.Skipf("redis-server at %s not reachable (start it with make services): %v", addr, err)
	}
	t.Cleanup(func() {
		c := goredis.NewClient(&goredis.Options{Addr: addr})
		defer c.Close()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		s.Close()
	})
	return s
}

func TestRedisContract(t *testing.T) {
	onlinetest.Run(t, func(t *testing.T, opts features.OnlineOptions) onlinetest.Store {
		return open(t, opts)
	})
}

// TestReplicaSeesNewGeneration checks that a second replica on the same prefix picks
// up a load made by the first: at once for a company it does not find, and for every
// company once its refresh interval passes.
func TestReplicaSeesNewGeneration(t *testing.T) {
	ctx := context.Background()
	a := open(t, features.OnlineOptions{})
	b, err := redis.Open(ctx, redis.Options{Addr: addr, Prefix: a.Prefix(), Refresh: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	june := time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
	july := time.Date(2025, 7, 31, 0, 0, 0, 0, time.UTC)
	snap := func(asof time.Time, codes []string, v float64) *features.Snapshot {
		s := &features.Snapshot{Set: "pd/v1", AsOf: asof, Names: []string{"x"}, Codes: codes}
		for range codes {
			s.Values = append(s.Values, v)
		}
		return s
	}
	if err := a.Load(ctx, snap(june, []string{"C1"}, 1)); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get(ctx, "C1"); err != nil || v.Values[0] != 1 {
		t.Fatalf("replica b: %v %v, want 1", v.Values, err)
	}
	if err := a.Load(ctx, snap(july, []string{"C1", "C2"}, 2)); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get(ctx, "C2"); err != nil || v.Values[0] != 2 || !v.AsOf.Equal(july) {
		t.Fatalf("replica b, new company: %v %v %v, want 2 as of %v", v.Values, v.AsOf, err, july)
	}
	if err := a.Load(ctx, snap(june.AddDate(0, 2, 0), []string{"C1", "C2"}, 3)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if v, err := b.Get(ctx, "C1"); err != nil || v.Values[0] != 3 {
		t.Fatalf("replica b after refresh: %v %v, want 3", v.Values, err)
	}
}

func BenchmarkRedisGet(b *testing.B) {
	ctx := context.Background()
	s := open(b, features.OnlineOptions{})
	const n = 20_000
	snap := &features.Snapshot{Set: "bench/v1", AsOf: time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)}
	for j := 0; j < 100; j++ {
		snap.Names = append(snap.Names, fmt.Sprintf("ind.%03d", j))
	}
	for i := 0; i < n; i++ {
		snap.Codes = append(snap.Codes, fmt.Sprintf("91330604MA%08d", i))
	}
	snap.Values = make([]float64, n*100)
	for i := range snap.Values {
		snap.Values[i] = math.Sqrt(float64(i))
	}
	t0 := time.Now()
	if err := s.Load(ctx, snap); err != nil {
		b.Fatal(err)
	}
	loadRate := float64(n) / time.Since(t0).Seconds()
	lat := make([]time.Duration, 0, 1<<18)
	i := 0
	for b.Loop() {
		code := snap.Codes[(i*7919)%n]
		i++
		t1 := time.Now()
		v, err := s.Get(ctx, code)
		d := time.Since(t1)
		if err != nil || len(v.Values) != 100 {
			b.Fatal(err)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, d)
		}
	}
	b.ReportMetric(loadRate, "load-vectors/s")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
