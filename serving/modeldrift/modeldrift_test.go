package modeldrift_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/modeldrift"
	"github.com/xinyi-platform/xinyi/serving/scores"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

type creditRow struct {
	Code      string   `parquet:"code"`
	Tax       *float64 `parquet:"tax.paid.sum_12m,optional"`
	Dishonest *float64 `parquet:"court.dishonest_debtor,optional"`
	Circle    *float64 `parquet:"network.circle_defaulted,optional"`
}

// putSnapshot publishes a snapshot of servingtest.Set: one part, then the manifest.
func putSnapshot(t *testing.T, store blob.Store, asof string, codes []string, tax func(i int) float64) {
	t.Helper()
	ctx := context.Background()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[creditRow](&buf)
	for i, code := range codes {
		v, d, c := tax(i), float64(i%2), 0.0
		if _, err := w.Write([]creditRow{{Code: code, Tax: &v, Dishonest: &d, Circle: &c}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	set := servingtest.Set
	prefix := fmt.Sprintf("features/%s/v%d/asof=%s/", set.Name, set.Version, asof)
	info, err := store.Put(ctx, prefix+"part-00000.parquet", bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	m := features.Manifest{Set: set.Name, Version: set.Version, AsOf: asof, Rows: int64(len(codes)), Indicators: set.Indicators,
		Parts: []features.Part{{FileRef: features.FileRef{Key: prefix + "part-00000.parquet", SHA256: info.SHA256, Size: info.Size, Rows: int64(len(codes))}}}}
	mb, _ := json.Marshal(m)
	if _, err := store.Put(ctx, prefix+"_manifest.json", bytes.NewReader(mb)); err != nil {
		t.Fatal(err)
	}
}

// psi is the population stability index written out here: deciles of the
// baseline as cut points, shares floored at 1e-4.
func psi(base, cur []float64) float64 {
	s := slices.Clone(base)
	sort.Float64s(s)
	var cuts []float64
	for k := 1; k < 10; k++ {
		if c := s[k*len(s)/10]; len(cuts) == 0 || c > cuts[len(cuts)-1] {
			cuts = append(cuts, c)
		}
	}
	group := func(v float64) int {
		g := 0
		for _, c := range cuts {
			if c <= v {
				g++
			}
		}
		return g
	}
	share := func(vs []float64) []float64 {
		out := make([]float64, len(cuts)+1)
		for _, v := range vs {
			out[group(v)]++
		}
		for i := range out {
			out[i] = max(out[i]/float64(len(vs)), 1e-4)
		}
		return out
	}
	e, a := share(base), share(cur)
	var p float64
	for i := range e {
		p += (a[i] - e[i]) * math.Log(a[i]/e[i])
	}
	return p
}

func TestInputDriftAndNotices(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var codes []string
	for i := range 1000 {
		c, err := creditcode.New('9', '1', "330604", fmt.Sprintf("MA%06d", i))
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, c)
	}
	baseTax := func(i int) float64 { return float64(i % 1000) }
	shifted := func(i int) float64 { return float64(i%1000) * 1.6 } // the upper part moves past the baseline's top decile
	putSnapshot(t, store, "2025-01-31", codes, baseTax)
	putSnapshot(t, store, "2025-02-28", codes, shifted)
	scorers := servingtest.Scorers(t, "v1", nil)
	snap := &serving.Snapshot{PD: scorers[0], Violation: scorers[1], Limit: scorers[2]}
	// Only the PD model has scored (both dates).
	for _, d := range []string{"2025-01-31", "2025-02-28"} {
		at, _ := time.Parse(time.DateOnly, d)
		var ds []*serving.Decision
		for _, c := range codes[:50] {
			ds = append(ds, &serving.Decision{Company: c, AsOf: at, PD: 0.1, Rating: "B", Colour: "green", PolicyVersion: "p",
				Models: []serving.ModelVersion{{Task: serving.TaskPD, Name: "xinyi-pd", Version: "v1"}}})
		}
		if _, err := scores.Write(ctx, store, ds, at); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := modeldrift.Compute(ctx, store, snap, modeldrift.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Latest != "2025-02-28" {
		t.Fatalf("latest %s", rep.Latest)
	}
	base, cur := make([]float64, 1000), make([]float64, 1000)
	for i := range base {
		base[i], cur[i] = baseTax(i), shifted(i)
	}
	want := psi(base, cur)
	var got *modeldrift.Point
	for i, p := range rep.Points {
		if p.Task != serving.TaskPD {
			t.Fatalf("a point of a model that never scored: %+v", p)
		}
		if p.Indicator == "tax.paid.sum_12m" && p.AsOf == "2025-02-28" {
			got = &rep.Points[i]
		}
		if p.AsOf == "2025-01-31" && p.PSI != 0 {
			t.Fatalf("the baseline against itself: %+v", p)
		}
	}
	if got == nil || math.Abs(got.PSI-want) > 1e-12 || got.Level != modeldrift.LevelOf(want) || got.Level == "stable" || got.Baseline != "2025-01-31" {
		t.Fatalf("tax drift %+v, want PSI %v", got, want)
	}

	// The cache answers from memory until a new date is scored.
	cache := modeldrift.NewCache(store, modeldrift.Options{})
	first, err := cache.Report(ctx, snap)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := cache.Report(ctx, snap); again != first || len(first.Points) != len(rep.Points) {
		t.Fatal("the cache computed again with nothing new scored")
	}
	putSnapshot(t, store, "2025-03-31", codes, shifted)
	at, _ := time.Parse(time.DateOnly, "2025-03-31")
	var more []*serving.Decision
	for _, c := range codes[:50] {
		more = append(more, &serving.Decision{Company: c, AsOf: at, PD: 0.1, Rating: "B", Colour: "green", PolicyVersion: "p",
			Models: []serving.ModelVersion{{Task: serving.TaskPD, Name: "xinyi-pd", Version: "v1"}}})
	}
	if _, err := scores.Write(ctx, store, more, at); err != nil {
		t.Fatal(err)
	}
	if next, err := cache.Report(ctx, snap); err != nil || next == first || next.Latest != "2025-03-31" {
		t.Fatalf("after a new scored date: %v, latest %v", err, next)
	}
	rep, _ = cache.Report(ctx, snap)

	// The owner is told once per model and date on each of its endpoints.
	db := metadbtest.SQLite(t)
	eps, err := webhooks.OpenEndpoints(ctx, db, webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, InsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://127.0.0.1:9/a", "http://127.0.0.1:9/b"} {
		if _, _, err := eps.Create(ctx, servingtest.WeihaiBank.InstitutionID, u, "models"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := eps.Create(ctx, servingtest.WeihaiBank.InstitutionID+1, "http://127.0.0.1:9/other", "another institution"); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.Open(ctx, jobs.Options{DSN: metadbtest.SQLiteDSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	n, err := modeldrift.Notify(ctx, q, eps, rep)
	if err != nil || n != 2 {
		t.Fatalf("notices %d, %v; want 2 (one model, two endpoints of its owner)", n, err)
	}
	if n, err := modeldrift.Notify(ctx, q, eps, rep); err != nil || n != 0 {
		t.Fatalf("telling again queued %d, %v", n, err)
	}
}
