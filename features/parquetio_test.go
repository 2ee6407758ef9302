package features

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
)

func TestSnapshotParquetRoundTrip(t *testing.T) {
	names := []string{"b.x", "a.y"}
	codes := []string{"C1", "C2", "C3"}
	vals := []float64{1, math.NaN(), 2.5, -3, math.NaN(), math.NaN()}
	rec := SnapshotRecord(names, codes, vals)
	defer rec.Release()
	var buf bytes.Buffer
	if err := writeRecordParquet(&buf, rec); err != nil {
		t.Fatal(err)
	}
	cols, n, err := readColumns(buf.Bytes(), "snap", []string{"code", "b.x", "a.y"})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("rows = %d", n)
	}
	for i, c := range codes {
		if got := cols[0].dict[cols[0].bytes[i]]; got != c {
			t.Errorf("code[%d] = %s, want %s", i, got, c)
		}
		for j := range names {
			if got, want := cols[j+1].f64[i], vals[i*2+j]; !same(got, want) {
				t.Errorf("%s[%d] = %v, want %v", names[j], i, got, want)
			}
		}
	}
}

func FuzzReadColumns(f *testing.F) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[datasets.PenaltyRow](&buf)
	w.Write([]datasets.PenaltyRow{{Code: "C1", EventDate: 20000, ArrivalDate: 20001, PenaltyID: "P", Amount: 5}})
	w.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("PAR1"))
	f.Add(append([]byte("PAR1"), buf.Bytes()[4:len(buf.Bytes())/2]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, err := readColumns(data, "fuzz.parquet", []string{"code", "event_date", "amount"})
		if err != nil && !errors.Is(err, ErrCorruptRaw) {
			t.Fatalf("error %v does not wrap ErrCorruptRaw", err)
		}
	})
}
