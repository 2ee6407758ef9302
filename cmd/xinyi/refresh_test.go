package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
)

// TestFeaturesRefreshCommand ingests a correction of some companies' tax and
// refreshes the pd set's snapshots with xinyi features refresh: the snapshot
// before the arrival is left alone, the later one gets a patch, and its values
// equal a full materialization's.
func TestFeaturesRefreshCommand(t *testing.T) {
	ctx := context.Background()
	store := filepath.Join(t.TempDir(), "d")
	// A year up to this month: the batch arrives today, after the snapshot as of
	// last month's end and before the one as of this month's.
	now := time.Now().In(time.FixedZone("CST", 8*3600))
	this := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	start, lastEnd, thisEnd := this.AddDate(0, -11, 0), this.AddDate(0, 0, -1), this.AddDate(0, 1, -1)
	if _, errs, code := run(t, "generate", "--companies", "200", "--months", "12", "--seed", "3", "--start", start.Format("2006-01"), "--out", store, "--quiet"); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, errs)
	}
	dates := lastEnd.Format(time.DateOnly) + "," + thisEnd.Format(time.DateOnly)
	if _, errs, code := run(t, "features", "materialize", "--store", store, "--set", "pd", "--asof", dates); code != 0 {
		t.Fatalf("materialize: exit %d: %s", code, errs)
	}
	// Last month's tax in force, with sales doubled, for every tenth company.
	local, err := blob.OpenLocal(store)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	src, _ := datasets.SourceByName(datasets.SourceTax)
	oct, _ := datasets.ParseMonth(lastEnd.Format("2006-01"))
	rows, err := datasets.ReadMonth[datasets.TaxRow](ctx, local, src, oct)
	if err != nil {
		t.Fatal(err)
	}
	latest := map[string]datasets.TaxRow{}
	for _, r := range rows {
		if cur, ok := latest[r.Code]; !ok || r.Revision > cur.Revision {
			latest[r.Code] = r
		}
	}
	var fix []datasets.TaxRow
	for code, r := range latest {
		if code[len(code)-2]%10 == 0 {
			r.Sales *= 2
			fix = append(fix, r)
		}
	}
	file := filepath.Join(t.TempDir(), "tax-fix.parquet")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[datasets.TaxRow](f)
	if _, err := w.Write(fix); err != nil || w.Close() != nil || f.Close() != nil {
		t.Fatal("write the correction file")
	}
	out, errs, code := run(t, "ingest", "--store", store, "--source", "tax", "--batch-id", "oct-fix", file)
	if code != 0 || !strings.Contains(out, "corrected") {
		t.Fatalf("ingest: exit %d: %s %s", code, out, errs)
	}
	out, errs, code = run(t, "features", "refresh", "--store", store, "--set", "pd", "--source", "tax", "--batch", "oct-fix")
	if code != 0 || !regexp.MustCompile(`refreshed pd/v\d+ after tax batch oct-fix: \d+ companies touched, 1 snapshots \[`+thisEnd.Format(time.DateOnly)+`\] patched`).MatchString(out) {
		t.Fatalf("refresh: exit %d: %q %s", code, out, errs)
	}
	// As a durable job: enqueued once, the second time it is the same job.
	out, errs, code = run(t, "features", "refresh", "--store", store, "--set", "pd", "--source", "tax", "--batch", "oct-fix", "--queue")
	if code != 0 || !regexp.MustCompile(`refresh of pd after tax batch oct-fix enqueued as job \d+ on the "materialize" queue`).MatchString(out) {
		t.Fatalf("refresh --queue: exit %d: %q %s", code, out, errs)
	}
	job := regexp.MustCompile(`job (\d+)`).FindString(out)
	if out, errs, code = run(t, "features", "refresh", "--store", store, "--set", "pd", "--source", "tax", "--batch", "oct-fix", "--queue"); code != 0 || !strings.Contains(out, "already enqueued as "+job+" ") {
		t.Fatalf("refresh --queue again: exit %d: %q %s", code, out, errs)
	}
	cat, _ := features.DefaultCatalog()
	set, _ := cat.Set("pd", 0)
	dec := features.DayOf(thisEnd)
	got, man, err := features.ReadSnapshot(ctx, local, set.Name, set.Version, dec)
	if err != nil || len(man.Patches) != 1 {
		t.Fatalf("refreshed snapshot: %v, patches %+v", err, man)
	}
	if _, errs, code := run(t, "features", "materialize", "--store", store, "--set", "pd", "--asof", thisEnd.Format(time.DateOnly), "--force"); code != 0 {
		t.Fatalf("materialize again: exit %d: %s", code, errs)
	}
	want, _, err := features.ReadSnapshot(ctx, local, set.Name, set.Version, dec)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Codes) != len(want.Codes) || len(got.Values) != len(want.Values) {
		t.Fatalf("refresh %d companies, full run %d", len(got.Codes), len(want.Codes))
	}
	for i := range want.Values {
		g, x := got.Values[i], want.Values[i]
		if got.Codes[i/len(want.Names)] != want.Codes[i/len(want.Names)] || g != x && !(g != g && x != x) {
			t.Fatalf("value %d (%s %s): refresh %v, full run %v", i, want.Codes[i/len(want.Names)], want.Names[i%len(want.Names)], g, x)
		}
	}
}

// TestBatchRefreshQueues checks the listener the server gives its ingest door:
// after a committed batch, one refresh job per configured set, the same job
// when told again, and an error (logged by the ingester) without a queue.
func TestBatchRefreshQueues(t *testing.T) {
	ctx := context.Background()
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	rep := &ingest.Report{ID: "b1", Source: "tax"}
	if err := (&batchRefresh{cat: cat, sets: splitSets("pd")}).BatchCommitted(ctx, rep); err == nil {
		t.Fatal("no error without a queue")
	}
	q, err := jobs.Open(ctx, jobs.Options{DSN: "sqlite://" + filepath.Join(t.TempDir(), "jobs.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	b := &batchRefresh{cat: cat, sets: splitSets("pd, full"), queue: q}
	for range 2 {
		if err := b.BatchCommitted(ctx, rep); err != nil {
			t.Fatal(err)
		}
	}
	infos, err := q.List(ctx, jobs.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range infos {
		got = append(got, in.Kind+" "+string(in.Args))
	}
	slices.Sort(got)
	want := []string{`materialize_refresh {"set":"full/v1","source":"tax","batch":"b1"}`, `materialize_refresh {"set":"pd/v1","source":"tax","batch":"b1"}`}
	if !slices.Equal(got, want) {
		t.Fatalf("jobs %q, want %q", got, want)
	}
}
