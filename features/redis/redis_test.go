package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/features/onlinetest"
	"github.com/xinyi-platform/xinyi/features/redis"
	"github.com/xinyi-platform/xinyi/internal/redistest"
)

const addr = "127.0.0.1:6379"

// single is the Redis the tests share (make services starts it).
var single = redis.Options{Addr: addr}

// open returns a store on the single Redis under a random key prefix, removed when
// the test ends.
func open(t testing.TB, opts features.OnlineOptions) *redis.Store {
	t.Helper()
	return openOn(t, single, opts)
}

// openOn returns a store on the Redis (or cluster) of target under a random key
// prefix, whose keys are removed when the test ends.
func openOn(t testing.TB, target redis.Options, opts features.OnlineOptions) *redis.Store {
	t.Helper()
	ctx := context.Background()
	var r [6]byte
	rand.Read(r[:])
	target.Prefix = "xinyi:test:" + hex.EncodeToString(r[:]) + ":"
	target.Online = opts
	s, err := redis.Open(ctx, target)
	if err != nil {
		if len(target.ClusterAddrs) > 0 {
			t.Fatal(err) // the test started the cluster itself
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server at %s is required under CI: %v", addr, err)
		}
		t.Skipf("redis-server at %s not reachable (start it with make services): %v", addr, err)
	}
	t.Cleanup(func() {
		c := universal(target)
		defer c.Close()
		// A test that stopped a node leaves its keys there; the cluster goes
		// with the test.
		keys, err := listKeys(ctx, c, target.Prefix)
		if err != nil {
			t.Logf("cleanup of %s: %v", target.Prefix, err)
		}
		for _, k := range keys {
			c.Del(ctx, k)
		}
		s.Close()
	})
	return s
}

// universal returns a client of target's Redis or cluster.
func universal(target redis.Options) goredis.UniversalClient {
	if len(target.ClusterAddrs) > 0 {
		return goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: target.ClusterAddrs})
	}
	return goredis.NewClient(&goredis.Options{Addr: target.Addr})
}

// keysOf lists the keys under prefix, on every master of a cluster.
func keysOf(t testing.TB, c goredis.UniversalClient, prefix string) []string {
	t.Helper()
	keys, err := listKeys(context.Background(), c, prefix)
	if err != nil {
		t.Fatalf("list keys under %s: %v", prefix, err)
	}
	return keys
}

// listKeys lists the keys under prefix, on every master of a cluster, sorted.
func listKeys(ctx context.Context, c goredis.UniversalClient, prefix string) ([]string, error) {
	var mu sync.Mutex
	var keys []string
	add := func(ctx context.Context, n goredis.Cmdable) error {
		k, err := scanKeys(ctx, n, prefix)
		mu.Lock()
		keys = append(keys, k...)
		mu.Unlock()
		return err
	}
	var err error
	if cc, ok := c.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return add(ctx, n) })
	} else {
		err = add(ctx, c)
	}
	slices.Sort(keys)
	return keys, err
}

// scanKeys lists the keys under prefix on one node.
func scanKeys(ctx context.Context, n goredis.Cmdable, prefix string) ([]string, error) {
	var keys []string
	iter := n.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// cluster returns options naming the package's 3-master Redis Cluster, started by
// the first test that asks and stopped by TestMain; tests keep apart by key prefix.
func cluster(t testing.TB) redis.Options {
	t.Helper()
	return redis.Options{ClusterAddrs: redistest.Shared(t).Addrs}
}

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.StopShared()
	os.Exit(code)
}

func TestRedisContract(t *testing.T) {
	onlinetest.Run(t, func(t *testing.T, opts features.OnlineOptions) onlinetest.Store {
		return open(t, opts)
	})
}

// The cluster passes the same contract as one Redis.
func TestRedisClusterContract(t *testing.T) {
	target := cluster(t)
	onlinetest.Run(t, func(t *testing.T, opts features.OnlineOptions) onlinetest.Store {
		return openOn(t, target, opts)
	})
}

