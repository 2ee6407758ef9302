package reports

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// TestReadPart checks the page-skipping read of one company's rows against a
// plain filter of every row, on parts of many pages and row groups, sorted by
// code as parts are and shuffled as they need not be, with and without the
// statistics and page index.
func TestReadPart(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var rows []monthFact
	for c := range 3000 {
		code := fmt.Sprintf("91330604MA%08d", c*7)
		for m := range 1 + c%4 {
			rows = append(rows, monthFact{Code: code, EventDate: datasets.Day(19000 + 31*m), ArrivalDate: datasets.Day(19010 + 31*m + rng.IntN(40)),
				Arrears: float64(c)})
		}
	}
	shuffled := slices.Clone(rows)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	tests := []struct {
		name string
		rows []monthFact
		opts []parquet.WriterOption
	}{
		{"sorted, small pages and row groups", rows, []parquet.WriterOption{parquet.PageBufferSize(512), parquet.MaxRowsPerRowGroup(1000)}},
		{"shuffled", shuffled, []parquet.WriterOption{parquet.PageBufferSize(512), parquet.MaxRowsPerRowGroup(1000)}},
		{"no statistics nor index", rows, []parquet.WriterOption{parquet.PageBufferSize(512), parquet.SkipPageBounds("code"),
			parquet.SkipPageBounds("arrival_date")}},
		{"one page", rows, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := parquet.NewGenericWriter[monthFact](&buf, tt.opts...)
			if _, err := w.Write(tt.rows); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			key := fmt.Sprintf("raw/tax/month=2024-01/part-%05d.parquet", i)
			if _, err := blob.PutBytes(ctx, store, key, buf.Bytes()); err != nil {
				t.Fatal(err)
			}
			for _, asOf := range []datasets.Day{19200, 99999} {
				for _, c := range []int{0, 1, 7, 700, 2999, 3000, 1500} {
					code := fmt.Sprintf("91330604MA%08d", c*7)
					if c == 1 {
						code = "91330604MA0000000" // between two codes; a prefix of none
					}
					got, gotMax, err := readPart[monthFact](ctx, store, key, code, asOf)
					if err != nil {
						t.Fatal(err)
					}
					var want []monthFact
					var wantMax datasets.Day
					for _, r := range tt.rows {
						if r.ArrivalDate > asOf {
							continue
						}
						wantMax = max(wantMax, r.ArrivalDate)
						if r.Code == code {
							want = append(want, r)
						}
					}
					if !slices.Equal(got, want) || gotMax != wantMax {
						t.Errorf("asOf %d code %s: %d rows (latest arrival %d), want %d (%d)", asOf, code, len(got), gotMax, len(want), wantMax)
					}
				}
			}
		})
	}
}
