package features

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/xinyi-platform/xinyi/datasets"
)

// Raw rows as ingestion stores them: the row struct's columns and row_kind.
type (
	taxKindRow struct {
		Code        string           `parquet:"code"`
		EventDate   datasets.Day     `parquet:"event_date,date"`
		ArrivalDate datasets.Day     `parquet:"arrival_date,date"`
		Revision    int32            `parquet:"revision"`
		Sales       float64          `parquet:"sales"`
		CreditGrade string           `parquet:"credit_grade,dict"`
		RowKind     datasets.RowKind `parquet:"row_kind"`
	}
	penaltyKindRow struct {
		Code        string           `parquet:"code"`
		EventDate   datasets.Day     `parquet:"event_date,date"`
		ArrivalDate datasets.Day     `parquet:"arrival_date,date"`
		Revision    int32            `parquet:"revision"`
		PenaltyID   string           `parquet:"penalty_id"`
		Amount      float64          `parquet:"amount"`
		RowKind     datasets.RowKind `parquet:"row_kind"`
	}
	companyKindRow struct {
		Code        string           `parquet:"code"`
		EventDate   datasets.Day     `parquet:"event_date,date"`
		ArrivalDate datasets.Day     `parquet:"arrival_date,date"`
		Revision    int32            `parquet:"revision"`
		Industry    string           `parquet:"industry,dict"`
		Founded     datasets.Day     `parquet:"founded,date"`
		Registered  float64          `parquet:"registered_capital"`
		Subscribed  float64          `parquet:"subscribed_capital"`
		PaidIn      float64          `parquet:"paid_in_capital"`
		RowKind     datasets.RowKind `parquet:"row_kind"`
	}
	guaranteeKindRow struct {
		Code         string           `parquet:"code"`
		BorrowerCode string           `parquet:"borrower_code"`
		GuaranteeID  string           `parquet:"guarantee_id"`
		EventDate    datasets.Day     `parquet:"event_date,date"`
		ArrivalDate  datasets.Day     `parquet:"arrival_date,date"`
		Revision     int32            `parquet:"revision"`
		StartDate    datasets.Day     `parquet:"start_date,date"`
		EndDate      datasets.Day     `parquet:"end_date,date"`
		Amount       float64          `parquet:"amount"`
		RowKind      datasets.RowKind `parquet:"row_kind"`
	}
	loanKindRow struct {
		Code        string           `parquet:"code"`
		EventDate   datasets.Day     `parquet:"event_date,date"`
		ArrivalDate datasets.Day     `parquet:"arrival_date,date"`
		Revision    int32            `parquet:"revision"`
		OverdueDays int32            `parquet:"overdue_days"`
		RowKind     datasets.RowKind `parquet:"row_kind"`
	}
)

// refFact is one stored row of c1's tax or penalty table for the reference computation.
type refFact struct {
	key            string
	month          Month
	event, arrival Day
	rev            int32
	kind           datasets.RowKind
	value          float64
}

// refInForce is a second, deliberately naive, implementation of the bitemporal rule:
// per key the eligible row with the highest (revision, arrival) is in force, and a
// void one makes the fact count nowhere.
func refInForce(facts []refFact, asof Day) []refFact {
	best := map[string]refFact{}
	for _, f := range facts {
		if f.event > asof || f.arrival > asof {
			continue
		}
		b, ok := best[f.key]
		if !ok || f.rev > b.rev || f.rev == b.rev && f.arrival >= b.arrival {
			best[f.key] = f
		}
	}
	var out []refFact
	for _, f := range best {
		if f.kind == datasets.RowRecord {
			out = append(out, f)
		}
	}
	return out
}

