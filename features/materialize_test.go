package features

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

const (
	c1 = "91330604000000001A"
	c2 = "91330604000000002B"
	c3 = "91330604000000003C"
)

func dd(s string) datasets.Day { return datasets.Day(day(s)) }

func putRaw[T any](t *testing.T, store blob.Store, key string, rows []T) {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(context.Background(), key, &buf); err != nil {
		t.Fatal(err)
	}
}

// testCatalog is the embedded sources with a small set "t".
func testCatalog(t *testing.T) *Catalog {
	t.Helper()
	src, err := fs.ReadFile(embeddedCatalog, "catalog/sources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inds := "indicators:\n" +
		indicatorYAML("tax.sales.sum_6m", "tax", "sales", "sum", 6) +
		indicatorYAML("penalty.amount.count_12m", "penalty", "amount", "count", 12) +
		indicatorYAML("company.age_months", "companies", "age_months", "value", 0) +
		indicatorYAML("network.in_circle", "guarantee", "in_circle", "graph", 0) +
		indicatorYAML("network.contagion", "guarantee", "contagion", "graph", 0) +
		indicatorYAML("network.defaulted_neighbours", "guarantee", "defaulted_neighbours", "graph", 0)
	sets := "sets:\n  - name: t\n    version: 1\n    label: default_12m\n    indicators: [tax.sales.sum_6m, penalty.amount.count_12m, company.age_months, network.in_circle, network.contagion, network.defaulted_neighbours]\n"
	c, err := ParseCatalog(map[string][]byte{"sources.yaml": src, "ind.yaml": []byte(inds), "sets.yaml": []byte(sets)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// handUniverse writes the hand-made raw tables the tests below reason about.
func handUniverse(t *testing.T) blob.Store {
	t.Helper()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	putRaw(t, store, "raw/companies/month=2020-01/part-00000.parquet", []datasets.CompanyRow{
		{Code: c1, EventDate: dd("2020-01-15"), ArrivalDate: dd("2020-01-20"), Industry: "C", Founded: dd("2020-01-15")},
	})
	putRaw(t, store, "raw/companies/month=2025-03/part-00000.parquet", []datasets.CompanyRow{
		{Code: c2, EventDate: dd("2025-03-15"), ArrivalDate: dd("2025-03-16"), Industry: "F", Founded: dd("2025-03-15")},
	})
	// c3 was founded in April but reached the registry feed only on 2025-07-05.
	putRaw(t, store, "raw/companies/month=2025-04/part-00000.parquet", []datasets.CompanyRow{
		{Code: c3, EventDate: dd("2025-04-01"), ArrivalDate: dd("2025-07-05"), Industry: "C", Founded: dd("2025-04-01")},
	})
	tax := func(m string, arrival string, rev int32, sales float64) datasets.TaxRow {
		mo := month(m)
		return datasets.TaxRow{Code: c1, EventDate: datasets.Day(mo.LastDay()), ArrivalDate: dd(arrival), Revision: rev, Sales: sales}
	}
	for _, r := range []datasets.TaxRow{
		tax("2025-01", "2025-02-10", 0, 10), tax("2025-02", "2025-03-10", 0, 20), tax("2025-03", "2025-04-10", 0, 30),
		tax("2025-04", "2025-07-20", 0, 40),                                      // delivered late
		tax("2025-05", "2025-06-10", 0, 50), tax("2025-05", "2025-08-15", 1, 80), // corrected on 08-15
		tax("2025-06", "2025-06-30", 0, 60),
	} {
		key := "raw/tax/month=" + r.EventDate.Month().String() + "/part-00000.parquet"
		// one file per month: merge rows of the same month
		rows := []datasets.TaxRow{r}
		if r.Revision == 1 {
			rows = []datasets.TaxRow{tax("2025-05", "2025-06-10", 0, 50), r}
		} else if r.EventDate.Month().String() == "2025-05" {
			continue
		}
		putRaw(t, store, key, rows)
	}
	putRaw(t, store, "raw/penalty/month=2025-02/part-00000.parquet", []datasets.PenaltyRow{
		{Code: c1, EventDate: dd("2025-02-10"), ArrivalDate: dd("2025-02-12"), PenaltyID: "P1", Amount: 100},
	})
	putRaw(t, store, "raw/penalty/month=2025-06/part-00000.parquet", []datasets.PenaltyRow{
		{Code: c1, EventDate: dd("2025-06-20"), ArrivalDate: dd("2025-07-02"), PenaltyID: "P2", Amount: 300},
	})
	putRaw(t, store, "raw/guarantee/month=2024-01/part-00000.parquet", []datasets.GuaranteeRow{
		{Code: c1, BorrowerCode: c2, GuaranteeID: "G1", EventDate: dd("2024-01-01"), ArrivalDate: dd("2024-01-05"), StartDate: dd("2024-01-01"), EndDate: dd("2026-12-31"), Amount: 1e6},
		{Code: c2, BorrowerCode: c1, GuaranteeID: "G2", EventDate: dd("2024-01-01"), ArrivalDate: dd("2024-01-05"), StartDate: dd("2024-01-01"), EndDate: dd("2026-12-31"), Amount: 2e6},
	})
	// c2 reached 95 days overdue in May, known from 2025-06-05.
	putRaw(t, store, "raw/loan/month=2025-05/part-00000.parquet", []datasets.LoanRow{
		{Code: c2, EventDate: datasets.Day(month("2025-05").LastDay()), ArrivalDate: dd("2025-06-05"), OverdueDays: 95, OverdueAmount: 1000},
	})
	return store
}

func snapshotValues(t *testing.T, store blob.Store, asof string) map[string][]float64 {
	t.Helper()
	s, _, err := ReadSnapshot(context.Background(), store, "t", 1, day(asof))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for i, c := range s.Codes {
		out[c] = s.Values[i*len(s.Names) : (i+1)*len(s.Names)]
	}
	return out
}

func TestMaterializePointInTime(t *testing.T) {
	ctx := context.Background()
	store := handUniverse(t)
	cat := testCatalog(t)
	asofs := []string{"2025-06-30", "2025-07-31", "2025-08-31"}
	opts := Options{Set: "t", Catalog: cat, Workers: 2}
	for _, a := range asofs {
		opts.AsOf = append(opts.AsOf, day(a).Time())
	}
	res, err := Materialize(ctx, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Snapshots) != 3 {
		t.Fatalf("snapshots = %+v", res.Snapshots)
	}
	nan := math.NaN()
	// Columns: sales sum_6m, penalty count_12m, age_months, in_circle, contagion, defaulted neighbours.
	want := map[string]map[string][]float64{
		"2025-06-30": {
			// April (late) not counted, May first delivery 50: 10+20+30+50+60.
			c1: {170, 1, 65, 1, 0.5, 1},
			c2: {nan, 0, 3, 1, 1, 0},
		},
		"2025-07-31": {
			// Feb..Jul: April arrived 07-20; May still 50. The June penalty arrived 07-02.
			c1: {20 + 30 + 40 + 50 + 60, 2, 66, 1, 0.5, 1},
			c2: {nan, 0, 4, 1, 1, 0},
			c3: {nan, 0, 3, 0, 0, 0},
		},
		"2025-08-31": {
			// Mar..Aug with the May correction (80) that arrived 08-15.
			c1: {30 + 40 + 80 + 60, 2, 67, 1, 0.5, 1},
			c2: {nan, 0, 5, 1, 1, 0},
			c3: {nan, 0, 4, 0, 0, 0},
		},
	}
	for _, a := range asofs {
		got := snapshotValues(t, store, a)
		if len(got) != len(want[a]) {
			t.Errorf("as of %s: %d companies, want %d (%v)", a, len(got), len(want[a]), got)
		}
		for code, w := range want[a] {
			g, ok := got[code]
			if !ok {
				t.Errorf("as of %s: %s missing", a, code)
				continue
			}
			for j := range w {
				if !same(g[j], w[j]) {
					t.Errorf("as of %s: %s %s = %v, want %v", a, code, cat.sets[0].Indicators[j], g[j], w[j])
				}
			}
		}
	}

	checkStats := func(t *testing.T, store blob.Store) {
		t.Helper()
		m, err := ReadManifest(ctx, store, "t", 1, day("2025-07-31"))
		if err != nil {
			t.Fatal(err)
		}
		st := m.Stats[0] // tax.sales.sum_6m: c1 200, c2 and c3 missing
		if st.ID != "tax.sales.sum_6m" || st.Rows != 3 || st.Present != 1 || st.Mean == nil || *st.Mean != 200 {
			t.Errorf("stats = %+v, want 3 rows, 1 present, mean 200", st)
		}
		if m.Rows != 3 || len(m.Inputs) == 0 || m.Inputs[0].SHA256 == "" {
			t.Errorf("manifest rows %d, inputs %v", m.Rows, m.Inputs)
		}
		prev, _ := ReadManifest(ctx, store, "t", 1, day("2025-06-30"))
		if prev.Stats[2].PSI != nil || st.PSI == nil {
			t.Errorf("PSI: first snapshot %v (want none), second %v (want one)", prev.Stats[2].PSI, st.PSI)
		}
	}
	checkStats(t, store)

	t.Run("sharded by code hash", func(t *testing.T) {
		// A tiny memory budget splits the companies into many shards: same values.
		small := handUniverse(t)
		o := opts
		o.MemoryBudget = 1
		res, err := Materialize(ctx, small, o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Shards < 2 {
			t.Fatalf("shards = %d, want several", res.Shards)
		}
		checkStats(t, small)
		for _, a := range asofs {
			got := snapshotValues(t, small, a)
			for code, w := range want[a] {
				for j := range w {
					if !same(got[code][j], w[j]) {
						t.Errorf("as of %s: %s[%d] = %v, want %v", a, code, j, got[code][j], w[j])
					}
				}
			}
		}
	})

	t.Run("idempotent", func(t *testing.T) {
		res, err := Materialize(ctx, store, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range res.Snapshots {
			if !s.Skipped {
				t.Errorf("as of %s recomputed without Force", s.AsOf)
			}
		}
		f := opts
		f.Force = true
		f.AsOf = f.AsOf[:1]
		res, err = Materialize(ctx, store, f)
		if err != nil {
			t.Fatal(err)
		}
		if res.Snapshots[0].Skipped || res.Snapshots[0].Rows != 2 {
			t.Errorf("forced run: %+v", res.Snapshots[0])
		}
	})
}

func TestMaterializeCrashBeforeManifest(t *testing.T) {
	ctx := context.Background()
	store := handUniverse(t)
	opts := Options{Set: "t/v1", Catalog: testCatalog(t), AsOf: []time.Time{day("2025-06-30").Time(), day("2025-07-31").Time()}}
	crash := errors.New("killed")
	opts.beforeManifest = func(d Day) error {
		if d == day("2025-07-31") {
			return crash
		}
		return nil
	}
	if _, err := Materialize(ctx, store, opts); !errors.Is(err, crash) {
		t.Fatalf("err = %v, want the injected crash", err)
	}
	days, err := ListSnapshots(ctx, store, "t", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 1 || days[0] != day("2025-06-30") {
		t.Fatalf("visible snapshots after the crash = %v, want only 2025-06-30", days)
	}
	if _, _, err := ReadSnapshot(ctx, store, "t", 1, day("2025-07-31")); !errors.Is(err, ErrNoSnapshotStored) {
		t.Errorf("reading the crashed snapshot: err = %v, want ErrNoSnapshotStored", err)
	}
	opts.beforeManifest = nil
	res, err := Materialize(ctx, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Snapshots[0].Skipped || res.Snapshots[1].Skipped || res.Snapshots[1].Rows != 3 {
		t.Errorf("rerun = %+v, want June skipped and July completed with 3 rows", res.Snapshots)
	}
	if got := snapshotValues(t, store, "2025-07-31")[c1][0]; got != 200 {
		t.Errorf("rerun July sales = %v, want 200", got)
	}
}

func TestMaterializeCorruptRaw(t *testing.T) {
	ctx := context.Background()
	store := handUniverse(t)
	bad := "raw/tax/month=2025-03/part-00000.parquet"
	if _, err := store.Put(ctx, bad, strings.NewReader("PAR1 this is not parquet")); err != nil {
		t.Fatal(err)
	}
	opts := Options{Set: "t", Catalog: testCatalog(t), AsOf: []time.Time{day("2025-06-30").Time()}}
	_, err := Materialize(ctx, store, opts)
	if !errors.Is(err, ErrCorruptRaw) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("err = %v, want ErrCorruptRaw naming %s", err, bad)
	}
	infos, err := store.List(ctx, "features/")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 0 {
		t.Errorf("a failed run left %d objects under features/, first %s", len(infos), infos[0].Key)
	}
}

func TestMaterializeBadOptions(t *testing.T) {
	ctx := context.Background()
	store := handUniverse(t)
	cat := testCatalog(t)
	for _, tt := range []struct {
		name string
		opts Options
		want error
	}{
		{"unknown set", Options{Set: "nope", Catalog: cat, AsOf: []time.Time{day("2025-06-30").Time()}}, ErrUnknownSet},
		{"unknown version", Options{Set: "t/v7", Catalog: cat, AsOf: []time.Time{day("2025-06-30").Time()}}, ErrUnknownSet},
		{"no as-of", Options{Set: "t", Catalog: cat}, ErrInvalidOptions},
		{"no set", Options{Catalog: cat, AsOf: []time.Time{day("2025-06-30").Time()}}, ErrInvalidOptions},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Materialize(ctx, store, tt.opts); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLoadOnlineFromSnapshot(t *testing.T) {
	ctx := context.Background()
	store := handUniverse(t)
	opts := Options{Set: "t", Catalog: testCatalog(t), AsOf: []time.Time{day("2025-06-30").Time(), day("2025-07-31").Time()}}
	if _, err := Materialize(ctx, store, opts); err != nil {
		t.Fatal(err)
	}
	ms := NewMemoryStore(OnlineOptions{Now: func() time.Time { return day("2025-08-01").Time() }})
	m, err := LoadOnline(ctx, store, "t", 1, ms)
	if err != nil {
		t.Fatal(err)
	}
	if m.AsOf != "2025-07-31" {
		t.Errorf("loaded %s, want the latest 2025-07-31", m.AsOf)
	}
	v, err := ms.Get(ctx, c3)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status[0] != Missing || v.Status[2] != Present || v.Values[2] != 3 {
		t.Errorf("c3 vector = %v %v", v.Values, v.Status)
	}
}

func TestLoadGuaranteeNetwork(t *testing.T) {
	ctx := context.Background()
	store := handUniverse(t)
	g, err := LoadGuaranteeNetwork(ctx, store, day("2025-06-30").Time(), 2)
	if err != nil {
		t.Fatal(err)
	}
	circle, err := g.Circle(c1)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(circle) != fmt.Sprint([]string{c1, c2}) {
		t.Errorf("circle of c1 = %v, want [c1 c2]", circle)
	}
	if cy := g.Cycles(4, 0); len(cy) != 1 || len(cy[0]) != 2 {
		t.Errorf("cycles = %v, want one of two companies", cy)
	}
	v, _ := g.Node(c2)
	if !g.Defaulted[v] || g.Measures.Contagion[v] != 1 {
		t.Errorf("c2 defaulted %v contagion %v, want true 1", g.Defaulted[v], g.Measures.Contagion[v])
	}
	// One circle: c1 and c2 guaranteed each other 1e6 and 2e6 (the hand universe's
	// G1 and G2), and c2 is in default.
	if cs := g.Circles(); len(cs) != 1 || fmt.Sprint(cs[0].Members) != fmt.Sprint([]string{c1, c2}) || cs[0].Given != 3e6 || cs[0].Defaulted != 1 {
		t.Errorf("circles = %+v, want [c1 c2] given 3e6 with 1 defaulted", cs)
	}
	if _, err := g.Circle("nope"); !errors.Is(err, ErrUnknownCompany) {
		t.Errorf("unknown code: err = %v", err)
	}
	// Before the guarantees arrived (2024-01-05) there is no circle.
	early, err := LoadGuaranteeNetwork(ctx, store, day("2024-01-04").Time(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := early.Circle(c1); c != nil {
		t.Errorf("circle before the guarantees arrived = %v", c)
	}
}