// On a cluster a load spreads the vectors over every master, and a later load
// removes the generation before the previous one from every master: keys left on a
// node a single SCAN does not reach would pile up with every load.
func TestRedisClusterDropsOldGenerationsOnEveryMaster(t *testing.T) {
	ctx := context.Background()
	target := cluster(t)
	s := openOn(t, target, features.OnlineOptions{})
	c := universal(target)
	defer c.Close()
	codes := make([]string, 300)
	for i := range codes {
		codes[i] = fmt.Sprintf("91330604MA%08d", i)
	}
	for gen := 1; gen <= 4; gen++ {
		snap := &features.Snapshot{Set: "pd/v1", AsOf: time.Date(2025, time.Month(gen), 28, 0, 0, 0, 0, time.UTC), Names: []string{"x"}, Codes: codes,
			Values: make([]float64, len(codes))}
		for i := range snap.Values {
			snap.Values[i] = float64(gen)
		}
		if err := s.Load(ctx, snap); err != nil {
			t.Fatal(err)
		}
	}
	// Generations 3 and 4 remain, each with its vectors and header, beside the
	// counter and the current pointer.
	keys := keysOf(t, c, s.Prefix())
	gens := map[string]int{}
	for _, k := range keys {
		rest := strings.TrimPrefix(k, s.Prefix())
		g, _, _ := strings.Cut(rest, ":")
		gens[g]++
	}
	want := map[string]int{"gen": 1, "cur": 1, "g3": len(codes) + 1, "g4": len(codes) + 1}
	if fmt.Sprint(gens) != fmt.Sprint(want) {
		t.Fatalf("keys by generation after 4 loads: %v, want %v", gens, want)
	}
	// Every master holds some of the vectors.
	cc := c.(*goredis.ClusterClient)
	var mu sync.Mutex
	perMaster := map[string]int64{}
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
		k, err := scanKeys(ctx, n, s.Prefix()+"g4:")
		mu.Lock()
		perMaster[n.Options().Addr] = int64(len(k))
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(perMaster) != 3 {
		t.Fatalf("masters: %v, want 3", perMaster)
	}
	for m, n := range perMaster {
		if n == 0 {
			t.Errorf("master %s holds none of generation 4's %d keys: %v", m, len(codes)+1, perMaster)
		}
	}
	t.Logf("generation 4 per master: %v", perMaster)
	if v, err := s.Get(ctx, codes[7]); err != nil || v.Values[0] != 4 {
		t.Fatalf("Get after 4 loads: %v %v, want 4", v.Values, err)
	}
}

// TestReplicaSeesNewGeneration checks that a second replica on the same prefix picks
// up a load made by the first: at once for a company it does not find, and for every
// company once its refresh interval passes.
func TestReplicaSeesNewGeneration(t *testing.T) {
	t.Run("single", func(t *testing.T) { testReplicaSeesNewGeneration(t, single) })
	t.Run("cluster", func(t *testing.T) { testReplicaSeesNewGeneration(t, cluster(t)) })
}

