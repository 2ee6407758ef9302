// Package main is bench/features, a command that compares Xinyi's point-in-time
// materialization with DuckDB over the same raw Parquet files: five windowed
// aggregates of the tax table with the arrival-time filter and correction
// (revision) resolution, for 12 as-of dates. It checks that both give the same
// values and prints time and the ratio side by side.
//
// It is a separate module so that the product stays free of cgo:
//
//	cd bench/features && go run . -dir /tmp/xinyi-bench -companies 120000
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	_ "github.com/marcboeker/go-duckdb"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// The five aggregates, as catalog indicators and as SQL over (months back, column).
var indicators = []struct {
	id, agg, column string
	window          int
}{
	{"tax.sales.sum_3m", "sum", "sales", 3},
	{"tax.sales.sum_12m", "sum", "sales", 12},
	{"tax.sales.mean_12m", "avg", "sales", 12},
	{"tax.sales.max_12m", "max", "sales", 12},
	{"tax.tax_paid.sum_24m", "sum", "tax_paid", 24},
}

var cpuProfile string

func main() {
	dir := flag.String("dir", "", "object store folder (generated when it holds no raw data)")
	companies := flag.Int("companies", 120000, "companies to generate when the folder is empty")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the Xinyi materialization to this file")
	flag.Parse()
	cpuProfile = *profile
	if err := run(*dir, *companies); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(dir string, companies int) error {
	ctx := context.Background()
	if dir == "" {
		return fmt.Errorf("-dir is required")
	}
	store, err := blob.OpenLocal(dir)
	if err != nil {
		return err
	}
	defer store.Close()
	if infos, err := store.List(ctx, "raw/tax/"); err != nil || len(infos) == 0 {
		o := datasets.DefaultGenerateOptions()
		o.Companies = companies
		if _, err := datasets.Generate(ctx, store, o); err != nil {
			return err
		}
	}
	var asofs []time.Time
	for m := 1; m <= 12; m++ {
		asofs = append(asofs, time.Date(2025, time.Month(m+1), 0, 0, 0, 0, 0, time.UTC))
	}

	// Xinyi: a catalog holding just the five indicators, as one set.
	src, err := os.ReadFile(filepath.Join("..", "..", "features", "catalog", "sources.yaml"))
	if err != nil {
		return err
	}
	var inds, ids strings.Builder
	inds.WriteString("indicators:\n")
	for _, in := range indicators {
		agg := in.agg
		if agg == "avg" {
			agg = "mean"
		}
		fmt.Fprintf(&inds, "  - {id: %s, name_zh: x, name_en: x, dimension: operating, sources: [tax], column: %s, aggregation: %s, window: %d, unit: x, direction: none, sensitivity: public}\n",
			in.id, in.column, agg, in.window)
		ids.WriteString(in.id + ", ")
	}
	sets := "sets:\n  - {name: bench5, version: 1, label: default_12m, indicators: [" + strings.TrimSuffix(ids.String(), ", ") + "]}\n"
	cat, err := features.ParseCatalog(map[string][]byte{"sources.yaml": src, "i.yaml": []byte(inds.String()), "s.yaml": []byte(sets)})
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	t0 := time.Now()
	res, err := features.Materialize(ctx, store, features.Options{Set: "bench5", AsOf: asofs, Force: true, Catalog: cat})
	if err != nil {
		return err
	}
	xinyi := time.Since(t0)
	if cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	runtime.ReadMemStats(&ms)

	// DuckDB reads plain Parquet: copy the tax files out of the store (the local store
	// prefixes each object with a digest header).
	plain, err := os.MkdirTemp("", "xinyi-duckdb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(plain)
	infos, err := store.List(ctx, "raw/tax/")
	if err != nil {
		return err
	}
	var rows int64
	for _, in := range infos {
		b, _, err := blob.ReadAll(ctx, store, in.Key)
		if err != nil {
			return err
		}
		p := filepath.Join(plain, filepath.FromSlash(in.Key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	glob := filepath.Join(plain, "raw", "tax", "*", "*.parquet")
	if err := db.QueryRow(fmt.Sprintf("SELECT count(*) FROM read_parquet('%s')", glob)).Scan(&rows); err != nil {
		return err
	}
	var duck time.Duration
	mismatches, compared := 0, 0
	for _, asof := range asofs {
		d := asof.Format(time.DateOnly)
		var cols []string
		for _, in := range indicators {
			cols = append(cols, fmt.Sprintf("%s(%s) FILTER (WHERE event_date >= date_trunc('month', DATE '%s') - INTERVAL %d MONTH)", in.agg, in.column, d, in.window-1))
		}
		q := fmt.Sprintf(`WITH t AS (
  SELECT code, event_date, sales, tax_paid,
         row_number() OVER (PARTITION BY code, event_date ORDER BY revision DESC, arrival_date DESC) AS rn
  FROM read_parquet('%s')
  WHERE event_date <= DATE '%s' AND arrival_date <= DATE '%s'
    AND event_date >= date_trunc('month', DATE '%s') - INTERVAL 23 MONTH)
SELECT code, %s FROM t WHERE rn = 1 GROUP BY code`, glob, d, d, d, strings.Join(cols, ", "))
		t1 := time.Now()
		r, err := db.Query(q)
		if err != nil {
			return err
		}
		got := map[string][]float64{}
		for r.Next() {
			var code string
			vals := make([]sql.NullFloat64, len(indicators))
			ptrs := []any{&code}
			for i := range vals {
				ptrs = append(ptrs, &vals[i])
			}
			if err := r.Scan(ptrs...); err != nil {
				return err
			}
			fs := make([]float64, len(vals))
			for i, v := range vals {
				fs[i] = math.NaN()
				if v.Valid {
					fs[i] = v.Float64
				}
			}
			got[code] = fs
		}
		r.Close()
		duck += time.Since(t1)
		// Cross-check against the snapshot Xinyi wrote.
		snap, _, err := features.ReadSnapshot(ctx, store, "bench5", 1, features.DayOf(asof))
		if err != nil {
			return err
		}
		w := len(snap.Names)
		for i, code := range snap.Codes {
			want, ok := got[code]
			for j := 0; j < w; j++ {
				x := snap.Values[i*w+j]
				y := math.NaN()
				if ok {
					y = want[j]
				}
				compared++
				if !(math.IsNaN(x) && math.IsNaN(y)) && math.Abs(x-y) > 1e-6*math.Max(1, math.Abs(y)) {
					if mismatches < 5 {
						fmt.Printf("mismatch %s %s as of %s: xinyi %v duckdb %v\n", code, snap.Names[j], d, x, y)
					}
					mismatches++
				}
			}
		}
	}
	// DuckDB again without correction resolution (arrival filter only), the simpler
	// query often quoted: its values differ wherever a backfill exists.
	var plainDuck time.Duration
	for _, asof := range asofs {
		d := asof.Format(time.DateOnly)
		var cols []string
		for _, in := range indicators {
			cols = append(cols, fmt.Sprintf("%s(%s) FILTER (WHERE event_date >= date_trunc('month', DATE '%s') - INTERVAL %d MONTH)", in.agg, in.column, d, in.window-1))
		}
		q := fmt.Sprintf(`SELECT code, %s FROM read_parquet('%s')
WHERE event_date <= DATE '%s' AND arrival_date <= DATE '%s' AND event_date >= date_trunc('month', DATE '%s') - INTERVAL 23 MONTH
GROUP BY code`, strings.Join(cols, ", "), glob, d, d, d)
		t1 := time.Now()
		var n int64
		if err := db.QueryRow("SELECT count(*) FROM (" + q + ")").Scan(&n); err != nil {
			return err
		}
		plainDuck += time.Since(t1)
	}
	fmt.Printf("tax table: %d rows, %d companies, 5 aggregates x 12 as-of dates\n", rows, res.Companies)
	fmt.Printf("xinyi  materialize (read, resolve, aggregate, write Parquet + stats + manifests): %8.3fs  (%.0f raw records/s, heap sys %d MB)\n",
		xinyi.Seconds(), float64(res.RawRecords)/xinyi.Seconds(), ms.HeapSys>>20)
	fmt.Printf("duckdb query (read, filter, dedupe, aggregate; no output written):            %8.3fs\n", duck.Seconds())
	fmt.Printf("duckdb query without correction resolution (arrival filter only; not comparable): %8.3fs\n", plainDuck.Seconds())
	fmt.Printf("ratio xinyi/duckdb: %.2f; values compared %d, mismatches %d\n", xinyi.Seconds()/duck.Seconds(), compared, mismatches)
	if mismatches > 0 {
		return fmt.Errorf("%d values differ", mismatches)
	}
	return nil
}
