package datasets

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMonthAndDay(t *testing.T) {
	// Hand values: 2024*12 + 0 = 24288; 2024-01-01 is 19723 days after 1970-01-01
	// (54 years, 13 of them leap years 1972..2020: 54*365 + 13 = 19723); February
	// 2024 has 29 days, so its last day is 19723 + 31 + 28 = 19782.
	m, err := ParseMonth("2024-01")
	if err != nil || m != 24288 {
		t.Fatalf("ParseMonth = %d, %v; want 24288", m, err)
	}
	if got := m.FirstDay(); got != 19723 {
		t.Errorf("FirstDay = %d, want 19723", got)
	}
	if got := (m + 1).LastDay(); got != 19782 || got.String() != "2024-02-29" {
		t.Errorf("LastDay(2024-02) = %d %s, want 19782 2024-02-29", got, got)
	}
	if got := (m + 12).String(); got != "2025-01" {
		t.Errorf("String = %s", got)
	}
	if got := Day(19782).Month().String(); got != "2024-02" {
		t.Errorf("Day.Month = %s", got)
	}
	for _, bad := range []string{"2024-13", "2024-1", "24-01", "", "2024-01-01"} {
		if _, err := ParseMonth(bad); err == nil {
			t.Errorf("ParseMonth(%q) accepted", bad)
		}
	}
}

func TestSourcesSchemas(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Sources() {
		t.Run(s.Name, func(t *testing.T) {
			if seen[s.Name] {
				t.Fatalf("duplicate source %q", s.Name)
			}
			seen[s.Name] = true
			cols := s.Columns()
			if strings.Join(cols[:4], ",") != "code,event_date,arrival_date,revision" {
				t.Errorf("first columns = %v, want code, event_date, arrival_date, revision", cols[:4])
			}
			sch := s.Schema()
			for _, c := range []string{"event_date", "arrival_date"} {
				leaf, ok := sch.Lookup(c)
				if !ok {
					t.Fatalf("no column %s", c)
				}
				lt := leaf.Node.Type().LogicalType()
				if lt == nil || lt.String() != "DATE" {
					t.Errorf("%s is not a DATE column", c)
				}
			}
			got, err := SourceByName(s.Name)
			if err != nil || got.Name != s.Name {
				t.Errorf("SourceByName(%s) = %v, %v", s.Name, got.Name, err)
			}
		})
	}
	if _, err := SourceByName("nope"); !errors.Is(err, ErrSourceMissing) {
		t.Errorf("SourceByName(nope) = %v", err)
	}
	tax, _ := SourceByName(SourceTax)
	if got := tax.Key(24288, 3); got != "raw/tax/month=2024-01/part-00003.parquet" {
		t.Errorf("Key = %s", got)
	}
	lab, _ := SourceByName(SourceLabels)
	if got := lab.Key(24288, 0); got != "labels/month=2024-01/part-00000.parquet" {
		t.Errorf("labels Key = %s", got)
	}
}

func TestReadRawRoundTripAndDamage(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	tax, _ := SourceByName(SourceTax)
	m := MonthOf(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
	rows := []TaxRow{
		{Code: "91350100M000100Y43", EventDate: m.LastDay(), ArrivalDate: m.LastDay() + 15, Sales: 1.5e6, VATPaid: 1.95e5, CreditGrade: "A"},
		{Code: "914403001922038216", EventDate: m.LastDay(), ArrivalDate: m.LastDay() + 40, Revision: 1, Sales: 2e5, Arrears: 100, CreditGrade: "B"},
	}
	var buf bytes.Buffer
	if err := writeParquet(&buf, rows); err != nil {
		t.Fatal(err)
	}
	key := tax.Key(m, 0)
	if _, err := store.Put(ctx, key, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMonth[TaxRow](ctx, store, tax, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != rows[0] || got[1] != rows[1] {
		t.Errorf("round trip = %+v, want %+v", got, rows)
	}

	t.Run("truncated", func(t *testing.T) {
		bad := tax.Key(m+1, 0)
		store.Put(ctx, bad, bytes.NewReader(buf.Bytes()[:buf.Len()/2]))
		_, err := ReadRaw[TaxRow](ctx, store, bad)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), bad) {
			t.Errorf("err = %v, want ErrCorrupt naming %s", err, bad)
		}
	})
	t.Run("wrong schema", func(t *testing.T) {
		_, err := ReadRaw[LoanRow](ctx, store, key)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `column "lenders" missing`) {
			t.Errorf("err = %v, want ErrCorrupt naming the missing column", err)
		}
	})
	t.Run("missing month", func(t *testing.T) {
		_, err := ReadMonth[TaxRow](ctx, store, tax, m+5)
		if !errors.Is(err, ErrSourceMissing) || !strings.Contains(err.Error(), "raw/tax/month=2024-08/") {
			t.Errorf("err = %v, want ErrSourceMissing naming the folder", err)
		}
	})
	t.Run("missing source", func(t *testing.T) {
		court, _ := SourceByName(SourceCourt)
		_, err := Months(ctx, store, court)
		if !errors.Is(err, ErrSourceMissing) || !strings.Contains(err.Error(), "raw/court/") {
			t.Errorf("err = %v, want ErrSourceMissing naming raw/court/", err)
		}
	})
	t.Run("missing key", func(t *testing.T) {
		_, err := ReadRaw[TaxRow](ctx, store, "raw/tax/month=2020-01/part-00000.parquet")
		if err == nil || !strings.Contains(err.Error(), "month=2020-01") {
			t.Errorf("err = %v", err)
		}
	})
}

func FuzzDecodeRaw(f *testing.F) {
	var buf bytes.Buffer
	rows := []LoanRow{{Code: "91350100M000100Y43", EventDate: 19782, ArrivalDate: 19800, Balance: 1e6, OverdueDays: 30}}
	if err := writeParquet(&buf, rows); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()-10])
	f.Add([]byte("PAR1PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := DecodeRaw[LoanRow](data, "fuzz.parquet")
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
	})
}
