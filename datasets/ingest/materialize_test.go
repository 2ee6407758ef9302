package ingest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
)

// TestCorrectionReachesSnapshots corrects one company's June sales in a generated
// store through Ingest (arriving August 3) and materializes again: the 3-month
// sales sum as of August 31 grows by exactly the correction (1,000 yuan), and as
// of July 31, before the correction arrived, nothing changes.
func TestCorrectionReachesSnapshots(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and materializes a universe")
	}
	ctx := context.Background()
	store := openStore(t)
	opts := datasets.DefaultGenerateOptions()
	opts.Companies, opts.Months, opts.Start = 300, 24, datasets.Month(2023*12)
	if _, err := datasets.Generate(ctx, store, opts); err != nil {
		t.Fatal(err)
	}
	june := opts.Start + 17
	tax, _ := datasets.SourceByName(datasets.SourceTax)
	rows, err := datasets.ReadMonth[datasets.TaxRow](ctx, store, tax, june)
	if err != nil {
		t.Fatal(err)
	}
	// The first company whose June declarations (and corrections) all arrived by
	// July 31, and the fact in force.
	byCode := map[string]datasets.TaxRow{}
	late := map[string]bool{}
	for _, r := range rows {
		if r.ArrivalDate > (june + 1).LastDay() {
			late[r.Code] = true
		}
		if cur, ok := byCode[r.Code]; !ok || r.Revision > cur.Revision {
			byCode[r.Code] = r
		}
	}
	codes := make([]string, 0, len(byCode))
	for c := range byCode {
		if !late[c] {
			codes = append(codes, c)
		}
	}
	if len(codes) == 0 {
		t.Fatal("no company's June declaration arrived by July 31")
	}
	slices.Sort(codes)
	r := byCode[codes[0]]
	asofs := []time.Time{(june + 1).LastDay().Time(), (june + 2).LastDay().Time()}
	snapshot := func() []float64 {
		if _, err := features.Materialize(ctx, store, features.Options{Set: "full", AsOf: asofs, Force: true, Workers: 2}); err != nil {
			t.Fatal(err)
		}
		var out []float64
		for _, d := range asofs {
			s, _, err := features.ReadSnapshot(ctx, store, "full", 1, features.DayOf(d))
			if err != nil {
				t.Fatal(err)
			}
			ci, ni := slices.Index(s.Codes, r.Code), slices.Index(s.Names, "tax.sales.sum_3m")
			if ci < 0 || ni < 0 {
				t.Fatalf("company %s or indicator missing", r.Code)
			}
			out = append(out, s.Values[ci*len(s.Names)+ni])
		}
		return out
	}
	before := snapshot()
	if math.IsNaN(before[0]) || math.IsNaN(before[1]) {
		t.Fatalf("no sales sum for %s: %v", r.Code, before)
	}
	line := fmt.Sprintf("%s,%s,%.2f,%.2f,%.2f,%.2f,%.2f,%d,%.2f,%s\n", r.Code, june, r.Sales+1000, r.VATPaid, r.IncomeTaxPaid,
		r.TaxPaid, r.Profit, r.Invoices, r.Arrears, r.CreditGrade)
	csv := "纳税人识别号,所属期,销售额,增值税,企业所得税,实缴税额,利润总额,开票数量,欠税金额,纳税信用等级\n" + line
	arrival := (june + 1).LastDay().Time().Add(3 * 24 * time.Hour)
	rep, err := New(store).Ingest(ctx, "tax", []Input{{Name: "fix.csv", R: strings.NewReader(csv)}}, Options{Now: func() time.Time { return arrival }})
	if err != nil || rep.Corrected != 1 {
		t.Fatalf("%v %+v", err, rep)
	}
	after := snapshot()
	if after[0] != before[0] {
		t.Errorf("as of July 31 the sum moved from %v to %v before the correction arrived", before[0], after[0])
	}
	if d := after[1] - before[1]; d < 999.99 || d > 1000.01 {
		t.Errorf("as of August 31 the sum moved by %v (from %v to %v), want 1000", d, before[1], after[1])
	}
}

// TestRetractionReachesSnapshots retracts one company's June tax declaration of a
// generated store by its key alone (arriving August 3): as of July 31 nothing
// changes, as of August 31 the 3-month sales sum loses exactly the June value in
// force.
func TestRetractionReachesSnapshots(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and materializes a universe")
	}
	ctx := context.Background()
	store := openStore(t)
	opts := datasets.DefaultGenerateOptions()
	opts.Companies, opts.Months, opts.Start = 300, 24, datasets.Month(2023*12)
	if _, err := datasets.Generate(ctx, store, opts); err != nil {
		t.Fatal(err)
	}
	june := opts.Start + 17
	tax, _ := datasets.SourceByName(datasets.SourceTax)
	rows, err := datasets.ReadMonth[datasets.TaxRow](ctx, store, tax, june)
	if err != nil {
		t.Fatal(err)
	}
	byCode := map[string]datasets.TaxRow{}
	late := map[string]bool{}
	for _, r := range rows {
		if r.ArrivalDate > (june + 1).LastDay() {
			late[r.Code] = true
		}
		if cur, ok := byCode[r.Code]; !ok || r.Revision > cur.Revision {
			byCode[r.Code] = r
		}
	}
	var codes []string
	for c, r := range byCode {
		if !late[c] && r.Sales > 0 {
			codes = append(codes, c)
		}
	}
	if len(codes) == 0 {
		t.Fatal("no company's June declaration arrived by July 31")
	}
	slices.Sort(codes)
	r := byCode[codes[0]]
	asofs := []time.Time{(june + 1).LastDay().Time(), (june + 2).LastDay().Time()}
	snapshot := func() []float64 {
		if _, err := features.Materialize(ctx, store, features.Options{Set: "full", AsOf: asofs, Force: true, Workers: 2}); err != nil {
			t.Fatal(err)
		}
		var out []float64
		for _, d := range asofs {
			s, _, err := features.ReadSnapshot(ctx, store, "full", 1, features.DayOf(d))
			if err != nil {
				t.Fatal(err)
			}
			ci, ni := slices.Index(s.Codes, r.Code), slices.Index(s.Names, "tax.sales.sum_3m")
			if ci < 0 || ni < 0 {
				t.Fatalf("company %s or indicator missing", r.Code)
			}
			out = append(out, s.Values[ci*len(s.Names)+ni])
		}
		return out
	}
	before := snapshot()
	csv := "纳税人识别号,所属期,记录类型\n" + r.Code + "," + june.String() + ",撤销\n"
	arrival := (june + 1).LastDay().Time().Add(3 * 24 * time.Hour)
	rep, err := New(store).Ingest(ctx, "tax", []Input{{Name: "retract.csv", R: strings.NewReader(csv)}}, Options{Now: func() time.Time { return arrival }})
	if err != nil || rep.Retracted != 1 {
		t.Fatalf("%v %+v", err, rep)
	}
	after := snapshot()
	if after[0] != before[0] && !(math.IsNaN(after[0]) && math.IsNaN(before[0])) {
		t.Errorf("as of July 31 the sum moved from %v to %v before the retraction arrived", before[0], after[0])
	}
	got := before[1] - after[1]
	if math.IsNaN(after[1]) { // June was the only month of the window in force
		got = before[1]
	}
	if math.Abs(got-r.Sales) > 1e-6*max(1, r.Sales) {
		t.Errorf("as of August 31 the sum lost %v (from %v to %v), want the June sales %v", got, before[1], after[1], r.Sales)
	}
}