func TestMaterializeRowKinds(t *testing.T) {
	ctx := context.Background()
	store := handUniverse(t) // files without row_kind: every row a record
	cat := testCatalog(t)
	mo := func(s string) Day { return Day(month(s).LastDay()) }

	// The tax of March is retracted on 06-05; January is retracted on 05-10 and
	// delivered again (revived, 15) on 07-10.
	putRaw(t, store, "raw/tax/month=2025-03/part-00001.parquet", []taxKindRow{
		{Code: c1, EventDate: datasets.Day(mo("2025-03")), ArrivalDate: dd("2025-06-05"), Revision: 1, Sales: 30, CreditGrade: "A", RowKind: datasets.RowRetraction},
	})
	putRaw(t, store, "raw/tax/month=2025-01/part-00001.parquet", []taxKindRow{
		{Code: c1, EventDate: datasets.Day(mo("2025-01")), ArrivalDate: dd("2025-05-10"), Revision: 1, Sales: 10, CreditGrade: "A", RowKind: datasets.RowRetraction},
		{Code: c1, EventDate: datasets.Day(mo("2025-01")), ArrivalDate: dd("2025-07-10"), Revision: 2, Sales: 15, CreditGrade: "A", RowKind: datasets.RowRecord},
	})
	// The February penalty's publicity ends on 05-20 (credit repair).
	putRaw(t, store, "raw/penalty/month=2025-02/part-00001.parquet", []penaltyKindRow{
		{Code: c1, EventDate: dd("2025-02-10"), ArrivalDate: dd("2025-05-20"), Revision: 1, PenaltyID: "P1", Amount: 100, RowKind: datasets.RowEndOfPublicity},
	})
	// c3's registration is retracted on 10-10; the guarantee G2 on 09-05; c2's
	// May default on 08-20.
	putRaw(t, store, "raw/companies/month=2025-04/part-00001.parquet", []companyKindRow{
		{Code: c3, EventDate: dd("2025-04-01"), ArrivalDate: dd("2025-10-10"), Revision: 1, Industry: "C", Founded: dd("2025-04-01"), RowKind: datasets.RowRetraction},
	})
	putRaw(t, store, "raw/guarantee/month=2024-01/part-00001.parquet", []guaranteeKindRow{
		{Code: c2, BorrowerCode: c1, GuaranteeID: "G2", EventDate: dd("2024-01-01"), ArrivalDate: dd("2025-09-05"), Revision: 1,
			StartDate: dd("2024-01-01"), EndDate: dd("2026-12-31"), Amount: 2e6, RowKind: datasets.RowRetraction},
	})
	putRaw(t, store, "raw/loan/month=2025-05/part-00001.parquet", []loanKindRow{
		{Code: c2, EventDate: datasets.Day(mo("2025-05")), ArrivalDate: dd("2025-08-20"), Revision: 1, OverdueDays: 95, RowKind: datasets.RowRetraction},
	})

	// c1's facts as stored (handUniverse's, then the ones above).
	taxRef := func(m, arr string, rev int32, kind datasets.RowKind, v float64) refFact {
		return refFact{key: m, month: month(m), event: mo(m), arrival: day(arr), rev: rev, kind: kind, value: v}
	}
	tax := []refFact{
		taxRef("2025-01", "2025-02-10", 0, 0, 10), taxRef("2025-02", "2025-03-10", 0, 0, 20), taxRef("2025-03", "2025-04-10", 0, 0, 30),
		taxRef("2025-04", "2025-07-20", 0, 0, 40), taxRef("2025-05", "2025-06-10", 0, 0, 50), taxRef("2025-05", "2025-08-15", 1, 0, 80),
		taxRef("2025-06", "2025-06-30", 0, 0, 60),
		taxRef("2025-03", "2025-06-05", 1, datasets.RowRetraction, 30),
		taxRef("2025-01", "2025-05-10", 1, datasets.RowRetraction, 10), taxRef("2025-01", "2025-07-10", 2, 0, 15),
	}
	pen := []refFact{
		{key: "P1", month: month("2025-02"), event: day("2025-02-10"), arrival: day("2025-02-12"), value: 100},
		{key: "P2", month: month("2025-06"), event: day("2025-06-20"), arrival: day("2025-07-02"), value: 300},
		{key: "P1", month: month("2025-02"), event: day("2025-02-10"), arrival: day("2025-05-20"), rev: 1, kind: datasets.RowEndOfPublicity, value: 100},
	}

	var asofs []string
	for m := 3; m <= 12; m++ {
		asofs = append(asofs, Day(Month(2025*12+m-1).LastDay()).String())
	}
	opts := Options{Set: "t", Catalog: cat, Workers: 2}
	for _, a := range asofs {
		opts.AsOf = append(opts.AsOf, day(a).Time())
	}
	if _, err := Materialize(ctx, store, opts); err != nil {
		t.Fatal(err)
	}
	for _, a := range asofs {
		d := day(a)
		got := snapshotValues(t, store, a)
		t.Run(a, func(t *testing.T) {
			// tax.sales.sum_6m: the months of the window with a record in force.
			var sum float64
			n := 0
			for _, f := range refInForce(tax, d) {
				if f.month > d.Month()-6 && f.month <= d.Month() {
					sum += f.value
					n++
				}
			}
			wantSales := sum
			if n == 0 {
				wantSales = math.NaN()
			}
			wantPen := 0.0
			for _, f := range refInForce(pen, d) {
				if f.month > d.Month()-12 && f.month <= d.Month() {
					wantPen++
				}
			}
			g := got[c1]
			if g == nil {
				t.Fatalf("c1 missing: %v", got)
			}
			if !same(g[0], wantSales) || g[1] != wantPen {
				t.Errorf("c1 sales sum_6m, penalties = %v, %v; want %v, %v", g[0], g[1], wantSales, wantPen)
			}
			// in_circle: G1 and G2 form a circle until G2's retraction arrives on 09-05.
			wantCircle := 1.0
			if d >= day("2025-09-05") {
				wantCircle = 0
			}
			// defaulted neighbours: c2's default counts from 06-05 until its retraction on 08-20,
			// and only while c2 guarantees c1 (G2).
			wantDefaulted := 0.0
			if d >= day("2025-06-05") && d < day("2025-08-20") {
				wantDefaulted = 1
			}
			if g[3] != wantCircle || g[5] != wantDefaulted {
				t.Errorf("c1 in_circle, defaulted neighbours = %v, %v; want %v, %v", g[3], g[5], wantCircle, wantDefaulted)
			}
			// c3 is known from its arrival (07-05) until its retraction (10-10).
			_, has3 := got[c3]
			want3 := d >= day("2025-07-05") && d < day("2025-10-10")
			if has3 != want3 {
				t.Errorf("c3 in snapshot = %v, want %v", has3, want3)
			}
		})
	}
}

func TestInForceVoid(t *testing.T) {
	recs := []Record{
		{Month: 10, Event: 100, Arrival: 101, Revision: 0, Value: 1},
		{Month: 10, Event: 100, Arrival: 150, Revision: 1, Value: 1, Void: true},
		{Month: 10, Event: 100, Arrival: 200, Revision: 2, Value: 3},
	}
	for _, tt := range []struct {
		asof Day
		want string
	}{{100, "[]"}, {120, "[0]"}, {150, "[]"}, {199, "[]"}, {200, "[2]"}} {
		got := fmt.Sprint(inForce(KindMonthly, recs, tt.asof, 0, 20, nil))
		if got != tt.want {
			t.Errorf("as of %d: in force %s, want %s", tt.asof, got, tt.want)
		}
	}
}
