package features

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// sensitiveCatalog is testCatalog with tax sales confidential and penalties
// restricted.
func sensitiveCatalog(t *testing.T) *Catalog {
	t.Helper()
	src, err := fs.ReadFile(embeddedCatalog, "catalog/sources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	with := func(s, level string) string {
		return strings.Replace(s, "sensitivity: public", "sensitivity: "+level, 1)
	}
	inds := "indicators:\n" +
		with(indicatorYAML("tax.sales.sum_6m", "tax", "sales", "sum", 6), "confidential") +
		with(indicatorYAML("penalty.amount.count_12m", "penalty", "amount", "count", 12), "restricted") +
		indicatorYAML("company.age_months", "companies", "age_months", "value", 0) +
		indicatorYAML("network.in_circle", "guarantee", "in_circle", "graph", 0) +
		indicatorYAML("network.contagion", "guarantee", "contagion", "graph", 0) +
		indicatorYAML("network.defaulted_neighbours", "guarantee", "defaulted_neighbours", "graph", 0)
	sets := "sets:\n  - name: t\n    version: 1\n    label: default_12m\n    indicators: [tax.sales.sum_6m, penalty.amount.count_12m, company.age_months, network.in_circle, network.contagion, network.defaulted_neighbours]\n"
	c, err := ParseCatalog(map[string][]byte{"sources.yaml": src, "ind.yaml": []byte(inds), "sets.yaml": []byte(sets)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestExportSampleClearance: a bank's download of its sample holds only the
// indicators at or below its clearance, with the values of the snapshots they
// joined, and names a company that did not consent to the bank by its pseudonym.
func TestExportSampleClearance(t *testing.T) {
	ctx := context.Background()
	store, cat := sampleStore(t)
	dest, err := blob.WithPrefix(store, "banks/7/")
	if err != nil {
		t.Fatal(err)
	}
	obs := []Observation{{Code: c1, Date: day("2025-07-15"), Label: 1}, {Code: c2, Date: day("2025-08-02"), Label: 0}, {Code: c3, Date: day("2025-08-03"), Label: 0}}
	m, _, err := BuildObservedSample(ctx, store, dest, ObservedOptions{Name: "loans", Set: "t", Catalog: cat, Observations: obs, MinRows: 2, MinPositives: 1, MinCompanies: 2})
	if err != nil {
		t.Fatal(err)
	}
	names, err := access.NewPseudonyms(bytes.Repeat([]byte{7}, 32), 7, []string{c1})
	if err != nil {
		t.Fatal(err)
	}
	sens := sensitiveCatalog(t)
	for _, tt := range []struct {
		clearance string
		withheld  []string
	}{
		{"public", []string{"tax.sales.sum_6m", "penalty.amount.count_12m"}},
		{"restricted", []string{"tax.sales.sum_6m"}},
		{"confidential", nil},
	} {
		t.Run(tt.clearance, func(t *testing.T) {
			var buf bytes.Buffer
			rep, err := ExportSample(ctx, dest, m, &buf, ExportOptions{Clearance: tt.clearance, Names: names.Name, Catalog: sens})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(rep.Withheld) != fmt.Sprint(append([]string{}, tt.withheld...)) || rep.Rows != 3 || rep.Pseudonymised != 2 {
				t.Fatalf("report %+v", rep)
			}
			rows, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			header := rows[0]
			for _, w := range tt.withheld {
				if slices.Contains(header, w) {
					t.Fatalf("header %v holds withheld %s", header, w)
				}
			}
			if len(header) != 3+len(m.Indicators)-len(tt.withheld)+1 {
				t.Fatalf("header %v", header)
			}
			want := map[string]string{c1: c1, c2: names.Pseudonym(c2), c3: names.Pseudonym(c3)}
			asof := map[string]string{c1: "2025-06-30", c2: "2025-07-31", c3: "2025-07-31"}
			byName := map[string][]string{}
			for _, r := range rows[1:] {
				byName[r[1]] = r
			}
			for code, name := range want {
				r, ok := byName[name]
				if !ok {
					t.Fatalf("%s not written as %q: %v", code, name, rows)
				}
				if strings.Contains(strings.Join(r, ","), code) && name != code {
					t.Fatalf("the row of %s names it: %v", code, r)
				}
				snap, _, err := ReadSnapshot(ctx, store, "t", 1, day(asof[code]))
				if err != nil {
					t.Fatal(err)
				}
				i := slices.Index(snap.Codes, code)
				for k, col := range header[3 : len(header)-1] {
					j := slices.Index(snap.Names, col)
					v := snap.Values[i*len(snap.Names)+j]
					got := r[3+k]
					if math.IsNaN(v) && got != "" || !math.IsNaN(v) && got != strconv.FormatFloat(v, 'g', -1, 64) {
						t.Fatalf("%s %s = %q, snapshot %v", code, col, got, v)
					}
				}
			}
		})
	}
	if _, err := ExportSample(ctx, dest, m, &bytes.Buffer{}, ExportOptions{Clearance: "secret"}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("unknown clearance: %v", err)
	}
}
