package reports_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/reports"
)

// BenchmarkIssue issues a financing report over 36 months for a company of a
// generated region (XINYI_BENCH_COMPANIES companies, default 2,000, 36 months
// from 2023-01, one part per month and table): read every table's parts, build
// the sections, render, sign and record. It reports the 95th percentile of one
// issuance as p95-ms.
func BenchmarkIssue(b *testing.B) {
	needTools(b)
	ctx := context.Background()
	companies := 2000
	if s := os.Getenv("XINYI_BENCH_COMPANIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		companies = n
	}
	store, err := blob.OpenLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	opts := datasets.DefaultGenerateOptions()
	opts.Companies = companies
	if _, err := datasets.Generate(ctx, store, opts); err != nil {
		b.Fatal(err)
	}
	// A company founded before the first month: 36 months of records in every
	// monthly table.
	dir, err := datasets.LoadDirectory(ctx, store, datasets.Month(2025*12+11).LastDay())
	if err != nil {
		b.Fatal(err)
	}
	code := ""
	for _, c := range dir.Codes() {
		if row, _ := dir.Company(c); row.Founded < datasets.Month(2023*12).FirstDay() {
			code = c
			break
		}
	}
	db := metadbtest.SQLite(b)
	acc, log := accesstest.Open(b, db)
	_, regulator := accesstest.User(b, acc, "Market Supervision", access.KindRegulator, "inspector", access.RoleRegulator)
	key, err := reports.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	svc, err := reports.Open(ctx, db, reports.Options{Store: store, Signer: key, Authorizer: access.NewAuthorizer(acc, log), Audit: log,
		Now: func() time.Time { return time.Date(2026, 1, 15, 10, 0, 0, 0, cst) }})
	if err != nil {
		b.Fatal(err)
	}
	req := reports.Request{Company: code, Purpose: reports.Financing, From: "2023-01-01", To: "2025-12-31"}
	if _, _, err := svc.Issue(ctx, regulator, req); err != nil { // warm: the font file is read once per process
		b.Fatal(err)
	}
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, _, err := svc.Issue(ctx, regulator, req); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	p95 := took[min(len(took)-1, len(took)*95/100)]
	b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
}
