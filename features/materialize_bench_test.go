package features

import (
	"bufio"
	"context"
	"flag"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

var (
	benchDir       = flag.String("materialize.dir", "", "BenchmarkMaterialize: object store folder (generated there when it holds no raw data; default a temporary folder)")
	benchCompanies = flag.Int("materialize.companies", 5000, "BenchmarkMaterialize: companies to generate")
	benchSet       = flag.String("materialize.set", "full", "BenchmarkMaterialize: feature set")
	benchMemory    = flag.Int64("materialize.memory-mb", 2048, "BenchmarkMaterialize: memory budget in MiB (the Go memory limit is set to 1.5 times it, as the CLI does)")
)

// peakRSS returns the peak resident set size of the process in bytes (Linux), or 0.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkMaterialize materializes a feature set (default: the full catalog) as of
// the 12 month ends of 2025 over a generated universe of 36 months (2023-01..2025-12)
// and reports raw records per second and the peak RSS of the process. Generation is
// not timed. The full-scale figure:
//
//	go test -run '^$' -bench Materialize -benchtime 1x ./features -args -materialize.companies=120000 -materialize.dir=/tmp/xinyi-bench
func BenchmarkMaterialize(b *testing.B) {
	store := benchUniverse(b)
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(benchBudget() * 3 / 2))
	res := benchMaterializeLoop(b, store)
	b.ReportMetric(float64(res.Decoded), "decoded-records")
	b.ReportMetric(float64(res.Companies), "companies")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-rss-MB")
}

// benchBudget is the memory budget of the benchmarks, as xinyi features
// materialize keeps the heap near its default budget.
func benchBudget() int64 { return *benchMemory << 20 }

// benchMaterializeLoop times the materialization of -materialize.set from store
// as of the 12 month ends of 2025 and reports raw records per second, raw records
// and shards.
func benchMaterializeLoop(b *testing.B, store blob.Store) *Result {
	b.Helper()
	var asofs []time.Time
	for m := 1; m <= 12; m++ {
		asofs = append(asofs, time.Date(2025, time.Month(m+1), 0, 0, 0, 0, 0, time.UTC))
	}
	var res *Result
	var err error
	b.ResetTimer()
	for b.Loop() {
		res, err = Materialize(context.Background(), store, Options{Set: *benchSet, AsOf: asofs, Force: true, MemoryBudget: benchBudget()})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.RawRecords)/res.Elapsed.Seconds(), "raw-records/s")
	b.ReportMetric(float64(res.RawRecords), "raw-records")
	b.ReportMetric(float64(res.Shards), "shards")
	return res
}

// BenchmarkMaterializeStaged materializes -materialize.set as of the four quarter
// ends of 2025 once with Materialize and once as a staged run in 6 shards run one
// after the other in this process, checks that the two give the same values, and
// reports the time of each stage: plan, the mean shard (wall and CPU) and commit.
// The full-scale figure:
//
//	go test -run '^$' -bench MaterializeStaged -benchtime 1x ./features -args -materialize.companies=120000 -materialize.dir=/tmp/xinyi-gen120k -materialize.set=pd
func BenchmarkMaterializeStaged(b *testing.B) {
	ctx := context.Background()
	store := benchUniverse(b)
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(benchBudget() * 3 / 2))
	var asofs []time.Time
	for m := 3; m <= 12; m += 3 {
		asofs = append(asofs, time.Date(2025, time.Month(m+1), 0, 0, 0, 0, 0, time.UTC))
	}
	opts := Options{Set: *benchSet, AsOf: asofs, Force: true, MemoryBudget: benchBudget()}
	const shards = 6
	var plan, shardWall, shardCPU, commit time.Duration
	for b.Loop() {
		b.StopTimer()
		if _, err := Materialize(ctx, store, opts); err != nil {
			b.Fatal(err)
		}
		var want []*Snapshot
		for _, at := range asofs {
			s, _, err := ReadSnapshot(ctx, store, *benchSet, setVersion(b, *benchSet), DayOf(at))
			if err != nil {
				b.Fatal(err)
			}
			want = append(want, s)
		}
		b.StartTimer()
		t0 := time.Now()
		rp, err := PlanRun(ctx, store, "", shards, opts)
		if err != nil {
			b.Fatal(err)
		}
		plan = time.Since(t0)
		shardWall, shardCPU = 0, 0
		for s := range shards {
			d, err := RunShard(ctx, store, rp.Run, s, Options{MemoryBudget: benchBudget()})
			if err != nil {
				b.Fatal(err)
			}
			shardWall += d.Elapsed
			shardCPU += d.CPU
		}
		t1 := time.Now()
		if _, err := CommitRun(ctx, store, rp.Run, Options{}); err != nil {
			b.Fatal(err)
		}
		commit = time.Since(t1)
		b.StopTimer()
		for a, at := range asofs {
			got, _, err := ReadSnapshot(ctx, store, rp.Set, rp.Version, DayOf(at))
			if err != nil {
				b.Fatal(err)
			}
			if n := differingValues(want[a], got); n != 0 {
				b.Fatalf("as of %s: %d values of the staged run differ from Materialize", DayOf(at), n)
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(plan.Seconds(), "plan-s")
	b.ReportMetric(shardWall.Seconds()/shards, "shard-s")
	b.ReportMetric(shardCPU.Seconds()/shards, "shard-cpu-s")
	b.ReportMetric(commit.Seconds(), "commit-s")
}

func setVersion(b *testing.B, set string) int {
	c, err := DefaultCatalog()
	if err != nil {
		b.Fatal(err)
	}
	s, err := c.Set(set, 0)
	if err != nil {
		b.Fatal(err)
	}
	return s.Version
}

// differingValues counts the values of got that differ from want's of the same
// company (NaN equals NaN), and each company of one missing from the other.
func differingValues(want, got *Snapshot) int {
	w := len(want.Names)
	idx := make(map[string]int, len(want.Codes))
	for i, c := range want.Codes {
		idx[c] = i
	}
	n := len(want.Codes) - len(got.Codes)
	if n < 0 {
		n = -n
	}
	for i, c := range got.Codes {
		j, ok := idx[c]
		if !ok {
			n++
			continue
		}
		for k := range w {
			g, x := got.Values[i*w+k], want.Values[j*w+k]
			if math.Float64bits(g) != math.Float64bits(x) && !(math.IsNaN(g) && math.IsNaN(x)) {
				n++
			}
		}
	}
	return n
}

// benchUniverse opens the benchmark's store (-materialize.dir, else a temporary
// folder), generating the universe into it when it holds no raw data yet; the
// store is closed when b ends.
func benchUniverse(b *testing.B) *blob.Local {
	b.Helper()
	dir := *benchDir
	if dir == "" {
		dir = b.TempDir()
	}
	store, err := blob.OpenLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	if infos, err := store.List(context.Background(), "raw/tax/"); err != nil || len(infos) == 0 {
		o := datasets.DefaultGenerateOptions()
		o.Companies = *benchCompanies
		o.Months = 36
		if _, err := datasets.Generate(context.Background(), store, o); err != nil {
			b.Fatal(err)
		}
	}
	return store
}
