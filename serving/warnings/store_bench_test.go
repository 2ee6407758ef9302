package warnings

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// BenchmarkEvaluateStore measures a region's date end to end on a materialized
// store named by XINYI_BENCH_WARNINGS_STORE (a local folder with raw/ and at
// least two full/v1 snapshots): reading the input (two snapshots, score runs,
// guarantee circles), evaluating, and the warnings_eval job's whole date
// (input, evaluation and lifecycle, in SQLite and PostgreSQL) after the
// previous date. For
// 120,000 companies:
//
//	xinyi generate -companies 120000 -months 24 -out /tmp/w120
//	xinyi features materialize -store /tmp/w120 -set full/v1 -asof 2024-11-30,2024-12-31
//	XINYI_BENCH_WARNINGS_STORE=/tmp/w120 go test ./serving/warnings -run '^$' -bench EvaluateStore -benchtime 1x
func BenchmarkEvaluateStore(b *testing.B) {
	dir := os.Getenv("XINYI_BENCH_WARNINGS_STORE")
	if dir == "" {
		b.Skip("XINYI_BENCH_WARNINGS_STORE names no materialized store")
	}
	ctx := context.Background()
	store, err := blob.OpenLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	src := Source{Store: store}
	days, err := src.Dates(ctx)
	if err != nil || len(days) < 2 {
		b.Fatalf("dates %v %v: need two snapshots of full/v1", days, err)
	}
	lib, err := DefaultLibrary()
	if err != nil {
		b.Fatal(err)
	}
	last := days[len(days)-1]
	for _, engine := range []struct {
		name string
		open func(testing.TB) *metadb.DB
	}{{"sqlite", metadbtest.SQLite}, {"postgres", metadbtest.Postgres}} {
		b.Run(engine.name, func(b *testing.B) {
			st, err := Open(ctx, engine.open(b))
			if err != nil {
				b.Fatal(err)
			}
			o := JobOptions{Source: src, Warnings: st, Library: lib}
			if _, err := EvaluateThrough(ctx, o, days[len(days)-2].String()); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				start := time.Now()
				in, err := src.Input(ctx, last)
				if err != nil {
					b.Fatal(err)
				}
				loaded := time.Since(start)
				start = time.Now()
				ev, err := lib.Evaluate(ctx, in)
				if err != nil {
					b.Fatal(err)
				}
				evaluated := time.Since(start)
				start = time.Now()
				out, err := EvaluateThrough(ctx, o, last.String())
				if err != nil {
					b.Fatal(err)
				}
				job := time.Since(start)
				b.ReportMetric(float64(ev.Companies), "companies")
				b.ReportMetric(float64(len(ev.Firings)), "firings")
				b.ReportMetric(loaded.Seconds(), "input-s")
				b.ReportMetric(evaluated.Seconds(), "evaluate-s")
				b.ReportMetric(job.Seconds(), "job-date-s")
				b.ReportMetric(float64(out.Opened), "opened")
				b.ReportMetric(float64(out.Closed), "closed")
			}
		})
	}
}