func testReplicaSeesNewGeneration(t *testing.T, target redis.Options) {
	ctx := context.Background()
	a := openOn(t, target, features.OnlineOptions{})
	replica := target
	replica.Prefix, replica.Refresh = a.Prefix(), 50*time.Millisecond
	b, err := redis.Open(ctx, replica)
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

// BenchmarkRedisGet measures one lookup on the single Redis, BenchmarkRedisClusterGet
// on a 3-master cluster started by the benchmark (a vector is one GET either way; the
// cluster client routes it to the master of its slot):
//
//	go test -run '^$' -bench 'Redis(Cluster)?Get' ./features/redis
func BenchmarkRedisGet(b *testing.B) { benchmarkGet(b, single) }

func BenchmarkRedisClusterGet(b *testing.B) { benchmarkGet(b, cluster(b)) }

func benchmarkGet(b *testing.B, target redis.Options) {
	ctx := context.Background()
	s := openOn(b, target, features.OnlineOptions{})
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

// A master of the cluster gone, the one holding the current-generation pointer:
// lookups of the companies in its slots fail promptly with ErrUnavailable naming
// the company, and those on the other masters keep answering from the generation
// known before, even though every lookup (Refresh 1 ms) tries to read the pointer.
func TestRedisClusterMasterDown(t *testing.T) {
	ctx := context.Background()
	c := redistest.StartCluster(t, redistest.Options{})
	target := redis.Options{ClusterAddrs: c.Addrs, Refresh: time.Millisecond}
	s := openOn(t, target, features.OnlineOptions{})
	codes := make([]string, 60)
	for i := range codes {
		codes[i] = fmt.Sprintf("91330604MA%08d", i)
	}
	snap := &features.Snapshot{Set: "pd/v1", AsOf: time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC), Names: []string{"x"}, Codes: codes,
		Values: make([]float64, len(codes))}
	for i := range snap.Values {
		snap.Values[i] = float64(i)
	}
	if err := s.Load(ctx, snap); err != nil {
		t.Fatal(err)
	}
	client := universal(target).(*goredis.ClusterClient)
	defer client.Close()
	holder, err := client.MasterForKey(ctx, s.Prefix()+"cur")
	if err != nil {
		t.Fatal(err)
	}
	down := slices.Index(c.Addrs, holder.Options().Addr)
	if down < 0 {
		t.Fatalf("the pointer's master %s is not among %v", holder.Options().Addr, c.Addrs)
	}
	if err := c.StopNode(down); err != nil {
		t.Fatal(err)
	}
	// Three companies on the stopped master and three on the others (a fresh
	// prefix: the load was generation 1).
	var on, off []int
	for i, code := range codes {
		m, err := client.MasterForKey(ctx, s.Prefix()+"g1:"+code)
		if err != nil {
			t.Fatal(err)
		}
		if m.Options().Addr == c.Addrs[down] {
			if len(on) < 3 {
				on = append(on, i)
			}
		} else if len(off) < 3 {
			off = append(off, i)
		}
	}
	if len(on) == 0 || len(off) == 0 {
		t.Fatalf("companies on the stopped master %v, on the others %v: want some of each", on, off)
	}
	var slowest time.Duration
	for _, i := range slices.Concat(off, on) {
		code := codes[i]
		start := time.Now()
		v, err := s.Get(ctx, code)
		slowest = max(slowest, time.Since(start))
		if slices.Contains(off, i) {
			if err != nil || v.Values[0] != float64(i) {
				t.Errorf("%s on a master still up: %v, %v; want %d", code, v.Values, err, i)
			}
		} else if !errors.Is(err, redis.ErrUnavailable) || !strings.Contains(err.Error(), code) {
			t.Errorf("%s on the master down: err = %v, want ErrUnavailable naming the company", code, err)
		}
	}
	t.Logf("master %s (holding the pointer) down: %d companies answered, %d unavailable; slowest lookup %v",
		c.Addrs[down], len(off), len(on), slowest.Round(time.Millisecond))
	if slowest > 10*time.Second {
		t.Errorf("slowest lookup with a master down took %v", slowest)
	}
}

// TestGetSpan: under a recording span a lookup is a client span "redis.get" naming
// the set and generation; an unknown company ends it with the error; without a
// span nothing is recorded.
func TestGetSpan(t *testing.T) {
	ctx := context.Background()
	s := open(t, features.OnlineOptions{})
	snap := &features.Snapshot{Set: "trace/v1", AsOf: time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC),
		Names: []string{"a"}, Codes: []string{"91330604MA00000001"}, Values: []float64{1}}
	if err := s.Load(ctx, snap); err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(ctx)
	if _, err := s.Get(ctx, snap.Codes[0]); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans without a traced caller", n)
	}
	pctx, parent := tp.Tracer("test").Start(ctx, "caller")
	if _, err := s.Get(pctx, snap.Codes[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(pctx, "91330604MA99999999"); !errors.Is(err, features.ErrUnknownCompany) {
		t.Fatalf("unknown company: %v", err)
	}
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want two lookups and their caller", len(spans))
	}
	for i, s := range spans[:2] {
		attrs := map[string]string{}
		for _, a := range s.Attributes {
			attrs[string(a.Key)] = a.Value.Emit()
		}
		if s.Name != "redis.get" || s.SpanKind != trace.SpanKindClient || s.Parent.SpanID() != parent.SpanContext().SpanID() ||
			attrs["xinyi.feature_set"] != "trace/v1" || attrs["db.system.name"] != "redis" {
			t.Errorf("span %d: %q kind %v attributes %v", i, s.Name, s.SpanKind, attrs)
		}
		if wantErr := i == 1; wantErr != (s.Status.Code == otelcodes.Error) {
			t.Errorf("span %d: status %v", i, s.Status)
		}
	}
}
