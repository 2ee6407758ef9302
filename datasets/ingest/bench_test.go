package ingest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// BenchmarkIngestTaxCSV measures the tax table from a department CSV to visible
// Parquet: parse, validate (codes, dates, ranges, enumerations, duplicate keys),
// assign revisions against 36 generated months already stored, write parts and
// commit. Every iteration re-delivers the last 12 months with changed values, so
// every row is a correction of a stored fact. XINYI_INGEST_BENCH_COMPANIES sets
// the universe (default 20,000). Besides rows/s (wall) it reports cpu-ns/row,
// the process's CPU time (user and system) during the batches per row read:
// on a shared machine the wall time grows with the load, the CPU time less so.
//
//	go test ./datasets/ingest -run '^$' -bench IngestTaxCSV -benchtime 3x
func BenchmarkIngestTaxCSV(b *testing.B) {
	ctx := context.Background()
	companies := 20_000
	if s := os.Getenv("XINYI_INGEST_BENCH_COMPANIES"); s != "" {
		companies, _ = strconv.Atoi(s)
	}
	dir := b.TempDir()
	store, err := blob.OpenLocal(filepath.Join(dir, "store"))
	if err != nil {
		b.Fatal(err)
	}
	opts := datasets.DefaultGenerateOptions()
	opts.Companies, opts.Start = companies, datasets.Month(2023*12)
	if _, err := datasets.Generate(ctx, store, opts); err != nil {
		b.Fatal(err)
	}
	info, err := newSourceInfo(datasets.SourceTax)
	if err != nil {
		b.Fatal(err)
	}
	// The rows of months 25-36 as the tax bureau's export.
	type taxLine struct {
		code, period, grade string
		vals                [7]float64
		invoices            int32
	}
	var lines []taxLine
	infos, _ := store.List(ctx, "raw/tax/")
	row := make([]parquet.Value, info.ncols)
	for _, in := range infos {
		data, _, err := blob.ReadAll(ctx, store, in.Key)
		if err != nil {
			b.Fatal(err)
		}
		eachRow(data, in.Key, info, row, func(r []parquet.Value) {
			d := datasets.Day(r[1].Int32())
			if d.Month() < opts.Start+24 || r[3].Int32() != 0 {
				return
			}
			lines = append(lines, taxLine{code: string(r[0].ByteArray()), period: d.Month().String(), grade: string(r[11].ByteArray()),
				vals:     [7]float64{r[4].Double(), r[5].Double(), r[6].Double(), r[7].Double(), r[8].Double(), r[10].Double()},
				invoices: r[9].Int32()})
		})
	}
	write := func(iter int) string {
		name := filepath.Join(dir, fmt.Sprintf("tax-%d.csv", iter))
		f, err := os.Create(name)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(f)
		w.WriteString("纳税人识别号,所属期,销售额,增值税,企业所得税,实缴税额,利润总额,开票数量,欠税金额,纳税信用等级\n")
		for _, l := range lines {
			fmt.Fprintf(w, "%s,%s,%.2f,%.2f,%.2f,%.2f,%.2f,%d,%.2f,%s\n", l.code, l.period, l.vals[0]+float64(iter+1),
				l.vals[1], l.vals[2], l.vals[3], l.vals[4], l.invoices, l.vals[5], l.grade)
		}
		w.Flush()
		f.Close()
		return name
	}
	g := New(store)
	var rows int64
	var cpu time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		name := write(i)
		f, err := os.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		now := (opts.Start + 37 + datasets.Month(i)).FirstDay().Time()
		b.StartTimer()
		cpu0 := processCPU()
		rep, err := g.Ingest(ctx, "tax", []Input{{Name: name, R: f}}, Options{Now: func() time.Time { return now }})
		cpu += processCPU() - cpu0
		b.StopTimer()
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if rep.Corrected != int64(len(lines)) {
			b.Fatalf("%s; want %d corrections", rep.Summary(), len(lines))
		}
		rows += rep.Rows
		os.Remove(name)
		b.StartTimer()
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(rows), "cpu-ns/row")
	}
}
