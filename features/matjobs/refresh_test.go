package matjobs

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
)

// TestRefreshJob ingests a tax correction of 10% of the companies and refreshes
// the full set's snapshots as a durable job: the job records the dates it
// refreshed, enqueuing it again is the same job, and the snapshots equal a full
// materialization value for value.
func TestRefreshJob(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: 300, Months: 24, Seed: 11, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := features.Materialize(ctx, store, features.Options{Set: "full", AsOf: dates, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	// July 2024's tax in force, sales doubled, for every tenth company; arriving on 1 August.
	src, _ := datasets.SourceByName(datasets.SourceTax)
	july, _ := datasets.ParseMonth("2024-07")
	rows, err := datasets.ReadMonth[datasets.TaxRow](ctx, store, src, july)
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
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[datasets.TaxRow](&buf)
	if _, err := w.Write(fix); err != nil || w.Close() != nil {
		t.Fatal("write the correction")
	}
	arrival := time.Date(2024, 8, 1, 9, 0, 0, 0, ingest.ChinaStandardTime)
	rep, err := ingest.New(store).Ingest(ctx, datasets.SourceTax, []ingest.Input{{Name: "fix.parquet", R: &buf}},
		ingest.Options{Now: func() time.Time { return arrival }})
	if err != nil || rep.Corrected == 0 {
		t.Fatalf("ingest: %v %+v", err, rep)
	}

	ws := jobs.NewWorkers()
	if err := Register(ws, store, Options{Workers: 1}); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.Open(ctx, workerOptions("sqlite://"+filepath.Join(t.TempDir(), "jobs.db"), ws, false))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	cat, _ := features.DefaultCatalog()
	ins, err := EnqueueRefresh(ctx, q, cat, "full", datasets.SourceTax, rep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := EnqueueRefresh(ctx, q, cat, "full", datasets.SourceTax, rep.ID); err != nil || again.ID != ins.ID {
		t.Fatalf("enqueued again: %+v %v, want job %d", again, err, ins.ID)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	in, err := waitJob(wctx, q, ins.ID, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out RefreshOutput
	if err := json.Unmarshal(in.Output, &out); err != nil {
		t.Fatal(err)
	}
	// 30 June is before the arrival; 30 September and 31 December see it.
	if out.Full || out.Touched != len(fix) || len(out.Dates) != 2 || out.Dates[0] != "2024-09-30" || out.Dates[1] != "2024-12-31" || !slices.Contains(out.Columns, "sales") {
		t.Fatalf("refresh job output %+v, want 2 dates for %d companies, sales among the columns", out, len(fix))
	}
	got := map[string]*features.Snapshot{}
	for _, d := range out.Dates {
		day, _ := time.Parse(time.DateOnly, d)
		s, m, err := features.ReadSnapshot(ctx, store, "full", 1, features.DayOf(day))
		if err != nil || len(m.Patches) != 1 {
			t.Fatalf("as of %s: %v, patches %+v", d, err, m)
		}
		got[d] = s
	}
	if _, err := features.Materialize(ctx, store, features.Options{Set: "full", AsOf: dates, Workers: 1, Force: true}); err != nil {
		t.Fatal(err)
	}
	for d, g := range got {
		day, _ := time.Parse(time.DateOnly, d)
		want, _, err := features.ReadSnapshot(ctx, store, "full", 1, features.DayOf(day))
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Codes) != len(g.Codes) {
			t.Fatalf("as of %s: %d companies, full run %d", d, len(g.Codes), len(want.Codes))
		}
		for i := range want.Values {
			a, b := g.Values[i], want.Values[i]
			if g.Codes[i/len(want.Names)] != want.Codes[i/len(want.Names)] || math.Float64bits(a) != math.Float64bits(b) && !(math.IsNaN(a) && math.IsNaN(b)) {
				t.Fatalf("as of %s: value %d refreshed %v, full run %v", d, i, a, b)
			}
		}
	}
}
