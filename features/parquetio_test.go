package features

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
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
		_, _, _, err = readRowsOf(data, "fuzz.parquet", []string{"code", "event_date", "amount"}, map[string]bool{"C1": true})
		if err != nil && !errors.Is(err, ErrCorruptRaw) {
			t.Fatalf("readRowsOf: error %v does not wrap ErrCorruptRaw", err)
		}
	})
}

// TestReadRowsOf reads the rows of some companies of a raw file (small pages,
// so that the rows kept fall in several) and of a snapshot with missing values,
// and compares them with the same rows of readColumns.
func TestReadRowsOf(t *testing.T) {
	var raw bytes.Buffer
	w := parquet.NewGenericWriter[datasets.PenaltyRow](&raw, parquet.PageBufferSize(256))
	var rows []datasets.PenaltyRow
	for i := range 500 {
		rows = append(rows, datasets.PenaltyRow{Code: fmt.Sprintf("C%03d", i/3), EventDate: datasets.Day(20000 + i), ArrivalDate: datasets.Day(20010 + i),
			Revision: int32(i % 2), PenaltyID: fmt.Sprintf("P%d", i), Department: []string{"tax", "market"}[i%2], Severity: int32(i % 5), Amount: float64(i) * 1.5})
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if pages := countPages(t, raw.Bytes()); pages < 3 {
		t.Fatalf("the raw file has %d pages of codes, want several", pages)
	}
	names := []string{"b.x", "a.y"}
	var codes []string
	var vals []float64
	for i := range 300 {
		codes = append(codes, fmt.Sprintf("C%03d", i))
		x, y := float64(i), -float64(i)/7
		if i%3 == 0 {
			x = math.NaN()
		}
		if i%5 == 0 {
			y = math.NaN()
		}
		vals = append(vals, x, y)
	}
	rec := SnapshotRecord(names, codes, vals)
	var snap bytes.Buffer
	err := writeRecordParquet(&snap, rec)
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		data []byte
		cols []string
		keep map[string]bool
	}{
		{"raw, some", raw.Bytes(), []string{"code", "event_date", "revision", "penalty_id", "department", "amount", "row_kind?"}, map[string]bool{"C000": true, "C007": true, "C100": true, "C166": true, "X": true}},
		{"raw, none", raw.Bytes(), []string{"code", "amount", "penalty_id"}, map[string]bool{"X": true}},
		{"raw, all", raw.Bytes(), []string{"code", "severity", "amount"}, func() map[string]bool {
			k := map[string]bool{}
			for _, r := range rows {
				k[r.Code] = true
			}
			return k
		}()},
		{"snapshot", snap.Bytes(), []string{"code", "a.y", "b.x"}, map[string]bool{"C000": true, "C003": true, "C005": true, "C015": true, "C299": true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			all, n, err := readColumns(tt.data, "f", tt.cols)
			if err != nil {
				t.Fatal(err)
			}
			got, kept, total, err := readRowsOf(tt.data, "f", tt.cols, tt.keep)
			if err != nil {
				t.Fatal(err)
			}
			if total != n {
				t.Fatalf("total %d, want %d", total, n)
			}
			want := 0
			for r := range n {
				if !tt.keep[all[0].dict[all[0].bytes[r]]] {
					continue
				}
				for ci := range tt.cols {
					w, g := cell(all[ci], r), cell(got[ci], want)
					if w != g {
						t.Fatalf("row %d (kept %d) column %s: got %s, want %s", r, want, tt.cols[ci], g, w)
					}
				}
				want++
			}
			if kept != want {
				t.Fatalf("kept %d rows, want %d", kept, want)
			}
		})
	}
}

// cell prints value r of a decoded column ("" when it has none).
func cell(c column, r int) string {
	switch {
	case c.f64 != nil:
		return fmt.Sprint(c.f64[r])
	case c.i32 != nil:
		return fmt.Sprint(c.i32[r])
	case c.bytes != nil:
		return c.dict[c.bytes[r]]
	}
	return ""
}

func countPages(t *testing.T, data []byte) int {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := eachPage(f, 0, func(parquet.Page) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCodeSieve checks that the sieve in front of readRowsOf's set never
// turns a member away, for strings of every length, and lets few others
// through.
func TestCodeSieve(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	code := func(n int) string {
		const digits = "0123456789ABCDEFGHJKLMNPQRTUWXY"
		b := make([]byte, n)
		for i := range b {
			b[i] = digits[rng.IntN(len(digits))]
		}
		return string(b)
	}
	keep := map[string]bool{"": true}
	for i := range 200 {
		keep[code(1+i%25)] = true
		keep["913306"+code(12)] = true
	}
	s := newCodeSieve(keep)
	for k := range keep {
		if !may(s, k) || !may(s, []byte(k)) {
			t.Fatalf("the sieve turns away member %q", k)
		}
	}
	through := 0
	const others = 20000
	for range others {
		c := "913306" + code(12)
		if !keep[c] && may(s, c) {
			through++
		}
	}
	// 400 members set at most 400 of 65,536 bits: about 0.6% of others pass.
	if through > others/50 {
		t.Fatalf("%d of %d other codes pass the sieve", through, others)
	}
}
