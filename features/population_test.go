package features

import (
	"context"
	"io/fs"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
)

// TestSamplePopulation checks who enters a default sample, by hand on the hand
// universe plus loans: c1 owes 1e6 (known 2025-06-03) and defaults on 2025-07-20
// (known 2025-07-25); c2's May row has a zero balance; c3 owes 5e5, but the bank
// reports it only on 2025-07-10. Snapshots: 2025-06-30 (train) and 2025-07-31 (valid).
func TestSamplePopulation(t *testing.T) {
	ctx := context.Background()
	store := handUniverse(t)
	src, err := fs.ReadFile(embeddedCatalog, "catalog/sources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inds := "indicators:\n" +
		indicatorYAML("tax.sales.sum_6m", "tax", "sales", "sum", 6) +
		indicatorYAML("loan.balance.last_3m", "loan", "balance", "last", 3)
	sets := "sets:\n  - name: p\n    version: 1\n    label: default_12m\n    indicators: [tax.sales.sum_6m, loan.balance.last_3m]\n" +
		"  - name: q\n    version: 1\n    label: default_12m\n    indicators: [tax.sales.sum_6m]\n"
	cat, err := ParseCatalog(map[string][]byte{"sources.yaml": src, "ind.yaml": []byte(inds), "sets.yaml": []byte(sets)})
	if err != nil {
		t.Fatal(err)
	}
	may := datasets.Day(month("2025-05").LastDay())
	putRaw(t, store, "raw/loan/month=2025-05/part-00000.parquet", []datasets.LoanRow{
		{Code: c1, EventDate: may, ArrivalDate: dd("2025-06-03"), Balance: 1e6},
		{Code: c2, EventDate: may, ArrivalDate: dd("2025-06-05"), OverdueDays: 95, OverdueAmount: 1000},
		{Code: c3, EventDate: may, ArrivalDate: dd("2025-07-10"), Balance: 5e5},
	})
	putRaw(t, store, "labels/month=2025-07/part-00000.parquet", []datasets.LabelRow{
		{Code: c1, EventDate: dd("2025-07-20"), ArrivalDate: dd("2025-07-25"), Kind: "default", Amount: 1e6},
	})
	asof := []time.Time{day("2025-06-30").Time(), day("2025-07-31").Time()}
	for _, set := range []string{"p", "q"} {
		if _, err := Materialize(ctx, store, Options{Set: set, Catalog: cat, AsOf: asof}); err != nil {
			t.Fatal(err)
		}
	}
	build := func(name, set string, all bool) (*SampleManifest, error) {
		return BuildSample(ctx, store, SampleOptions{Name: name, Set: set, Catalog: cat, AllCompanies: all,
			From: day("2025-01-01").Time(), To: day("2025-12-31").Time(), BuildAt: day("2026-09-01").Time(),
			ValidFrom: day("2025-07-01").Time(), TestFrom: day("2025-08-01").Time()})
	}
	tests := []struct {
		name                string
		all                 bool
		population          string
		trainRows, trainPos int64
		validRows, validPos int64
	}{
		// June: only c1 owes anything known by June 30, and defaults in the window.
		// July: c1 is left out (its default was known by July 31), c2 owes nothing, c3's
		// loan is now known and it does not default.
		{"borrowers", false, "loan.balance.last_3m > 0", 1, 1, 1, 0},
		// Every company: June c1 (1), c2 (0); July c2, c3 (0) — c1 still left out, as a
		// company already in default.
		{"all companies", true, "all", 2, 1, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := build("pop-"+tt.population[:3], "p", tt.all)
			if err != nil {
				t.Fatal(err)
			}
			tr, va := m.Splits["train"], m.Splits["valid"]
			if m.Population != tt.population || tr.Rows != tt.trainRows || tr.Positives != tt.trainPos || va.Rows != tt.validRows || va.Positives != tt.validPos {
				t.Fatalf("population %q, train %d/%d, valid %d/%d; want %q, %d/%d, %d/%d", m.Population, tr.Rows, tr.Positives,
					va.Rows, va.Positives, tt.population, tt.trainRows, tt.trainPos, tt.validRows, tt.validPos)
			}
		})
	}
	if _, err := build("no-exposure", "q", false); err == nil {
		t.Fatal("a default sample over a set without loan.balance.last_3m was built; want an error naming the indicator")
	}
}
