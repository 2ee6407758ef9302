// Package main is bench/ingest, a command that measures the tax table from a
// department CSV to visible Parquet through Xinyi's ingestion (parse, validate
// codes, dates, ranges and enumerations, reject duplicate keys, assign revisions
// against the months already stored, write parts, commit the batch) and, side by
// side, DuckDB reading the same CSV and writing Parquet (COPY ... TO ... (FORMAT
// parquet)), which does none of the checks.
//
// The store holds a generated universe (36 months); the CSV re-delivers the last
// 12 months of tax declarations with every sales figure changed, so each row is a
// correction of a stored fact. It is a separate module so that the product stays
// free of cgo:
//
//	cd bench/ingest && go run . -dir /tmp/xinyi-ingest-bench -companies 120000
package main

import (
	"bufio"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	_ "github.com/marcboeker/go-duckdb"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

func main() {
	dir := flag.String("dir", "", "work folder: the object store (generated when empty) and the CSV")
	companies := flag.Int("companies", 120000, "companies to generate when the store is empty")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the Xinyi ingestion to this file")
	flag.Parse()
	cpuProfile = *profile
	if err := run(*dir, *companies); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var cpuProfile string

// cpuTime is the CPU time (user and system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func run(dir string, companies int) error {
	ctx := context.Background()
	if dir == "" {
		return fmt.Errorf("-dir is required")
	}
	store, err := blob.OpenLocal(filepath.Join(dir, "store"))
	if err != nil {
		return err
	}
	defer store.Close()
	o := datasets.DefaultGenerateOptions()
	o.Companies, o.Start = companies, datasets.Month(2023*12)
	if infos, err := store.List(ctx, "raw/tax/"); err != nil || len(infos) == 0 {
		fmt.Printf("generating %d companies x %d months\n", o.Companies, o.Months)
		if _, err := datasets.Generate(ctx, store, o); err != nil {
			return err
		}
	}
	// Batches of earlier runs are removed: every run revises the same 36 months.
	infos, err := store.List(ctx, "raw/tax/")
	if err != nil {
		return err
	}
	for _, in := range infos {
		if datasets.IsBatchPart(in.Key) || strings.HasPrefix(in.Key, datasets.BatchPrefix("tax")) {
			if err := store.Delete(ctx, in.Key); err != nil {
				return err
			}
		}
	}
	tax, _ := datasets.SourceByName(datasets.SourceTax)
	csvPath := filepath.Join(dir, "tax.csv")
	f, err := os.Create(csvPath)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("纳税人识别号,所属期,销售额,增值税,企业所得税,实缴税额,利润总额,开票数量,欠税金额,纳税信用等级\n")
	stamp := time.Now().UnixNano() % 1000 // a fresh correction on every run
	var rows int64
	for m := o.Start + 24; m < o.Start+36; m++ {
		month, err := datasets.ReadMonth[datasets.TaxRow](ctx, store, tax, m)
		if err != nil {
			return err
		}
		latest := map[string]datasets.TaxRow{}
		for _, r := range month {
			if cur, ok := latest[r.Code]; !ok || r.Revision >= cur.Revision {
				latest[r.Code] = r
			}
		}
		for _, r := range latest {
			fmt.Fprintf(w, "%s,%s,%.2f,%.2f,%.2f,%.2f,%.2f,%d,%.2f,%s\n", r.Code, m, r.Sales+float64(stamp)+1,
				r.VATPaid, r.IncomeTaxPaid, r.TaxPaid, r.Profit, r.Invoices, r.Arrears, r.CreditGrade)
			rows++
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	f.Close()
	st, _ := os.Stat(csvPath)
	fmt.Printf("tax CSV: %d rows, %.1f MB, 10 department columns (12 stored)\n", rows, float64(st.Size())/1e6)

	in, err := os.Open(csvPath)
	if err != nil {
		return err
	}
	if cpuProfile != "" {
		pf, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(pf)
	}
	cpu0 := cpuTime()
	start := time.Now()
	rep, err := ingest.New(store).Ingest(ctx, "tax", []ingest.Input{{Name: csvPath, R: in}}, ingest.Options{})
	xinyi := time.Since(start)
	xinyiCPU := cpuTime() - cpu0
	in.Close()
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}
	fmt.Println(rep.Summary())

	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	out := filepath.Join(dir, "duckdb-tax.parquet")
	cpu0 = cpuTime()
	start = time.Now()
	if _, err := db.Exec(fmt.Sprintf(`COPY (SELECT * FROM read_csv('%s', header = true)) TO '%s' (FORMAT parquet)`, csvPath, out)); err != nil {
		return err
	}
	duck := time.Since(start)
	duckCPU := cpuTime() - cpu0
	fmt.Printf("xinyi ingest (validate, revise against 36 stored months, commit): %6.2fs  %9.0f rows/s  %5.2f CPU-s\n", xinyi.Seconds(), float64(rows)/xinyi.Seconds(), xinyiCPU.Seconds())
	fmt.Printf("duckdb COPY csv -> parquet (no checks):                         %6.2fs  %9.0f rows/s  %5.2f CPU-s\n", duck.Seconds(), float64(rows)/duck.Seconds(), duckCPU.Seconds())
	fmt.Printf("ratio xinyi/duckdb time: %.2f\n", xinyi.Seconds()/duck.Seconds())
	return nil
}
