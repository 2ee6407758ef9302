package datasets

import (
	"bytes"
	"context"
	"maps"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

func day(s string) Day {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return Day(t.Unix() / 86400)
}

// TestLoadDirectory: a company registered in January is renamed by a correction
// (revision 1) that arrives on 2025-03-10; a second company registers in March.
func TestLoadDirectory(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, rows []CompanyRow) {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[CompanyRow](&buf)
		if _, err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := blob.PutBytes(ctx, store, key, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	const a, b = "91350100M000100Y43", "91330604MA2BXXXX1U"
	put("raw/companies/month=2025-01/part-00000.parquet", []CompanyRow{
		{Code: a, EventDate: day("2025-01-05"), ArrivalDate: day("2025-01-06"), Name: "甲公司", Industry: "C", DistrictName: "上虞区"},
		{Code: a, EventDate: day("2025-01-05"), ArrivalDate: day("2025-03-10"), Revision: 1, Name: "甲科技公司", Industry: "C", DistrictName: "上虞区"},
	})
	put("raw/companies/month=2025-03/part-00000.parquet", []CompanyRow{
		{Code: b, EventDate: day("2025-03-01"), ArrivalDate: day("2025-03-02"), Name: "乙公司", Industry: "F"},
	})
	tests := []struct {
		asof    string
		n       int
		nameOfA string
	}{
		{"2025-02-28", 1, "甲公司"},   // the correction has not arrived; b not registered
		{"2025-03-09", 2, "甲公司"},   // b registered; the correction still on its way
		{"2025-03-10", 2, "甲科技公司"}, // the correction arrived
	}
	for _, tt := range tests {
		t.Run(tt.asof, func(t *testing.T) {
			d, err := LoadDirectory(ctx, store, day(tt.asof))
			if err != nil {
				t.Fatal(err)
			}
			r, ok := d.Company(a)
			if d.Len() != tt.n || !ok || r.Name != tt.nameOfA || r.DistrictName != "上虞区" {
				t.Fatalf("as of %s: %d companies, a = %+v; want %d and name %s", tt.asof, d.Len(), r, tt.n, tt.nameOfA)
			}
		})
	}
	// All dates at once give the same directories, each date alone.
	var days []Day
	for _, tt := range tests {
		days = append(days, day(tt.asof))
	}
	all, err := LoadDirectories(ctx, store, days)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range days {
		one, err := LoadDirectory(ctx, store, d)
		if err != nil {
			t.Fatal(err)
		}
		got := all[d]
		if got == nil || got.AsOf != d || !maps.Equal(got.rows, one.rows) {
			t.Fatalf("as of %v: LoadDirectories %+v, LoadDirectory %+v", d, got, one)
		}
	}
	if got := IndustryName("C"); got != "制造业" {
		t.Errorf("IndustryName(C) = %q, want 制造业 (GB/T 4754-2017 section C)", got)
	}
	if got := IndustryName("?"); got != "" {
		t.Errorf("IndustryName(?) = %q, want empty", got)
	}
}
